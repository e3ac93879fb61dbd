/** `wirebot reconcile`: --once output and exit codes, 78 on bad config, --daemon serves the API and drains on stop, and typed by hand it reads the unit's env file. */
import { createServer, type AddressInfo } from "node:net";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { captureLogger, meterConfig, sampleStandin, SAMPLE_NOON } from "../../test/litellm-standin/fixtures.ts";
import { SAMPLE_AGENTS } from "../../test/litellm-standin/generate.ts";
import type { Standin } from "../../test/litellm-standin/server.ts";
import { freeLoopbackPort } from "../../test/support/runtime.ts";
import { captureIo } from "../io.ts";
import { main } from "../main.ts";
import { renderEnvFile } from "../secrets/env-file.ts";
import { removeDir, tempDir, testContext } from "../testing/harness.ts";
import { reconcileCommand } from "./reconcile.ts";

let s: Standin;
const roots: string[] = [];
afterEach(async () => {
  await s?.close();
  for (const r of roots.splice(0)) removeDir(r);
});
/** A temp root, so a missing key is looked up in <root>/run/wirebot/reconcile.env and never in this machine's /run. */
const newRoot = () => {
  const r = tempDir("wb-rc-");
  roots.push(r);
  return r;
};
const ledger = () => path.join(mkdtempSync(path.join(tmpdir(), "wb-rc-")), "ledger.sqlite");

describe("reconcile --once", () => {
  it("runs one cycle and prints a summary without secrets", async () => {
    s = await sampleStandin({ now: () => SAMPLE_NOON });
    const io = captureIo();
    const cap = captureLogger();
    const env = { LITELLM_MASTER_KEY: s.masterKey };
    const code = await reconcileCommand({ once: true, ledgerPath: ledger(), env, log: cap.log, now: () => SAMPLE_NOON, backfillFrom: "2026-10-20" }, meterConfig(s.url), io);
    expect(code).toBe(0);
    expect(io.text()).toMatch(/reconcile: ingested; 20 rows read in \d+ window\(s\), 20 new/);
    expect(io.text() + cap.text()).not.toContain(s.masterKey);
  });

  it("exits 69 without LITELLM_MASTER_KEY anywhere, 78 with a key LiteLLM refuses or a port HTTP clients refuse, 75 when LiteLLM is down", async () => {
    s = await sampleStandin({ now: () => SAMPLE_NOON });
    const io = captureIo();
    const log = captureLogger().log;
    await expect(reconcileCommand({ once: true, root: newRoot(), ledgerPath: ledger(), env: {}, log }, meterConfig(s.url), io)).rejects.toMatchObject({ exitCode: 69, code: "secrets.not-pulled" });
    await expect(reconcileCommand({ once: true, ledgerPath: ledger(), env: { LITELLM_MASTER_KEY: "sk-wrong" }, log }, meterConfig(s.url), io)).rejects.toMatchObject({ exitCode: 78, code: "litellm.auth" });
    await expect(
      reconcileCommand({ once: true, ledgerPath: ledger(), env: { LITELLM_MASTER_KEY: "sk-x" }, log }, meterConfig(`http://127.0.0.1:${await closedPort()}`), io),
    ).rejects.toMatchObject({ exitCode: 75 });
    // port 9 (discard) is on the fetch standard's blocked list: a configuration problem, not an outage
    await expect(
      reconcileCommand({ once: true, ledgerPath: ledger(), env: { LITELLM_MASTER_KEY: "sk-x" }, log }, meterConfig("http://127.0.0.1:9"), io),
    ).rejects.toMatchObject({ exitCode: 78, code: "litellm.port" });
    await expect(reconcileCommand({ once: true, daemon: true, env: {}, log }, meterConfig(s.url), io)).rejects.toMatchObject({ exitCode: 64 });
  }, 60_000);
});

describe("reconcile --daemon", () => {
  it("exits 78 on a bad schedule or a missing API token", async () => {
    s = await sampleStandin({ now: () => SAMPLE_NOON });
    const log = captureLogger().log;
    const bad = meterConfig(s.url, { metering: { schedule: "every five minutes" } });
    await expect(reconcileCommand({ daemon: true, ledgerPath: ledger(), env: { LITELLM_MASTER_KEY: s.masterKey, WIREBOT_API_TOKEN: "t" }, log, signal: new AbortController().signal }, bad, captureIo())).rejects.toMatchObject({ exitCode: 78 });
    const root = newRoot();
    pulled(root, { LITELLM_MASTER_KEY: s.masterKey });
    await expect(reconcileCommand({ daemon: true, root, ledgerPath: ledger(), env: { LITELLM_MASTER_KEY: s.masterKey }, log, signal: new AbortController().signal }, meterConfig(s.url), captureIo())).rejects.toMatchObject({
      exitCode: 78,
      code: "secrets.env-missing",
    });
  });

  it("serves the API, runs cycles, and drains on stop", async () => {
    s = await sampleStandin({ now: () => SAMPLE_NOON });
    const cap = captureLogger();
    const ac = new AbortController();
    // a port the kernel just handed out, not a fixed one another process may hold
    const port = await freeLoopbackPort();
    const config = meterConfig(s.url, { metering: { schedule: "* * * * * *", api: { port } } });
    const run = reconcileCommand(
      { daemon: true, ledgerPath: ledger(), env: { LITELLM_MASTER_KEY: s.masterKey, WIREBOT_API_TOKEN: "tok" }, log: cap.log, signal: ac.signal, now: () => SAMPLE_NOON, backfillFrom: "2026-10-20" },
      config,
      captureIo(),
    );
    let health: { status: string } = { status: "" };
    for (let i = 0; i < 100 && health.status !== "ok"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      health = (await request(`http://127.0.0.1:${port}/health`).then((r) => r.body.json()).catch(() => ({ status: "" }))) as { status: string };
    }
    expect(health.status).toBe("ok");
    const usage = await request(`http://127.0.0.1:${port}/v1/usage?from=2026-10-20&to=2026-10-20&group=month`, { headers: { authorization: "Bearer tok" } });
    expect(((await usage.body.json()) as { rows: unknown[] }).rows).toHaveLength(3);
    await new Promise((r) => setTimeout(r, 1_200)); // at least one scheduled cycle
    ac.abort();
    expect(await run).toBe(0);
    expect(cap.text()).toContain("wirebot reconcile daemon stopped");
    await expect(request(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  });
});

/** What `wirebot secrets pull` leaves in tmpfs for wirebot-reconcile.service: <root>/run/wirebot/reconcile.env, root 0600. */
function pulled(root: string, vars: Record<string, string>) {
  mkdirSync(path.join(root, "run/wirebot"), { recursive: true, mode: 0o700 });
  writeFileSync(path.join(root, "run/wirebot/reconcile.env"), renderEnvFile(Object.entries(vars).map(([name, value]) => ({ name, value }))), { mode: 0o600 });
}

/** wirebot.yaml for the sample agents, LiteLLM at the stand-in, the master key mapped as the wizard maps it. */
function configFile(root: string, baseUrl: string): string {
  const file = path.join(root, "wirebot-test.yaml");
  writeFileSync(
    file,
    stringify({
      domain: "wirebot.example.org",
      litellm: { baseUrl, models: ["gpt-4o-mini"], defaultModel: "gpt-4o-mini" },
      secrets: { backend: "file", file: { path: "/etc/wirebot/dev-secrets.yaml" }, map: { LITELLM_MASTER_KEY: "wirebot/litellm-master-key" } },
      users: SAMPLE_AGENTS.map((a) => ({ id: a.agentId, name: a.agentId })),
    }),
  );
  return file;
}

/** main() as the operator's shell runs it: an environment without any secret in it. */
async function wirebot(root: string, args: string[]) {
  const io = captureIo();
  const code = await main(args, { io, context: (mainIo) => ({ ...testContext(root), io: mainIo }) });
  return { code, out: io.stdout.join("\n"), err: io.stderr.join("\n") };
}

describe("reconcile --once typed by hand (sudo), as on the box", () => {
  const MASTER = "sk-standin-master-Vq8Rz2Lk5Tn";

  it("reads LITELLM_MASTER_KEY from the reconcile unit's env file, meters the stand-in's rows, and usage reads them back", async () => {
    s = await sampleStandin({ masterKey: MASTER });
    const root = newRoot();
    pulled(root, { WIREBOT_API_TOKEN: "api-token-Jm4Xc7", LITELLM_MASTER_KEY: MASTER });
    const cfg = configFile(root, s.url);

    const rc = await wirebot(root, ["reconcile", "--once", "--json", "--root", root, "--config", cfg, "--backfill-from", "2026-10-20"]);
    expect(rc.code, rc.err).toBe(0);
    expect(JSON.parse(rc.out)).toMatchObject({ ok: true, outcome: "ingested", ingest: { inserted: 20 } });

    const usage = await wirebot(root, ["usage", "--json", "--root", root, "--config", cfg, "--from", "2026-10-20", "--to", "2026-10-20"]);
    expect(usage.code, usage.err).toBe(0);
    const spend = Object.fromEntries((JSON.parse(usage.out).agents as { agent: string; spendNusd: number }[]).map((a) => [a.agent, a.spendNusd]));
    expect(spend).toEqual(Object.fromEntries(SAMPLE_AGENTS.map((a) => [a.agentId, Number(a.nusd)])));
    expect(rc.out + rc.err + usage.out + usage.err).not.toContain(MASTER);
  }, 60_000);

  it("no env file: exit 69, one message naming the file and how to pull it, no stack trace, nothing metered", async () => {
    s = await sampleStandin({ masterKey: MASTER });
    const root = newRoot();
    const r = await wirebot(root, ["reconcile", "--once", "--root", root, "--config", configFile(root, s.url)]);
    expect(r.code).toBe(69);
    expect(r.err).toContain(`error[secrets.not-pulled]: LITELLM_MASTER_KEY is not set, and ${root}/run/wirebot/reconcile.env does not exist`);
    expect(r.err).toContain(`fix: run \`wirebot secrets pull --root ${root}\``);
    expect(r.err).not.toMatch(/\bat \S+ \(/);
    expect(s.requests).toEqual([]);
  });
});

/** A loopback port nothing listens on: one the kernel just gave out and took back. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}
