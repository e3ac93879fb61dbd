/** The trace tables of the ledger: idempotent inserts, counters, filtered reads, retention by age and size. */
import type { TraceAction, TraceRecord } from "../transparency/record.ts";
import type { Db } from "./db.ts";
import { sql } from "./db.ts";

export interface TraceFilter {
  /** only these agents (a per-user token sees its own agent only) */
  agents?: readonly string[];
  sinceMs?: number;
  tool?: string;
  action?: TraceAction;
  /** traces stored after this rowid (`--follow`, paging) */
  afterRow?: number;
  limit?: number;
  /** the first `limit` matches instead of the last (forwarding walks forward from a cursor) */
  oldestFirst?: boolean;
}

export interface StoredTrace extends TraceRecord {
  row: number;
}

const COLUMNS = `rowid AS row, trace_id AS traceId, at_ms AS atMs, gateway, agent_id AS agentId, session_key AS sessionKey, channel, requester,
  run_id AS runId, tool_call_id AS toolCallId, parent_id AS parentId, tool, action, reason, params, result, error, duration_ms AS durationMs`;

export class TraceStore {
  private readonly insertOne;
  private readonly count;

  constructor(private readonly db: Db) {
    this.insertOne = db.prepare(sql`INSERT INTO traces (trace_id, at_ms, gateway, agent_id, session_key, channel, requester, run_id, tool_call_id, parent_id,
      tool, action, reason, params, result, error, duration_ms, size_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trace_id) DO NOTHING`);
    this.count = db.prepare(sql`INSERT INTO trace_counts (agent_id, tool, action, n) VALUES (?, ?, ?, 1) ON CONFLICT (agent_id, tool, action) DO UPDATE SET n = n + 1`);
  }

  /** Stores the records in one transaction; a trace id already stored is skipped (and not counted again). Returns how many were new. */
  readonly insert = (records: readonly TraceRecord[]): number =>
    this.db.transaction(() => {
      let added = 0;
      for (const r of records) {
        const size = [r.params, r.result, r.error, r.requester, r.reason].reduce((n, s) => n + (s?.length ?? 0), 200);
        const info = this.insertOne.run(r.traceId, r.atMs, r.gateway, r.agentId, r.sessionKey, r.channel, r.requester, r.runId, r.toolCallId, r.parentId,
          r.tool, r.action, r.reason, r.params, r.result, r.error, r.durationMs, size);
        if (info.changes === 0) continue;
        this.count.run(r.agentId, r.tool, r.action);
        added++;
      }
      return added;
    }).immediate();

  list(f: TraceFilter = {}): StoredTrace[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.agents) {
      if (f.agents.length === 0) return [];
      where.push(`agent_id IN (${f.agents.map(() => "?").join(", ")})`);
      args.push(...f.agents);
    }
    if (f.sinceMs !== undefined) where.push("at_ms >= ?"), args.push(f.sinceMs);
    if (f.tool !== undefined) where.push("tool = ?"), args.push(f.tool);
    if (f.action !== undefined) where.push("action = ?"), args.push(f.action);
    if (f.afterRow !== undefined) where.push("rowid > ?"), args.push(f.afterRow);
    const cond = where.length ? `WHERE ${where.join(" AND ")}` : "";
    // newest last: a terminal reads top to bottom, and --follow appends
    const inner = `SELECT rowid, * FROM traces ${cond} ORDER BY rowid ${f.oldestFirst ? "ASC" : "DESC"} LIMIT ?`;
    return this.db.prepare(`SELECT ${COLUMNS} FROM (${inner}) ORDER BY rowid`).all(...args, f.limit ?? 1000) as StoredTrace[];
  }

  counters(): { agentId: string; tool: string; action: TraceAction; n: number }[] {
    return this.db.prepare(sql`SELECT agent_id AS agentId, tool, action, n FROM trace_counts ORDER BY agent_id, tool, action`).all() as { agentId: string; tool: string; action: TraceAction; n: number }[];
  }

  /** Deletes traces older than maxAgeDays, then the oldest beyond maxRows. Returns how many went. */
  enforceRetention(o: { days: number; maxRows: number }, nowMs: number): number {
    const old = this.db.prepare(sql`DELETE FROM traces WHERE at_ms < ?`).run(nowMs - o.days * 86_400_000).changes;
    const total = this.db.prepare(sql`SELECT count(*) FROM traces`).pluck().get() as number;
    const excess = total - o.maxRows;
    const extra = excess > 0 ? this.db.prepare(sql`DELETE FROM traces WHERE rowid IN (SELECT rowid FROM traces ORDER BY at_ms, rowid LIMIT ?)`).run(excess).changes : 0;
    return old + extra;
  }
}
