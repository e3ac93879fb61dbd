/** Crash safety: kill -9 a real meter process at random points of a large ingest; after a restart the ledger equals ground truth. */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { benchAgents, generateRows } from "../../test/litellm-standin/generate.ts";
import { seedKey, startStandin, type Standin } from "../../test/litellm-standin/server.ts";
import { groundTruthNusd } from "../../test/litellm-standin/store.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const ROWS = 120_000;
let s: Standin;
afterAll(async () => s?.close());

interface Run {
  code: number | null;
  killed: boolean;
  out: string;
}

/**
 * Runs the meter; with `killAt`, SIGKILLs it a random 0–300 ms after the stand-in has served it that many
 * /spend requests. Counting requests rather than wall time puts every kill inside the ingest on any machine
 * speed (120,000 rows need at least 120 pages), and the extra delay lands kills in parsing and commits too.
 */
function runMeter(args: string[], env: Record<string, string>, killAt: number | null): Promise<Run> {
  const spendRequests = () => s.requests.filter((r) => r.startsWith("/spend")).length;
  const startCount = spendRequests();
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "installer/testing/reconcile-main.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, WIREBOT_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  let killed = false;
  let killTimer: NodeJS.Timeout | null = null;
  const poll =
    killAt === null
      ? null
      : setInterval(() => {
          if (killTimer || spendRequests() - startCount < killAt) return;
          killTimer = setTimeout(() => ((killed = child.kill("SIGKILL")), undefined), Math.random() * 300);
        }, 2);
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      if (poll) clearInterval(poll);
      if (killTimer) clearTimeout(killTimer);
      resolve({ code, killed, out });
    }),
  );
}

describe("kill -9 during a large ingest", () => {
  it("ends with exactly the ground truth after restarts", async () => {
    s = await startStandin();
    const agents = benchAgents(4);
    for (const a of agents) seedKey(s.store, a.key, `wirebot/${a.agentId}`);
    const end = Date.now() - 40 * 60_000;
    const from = end - 3 * 86_400_000;
    for (const r of generateRows({ seed: 99, count: ROWS, agents, fromMs: from, spanMs: end - from, tieShare: 0.05 })) s.store.add(r);
    // temporary failures on top, so kills also land inside retries
    s.faults.randomRate = 0.02;

    const dir = mkdtempSync(path.join(tmpdir(), "wb-kill-"));
    const cfg = path.join(dir, "wirebot.yaml");
    writeFileSync(
      cfg,
      [
        "domain: wirebot.example.org",
        `litellm: { baseUrl: "${s.url}", models: [gpt-4o-mini], defaultModel: gpt-4o-mini }`,
        "secrets: { backend: file, file: { path: /tmp/wirebot-test-secrets } }",
        'metering: { schedule: "*/5 * * * * *" }',
        "users:",
        ...agents.map((a) => `  - { id: ${a.agentId}, name: ${a.agentId} }`),
      ].join("\n"),
    );
    const ledger = path.join(dir, "ledger.sqlite");
    const env = { LITELLM_MASTER_KEY: s.masterKey, WIREBOT_API_TOKEN: "kill-test-token" };
    const base = ["--config", cfg, "--ledger", ledger, "--backfill-from", new Date(from - 60_000).toISOString()];

    const kills: number[] = [];
    // The daemon first (its API and cron running), then --once runs, each killed at a random point of its
    // ingest. At most 40 requests per kill, so the daemon and the first --once die before 120 pages are read.
    const killPoint = () => 3 + Math.floor(Math.random() * 38);
    const first = await runMeter([...base, "--daemon", "--api-port", "0"], env, killPoint());
    expect(first.killed).toBe(true);
    kills.push(1);
    for (let i = 0; i < 5; i++) {
      const r = await runMeter([...base, "--once"], env, killPoint());
      if (r.killed) kills.push(1);
      else expect(r.code, r.out).toBe(0);
    }
    s.faults.randomRate = 0;
    const final = await runMeter([...base, "--once"], env, null);
    expect(final.code, final.out).toBe(0);

    const db = new Database(ledger, { readonly: true });
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    const sums = new Map((db.prepare("SELECT key_hash AS h, sum(spend_nusd) AS s FROM spend_events GROUP BY key_hash").all() as { h: string; s: number }[]).map((r) => [r.h, BigInt(r.s)]));
    expect(sums).toEqual(groundTruthNusd(s.store.rows));
    expect(db.prepare("SELECT count(*) FROM spend_events").pluck().get()).toBe(s.store.rows.length);
    // aggregates were written in the same transactions, so they agree too
    expect(db.prepare("SELECT sum(spend_nusd) FROM spend_daily").pluck().get()).toBe(db.prepare("SELECT sum(spend_nusd) FROM spend_events").pluck().get());
    db.close();
    console.log(`[kill] ${kills.length} of 6 runs killed mid-ingest; ${s.requests.length} requests served; ledger equals ground truth`);
    expect(kills.length).toBeGreaterThanOrEqual(2);

    // and one more run is a replay that adds nothing
    const replay = await runMeter([...base, "--once", "--json"], env, null);
    expect(replay.code).toBe(0);
    expect(replay.out).toMatch(/"inserted": 0/);
  }, 150_000);
});
