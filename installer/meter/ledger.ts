/** The append-only spend ledger: spend rows parsed to nano-USD, windows committed atomically, totals per agent. */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { sql, type Db } from "./db.ts";

/** A spend row as stored: integers for money and time, the raw float kept as text for audit. */
export interface SpendEvent {
  requestId: string;
  keyHash: string;
  startMs: number;
  endMs: number | null;
  model: string;
  modelGroup: string | null;
  callType: string | null;
  status: string | null;
  cacheHit: boolean;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  spendNusd: number;
  spendRaw: string;
  endUser: string | null;
  /** metadata.spend_logs_metadata.agent_id: a cross-check only, callers can set it */
  labelAgent: string | null;
  fingerprint: string;
}

/** `2026-10-20T09:02:11.204000Z` and `…+00:00` (v2), optional fraction; LiteLLM stores UTC without a zone. */
export function parseLiteLlmTime(v: unknown): number | null {
  if (typeof v !== "string" || v === "") return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(v);
  if (!m) return null;
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000 + 1e-6) : 0;
  let t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, ms);
  const zone = m[8];
  if (zone && zone !== "Z") {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    t -= (z[1] === "-" ? -1 : 1) * (+z[2]! * 60 + +z[3]!) * 60_000;
  }
  return t;
}

/**
 * USD float → integer nano-USD. Micro-dollars are too coarse (a 10-token embedding costs 0.2 µUSD,
 * litellm.md §9); int64 nano-USD covers ±9.2e9 USD and JS numbers stay exact below 9e6 USD per row.
 */
export const toNusd = (usd: number) => Math.round(usd * 1e9);

export class RowError extends Error {}

const int = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? Math.trunc(v) : 0);
const str = (v: unknown) => (typeof v === "string" ? v : null);

/** Parses one `/spend/logs/v2` row. Throws RowError on a row that cannot be ledgered (no id, no time, bad spend). */
export function parseSpendRow(raw: Record<string, unknown>): SpendEvent {
  const requestId = raw["request_id"];
  if (typeof requestId !== "string" || requestId === "") throw new RowError("row without request_id");
  const startMs = parseLiteLlmTime(raw["startTime"]);
  if (startMs === null) throw new RowError(`row ${requestId}: unreadable startTime`);
  const spendV = raw["spend"] ?? 0;
  if (typeof spendV !== "number" || !Number.isFinite(spendV)) throw new RowError(`row ${requestId}: spend is not a number`);
  const meta = raw["metadata"];
  const slm = meta && typeof meta === "object" ? (meta as Record<string, unknown>)["spend_logs_metadata"] : null;
  const label = slm && typeof slm === "object" ? str((slm as Record<string, unknown>)["agent_id"]) : null;
  const ev: SpendEvent = {
    requestId,
    keyHash: str(raw["api_key"]) ?? "",
    startMs,
    endMs: parseLiteLlmTime(raw["endTime"]),
    model: str(raw["model"]) ?? "",
    modelGroup: str(raw["model_group"]),
    callType: str(raw["call_type"]),
    status: str(raw["status"]),
    // only a case-insensitive "true" is a hit ("None", "" and "False" are not)
    cacheHit: String(raw["cache_hit"]).toLowerCase() === "true",
    promptTokens: int(raw["prompt_tokens"]),
    completionTokens: int(raw["completion_tokens"]),
    totalTokens: int(raw["total_tokens"]),
    spendNusd: toNusd(spendV),
    spendRaw: String(spendV),
    endUser: str(raw["end_user"]) || null,
    labelAgent: label,
    fingerprint: "",
  };
  ev.fingerprint = fingerprint(ev);
  return ev;
}

/** The content that must not change for a request_id (litellm.md §10.3). */
function fingerprint(e: SpendEvent): string {
  return createHash("sha1")
    .update(`${e.keyHash}|${e.startMs}|${e.spendRaw}|${e.promptTokens}|${e.completionTokens}|${e.totalTokens}|${e.status ?? ""}`)
    .digest("base64url");
}

export interface CommitResult {
  inserted: number;
  duplicates: number;
  conflicts: number;
}

export interface SyncState {
  watermarkMs: number | null;
  lastSuccessAt: number | null;
  lastSweepAt: number | null;
  lastErrorAt: number | null;
  lastError: string | null;
}

export interface UsageRow {
  agent: string;
  period: string;
  requests: number;
  spendNusd: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface ModelTotals {
  agent: string;
  model: string;
  requests: number;
  spendNusd: number;
  promptTokens: number;
  completionTokens: number;
}

/** Rows whose key no agent owns (master key, health checks, other users) land here. */
export const UNATTRIBUTED = "(unattributed)";

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** All statements prepared once; every write goes through one transaction per window. */
type Statements = ReturnType<typeof prepareStatements>;

function prepareStatements(db: Db) {
  const usage = (group: "day" | "month") =>
    db.prepare(`
      SELECT coalesce(k.agent_id, '${UNATTRIBUTED}') AS agent, ${group === "day" ? "d.day" : "substr(d.day, 1, 7)"} AS period,
             sum(d.requests) AS requests, sum(d.spend_nusd) AS spendNusd, sum(d.prompt_tokens) AS promptTokens,
             sum(d.completion_tokens) AS completionTokens, sum(d.total_tokens) AS totalTokens
      FROM spend_daily d LEFT JOIN agent_keys k ON k.key_hash = d.key_hash
      WHERE d.day >= ? AND d.day <= ?
      GROUP BY agent, period ORDER BY agent, period`);
  return {
    usageDay: usage("day"),
    usageMonth: usage("month"),
    insert: db.prepare(sql`
      INSERT INTO spend_events (instance_id, request_id, key_hash, start_ms, end_ms, model, model_group, call_type, status,
        cache_hit, prompt_tokens, completion_tokens, total_tokens, spend_nusd, spend_raw, end_user, label_agent, fingerprint, first_seen_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (instance_id, request_id) DO NOTHING`),
    fingerprintOf: db.prepare(sql`SELECT fingerprint FROM spend_events WHERE instance_id = ? AND request_id = ?`).pluck(),
    addDaily: db.prepare(sql`
      INSERT INTO spend_daily (key_hash, day, model, requests, spend_nusd, prompt_tokens, completion_tokens, total_tokens)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (key_hash, day, model) DO UPDATE SET
        requests = requests + excluded.requests, spend_nusd = spend_nusd + excluded.spend_nusd,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
        total_tokens = total_tokens + excluded.total_tokens`),
    anomaly: db.prepare(sql`
      INSERT INTO spend_anomalies (instance_id, request_id, kind, fingerprint, detail, seen_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT DO NOTHING`),
    state: db.prepare(sql`
      SELECT watermark_ms AS watermarkMs, last_success_at AS lastSuccessAt, last_sweep_at AS lastSweepAt,
             last_error_at AS lastErrorAt, last_error AS lastError
      FROM sync_state WHERE instance_id = ?`),
    // The watermark never moves backwards: a re-sweep or an overlap re-read ends before it.
    advance: db.prepare(sql`
      INSERT INTO sync_state (instance_id, watermark_ms) VALUES (?, ?)
      ON CONFLICT (instance_id) DO UPDATE SET watermark_ms = max(watermark_ms, excluded.watermark_ms)`),
    success: db.prepare(sql`UPDATE sync_state SET last_success_at = ?, last_error = NULL WHERE instance_id = ?`),
    sweep: db.prepare(sql`UPDATE sync_state SET last_sweep_at = ? WHERE instance_id = ?`),
    failure: db.prepare(sql`
      INSERT INTO sync_state (instance_id, watermark_ms, last_error_at, last_error) VALUES (?, ?, ?, ?)
      ON CONFLICT (instance_id) DO UPDATE SET last_error_at = excluded.last_error_at, last_error = excluded.last_error`),
    putKey: db.prepare(sql`
      INSERT INTO agent_keys (key_hash, agent_id, registered_at) VALUES (?, ?, ?)
      ON CONFLICT (key_hash) DO UPDATE SET agent_id = excluded.agent_id WHERE agent_id <> excluded.agent_id`),
    keys: db.prepare(sql`SELECT key_hash AS keyHash, agent_id AS agentId FROM agent_keys ORDER BY agent_id, registered_at`),
    modelTotals: db.prepare(sql`
      SELECT coalesce(k.agent_id, '(unattributed)') AS agent, d.model AS model, sum(d.requests) AS requests,
             sum(d.spend_nusd) AS spendNusd, sum(d.prompt_tokens) AS promptTokens, sum(d.completion_tokens) AS completionTokens
      FROM spend_daily d LEFT JOIN agent_keys k ON k.key_hash = d.key_hash
      GROUP BY agent, model ORDER BY agent, model`),
    // Whole days from spend_daily (kept in the same transactions as the events, so equal by construction),
    // the part of the first day from the events: a drift check costs O(days × models + one day's rows)
    // instead of a scan of every row of the period (about 1 s per cycle on a 1,000,000-row ledger).
    keySpendSince: db.prepare(sql`
      SELECT coalesce((SELECT sum(spend_nusd) FROM spend_daily WHERE key_hash = :key AND day >= :cutDay), 0)
           + coalesce((SELECT sum(spend_nusd) FROM spend_events WHERE key_hash = :key AND start_ms >= :since AND start_ms < :cut), 0)`).pluck(),
    anomalies: db.prepare(sql`SELECT count(*) FROM spend_anomalies`).pluck(),
    eventCount: db.prepare(sql`SELECT count(*) FROM spend_events WHERE instance_id = ?`).pluck(),
  };
}

export class Ledger {
  private readonly st: Statements;
  readonly commitWindow: (events: readonly SpendEvent[], watermarkMs: number, nowMs: number) => CommitResult;

  constructor(
    readonly db: Db,
    readonly instanceId: string,
    private readonly log?: Logger,
  ) {
    this.st = prepareStatements(db);

    this.commitWindow = db.transaction((events: readonly SpendEvent[], watermarkMs: number, nowMs: number): CommitResult => {
      const r: CommitResult = { inserted: 0, duplicates: 0, conflicts: 0 };
      const daily = new Map<string, [string, string, string, number, number, number, number, number]>();
      for (const e of events) {
        const info = this.st.insert.run(
          this.instanceId, e.requestId, e.keyHash, e.startMs, e.endMs, e.model, e.modelGroup, e.callType, e.status,
          e.cacheHit ? 1 : 0, e.promptTokens, e.completionTokens, e.totalTokens, e.spendNusd, e.spendRaw, e.endUser,
          e.labelAgent, e.fingerprint, nowMs,
        );
        if (info.changes === 1) {
          r.inserted++;
          const day = dayOf(e.startMs);
          const k = `${e.keyHash}\u0000${day}\u0000${e.model}`;
          const agg = daily.get(k) ?? [e.keyHash, day, e.model, 0, 0, 0, 0, 0];
          agg[3] += 1;
          agg[4] += e.spendNusd;
          agg[5] += e.promptTokens;
          agg[6] += e.completionTokens;
          agg[7] += e.totalTokens;
          daily.set(k, agg);
          continue;
        }
        const stored = this.st.fingerprintOf.get(this.instanceId, e.requestId) as string | undefined;
        if (stored === e.fingerprint) {
          r.duplicates++;
          continue;
        }
        // Same id, other content: LiteLLM never updates a row, so this is a reused id. Keep the first, record the second.
        r.conflicts++;
        const detail = JSON.stringify({ storedFingerprint: stored, keyHash: e.keyHash, startMs: e.startMs, spendRaw: e.spendRaw, status: e.status, tokens: e.totalTokens });
        const added = this.st.anomaly.run(this.instanceId, e.requestId, "conflicting-reuse", e.fingerprint, detail, nowMs);
        if (added.changes === 1) this.log?.warn({ requestId: e.requestId, instance: this.instanceId }, "spend row reused a request_id with different content; kept the first, recorded an anomaly");
      }
      for (const a of daily.values()) this.st.addDaily.run(...a);
      this.st.advance.run(this.instanceId, watermarkMs);
      return r;
    });
  }

  readState(): SyncState {
    const row = this.st.state.get(this.instanceId) as SyncState | undefined;
    return row ?? { watermarkMs: null, lastSuccessAt: null, lastSweepAt: null, lastErrorAt: null, lastError: null };
  }

  recordSuccess(nowMs: number, opts: { sweep: boolean; watermarkMs: number }): void {
    this.db.transaction(() => {
      this.st.advance.run(this.instanceId, opts.watermarkMs);
      this.st.success.run(nowMs, this.instanceId);
      if (opts.sweep) this.st.sweep.run(nowMs, this.instanceId);
    })();
  }

  recordFailure(nowMs: number, message: string): void {
    // A first-ever failure needs a row: watermark 0 is below any real start, and advance() takes the max.
    this.st.failure.run(this.instanceId, 0, nowMs, message.slice(0, 500));
  }

  /** Records agent → key hash. Idempotent; a hash moving to another agent is logged. */
  ensureAgentKeys(map: ReadonlyMap<string, readonly string[]>, nowMs: number): void {
    const known = new Map(this.agentKeys().map((k) => [k.keyHash, k.agentId]));
    this.db.transaction(() => {
      for (const [agentId, hashes] of map) {
        for (const h of hashes) {
          const prev = known.get(h);
          if (prev !== undefined && prev !== agentId) this.log?.warn({ agentId, previous: prev }, "a key hash changed owner");
          this.st.putKey.run(h, agentId, nowMs);
        }
      }
    })();
  }

  agentKeys(): { keyHash: string; agentId: string }[] {
    return this.st.keys.all() as { keyHash: string; agentId: string }[];
  }

  hashesOf(agentId: string): string[] {
    return this.agentKeys().filter((k) => k.agentId === agentId).map((k) => k.keyHash);
  }

  /** Totals per agent and period, days inclusive (`YYYY-MM-DD`). */
  usage(fromDay: string, toDay: string, group: "day" | "month"): UsageRow[] {
    return (group === "day" ? this.st.usageDay : this.st.usageMonth).all(fromDay, toDay) as UsageRow[];
  }

  /** Month-to-date spend per agent (UTC calendar month). */
  monthSpend(month: string): Map<string, number> {
    const rows = this.usage(`${month}-01`, `${month}-31`, "month");
    return new Map(rows.map((r) => [r.agent, r.spendNusd]));
  }

  modelTotals(): ModelTotals[] {
    return this.st.modelTotals.all() as ModelTotals[];
  }

  keySpendSince(keyHash: string, sinceMs: number): number {
    const dayStart = Math.floor(sinceMs / 86_400_000) * 86_400_000;
    const cut = dayStart === sinceMs ? sinceMs : dayStart + 86_400_000;
    return this.st.keySpendSince.get({ key: keyHash, cutDay: dayOf(cut), since: sinceMs, cut }) as number;
  }

  anomalyCount(): number {
    return this.st.anomalies.get() as number;
  }

  eventCount(): number {
    return this.st.eventCount.get(this.instanceId) as number;
  }

  /** Whether a threshold was already reported this month; records it if not. */
  markBudgetEvent(agentId: string, month: string, kind: "warn" | "block" | "unblock", percent: number, nowMs: number): boolean {
    return this.db.prepare(sql`INSERT INTO budget_events (agent_id, month, kind, percent, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`).run(agentId, month, kind, percent, nowMs).changes === 1;
  }

  budgetEvents(agentId: string): { month: string; kind: string; percent: number }[] {
    return this.db.prepare(sql`SELECT month, kind, percent FROM budget_events WHERE agent_id = ? ORDER BY at`).all(agentId) as { month: string; kind: string; percent: number }[];
  }
}
