/** CLI bench: whole-process wall time of the installed CLI's everyday commands, each beside `node -e 0` and the runtime's own `openclaw --help` from the same run; with --scale, plan's cost per user (bench/scale.ts). */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { getTestRuntime } from "../test/support/runtime.ts";
import { dedicatedUsersConfig, oneBadUserConfig, sharedUsersConfig } from "./configs.ts";
import { fitsTheCap, formatScaleLines, largestReadableSize, measureStages, median, scaleLine, type ScaleLine, type StageResult } from "./scale.ts";

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    // The installed shape: `node bin/wirebot.js` on dist/. --bin measures another copy, e.g. one `npm install`ed from `npm pack`.
    bin: { type: "string", default: path.join(ROOT, "bin", "wirebot.js") },
    // The Node that runs wirebot; the packaged appliance ships its own (/opt/wirebot/node/bin/node).
    node: { type: "string", default: process.execPath },
    "skip-build": { type: "boolean", default: false },
    shared: { type: "string", default: "1000" },
    dedicated: { type: "string", default: "100" },
    // Point 4's linearity: plan at these numbers of shared users (--scale 1000,5000,20000), whole-process and stage by
    // stage in-process. Off by default: it added 4-6 minutes on this shared 2-core machine (the bench prints how long).
    scale: { type: "string", default: "off" },
    json: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const RUNS = Number(values.runs);
const SHARED = Number(values.shared);
const DEDICATED = Number(values.dedicated);
const SCALE = values.scale === "off" ? [] : values.scale.split(",").map(Number);
if (SCALE.some((n) => !Number.isInteger(n) || n < 2)) throw new Error(`bench/cli.ts: --scale takes sizes above 1 such as 1000,5000,20000, or off (got ${values.scale})`);
const say = (line: string) => process.stderr.write(`${line}\n`);

interface Expect {
  code: number;
  /** stdout must match: proves the run did what its name says (a no-op, a refusal) */
  out?: RegExp;
  err?: RegExp;
}

interface Case {
  name: string;
  cmd: string;
  args: string[];
  expect: Expect;
  /** the figure's budget from issue 16, against the medians of this run */
  budget?: (m: ReadonlyMap<string, number>) => { limitMs: number; text: string };
  /** a figure of the scale view only: printed there, not in the main table */
  scaleOnly?: boolean;
}

interface Run {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

function runOnce(c: Case, env: NodeJS.ProcessEnv): Run {
  const started = process.hrtime.bigint();
  const r = spawnSync(c.cmd, c.args, { cwd: ROOT, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.error) throw r.error;
  return { ms, code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every timed run is checked, so a figure never comes from a run that failed or did something else. */
function check(c: Case, r: Run): void {
  const bad =
    r.code !== c.expect.code ? `exit ${r.code}, expected ${c.expect.code}` : c.expect.out && !c.expect.out.test(r.stdout) ? `stdout does not match ${c.expect.out}` : c.expect.err && !c.expect.err.test(r.stderr) ? `stderr does not match ${c.expect.err}` : null;
  if (bad) throw new Error(`bench/cli.ts: '${c.name}' (${[c.cmd, ...c.args].join(" ")}): ${bad}\n--- stdout\n${r.stdout.slice(-2000)}\n--- stderr\n${r.stderr.slice(-2000)}`);
}

function setupRun(what: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): void {
  say(`• ${what}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`bench/cli.ts: ${what} failed (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
}

function machine(): string {
  const osRelease = (() => {
    try {
      return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? os.type();
    } catch {
      return os.type();
    }
  })();
  return `${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? "unknown cpu"}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${osRelease}, kernel ${os.release()}`;
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ");

async function main(): Promise<void> {
  if (!values["skip-build"]) {
    say("• npm run build (dist/ is what bin/wirebot.js runs)");
    const b = spawnSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
    if (b.status !== 0) throw new Error("bench/cli.ts: npm run build failed");
  }
  say("• the runtime's CLI for the comparison (provisioned into the test cache when missing)");
  const runtime = await getTestRuntime();
  const runtimeNodeVersion = spawnSync(runtime.nodeBin, ["--version"], { encoding: "utf8" }).stdout.trim();
  const wirebotNodeVersion = spawnSync(values.node, ["--version"], { encoding: "utf8" }).stdout.trim();

  const work = mkdtempSync(path.join(os.tmpdir(), "wirebot-bench-cli-"));
  // One HOME for every process, empty: nothing from the operator's own dotfiles changes a figure.
  const env: NodeJS.ProcessEnv = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: path.join(work, "home"), LANG: "C.UTF-8" };
  const dir = (name: string) => mkdtempSync(path.join(work, `${name}-`));
  const wirebot = (...args: string[]) => ({ cmd: values.node, args: [values.bin, ...args] });
  try {
    const sharedFile = path.join(work, `shared-${SHARED}.yaml`);
    const dedicatedFile = path.join(work, `dedicated-${DEDICATED}.yaml`);
    const badFile = path.join(work, `shared-${SHARED}-one-bad.yaml`);
    writeFileSync(sharedFile, sharedUsersConfig(ROOT, SHARED));
    writeFileSync(dedicatedFile, dedicatedUsersConfig(ROOT, DEDICATED));
    writeFileSync(badFile, oneBadUserConfig(ROOT, SHARED));
    const oneUser = dir("one-user");
    const sharedRoot = dir(`shared-${SHARED}`);
    const dedicatedRoot = dir(`dedicated-${DEDICATED}`);
    const empty = dir("empty");
    // What the scale view adds to the bench's wall time: whether it can be on by default.
    let scaleMs = 0;
    const scaleSetupStarted = performance.now();
    // The scale view's sizes: 1 user (the fixed cost taken off the others) and each --scale size the CLI reads. A size
    // whose file is over the CLI's size cap is timed as the refusal it gets, and the largest readable size in its place.
    const refusedSizes = SCALE.filter((n) => !fitsTheCap(ROOT, n));
    const readable = refusedSizes.length > 0 ? largestReadableSize(ROOT) : 0;
    const wholeSizes = SCALE.length === 0 ? [] : [...new Set([1, ...SCALE.map((n) => (refusedSizes.includes(n) ? readable : n))])].sort((a, b) => a - b);
    const sharedAt = new Map<number, { file: string; root: string }>([[SHARED, { file: sharedFile, root: sharedRoot }]]);
    const toInstall: [string, string][] = [[path.join(ROOT, "examples", "one-user.yaml"), oneUser], [sharedFile, sharedRoot], [dedicatedFile, dedicatedRoot]];
    for (const n of wholeSizes.filter((n) => !sharedAt.has(n))) {
      const at = { file: path.join(work, `shared-${n}.yaml`), root: dir(`shared-${n}`) };
      writeFileSync(at.file, sharedUsersConfig(ROOT, n));
      sharedAt.set(n, at);
      toInstall.push([at.file, at.root]);
    }
    const refusedFiles = refusedSizes.map((n) => {
      const file = path.join(work, `shared-${n}.yaml`);
      writeFileSync(file, sharedUsersConfig(ROOT, n));
      return { n, file };
    });
    scaleMs += performance.now() - scaleSetupStarted;
    // Installed by the copy under test: the units it renders name its own entry point.
    for (const [i, [file, root]] of toInstall.entries()) {
      const started = performance.now();
      const w = wirebot("install", "--config", file, "--root", root, "--yes");
      setupRun(`wirebot install --config ${path.basename(file)} --root ${root} --yes`, w.cmd, w.args, env);
      if (i >= 3) scaleMs += performance.now() - started;
    }

    const nodeMs = (m: ReadonlyMap<string, number>) => m.get("node -e 0")!;
    const atMost = (limitMs: number) => () => ({ limitMs, text: `≤ ${limitMs} ms` });
    const noop = /No changes: the host matches wirebot\.yaml\./;
    const planCreates = /^Plan: \d+ to create, 0 to update, 0 to delete\./m;
    const users = (n: number) => `${n} shared user${n === 1 ? "" : "s"}`;
    const sharedEmpty = (n: number) => `plan ${users(n)}, empty root`;
    const sharedNoop = (n: number) => `plan ${users(n)}, no-op`;
    const refusedName = (n: number) => `plan ${users(n)} (refused: over the file-size cap)`;
    const cases: Case[] = [
      { name: "node -e 0", cmd: values.node, args: ["-e", "0"], expect: { code: 0 } },
      { name: "openclaw --help", cmd: runtime.nodeBin, args: [runtime.gatewayEntry, "--help"], expect: { code: 0, out: /Usage: openclaw/ } },
      { name: "wirebot --version", ...wirebot("--version"), expect: { code: 0, out: /^\d+\.\d+\.\d+\S*\n$/ }, budget: atMost(150) },
      {
        name: "wirebot --help",
        ...wirebot("--help"),
        expect: { code: 0, out: /Usage: wirebot/ },
        budget: (m) => ({ limitMs: m.get("openclaw --help")!, text: "≤ openclaw --help" }),
      },
      { name: "plan --root (1 user, no-op)", ...wirebot("plan", "--root", oneUser, "--exit-code"), expect: { code: 0, out: noop }, budget: atMost(300) },
      { name: "apply --root --yes (1 user, no-op)", ...wirebot("apply", "--root", oneUser, "--yes"), expect: { code: 0, out: /^Nothing to do\.$/m, err: noop }, budget: atMost(300) },
      { name: sharedEmpty(SHARED), ...wirebot("plan", "--config", sharedFile, "--root", empty), expect: { code: 0, out: planCreates }, budget: atMost(1000) },
      { name: sharedNoop(SHARED), ...wirebot("plan", "--root", sharedRoot, "--exit-code"), expect: { code: 0, out: noop }, budget: atMost(1000) },
      { name: `plan ${DEDICATED} dedicated users, empty root`, ...wirebot("plan", "--config", dedicatedFile, "--root", empty), expect: { code: 0, out: /^Plan: \d+ to create, 0 to update, 0 to delete\./m }, budget: atMost(1000) },
      { name: `plan ${DEDICATED} dedicated users, no-op`, ...wirebot("plan", "--root", dedicatedRoot, "--exit-code"), expect: { code: 0, out: noop }, budget: atMost(1000) },
      { name: `plan ${SHARED} users, one bad (refused)`, ...wirebot("plan", "--config", badFile, "--root", empty), expect: { code: 78, err: /users\[\d+\]\.id: must match/ }, budget: atMost(1000) },
      ...wholeSizes
        .filter((n) => n !== SHARED)
        .flatMap((n): Case[] => [
          { name: sharedEmpty(n), ...wirebot("plan", "--config", sharedAt.get(n)!.file, "--root", empty), expect: { code: 0, out: planCreates }, scaleOnly: true },
          { name: sharedNoop(n), ...wirebot("plan", "--root", sharedAt.get(n)!.root, "--exit-code"), expect: { code: 0, out: noop }, scaleOnly: true },
        ]),
      ...refusedFiles.map(({ n, file }): Case => ({ name: refusedName(n), ...wirebot("plan", "--config", file, "--root", empty), expect: { code: 78, err: /is larger than 1 MiB/ }, scaleOnly: true })),
    ];

    const loadBefore = load();
    say(`• ${RUNS} timed rounds after one warm-up, the cases interleaved in each round (load ${loadBefore})`);
    const times = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    for (let round = 0; round <= RUNS; round++) {
      for (const c of cases) {
        const r = runOnce(c, env);
        check(c, r);
        if (c.scaleOnly) scaleMs += r.ms;
        if (round > 0) times.get(c.name)!.push(r.ms);
      }
    }
    const loadAfter = load();
    if (readdirSync(empty).length > 0) throw new Error(`bench/cli.ts: a plan wrote into the empty root ${empty}`);

    const medians = new Map([...times].map(([k, v]) => [k, median(v)]));
    const rows = cases.filter((c) => !c.scaleOnly).map((c) => {
      const ms = medians.get(c.name)!;
      const b = c.budget?.(medians);
      return { name: c.name, medianMs: Math.round(ms), overNodeMs: Math.round(ms - nodeMs(medians)), runsMs: times.get(c.name)!.map(Math.round), budget: b?.text ?? "baseline", budgetMs: b ? Math.round(b.limitMs) : null, ok: b ? ms <= b.limitMs : null };
    });

    // (a) whole-process, the 1-user figure taken off; (b) the same plan's stages in-process, module loading gone.
    const whole: ScaleLine[] =
      wholeSizes.length === 0
        ? []
        : [
            scaleLine("plan, empty root", new Map(wholeSizes.map((n) => [n, times.get(sharedEmpty(n))!]))),
            scaleLine("plan, no-op after install --root", new Map(wholeSizes.map((n) => [n, times.get(sharedNoop(n))!]))),
          ];
    const refused = refusedSizes.map((n) => ({ users: n, medianMs: Math.round(medians.get(refusedName(n))!), runsMs: times.get(refusedName(n))!.map(Math.round) }));
    let stages: StageResult | null = null;
    let loadAfterStages: string | null = null;
    if (SCALE.length > 0) {
      say(`• in-process stages at ${[1, ...SCALE].join(", ")} shared users (load ${load()})`);
      const started = performance.now();
      stages = await measureStages({ root: ROOT, work, sizes: SCALE, rounds: RUNS, say });
      scaleMs += performance.now() - started;
      loadAfterStages = load();
    }

    const header = {
      date: new Date().toISOString(),
      machine: machine(),
      loadBefore,
      loadAfter,
      ...(loadAfterStages !== null ? { loadAfterStages } : {}),
      wirebot: `${values.node} (${wirebotNodeVersion}) ${values.bin}`,
      openclaw: `${runtime.nodeBin} (${runtimeNodeVersion}) ${runtime.gatewayEntry}`,
      runs: RUNS,
    };
    if (values.json) {
      const scale = SCALE.length === 0 ? null : { requested: SCALE, wholeProcessSizes: wholeSizes, wholeProcess: whole, refused, inProcess: stages, addedSeconds: Math.round(scaleMs / 1000) };
      process.stdout.write(`${JSON.stringify({ ...header, rows, scale }, null, 2)}\n`);
      return;
    }
    const out = (l: string) => process.stdout.write(`${l}\n`);
    out(`machine: ${header.machine}`);
    out(`load average (1/5/15 min): ${loadBefore} before, ${loadAfter} after${loadAfterStages !== null ? `, ${loadAfterStages} after the in-process stages` : ""}`);
    out(`wirebot: ${header.wirebot}`);
    out(`openclaw: ${header.openclaw}`);
    out(`whole-process wall time, median of ${RUNS} after one warm-up, cases interleaved round by round`);
    out("");
    const w = Math.max(...rows.map((r) => r.name.length));
    out(`${"figure".padEnd(w)}  ${"median".padStart(8)}  ${"- node -e 0".padStart(11)}  ${"budget".padEnd(30)}  verdict  runs (ms)`);
    for (const r of rows) {
      const budget = r.budgetMs === null ? r.budget : `${r.budget} (${r.budgetMs} ms)`;
      const verdict = r.ok === null ? "" : r.ok ? "ok" : "OVER";
      out(`${r.name.padEnd(w)}  ${`${r.medianMs} ms`.padStart(8)}  ${`${r.overNodeMs} ms`.padStart(11)}  ${budget.padEnd(30)}  ${verdict.padEnd(7)}  ${r.runsMs.join(" ")}`);
    }
    if (SCALE.length === 0) return;
    out("");
    out(`Scale (issue 16, point 4): shared users; each cell is the median minus the 1-user median of the same run, and that per user (µs/u);`);
    out(`ratio = per-user cost at the largest size / at the smallest; no worse than linear means a ratio ≤ about 1.2`);
    out("");
    const wholeTitle = `(a) whole process, median of ${RUNS} interleaved with the figures above; 1 user: ${Math.round(medians.get(sharedEmpty(1))!)} ms empty root, ${Math.round(medians.get(sharedNoop(1))!)} ms no-op`;
    for (const l of formatScaleLines(wholeTitle, whole)) out(l);
    for (const r of refused) out(`${users(r.users)}: refused, exit 78 (the file is over the 1 MiB wirebot.yaml cap), in ${r.medianMs} ms; timed at ${readable.toLocaleString("en-US")} users instead, the largest size under the cap`);
    if (stages) {
      out("");
      const one = (s: string) => median(stages!.runs[s]![1]!).toFixed(1);
      const stagesTitle = `(b) in-process stages, median of ${RUNS} after one warm-up round, sizes interleaved; 1 user: parse+validate ${one("parse+validate")} ms, render ${one("render")} ms, plan diff ${one("plan diff, empty root")} / ${one("plan diff, no-op root")} ms`;
      for (const l of formatScaleLines(stagesTitle, stages.lines)) out(l);
    }
    out("");
    out(`the scale view added ${Math.round(scaleMs / 1000)} s to this bench (its roots, its runs and the in-process stages); it runs only when --scale is given`);
  } finally {
    if (values.keep) say(`• kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
