/** One reconcile cycle: read /spend/logs/v2 in windows over startTime and commit each window atomically. */
import type { Logger } from "pino";
import { RowError, parseSpendRow, type Ledger, type SpendEvent } from "./ledger.ts";
import type { LiteLlmClient, SpendLogsPage } from "./litellm-client.ts";

export interface IngestOptions {
  /** re-read this far behind the watermark: late rows are filtered by startTime (litellm.md §6.2) */
  overlapMs: number;
  /** stay this far behind now: LiteLLM flushes every 10 s ± 3 s, plus retries */
  settleMs: number;
  pageSize?: number;
  now?: () => number;
  /** where a ledger without a watermark starts; default: the start of the previous UTC month */
  backfillFromMs?: number;
  /** the daily re-sweep of the last `sweepSpanMs` */
  sweepEveryMs?: number;
  sweepSpanMs?: number;
  /** OFFSET passes over a one-second window that still overflows a page */
  maxOffsetPasses?: number;
  signal?: AbortSignal;
  log?: Logger;
}

export interface CycleResult {
  outcome: "ingested" | "up-to-date" | "aborted";
  fromMs: number;
  toMs: number;
  swept: boolean;
  windows: number;
  requests: number;
  rowsSeen: number;
  inserted: number;
  duplicates: number;
  conflicts: number;
  badRows: number;
  watermarkMs: number;
}

const SECOND = 1000;
const HOUR = 3_600_000;
const floorSec = (ms: number) => Math.floor(ms / SECOND) * SECOND;

export function startOfPreviousMonth(nowMs: number): number {
  const d = new Date(nowMs);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1);
}

/**
 * Reads `[watermark - overlap, now - settle]` (plus the last 48 h once a day) and commits it.
 *
 * Windows are sized to fit one page: a window whose `total` exceeds what one page returned (or is
 * capped) is halved and re-read, never walked with OFFSET, because rows tied on startTime come back
 * in any order and OFFSET paging can skip or repeat them (litellm.md §3.2). Each window commits in one
 * transaction together with the watermark, so a crash between windows leaves a consistent prefix and
 * a crash inside one leaves nothing of it.
 */
export async function runIngestCycle(client: LiteLlmClient, ledger: Ledger, o: IngestOptions): Promise<CycleResult> {
  const now = o.now ?? Date.now;
  const pageSize = o.pageSize ?? 1000;
  const state = ledger.readState();
  const startNow = now();
  const toMs = floorSec(startNow - o.settleMs);
  const watermark = state.watermarkMs !== null && state.watermarkMs > 0 ? state.watermarkMs : null;
  let fromMs = floorSec(watermark === null ? (o.backfillFromMs ?? startOfPreviousMonth(startNow)) : watermark - o.overlapMs);
  const sweepDue = state.lastSweepAt === null || startNow - state.lastSweepAt >= (o.sweepEveryMs ?? 24 * HOUR);
  if (sweepDue) fromMs = Math.min(fromMs, floorSec(toMs - (o.sweepSpanMs ?? 48 * HOUR)));
  const r: CycleResult = {
    outcome: "up-to-date",
    fromMs,
    toMs,
    swept: sweepDue,
    windows: 0,
    requests: 0,
    rowsSeen: 0,
    inserted: 0,
    duplicates: 0,
    conflicts: 0,
    badRows: 0,
    watermarkMs: watermark ?? 0,
  };
  if (toMs <= fromMs) return r;

  const fetchWindow = (a: number, b: number) => client.spendLogs({ startMs: a, endMs: b, pageSize, ...(o.signal ? { signal: o.signal } : {}) });
  let a = fromMs;
  let width = toMs - fromMs;
  let prefetched: { a: number; b: number; page: Promise<SpendLogsPage> } | null = null;
  while (a < toMs) {
    if (o.signal?.aborted) {
      r.outcome = "aborted";
      return r;
    }
    const b = Math.min(a + width, toMs);
    const first = prefetched && prefetched.a === a && prefetched.b === b ? await prefetched.page : await fetchWindow(a, b);
    prefetched = null;
    r.requests++;
    let rows = first.data;
    if (first.total_is_capped === true || first.total > first.data.length) {
      if (b - a > SECOND) {
        width = Math.max(SECOND, floorSec((b - a) / 2));
        continue;
      }
      rows = await readTiedSecond(client, a, b, first.total, first.total_is_capped === true, pageSize, o, r);
    }
    // Windows share their boundary second (both ends are inclusive at second precision and startTime
    // has milliseconds), so rows at exactly b.000 are read twice and ignored the second time.
    if (rows.length < pageSize / 4) width = Math.min(width * 2, Math.max(SECOND, toMs - b));
    if (b < toMs) {
      // Ask for the next window before the synchronous parse and commit, so LiteLLM serialises it
      // while SQLite writes this one. Its failure surfaces when it is awaited.
      const nb = Math.min(b + width, toMs);
      prefetched = { a: b, b: nb, page: fetchWindow(b, nb) };
      prefetched.page.catch(() => undefined);
      // undici writes the request on a later tick; yield once so it is on the wire before we block.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const events: SpendEvent[] = [];
    for (const raw of rows) {
      try {
        events.push(parseSpendRow(raw));
      } catch (err) {
        if (!(err instanceof RowError)) throw err;
        r.badRows++;
        o.log?.warn({ reason: err.message }, "skipped an unreadable spend row");
      }
    }
    if (o.signal?.aborted) {
      r.outcome = "aborted";
      return r;
    }
    const c = ledger.commitWindow(events, b, now());
    r.windows++;
    r.rowsSeen += events.length;
    r.inserted += c.inserted;
    r.duplicates += c.duplicates;
    r.conflicts += c.conflicts;
    r.watermarkMs = Math.max(r.watermarkMs, b);
    a = b;
  }
  ledger.recordSuccess(now(), { sweep: sweepDue, watermarkMs: toMs });
  r.watermarkMs = Math.max(r.watermarkMs, toMs);
  r.outcome = "ingested";
  return r;
}

/**
 * The fallback for a one-second window with more rows than a page: OFFSET pages, repeated until the
 * distinct rows reach the (exact, uncapped) total, because tie order changes between queries.
 */
async function readTiedSecond(
  client: LiteLlmClient,
  a: number,
  b: number,
  total: number,
  capped: boolean,
  pageSize: number,
  o: IngestOptions,
  r: CycleResult,
): Promise<Record<string, unknown>[]> {
  const seen = new Map<string, Record<string, unknown>>();
  const passes = o.maxOffsetPasses ?? 8;
  for (let pass = 0; pass < passes; pass++) {
    for (let page = 1; ; page++) {
      const p = await client.spendLogs({ startMs: a, endMs: b, page, pageSize, ...(o.signal ? { signal: o.signal } : {}) });
      r.requests++;
      for (const row of p.data) seen.set(String(row["request_id"]), row);
      if (p.data.length < pageSize) break;
    }
    if (!capped && seen.size >= total) return [...seen.values()];
  }
  o.log?.warn({ windowStart: new Date(a).toISOString(), rows: seen.size, total: capped ? ">10000" : total }, "a one-second window overflows a page and OFFSET paging could not see every row; the overlap and the daily re-sweep will retry");
  return [...seen.values()];
}
