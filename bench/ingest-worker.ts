/** The measured side of the benchmark: a meter process (bundled, run by plain node as in production) ingesting from the stand-in. */
import { getHeapSpaceStatistics } from "node:v8";
import { openLedgerDb } from "../installer/meter/db.ts";
import { checkDrift } from "../installer/meter/drift.ts";
import { runIngestCycle } from "../installer/meter/ingest.ts";
import { Ledger } from "../installer/meter/ledger.ts";
import { LiteLlmClient } from "../installer/meter/litellm-client.ts";

interface Job {
  url: string;
  adminKey: string;
  ledger: string;
  backfillFromMs: number;
  agents: { agentId: string; hash: string }[];
  overlapMs: number;
  settleMs: number;
  pageSize: number;
  idleCycles: number;
}

const job = JSON.parse(process.argv[2]!) as Job;
const db = openLedgerDb(job.ledger);
const ledger = new Ledger(db, "default");
ledger.ensureAgentKeys(new Map(job.agents.map((a) => [a.agentId, [a.hash]])), Date.now());
const client = new LiteLlmClient({ baseUrl: job.url, adminKey: job.adminKey, timeoutMs: 120_000 });
const rssBefore = process.memoryUsage.rss();
let peak = rssBefore;
// What the process held when RSS peaked: V8's heap (reserved and live) and memory outside it (undici's
// buffers, SQLite's page cache, malloc), so a regression can be pinned on one of them.
let atPeak = process.memoryUsage();
let spaces: Record<string, number> = {};
const sample = () => {
  const m = process.memoryUsage();
  if (m.rss > peak) {
    peak = m.rss;
    atPeak = m;
    spaces = Object.fromEntries(getHeapSpaceStatistics().map((x) => [x.space_name, Math.round(x.space_size / 1048576)]));
  }
};
const timer = setInterval(sample, 10);
const t0 = performance.now();
const r = await runIngestCycle(client, ledger, { overlapMs: job.overlapMs, settleMs: job.settleMs, backfillFromMs: job.backfillFromMs, pageSize: job.pageSize });
const secs = (performance.now() - t0) / 1000;
clearInterval(timer);
sample();
const idle: number[] = [];
// The daemon's cycle also checks drift (one /key/info per key and the ledger's sum for that key's period);
// budgets read spend_daily only. Timed apart so each cost is visible.
const drift: number[] = [];
const agentHashes = new Map(job.agents.map((a) => [a.agentId, [a.hash]]));
let reread = 0;
for (let i = 0; i < job.idleCycles; i++) {
  const t = performance.now();
  const c = await runIngestCycle(client, ledger, { overlapMs: job.overlapMs, settleMs: job.settleMs, sweepEveryMs: Number.MAX_SAFE_INTEGER });
  idle.push(performance.now() - t);
  if (c.inserted !== 0) throw new Error(`idle cycle inserted ${c.inserted} rows`);
  reread = c.rowsSeen;
  const td = performance.now();
  await checkDrift(client, ledger, agentHashes);
  drift.push(performance.now() - td);
}
drift.sort((a, b) => a - b);
idle.sort((a, b) => a - b);
process.stdout.write(
  JSON.stringify({ inserted: r.inserted, requests: r.requests, windows: r.windows, secs, rssBefore, peakRss: peak, atPeak, spaces, idleMedian: idle[Math.floor(idle.length / 2)] ?? 0, idleMax: idle.at(-1) ?? 0, driftMedian: drift[Math.floor(drift.length / 2)] ?? 0, driftMax: drift.at(-1) ?? 0, reread, events: ledger.eventCount() }) + "\n",
);
await client.close();
db.close();
