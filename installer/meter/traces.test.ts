/** The ledger's trace tables: a record stored once however often it arrives, counters that never go down, filters, retention by age and size. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { TraceRecord } from "../transparency/record.ts";
import { openLedgerDb } from "./db.ts";
import { TraceStore } from "./traces.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 8, 12);
const rec = (n: number, o: Partial<TraceRecord> = {}): TraceRecord => ({
  traceId: `t${n}`, atMs: NOW - n * 1000, gateway: "shared", agentId: n % 2 ? "alice" : "bob", sessionKey: null, channel: "telegram", requester: null,
  runId: "r", toolCallId: `c${n}`, parentId: null, tool: n % 3 ? "read" : "exec", action: n % 3 ? "allow" : "deny", reason: null,
  params: "{}", result: null, error: null, durationMs: 5, ...o,
});

const store = () => new TraceStore(openLedgerDb(path.join(mkdtempSync(path.join(tmpdir(), "wb-traces-")), "ledger.sqlite")));

describe("TraceStore", () => {
  it("stores a trace id once however often it arrives, and counts it once", () => {
    const s = store();
    expect(s.insert([rec(1), rec(2), rec(3)])).toBe(3);
    expect(s.insert([rec(1), rec(2), rec(3), rec(4)])).toBe(1);
    expect(s.list().map((t) => t.traceId)).toEqual(["t1", "t2", "t3", "t4"]);
    expect(s.counters()).toEqual([
      { agentId: "alice", tool: "exec", action: "deny", n: 1 },
      { agentId: "alice", tool: "read", action: "allow", n: 1 },
      { agentId: "bob", tool: "read", action: "allow", n: 2 },
    ]);
  });

  it("filters by agent, time, tool, action and rowid; an empty agent list sees nothing", () => {
    const s = store();
    s.insert([1, 2, 3, 4, 5, 6].map((n) => rec(n)));
    expect(s.list({ agents: ["alice"] }).map((t) => t.traceId)).toEqual(["t1", "t3", "t5"]);
    expect(s.list({ agents: [] })).toEqual([]);
    expect(s.list({ action: "deny" }).map((t) => t.traceId)).toEqual(["t3", "t6"]);
    expect(s.list({ tool: "read", sinceMs: NOW - 2500 }).map((t) => t.traceId)).toEqual(["t1", "t2"]);
    const [first] = s.list({ limit: 1 });
    expect(first!.traceId).toBe("t6");
    expect(s.list({ afterRow: s.list()[3]!.row }).map((t) => t.traceId)).toEqual(["t5", "t6"]);
  });

  it("retention deletes what is older than the age limit, then the oldest past the row limit; the counters stay", () => {
    const s = store();
    s.insert([rec(1), rec(2, { atMs: NOW - 100 * DAY }), rec(3), rec(4), rec(5)]);
    expect(s.enforceRetention({ days: 90, maxRows: 3 }, NOW)).toBe(2);
    expect(s.list().map((t) => t.traceId).sort()).toEqual(["t1", "t3", "t4"]);
    expect(s.counters().reduce((n, c) => n + c.n, 0)).toBe(5);
  });
});
