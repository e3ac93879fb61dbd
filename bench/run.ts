/** Meter benchmark: ingest N spend rows from the LiteLLM stand-in over HTTP vs a no-HTTP ceiling, peak RSS, idle-cycle cost. */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { openLedgerDb } from "../installer/meter/db.ts";
import { Ledger, parseSpendRow } from "../installer/meter/ledger.ts";
import { benchAgents, generateRows } from "../test/litellm-standin/generate.ts";
import { renderRow } from "../test/litellm-standin/server.ts";

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    seed: { type: "string", default: "7" },
    agents: { type: "string", default: "8" },
    "span-days": { type: "string", default: "30" },
    keep: { type: "boolean", default: false },
  },
});
const ROWS = Number(values.rows);
const SEED = Number(values.seed);
const AGENTS = Number(values.agents);
const SPAN_MS = Number(values["span-days"]) * 86_400_000;
const OVERLAP_MS = 30 * 60_000;
const SETTLE_MS = 60_000;
const PAGE = 1000;
const mb = (b: number) => (b / 1024 / 1024).toFixed(1);

interface StandinInfo {
  url: string;
  masterKey: string;
  rows: number;
  fromMs: number;
  endMs: number;
  truth: Record<string, string>;
  agents: { agentId: string; hash: string }[];
}

async function startStandinProcess() {
  // Its own process, so serialising pages uses the second core, as a real LiteLLM would.
  const child = spawn(
    process.execPath,
    ["--max-old-space-size=4096", "--import", "tsx", path.join(ROOT, "test/litellm-standin/main.ts"), "--rows", String(ROWS), "--seed", String(SEED), "--agents", String(AGENTS), "--span-ms", String(SPAN_MS)],
    { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`stand-in exited with ${code}`)));
  });
  return { child, info: JSON.parse(line) as StandinInfo };
}

function openLedger(dir: string, name: string) {
  const db = openLedgerDb(path.join(dir, name));
  return { db, ledger: new Ledger(db, "default") };
}

interface WorkerResult {
  inserted: number;
  requests: number;
  windows: number;
  secs: number;
  rssBefore: number;
  peakRss: number;
  atPeak: NodeJS.MemoryUsage;
  spaces: Record<string, number>;
  idleMedian: number;
  idleMax: number;
  driftMedian: number;
  driftMax: number;
  reread: number;
  events: number;
}

let workerFile: string | null = null;
async function runWorker(info: StandinInfo, ledger: string, backfillFromMs: number): Promise<WorkerResult> {
  if (!workerFile) {
    // Bundled next to node_modules so the external packages (better-sqlite3, undici, pino) resolve.
    const { build } = await import("esbuild");
    workerFile = path.join(ROOT, "node_modules/.cache/wirebot-bench/ingest-worker.mjs");
    await build({ entryPoints: [path.join(ROOT, "bench/ingest-worker.ts")], bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", outfile: workerFile, logLevel: "error" });
  }
  const job = { url: info.url, adminKey: info.masterKey, ledger, backfillFromMs, agents: info.agents, overlapMs: OVERLAP_MS, settleMs: SETTLE_MS, pageSize: PAGE, idleCycles: 7 };
  const child = spawn(process.execPath, [workerFile, JSON.stringify(job)], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`ingest worker exited with ${code}`);
  return JSON.parse(out.trim().split("\n").at(-1)!) as WorkerResult;
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), "wirebot-bench-"));
  const t00 = performance.now();
  process.stdout.write(`wirebot meter benchmark: ${ROWS.toLocaleString("en-US")} rows, ${AGENTS} agents, ${values["span-days"]} days, page ${PAGE}\n`);
  // The load decides how far apart two runs are: record it beside the figures.
  process.stdout.write(`machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? "?"}, ${mb(totalmem())} MB; node ${process.version}; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);
  process.stdout.write("starting the LiteLLM stand-in (generating rows) …\n");
  const { child, info } = await startStandinProcess();
  let ok = true;
  try {
    // 1. HTTP ingest into an empty ledger, in a meter process of its own (plain node, bundled code: no
    //    tsx loader thread inflating its RSS), then idle cycles on the full ledger.
    const full = await runWorker(info, path.join(dir, "http.sqlite"), info.fromMs - 1000);
    const httpSecs = full.secs;
    const httpRate = full.inserted / httpSecs;
    const peakRss = full.peakRss;
    const rssBefore = full.rssBefore;
    const r = full;
    const db = openLedgerDb(path.join(dir, "http.sqlite"), { readonly: true });
    // Ground truth: every key's nano-USD total must match the stand-in's exactly.
    const sums = new Map(
      (db.prepare("SELECT key_hash AS h, sum(spend_nusd) AS s FROM spend_events GROUP BY key_hash").all() as { h: string; s: number }[]).map((x) => [x.h, BigInt(x.s)]),
    );
    db.close();
    const truthOk = Object.entries(info.truth).every(([h, v]) => sums.get(h) === BigInt(v)) && sums.size === Object.keys(info.truth).length && r.inserted === info.rows;
    const idleFull = { median: full.idleMedian, max: full.idleMax, reread: full.reread };
    const events = full.events;
    // 2. The same idle cycle on a small ledger (only the last hour), to show the cost does not grow with size.
    const small = await runWorker(info, path.join(dir, "small.sqlite"), Date.now() - 3_600_000);
    const idleSmall = { median: small.idleMedian, max: small.idleMax, reread: small.reread };
    const smallEvents = small.events;
    child.kill("SIGTERM");

    // 3. Ceiling: the same rows, already JSON text in pages, parsed and committed with no HTTP.
    process.stdout.write("measuring the no-HTTP ceiling …\n");
    const ceil = openLedger(dir, "ceiling.sqlite");
    let parseInsertMs = 0;
    let page: Record<string, unknown>[] = [];
    let inserted = 0;
    const flush = () => {
      const text = JSON.stringify({ data: page, total: page.length, page: 1, page_size: PAGE, total_pages: 1, total_is_capped: false });
      const t = performance.now();
      const body = JSON.parse(text) as { data: Record<string, unknown>[] };
      const evs = body.data.map(parseSpendRow);
      inserted += ceil.ledger.commitWindow(evs, 0, Date.now()).inserted;
      parseInsertMs += performance.now() - t;
      page = [];
    };
    for (const row of generateRows({ seed: SEED, count: ROWS, agents: benchAgents(AGENTS), fromMs: info.fromMs, spanMs: info.endMs - info.fromMs })) {
      page.push(renderRow(row, "v2"));
      if (page.length === PAGE) flush();
    }
    if (page.length > 0) flush();
    ceil.db.close();
    const ceilingRate = inserted / (parseInsertMs / 1000);

    const pct = (100 * httpRate) / ceilingRate;
    const p = full.atPeak;
    const row = (k: string, v: string) => process.stdout.write(`  ${k.padEnd(46)} ${v}\n`);
    process.stdout.write("\nresults (each beside its baseline from this run)\n");
    row("rows ingested over HTTP", `${r.inserted.toLocaleString("en-US")} in ${httpSecs.toFixed(1)} s (${r.requests} requests, ${r.windows} windows)`);
    row("HTTP ingest rate", `${Math.round(httpRate).toLocaleString("en-US")} rows/s`);
    row("baseline: ceiling (parse + insert, no HTTP)", `${Math.round(ceilingRate).toLocaleString("en-US")} rows/s`);
    row("HTTP / ceiling", `${pct.toFixed(0)} %  (budget >= 50 %)`);
    row("peak RSS of the meter during ingest", `${mb(peakRss)} MB  (budget < 150 MB)`);
    row("baseline: RSS before ingest", `${mb(rssBefore)} MB (node, better-sqlite3, undici, ledger open)`);
    row("  at the peak: V8 heap reserved / live", `${mb(p.heapTotal)} / ${mb(p.heapUsed)} MB (spaces MB: ${Object.entries(full.spaces).filter(([, v]) => v > 0).map(([k, v]) => `${k.replace(/_space$/, "")} ${v}`).join(", ")})`);
    row("  at the peak: outside V8's heap", `external ${mb(p.external)} MB (array buffers ${mb(p.arrayBuffers)} MB); the rest is SQLite, malloc and node itself`);
    row("totals equal ground truth (nano-USD)", truthOk ? "yes" : "NO");
    row(`idle cycle, full ledger (${events.toLocaleString("en-US")} rows)`, `median ${idleFull.median.toFixed(1)} ms, max ${idleFull.max.toFixed(1)} ms  (budget <= 50 ms; re-reads ${idleFull.reread} overlap rows)`);
    row(`baseline: idle cycle, ${smallEvents.toLocaleString("en-US")}-row ledger`, `median ${idleSmall.median.toFixed(1)} ms, max ${idleSmall.max.toFixed(1)} ms (re-reads ${idleSmall.reread} overlap rows)`);
    row("  + drift check, full ledger", `median ${full.driftMedian.toFixed(1)} ms, max ${full.driftMax.toFixed(1)} ms (${info.agents.length} keys; small ledger: median ${small.driftMedian.toFixed(1)} ms)`);
    const target = (name: string, met: boolean) => {
      ok &&= met;
      process.stdout.write(`  [${met ? "met" : "MISSED"}] ${name}\n`);
    };
    process.stdout.write("\ntargets\n");
    target("HTTP ingest >= 50 % of the ceiling", pct >= 50);
    target("peak RSS < 150 MB", peakRss < 150 * 1024 * 1024);
    target("idle incremental cycle <= 50 ms (median, full ledger)", idleFull.median <= 50);
    target("idle cycle with its drift check <= 50 ms (median, full ledger)", idleFull.median + full.driftMedian <= 50);
    target("ledger totals equal the stand-in's ground truth", truthOk);
    process.stdout.write(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);
    process.stdout.write(`\ntotal bench time ${((performance.now() - t00) / 1000).toFixed(0)} s\n`);
  } finally {
    if (child.exitCode === null) child.kill("SIGTERM");
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
    else process.stdout.write(`ledgers kept in ${dir}\n`);
  }
  process.exitCode = ok ? 0 : 1;
}

await main();
