/** transparency.forward against a collector stand-in over real HTTP: redacted traces in the AAP shape, batched, rate-limited, retried, resumed; nothing twice. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startAapStandin, type AapStandin } from "../../test/aap-standin/server.ts";
import { captureLogger } from "../../test/litellm-standin/fixtures.ts";
import { openLedgerDb } from "./db.ts";
import { TraceForwarder } from "./trace-forward.ts";
import { TraceStore } from "./traces.ts";
import type { TraceRecord } from "../transparency/record.ts";

const TOKEN = "forward-token-0123456789";
const rec = (n: number): TraceRecord => ({
  traceId: `t${n}`, atMs: Date.UTC(2026, 11, 8) + n, gateway: "shared", agentId: n % 2 ? "alice" : "bob", sessionKey: null, channel: "telegram", requester: null,
  runId: "r", toolCallId: `c${n}`, parentId: null, tool: "exec", action: "deny", reason: "runtime-policy: exec: tools.deny exec", params: '{"command":"[secret:BRAVE_API_KEY]"}', result: null, error: "Tool exec not found", durationMs: 1,
});

let collector: AapStandin;
let db: ReturnType<typeof openLedgerDb>;
let store: TraceStore;
beforeEach(async () => {
  collector = await startAapStandin({ token: TOKEN });
  db = openLedgerDb(path.join(mkdtempSync(path.join(tmpdir(), "wb-fwd-")), "ledger.sqlite"));
  store = new TraceStore(db);
});
afterEach(() => collector.close());

const forwarder = (o: Partial<ConstructorParameters<typeof TraceForwarder>[2]> = {}) =>
  new TraceForwarder(db, store, { url: collector.url, token: TOKEN, batch: 10, perMinute: 1000, sleep: async () => undefined, log: captureLogger().log, ...o });

describe("trace forwarding", () => {
  it("sends the stored (already redacted) traces in the AAP shape, in batches, oldest first", async () => {
    store.insert(Array.from({ length: 25 }, (_, i) => rec(i + 1)));
    expect(await forwarder().run()).toEqual({ sent: 25, error: null });
    expect(collector.batches.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(collector.batches[0]![0]).toMatchObject({ id: "t1", agent_id: "alice", action: "deny", verified: true, reasoning: "runtime-policy: exec: tools.deny exec", tool_name: "exec", tool_input: { command: "[secret:BRAVE_API_KEY]" }, source: "wirebot" });
    expect(collector.batches.flat().map((t) => t["id"])).toEqual(Array.from({ length: 25 }, (_, i) => `t${i + 1}`));
  });

  it("at most perMinute traces per run; the next run goes on from there", async () => {
    store.insert(Array.from({ length: 25 }, (_, i) => rec(i + 1)));
    const f = forwarder({ perMinute: 12 });
    expect(await f.run()).toEqual({ sent: 12, error: null });
    expect(await f.run()).toEqual({ sent: 12, error: null });
    expect(await f.run()).toEqual({ sent: 1, error: null });
    expect(collector.batches.flat()).toHaveLength(25);
  });

  it("retries a failing collector; when it stays down, the next run (or a restarted daemon) resumes at the first trace not accepted, none twice", async () => {
    store.insert(Array.from({ length: 15 }, (_, i) => rec(i + 1)));
    collector.failNext(2);
    expect(await forwarder().run()).toEqual({ sent: 15, error: null });
    expect(collector.requests.map((r) => r.status)).toEqual([503, 503, 202, 202]);

    store.insert(Array.from({ length: 5 }, (_, i) => rec(i + 100)));
    collector.failNext(10);
    expect(await forwarder({ attempts: 3 }).run()).toEqual({ sent: 0, error: "HTTP 503" });
    collector.failNext(0);
    // a new forwarder: the cursor is in the ledger, not in memory
    expect(await forwarder().run()).toEqual({ sent: 5, error: null });
    const ids = collector.batches.flat().map((t) => t["id"]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(20);
  });

  it("a refused token is not retried in a loop: one request, the error kept", async () => {
    store.insert([rec(1)]);
    const r = await forwarder({ token: "wrong" }).run();
    expect(r).toEqual({ sent: 0, error: "HTTP 401" });
    expect(collector.requests).toHaveLength(1);
  });
});
