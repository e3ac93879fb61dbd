/** `wirebot reconcile`: --once output and exit codes, 78 on bad config, --daemon serves the API and drains on stop. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { captureLogger, meterConfig, sampleStandin, SAMPLE_NOON } from "../../test/litellm-standin/fixtures.ts";
import type { Standin } from "../../test/litellm-standin/server.ts";
import { freeLoopbackPort } from "../../test/support/runtime.ts";
import { captureIo } from "../io.ts";
import { reconcileCommand } from "./reconcile.ts";

let s: Standin;
afterEach(async () => s?.close());
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

  it("exits 78 without LITELLM_MASTER_KEY or with a key LiteLLM refuses, 75 when LiteLLM is down", async () => {
    s = await sampleStandin({ now: () => SAMPLE_NOON });
    const io = captureIo();
    const log = captureLogger().log;
    await expect(reconcileCommand({ once: true, ledgerPath: ledger(), env: {}, log }, meterConfig(s.url), io)).rejects.toMatchObject({ exitCode: 78 });
    await expect(reconcileCommand({ once: true, ledgerPath: ledger(), env: { LITELLM_MASTER_KEY: "sk-wrong" }, log }, meterConfig(s.url), io)).rejects.toMatchObject({ exitCode: 78, code: "litellm.auth" });
    await expect(
      reconcileCommand({ once: true, ledgerPath: ledger(), env: { LITELLM_MASTER_KEY: "sk-x" }, log }, meterConfig("http://127.0.0.1:9"), io),
    ).rejects.toMatchObject({ exitCode: 75 });
    await expect(reconcileCommand({ once: true, daemon: true, env: {}, log }, meterConfig(s.url), io)).rejects.toMatchObject({ exitCode: 64 });
  }, 60_000);
});

describe("reconcile --daemon", () => {
  it("exits 78 on a bad schedule or a missing API token", async () => {
    s = await sampleStandin({ now: () => SAMPLE_NOON });
    const log = captureLogger().log;
    const bad = meterConfig(s.url, { metering: { schedule: "every five minutes" } });
    await expect(reconcileCommand({ daemon: true, ledgerPath: ledger(), env: { LITELLM_MASTER_KEY: s.masterKey, WIREBOT_API_TOKEN: "t" }, log, signal: new AbortController().signal }, bad, captureIo())).rejects.toMatchObject({ exitCode: 78 });
    await expect(reconcileCommand({ daemon: true, ledgerPath: ledger(), env: { LITELLM_MASTER_KEY: s.masterKey }, log, signal: new AbortController().signal }, meterConfig(s.url), captureIo())).rejects.toMatchObject({ exitCode: 78 });
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
