/** status and doctor on a live box (the real converge installed it) with scripted systemctl and loopback answers: what each probe reports, and the exit code. */
import { chmodSync, mkdirSync, writeFileSync, appendFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../config/load.ts";
import type { ExecCall } from "../testing/harness.ts";
import { exampleText } from "../testing/harness.ts";
import { converge } from "../pipeline/converge.ts";
import { startLiveBox, type LiveBox } from "../../test/support/live-box.ts";
import { doctorCommand } from "./doctor.ts";
import { statusCommand } from "./status.ts";

let root: string;
let box: LiveBox | null = null;
afterEach(async () => {
  await box?.close();
  box = null;
});

const TOKEN = "api-token-Zx8Cv7Bn6Mm5";
const NOW = new Date();

function put(p: string, content: string) {
  mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
  writeFileSync(path.join(root, p), content);
}

interface Scenario {
  failed?: Record<string, number>;
  down?: number[];
  meterDown?: boolean;
  budgetState?: "ok" | "over";
  /** a unit that the OOM killer stopped at its MemoryMax= and systemd restarted */
  oomKilled?: string;
  pull?: object | null;
  /** the operator's environment (the CLI passes process.env) */
  env?: Record<string, string>;
}

async function setup(s: Scenario = {}) {
  const answer = (c: ExecCall) => {
    if (c.cmd !== "systemctl" || c.args[0] !== "show") return undefined;
    const unit = c.args[1]!;
    const code = s.failed?.[unit];
    // gateways report their cgroup's memory against MemoryMax= (2176 MiB for the shared one)
    const memory = unit.startsWith("clawdbot-gateway") ? `MemoryCurrent=${1300 * 1024 ** 2}\nMemoryMax=${2176 * 1024 ** 2}\n` : "MemoryCurrent=[not set]\nMemoryMax=infinity\n";
    if (s.oomKilled === unit) return { stdout: `ActiveState=active\nSubState=running\nResult=oom-kill\nExecMainStatus=0\nNRestarts=2\n${memory}` };
    return { stdout: (code !== undefined ? `ActiveState=failed\nSubState=failed\nResult=exit-code\nExecMainStatus=${code}\n` : "ActiveState=active\nSubState=running\nResult=success\nExecMainStatus=0\n") + memory };
  };
  const seenAuth: string[] = [];
  // the scenario's faults begin once the install is done
  let installed = false;
  // the meter's API on its loopback port, and the ports that are down; every other loopback port is a healthy gateway
  const loopback = (url: URL, init?: RequestInit): Response | null | undefined => {
    if (Number(url.port) !== 8100) return undefined;
    if (s.meterDown && installed) return null;
    if (url.pathname === "/health") return Response.json({ ok: true, status: "ok", lagSeconds: 240, lastSuccessAt: NOW.toISOString(), lastError: null });
    const auth = new Headers(init?.headers).get("authorization") ?? "";
    seenAuth.push(auth);
    if (auth !== `Bearer ${TOKEN}`) return Response.json({}, { status: 401 });
    const state = s.budgetState ?? "ok";
    return Response.json({ agents: [{ id: "alice", monthSpendUsd: state === "over" ? "21.50" : "3.00", budget: { monthlyUsd: 20, percent: state === "over" ? 107.5 : 15, state } }, { id: "bob", monthSpendUsd: "1.00", budget: null }] });
  };
  box = await startLiveBox({ answer, loopback, ...(s.env ? { env: s.env } : {}) });
  root = box.root;
  const { ctx, rec } = box;
  const text = box.boxText(exampleText("mixed"));
  await converge(ctx, parseConfig(text, "mixed"), text, {});
  ctx.io.stdout.length = 0;
  installed = true;
  for (const p of s.down ?? []) box.down.add(p);
  put("run/wirebot/reconcile.env", `WIREBOT_API_TOKEN="${TOKEN}"\n`);
  chmodSync(path.join(root, "run/wirebot/reconcile.env"), 0o600);
  chmodSync(path.join(root, "run/wirebot"), 0o700);
  put("run/wirebot/cloudflared.token", "t");
  chmodSync(path.join(root, "run/wirebot/cloudflared.token"), 0o600);
  if (s.pull !== null) put("run/wirebot/pull-status.json", JSON.stringify(s.pull ?? { ok: true, at: new Date(NOW.getTime() - 3_600_000).toISOString(), backend: "bitwarden", files: ["/run/wirebot/gateway.env"] }));
  if (s.pull !== null) chmodSync(path.join(root, "run/wirebot/pull-status.json"), 0o600);
  put("proc/meminfo", "MemTotal:       8000000 kB\n");
  put("opt/wirebot/runtime/openclaw-2026.9.6/.wirebot-runtime.json", JSON.stringify({ package: "openclaw", version: "2026.9.6", node: "24.21.0", installedAt: "2026-11-01T00:00:00Z" }));
  rec.calls.length = 0;
  return { ctx, rec, seenAuth };
}

describe("wirebot status", () => {
  it("a healthy appliance: every probe ok, exit 0, one screen", async () => {
    const { ctx, seenAuth } = await setup();
    expect(await statusCommand(ctx, {})).toBe(0);
    const out = ctx.io.stdout.join("\n");
    expect(out).toMatch(/Units:\n {2}\[ok {2}\] wirebot-secrets\.service/);
    expect(out).toMatch(/clawdbot-gateway@erin\.service\s+active \(running\)/);
    expect(out).toMatch(/\[ok {2}\] shared\s+healthy on 127\.0\.0\.1:18789 \(alice, bob\)/);
    expect(out).toMatch(/pulled 60 min ago/);
    expect(out).toMatch(/ledger\s+ok; lag 4 min/);
    expect(out).toMatch(/alice\s+\$3\.00 of \$20 this month \(15 %, ok\)/);
    expect(out).toContain("All checks passed.");
    expect(seenAuth).toEqual([`Bearer ${TOKEN}`]);
    expect(ctx.io.text()).not.toContain(TOKEN);
  });

  it("each gateway's memory against its MemoryMax=; a gateway the OOM killer stopped and systemd restarted is a warning saying so", async () => {
    const { ctx } = await setup({ oomKilled: "clawdbot-gateway@erin.service" });
    expect(await statusCommand(ctx, {})).toBe(0);
    const out = ctx.io.stdout.join("\n");
    expect(out).toMatch(/\[ok {2}\] shared\s+healthy on 127\.0\.0\.1:18789 \(alice, bob\); memory 1\.27 GiB of 2\.13 GiB \(60 %\)/);
    expect(out).toMatch(/\[WARN\] clawdbot-gateway@erin\.service\s+active \(running\); it was over its memory limit and the OOM killer stopped it \(2 restart\(s\) since boot\)/);
  });

  it("a failed dedicated gateway, its closed port and an over-budget agent: exit 1 and --json names each", async () => {
    const { ctx } = await setup({ failed: { "clawdbot-gateway@erin.service": 1 }, down: [18920], budgetState: "over" });
    expect(await statusCommand(ctx, { json: true })).toBe(1);
    const doc = JSON.parse(ctx.io.stdout.join("\n"));
    expect(doc).toMatchObject({ ok: false, outcome: "unhealthy" });
    const bad = doc.issues.map((i: { path: string; level: string }) => `${i.level} ${i.path}`);
    expect(bad).toEqual(["fail unit:clawdbot-gateway@erin.service", "fail gateway:erin", "fail port:18920", "warn budget:alice"]);
  });

  it("secrets unit failed: status says why (exit status and the pull error), gateways stay down", async () => {
    const { ctx } = await setup({
      failed: { "wirebot-secrets.service": 75 },
      pull: { ok: false, at: NOW.toISOString(), backend: "bitwarden", error: { code: "secrets.unreachable", message: "cannot reach https://vault.bitwarden.com/identity (ECONNREFUSED)" } },
    });
    expect(await statusCommand(ctx, {})).toBe(1);
    const out = ctx.io.stdout.join("\n");
    expect(out).toMatch(/\[FAIL\] wirebot-secrets\.service\s+failed \(exit 75: temporary failure, e\.g\. the vault is unreachable\)/);
    expect(out).toMatch(/\[FAIL\] pull\s+last pull failed \d+ s ago \(secrets\.unreachable: cannot reach https:\/\/vault\.bitwarden\.com\/identity \(ECONNREFUSED\)\)/);
  });

  it("the reconcile API down degrades to 'unknown' budgets instead of failing the command", async () => {
    const { ctx } = await setup({ meterDown: true });
    expect(await statusCommand(ctx, {})).toBe(1);
    const out = ctx.io.stdout.join("\n");
    expect(out).toMatch(/\[FAIL\] api\s+reconcile API not answering on 127\.0\.0\.1:8100; ledger lag unknown/);
    expect(out).toMatch(/\[WARN\] alice\s+unknown \(metering API down\)/);
  });
});

describe("status finds the API token as the reconcile unit does", () => {
  const budgetLines = (out: string) => out.split("\n").filter((l) => /^\s+\[(ok |WARN)\S*\] (alice|bob) /.test(l));

  it("an exported WIREBOT_API_TOKEN is used without the env file", async () => {
    const { ctx, seenAuth } = await setup({ env: { WIREBOT_API_TOKEN: TOKEN } });
    rmSync(path.join(root, "run/wirebot/reconcile.env"));
    expect(await statusCommand(ctx, {})).toBe(0);
    expect(seenAuth).toEqual([`Bearer ${TOKEN}`]);
  });

  it("no env file: budgets unknown, saying how to pull the secrets (with this --root)", async () => {
    const { ctx, seenAuth } = await setup();
    rmSync(path.join(root, "run/wirebot/reconcile.env"));
    await statusCommand(ctx, {});
    expect(seenAuth).toEqual([]);
    expect(budgetLines(ctx.io.stdout.join("\n"))).toEqual([
      expect.stringMatching(new RegExp(`\\[WARN\\] alice\\s+unknown \\(no /run/wirebot/reconcile\\.env: run \`wirebot secrets pull --root ${root}\`\\)$`)),
      expect.stringMatching(/\[WARN\] bob\s+unknown \(no \/run\/wirebot\/reconcile\.env/),
    ]);
  });

  it("an env file this user may not read: budgets unknown, 'run this command with sudo', no stack trace", async () => {
    const { ctx } = await setup();
    const denied = { ...ctx, host: { ...ctx.host, readFile: async (p: string) => (p === "/run/wirebot/reconcile.env" ? Promise.reject(Object.assign(new Error("EACCES"), { code: "EACCES" })) : ctx.host.readFile(p)) } };
    expect(await statusCommand(denied, {})).toBe(0);
    expect(ctx.io.stdout.join("\n")).toMatch(/\[WARN\] alice\s+unknown \(only root can read WIREBOT_API_TOKEN from \/run\/wirebot\/reconcile\.env: run this command with sudo\)/);
  });
});

describe("wirebot doctor", () => {
  it("a healthy, untouched appliance passes every doctor check", async () => {
    const { ctx } = await setup();
    const code = await doctorCommand(ctx, { json: true });
    const doc = JSON.parse(ctx.io.stdout.join("\n"));
    expect(doc.issues).toEqual([]);
    expect(code).toBe(0);
    expect(doc.checks.map((c: { area: string }) => c.area)).toEqual(expect.arrayContaining(["drift", "permissions", "resources", "runtime"]));
  });

  it("hand edits, loose modes, low memory and a wrong runtime are each listed with a one-line fix", async () => {
    const { ctx } = await setup();
    appendFileSync(path.join(root, "etc/systemd/system/clawdbot-gateway.service"), "\n# hand edit\n");
    chmodSync(path.join(root, "data/wirebot/users/alice"), 0o755);
    chmodSync(path.join(root, "run/wirebot/reconcile.env"), 0o644);
    put("proc/meminfo", "MemTotal:       1000000 kB\n");
    put("opt/wirebot/runtime/openclaw-2026.9.6/.wirebot-runtime.json", JSON.stringify({ package: "openclaw", version: "2026.8.1", node: "24.21.0" }));
    expect(await doctorCommand(ctx, {})).toBe(1);
    const out = ctx.io.stdout.join("\n");
    expect(out).toMatch(/\[FAIL\] \/etc\/systemd\/system\/clawdbot-gateway\.service\s+changed since apply: content\n\s+fix: wirebot apply/);
    // drift names the mode change once; permissions does not repeat it
    expect(out).toMatch(/\[FAIL\] \/data\/wirebot\/users\/alice\s+changed since apply: mode 0755, want 0700\n\s+fix: wirebot apply/);
    expect(out.match(/\/data\/wirebot\/users\/alice\s/g)).toHaveLength(1);
    expect(out).toMatch(/\[FAIL\] \/run\/wirebot\/reconcile\.env\s+mode 0644, want 0600\n\s+fix: chmod 0600/);
    expect(out).toMatch(/\[FAIL\] memory\s+2 gateway\(s\) \(1 dedicated\) need about 3\.1 GB .*: 2\.1 GB short/);
    expect(out).toMatch(/\[FAIL\] package\s+.*holds openclaw@2026\.8\.1 .*\n\s+fix: wirebot upgrade --runtime-version 2026\.9\.6/);
    expect(out).not.toContain(TOKEN);
  });
});
