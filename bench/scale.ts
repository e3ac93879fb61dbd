/** Scale bench (issue 16, point 4): plan's cost per shared user with the fixed cost taken out, whole-process and stage by stage in-process. */
import { mkdtempSync } from "node:fs";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { createContext } from "../installer/pipeline/context.ts";
import { buildDesired } from "../installer/pipeline/desired.ts";
import { MAX_CONFIG_BYTES } from "../installer/config/decode.ts";
import { resolveLayout } from "../installer/config/layout.ts";
import { parseConfig } from "../installer/config/load.ts";
import { applyPlan } from "../installer/engine/apply.ts";
import { isEmptyPlan, plan } from "../installer/engine/plan.ts";
import { createNodeHost } from "../installer/host/node-host.ts";
import type { Io } from "../installer/io.ts";
import { sharedUsersConfig } from "./configs.ts";

/** "No worse than linear": the per-user cost at the largest size may exceed the one at the smallest by this much (noise). */
export const LINEAR_RATIO = 1.2;

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * The number of shared users, in steps of 500, whose sharedUsersConfig file is the largest the CLI reads:
 * decodeConfigText refuses a wirebot.yaml over MAX_CONFIG_BYTES before parsing it (exit 78), so past this
 * size the whole-process figures would time a refusal.
 */
export function largestReadableSize(root: string): number {
  const bytes = (n: number) => Buffer.byteLength(sharedUsersConfig(root, n));
  let n = Math.floor(MAX_CONFIG_BYTES / (bytes(1000) / 1000) / 500) * 500;
  while (n > 500 && bytes(n) > MAX_CONFIG_BYTES) n -= 500;
  return n;
}

export const fitsTheCap = (root: string, n: number) => Buffer.byteLength(sharedUsersConfig(root, n)) <= MAX_CONFIG_BYTES;

export interface ScaleRow {
  users: number;
  medianMs: number;
  /** the median minus the 1-user median of the same run: the cost of the users themselves */
  overOneMs: number;
  /** overOneMs / (users − 1), in microseconds */
  perUserUs: number;
}

export interface ScaleLine {
  name: string;
  rows: ScaleRow[];
  /** per-user cost at the largest size / at the smallest size above 1 */
  ratio: number;
  /** the same ratio from each size's fastest run: what the code costs when no other job took the CPU meanwhile */
  ratioFastest: number;
  /** both ratios above LINEAR_RATIO: a noisy median alone does not call the code super-linear */
  linear: boolean;
  /** this figure's share of the whole plan at the largest size (in-process stages only) */
  shareOfTotal?: number;
}

const perUserRatio = (byUsers: ReadonlyMap<number, number>): number => {
  const one = byUsers.get(1)!;
  const sizes = [...byUsers.keys()].filter((n) => n > 1).sort((a, b) => a - b);
  if (sizes.length < 2) return Number.NaN;
  const per = (n: number) => (byUsers.get(n)! - one) / (n - 1);
  return per(sizes.at(-1)!) / per(sizes[0]!);
};

/** One figure's runs at several sizes (1 user among them) → its per-user cost at each size and the ratio largest / smallest. */
export function scaleLine(name: string, runsBySize: ReadonlyMap<number, readonly number[]>): ScaleLine {
  if (!runsBySize.has(1)) throw new Error(`bench/scale.ts: '${name}' has no 1-user figure to take the fixed cost from`);
  const medians = new Map([...runsBySize].map(([n, runs]) => [n, median(runs)]));
  const fastest = new Map([...runsBySize].map(([n, runs]) => [n, Math.min(...runs)]));
  const one = medians.get(1)!;
  const rows = [...medians]
    .filter(([n]) => n > 1)
    .sort(([a], [b]) => a - b)
    .map(([users, ms]) => ({ users, medianMs: ms, overOneMs: ms - one, perUserUs: ((ms - one) / (users - 1)) * 1000 }));
  const ratio = perUserRatio(medians);
  const ratioFastest = perUserRatio(fastest);
  return { name, rows, ratio, ratioFastest, linear: !(ratio > LINEAR_RATIO && ratioFastest > LINEAR_RATIO) };
}

export function formatScaleLines(title: string, lines: readonly ScaleLine[]): string[] {
  const out = [title];
  const sizes = [...new Set(lines.flatMap((l) => l.rows.map((r) => r.users)))].sort((a, b) => a - b);
  const w = Math.max(...lines.map((l) => l.name.length), 6);
  const cell = (s: string) => s.padStart(22);
  out.push(`${"figure".padEnd(w)}  ${sizes.map((n) => cell(`${n.toLocaleString("en-US")} users`)).join("")}  ${"ratio".padStart(6)}  ${"fastest".padStart(7)}  verdict`);
  for (const l of lines) {
    const cells = sizes.map((n) => {
      const r = l.rows.find((x) => x.users === n);
      return cell(r ? `${Math.round(r.overOneMs)} ms, ${r.perUserUs.toFixed(1)} µs/u` : "");
    });
    const share = l.shareOfTotal === undefined ? "" : `; ${(l.shareOfTotal * 100).toFixed(l.shareOfTotal < 0.01 ? 2 : 0)} % of the total`;
    const verdict = Number.isNaN(l.ratio) ? "" : !l.linear ? `SUPER-LINEAR (both > ${LINEAR_RATIO}${share})` : l.ratio > LINEAR_RATIO ? `ok (fastest runs ≤ ${LINEAR_RATIO}; the median is noise${share})` : `ok (≤ ${LINEAR_RATIO}${share})`;
    out.push(`${l.name.padEnd(w)}  ${cells.join("")}  ${l.ratio.toFixed(2).padStart(6)}  ${l.ratioFastest.toFixed(2).padStart(7)}  ${verdict}`);
  }
  return out;
}

const STAGES = ["parse+validate", "layout", "render", "plan diff, empty root", "plan diff, no-op root", "total, empty root", "total, no-op root"] as const;
type Stage = (typeof STAGES)[number];

const silentIo: Io = { out: () => {}, err: () => {}, json: () => {}, tty: false };

/** A full collection before each size's turn: the garbage the previous size left is not this size's cost (a CLI run starts with an empty heap). */
function garbageCollector(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

export interface StageResult {
  lines: ScaleLine[];
  /** every run's milliseconds per stage and size, for --json */
  runs: Record<string, Record<number, number[]>>;
}

/**
 * plan's stages timed inside this process, module loading gone: parseConfig (YAML, WIREBOT_* overrides,
 * schema, port checks), resolveLayout, buildDesired (renderAll), and the engine's plan against an empty
 * root and against a root the same desired state was applied to. One warm-up round, then `rounds` rounds,
 * the sizes interleaved in each so that a burst of load hits every size alike, a full GC before each. The text goes to
 * parseConfig directly, so sizes past the CLI's file-size cap are measured too.
 */
export async function measureStages(opts: { root: string; work: string; sizes: readonly number[]; rounds: number; say: (l: string) => void }): Promise<StageResult> {
  const sizes = [...new Set([1, ...opts.sizes])].sort((a, b) => a - b);
  const cases = [];
  for (const n of sizes) {
    const text = sharedUsersConfig(opts.root, n);
    const source = path.join(opts.work, `stages-${n}.yaml`);
    const empty = createContext(silentIo, { root: mkdtempSync(path.join(opts.work, `stages-empty-${n}-`)), env: {} });
    const noop = createContext(silentIo, { root: mkdtempSync(path.join(opts.work, `stages-noop-${n}-`)), env: {} });
    opts.say(`• in-process: rendering ${n} shared users into ${noop.host.root} (the no-op root)`);
    const config = parseConfig(text, source, {});
    await applyPlan(noop.host, await plan(noop.host, await buildDesired(noop, config, text)), { io: silentIo, live: false, start: false });
    if (!isEmptyPlan(await plan(noop.host, await buildDesired(noop, config, text)))) throw new Error(`bench/scale.ts: the root for ${n} users is not a no-op after applying`);
    cases.push({ n, text, source, empty, noop });
  }

  const collectGarbage = garbageCollector();
  const runs = Object.fromEntries(STAGES.map((s) => [s, Object.fromEntries(sizes.map((n) => [n, [] as number[]]))])) as Record<Stage, Record<number, number[]>>;
  const now = () => performance.now();
  for (let round = 0; round <= opts.rounds; round++) {
    opts.say(`• in-process round ${round === 0 ? "0 (warm-up)" : `${round}/${opts.rounds}`}`);
    for (const c of cases) {
      collectGarbage();
      const t0 = now();
      const config = parseConfig(c.text, c.source, {});
      const t1 = now();
      resolveLayout(config);
      const t2 = now();
      const desired = await buildDesired(c.empty, config, c.text);
      const t3 = now();
      const created = await plan(c.empty.host, desired);
      const t4 = now();
      const unchanged = await plan(c.noop.host, desired);
      const t5 = now();
      // Checked like the whole-process runs: a figure never comes from a plan that did something else.
      if (created.changes.some((ch) => ch.action !== "create") || created.changes.length !== desired.resources.length + 1) throw new Error(`bench/scale.ts: the empty-root plan for ${c.n} users is not all creates`);
      if (!isEmptyPlan(unchanged)) throw new Error(`bench/scale.ts: the no-op plan for ${c.n} users has changes`);
      if (config.users.length !== c.n) throw new Error(`bench/scale.ts: parsed ${config.users.length} users, expected ${c.n}`);
      if (round === 0) continue;
      const add = (s: Stage, ms: number) => runs[s][c.n]!.push(ms);
      add("parse+validate", t1 - t0);
      add("layout", t2 - t1);
      add("render", t3 - t2);
      add("plan diff, empty root", t4 - t3);
      add("plan diff, no-op root", t5 - t4);
      add("total, empty root", t4 - t0);
      add("total, no-op root", t3 - t0 + (t5 - t4));
    }
  }
  const largest = sizes.at(-1)!;
  const totalAtLargest = median(runs["total, empty root"][largest]!);
  const lines = STAGES.map((s) => ({ ...scaleLine(s, new Map(sizes.map((n) => [n, runs[s][n]!]))), ...(s.startsWith("total") ? {} : { shareOfTotal: median(runs[s][largest]!) / totalAtLargest }) }));
  return { lines, runs };
}
