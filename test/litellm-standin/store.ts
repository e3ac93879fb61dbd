/** The stand-in's tables: LiteLLM_SpendLogs rows (sorted by startTime, visible only after their flush) and virtual keys. */
import { createHash } from "node:crypto";

/**
 * One LiteLLM_SpendLogs row, kept compact so a million fit in memory; `extra` carries every other
 * column verbatim for rows loaded from the sample file.
 */
export interface StoredRow {
  request_id: string;
  api_key: string;
  startMs: number;
  endMs: number;
  /** When the batch writer flushed it (endTime + 0–13 s): before this the row is not in the table. */
  visibleAtMs: number;
  spend: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  model: string;
  model_group: string;
  custom_llm_provider: string;
  call_type: string;
  status: string;
  cache_hit: string;
  end_user: string;
  user: string;
  key_alias: string | null;
  agent_label: string | null;
  session_id: string;
  litellm_call_id: string;
  extra?: Record<string, unknown>;
}

export interface KeyRecord {
  token: string;
  key_name: string;
  key_alias: string | null;
  max_budget: number | null;
  budget_duration: string | null;
  metadata: Record<string, unknown>;
  models: string[];
  blocked: boolean;
  spend: number;
  created_at: string;
  updated_at: string;
  user_id: string | null;
  team_id: string | null;
}

export const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

export interface AddOutcome {
  outcome: "written" | "dropped-duplicate" | "lost";
}

export class SpendStore {
  /** Sorted by startMs ascending; ties keep insertion order here (the server shuffles them per query). */
  readonly rows: StoredRow[] = [];
  readonly starts: number[] = [];
  private readonly ids = new Set<string>();
  readonly keys = new Map<string, KeyRecord>();
  /** Rows LiteLLM billed (key spend) but never wrote: queue drops on restart, DB errors (litellm.md §6.1). */
  lostRows = 0;

  /**
   * Adds a finished request. A duplicate request_id is silently dropped (`create_many(skip_duplicates)`),
   * a `lose` row only bumps the key's spend counter, as LiteLLM does when a batch is discarded.
   */
  add(row: StoredRow, opts: { lose?: boolean } = {}): AddOutcome {
    const key = this.keys.get(row.api_key);
    if (key) key.spend += row.spend;
    if (opts.lose) {
      this.lostRows++;
      return { outcome: "lost" };
    }
    if (this.ids.has(row.request_id)) return { outcome: "dropped-duplicate" };
    this.ids.add(row.request_id);
    const n = this.rows.length;
    if (n === 0 || this.starts[n - 1]! <= row.startMs) {
      this.rows.push(row);
      this.starts.push(row.startMs);
    } else {
      const at = this.upperBound(row.startMs);
      this.rows.splice(at, 0, row);
      this.starts.splice(at, 0, row.startMs);
    }
    return { outcome: "written" };
  }

  /** Bulk load already sorted rows (generators), skipping the per-row splice. */
  addSorted(rows: StoredRow[]): void {
    for (const r of rows) {
      const key = this.keys.get(r.api_key);
      if (key) key.spend += r.spend;
      if (this.ids.has(r.request_id)) continue;
      this.ids.add(r.request_id);
      if (this.starts.length > 0 && this.starts[this.starts.length - 1]! > r.startMs) throw new Error("addSorted: rows out of order");
      this.rows.push(r);
      this.starts.push(r.startMs);
    }
  }

  /** First index with startMs >= t. */
  lowerBound(t: number): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index with startMs > t. */
  upperBound(t: number): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Rows the table holds at `now` (flushed), for ground truth. */
  visible(now: number): StoredRow[] {
    return this.rows.filter((r) => r.visibleAtMs <= now);
  }

  registerKey(rec: KeyRecord): void {
    this.keys.set(rec.token, rec);
  }

  findKey(skOrHash: string): KeyRecord | undefined {
    return this.keys.get(skOrHash.startsWith("sk-") ? sha256(skOrHash) : skOrHash);
  }

  findAlias(alias: string): KeyRecord | undefined {
    for (const k of this.keys.values()) if (k.key_alias === alias) return k;
    return undefined;
  }
}

/** Ground truth per api_key hash, in nano-USD, computed exactly as the ledger must (round each row, sum integers). */
export function groundTruthNusd(rows: readonly StoredRow[]): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const r of rows) out.set(r.api_key, (out.get(r.api_key) ?? 0n) + BigInt(Math.round(r.spend * 1e9)));
  return out;
}
