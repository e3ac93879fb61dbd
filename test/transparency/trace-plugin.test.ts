/** plugins/wirebot-trace against the real daemon API: events arrive once, wait in a 0600 spool while the daemon is down, and no hook ever throws or blocks. */
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { captureLogger, meterConfig } from "../litellm-standin/fixtures.ts";
import { startApi, type ApiServer } from "../../installer/meter/api.ts";
import { openLedgerDb } from "../../installer/meter/db.ts";
import { Ledger } from "../../installer/meter/ledger.ts";
import { createTraceApi } from "../../installer/meter/trace-api.ts";
import { TraceStore } from "../../installer/meter/traces.ts";
import { deriveToken, traceLabel } from "../../installer/transparency/tokens.ts";
// @ts-expect-error the plugin is plain JavaScript, shipped as is
import plugin, { createSender, maskSecrets } from "../../plugins/wirebot-trace/index.js";

const API_TOKEN = "api-token-plugin-test-0123456789abcdef";
const config = meterConfig("http://127.0.0.1:4000", { users: [{ id: "alice", name: "Alice" }, { id: "bob", name: "Bob" }] } as never);
const TOKEN = deriveToken(API_TOKEN, traceLabel("shared"));

let dir: string;
let store: TraceStore;
let db: ReturnType<typeof openLedgerDb>;
let api: ApiServer | null;
const startDaemon = async (port = 0) => {
  api = await startApi({ ledger: new Ledger(db, "i"), config, token: API_TOKEN, traces: createTraceApi({ config, apiToken: API_TOKEN, store }), log: captureLogger().log }, { port });
  return api;
};
beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "wb-trace-plugin-"));
  db = openLedgerDb(path.join(dir, "ledger.sqlite"));
  store = new TraceStore(db);
  await startDaemon();
});
afterEach(async () => {
  await api?.close();
  api = null;
});

const event = (n: number, agentId = "alice") => ({ toolCallId: `call_${n}`, toolName: "read", startedAt: Date.now(), runId: "run-1", agentId, params: { path: `f${n}.md` }, result: { ok: true }, durationMs: 2 });

describe("the trace plugin's sender", () => {
  it("sends queued events in batches; the daemon stores each once", async () => {
    const s = createSender({ endpoint: `${api!.url}/v1/traces`, spoolDir: path.join(dir, "spool") }, { env: { WIREBOT_TRACE_TOKEN: TOKEN } });
    for (let i = 0; i < 450; i++) s.push(event(i));
    await s.flush();
    expect(s.queue).toHaveLength(0);
    expect(store.list({ limit: 10_000 })).toHaveLength(450);
  });

  it("while the daemon is down events wait in a 0600 spool; once it is back they arrive, nothing lost, nothing twice", async () => {
    const port = api!.port;
    const s = createSender({ endpoint: `http://127.0.0.1:${port}/v1/traces`, spoolDir: path.join(dir, "spool") }, { env: { WIREBOT_TRACE_TOKEN: TOKEN } });
    s.push(event(1));
    await s.flush();
    await api!.close();
    api = null;
    for (let i = 2; i <= 5; i++) s.push(event(i, "bob"));
    await s.flush();
    const spool = path.join(dir, "spool", "spool.jsonl");
    expect(readFileSync(spool, "utf8").trim().split("\n")).toHaveLength(4);
    expect(statSync(spool).mode & 0o777).toBe(0o600);
    await startDaemon(port);
    s.push(event(6));
    await s.flush();
    expect(existsSync(spool)).toBe(false);
    expect(store.list().map((t) => t.toolCallId).sort()).toEqual(["call_1", "call_2", "call_3", "call_4", "call_5", "call_6"]);
    // a replay of the same events (a crash between send and truncate) is stored once
    s.push(event(2, "bob"));
    await s.flush();
    expect(store.list()).toHaveLength(6);
  });

  it("masks the gateway's own secrets (its env and keys file) before an event leaves the process", () => {
    const out = maskSecrets({ q: "token tg-123456789:abcdef and sk-alice-key-xyz" }, [["tg-123456789:abcdef", "TELEGRAM_BOT_TOKEN"], ["sk-alice-key-xyz", "LITELLM_KEY_ALICE"]]);
    expect(JSON.stringify(out)).toBe('{"q":"token [secret:TELEGRAM_BOT_TOKEN] and [secret:LITELLM_KEY_ALICE]"}');
  });
});

describe("the trace plugin's hooks", () => {
  // what they cost per call is measured in bench/trace-plugin.ts
  it("never throw, never block, whatever the runtime hands them; the after hook queues one event per call", async () => {
    const hooks = new Map<string, (ev: unknown, ctx: unknown) => unknown>();
    const api = { pluginConfig: { endpoint: "http://127.0.0.1:9/v1/traces", spoolDir: path.join(dir, "spool-hooks"), flushMs: 3_600_000 }, on: (name: string, fn: (ev: unknown, ctx: unknown) => unknown) => hooks.set(name, fn) };
    plugin.register(api);
    const before = hooks.get("before_tool_call")!;
    const after = hooks.get("after_tool_call")!;
    for (const junk of [null, undefined, 42, "x", { toolCallId: {} }]) {
      expect(before(junk, junk)).toBeUndefined();
      expect(() => after(junk, junk)).not.toThrow();
    }
    for (let i = 0; i < 1000; i++) {
      const ev = { toolName: "read", toolCallId: `c${i}`, params: { path: "a.md" } };
      const ctx = { agentId: "alice", runId: "r", toolCallId: `c${i}` };
      before(ev, ctx);
      after({ ...ev, result: { ok: true }, durationMs: 1 }, ctx);
      // the same call reported twice (register() ran twice): one event
      after({ ...ev, result: { ok: true }, durationMs: 1 }, ctx);
    }
    const state = (globalThis as Record<symbol, { sender: { queue: unknown[] } }>)[Symbol.for("wirebot-trace")]!;
    expect(state.sender.queue.filter((e) => String((e as { toolCallId: string }).toolCallId).startsWith("c"))).toHaveLength(1000);
  });
});
