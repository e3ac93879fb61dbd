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

  const fetchWindow = (a: number, b: number) =>
    client.spendLogs({ startMs: a, endMs: b, pageSize, ...(o.signal ? { signal: o.signal } : {}) }).then(toWindowRead);
  let a = fromMs;
  let width = toMs - fromMs;
  let prefetched: { a: number; b: number; read: Promise<WindowRead> } | null = null;
  while (a < toMs) {
    if (o.signal?.aborted) {
      r.outcome = "aborted";
      return r;
    }
    const b = Math.min(a + width, toMs);
    const first = prefetched && prefetched.a === a && prefetched.b === b ? await prefetched.read : await fetchWindow(a, b);
    prefetched = null;
    r.requests++;
    let read = first;
    if (first.capped || first.total > first.size) {
      if (b - a > SECOND) {
        width = Math.max(SECOND, floorSec((b - a) / 2));
        continue;
      }
      read = await readTiedSecond(client, a, b, first.total, first.capped, pageSize, o, r);
    }
    // Windows share their boundary second (both ends are inclusive at second precision and startTime
    // has milliseconds), so rows at exactly b.000 are read twice and ignored the second time.
    if (read.size < pageSize / 4) width = Math.min(width * 2, Math.max(SECOND, toMs - b));
    if (b < toMs) {
      // Ask for the next window before the synchronous commit, so LiteLLM serialises it while SQLite
      // writes this one. Its failure surfaces when it is awaited.
      const nb = Math.min(b + width, toMs);
      prefetched = { a: b, b: nb, read: fetchWindow(b, nb) };
      prefetched.read.catch(() => undefined);
      // fetch (undici inside Node) writes the request on a later tick; yield once so it is on the wire before we block.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    for (const reason of read.bad) o.log?.warn({ reason }, "skipped an unreadable spend row");
    r.badRows += read.bad.length;
    if (o.signal?.aborted) {
      r.outcome = "aborted";
      return r;
    }
    const c = ledger.commitWindow(read.events, b, now());
    r.windows++;
    r.rowsSeen += read.events.length;
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

/** A page reduced to what the ledger keeps: rows that could not be ledgered become their reasons. */
interface WindowRead {
  total: number;
  capped: boolean;
  /** rows the page returned, readable or not (what `total` is compared with) */
  size: number;
  events: SpendEvent[];
  bad: string[];
}

/**
 * Turns a page into events as soon as it arrives. The raw page (every LiteLLM column, metadata objects)
 * is several times the size of its events; dropping it before the next await keeps it in V8's young
 * generation, where it dies cheaply, instead of being promoted while the previous window commits.
 */
function toWindowRead(p: SpendLogsPage): WindowRead {
  const events: SpendEvent[] = [];
  const bad: string[] = [];
  for (const raw of p.data) {
    try {
      events.push(parseSpendRow(raw));
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      bad.push(err.message);
    }
  }
  return { total: p.total, capped: p.total_is_capped === true, size: p.data.length, events, bad };
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
): Promise<WindowRead> {
  const seen = new Map<string, SpendEvent>();
  // An unreadable row has no usable id; its reason (which names the id when there is one) stands in for it.
  const bad = new Set<string>();
  const result = (): WindowRead => ({ total, capped, size: seen.size + bad.size, events: [...seen.values()], bad: [...bad] });
  const passes = o.maxOffsetPasses ?? 8;
  for (let pass = 0; pass < passes; pass++) {
    for (let page = 1; ; page++) {
      const p = toWindowRead(await client.spendLogs({ startMs: a, endMs: b, page, pageSize, ...(o.signal ? { signal: o.signal } : {}) }));
      r.requests++;
      for (const e of p.events) seen.set(e.requestId, e);
      for (const reason of p.bad) bad.add(reason);
      if (p.size < pageSize) break;
    }
    if (!capped && seen.size + bad.size >= total) return result();
  }
  o.log?.warn({ windowStart: new Date(a).toISOString(), rows: seen.size + bad.size, total: capped ? ">10000" : total }, "a one-second window overflows a page and OFFSET paging could not see every row; the overlap and the daily re-sweep will retry");
  return result();
}
