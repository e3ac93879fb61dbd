/** CLI bench: whole-process wall time of the installed CLI's everyday commands, each beside `node -e 0` and the runtime's own `openclaw --help` from the same run. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { getTestRuntime } from "../test/support/runtime.ts";
import { dedicatedUsersConfig, oneBadUserConfig, sharedUsersConfig } from "./configs.ts";

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
    json: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const RUNS = Number(values.runs);
const SHARED = Number(values.shared);
const DEDICATED = Number(values.dedicated);
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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
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
    // Installed by the copy under test: the units it renders name its own entry point.
    for (const [file, root] of [[path.join(ROOT, "examples", "one-user.yaml"), oneUser], [sharedFile, sharedRoot], [dedicatedFile, dedicatedRoot]] as const) {
      const w = wirebot("install", "--config", file, "--root", root, "--yes");
      setupRun(`wirebot install --config ${path.basename(file)} --root ${root} --yes`, w.cmd, w.args, env);
    }

    const nodeMs = (m: ReadonlyMap<string, number>) => m.get("node -e 0")!;
    const atMost = (limitMs: number) => () => ({ limitMs, text: `≤ ${limitMs} ms` });
    const noop = /No changes: the host matches wirebot\.yaml\./;
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
      { name: `plan ${SHARED} shared users, empty root`, ...wirebot("plan", "--config", sharedFile, "--root", empty), expect: { code: 0, out: /^Plan: \d+ to create, 0 to update, 0 to delete\./m }, budget: atMost(1000) },
      { name: `plan ${SHARED} shared users, no-op`, ...wirebot("plan", "--root", sharedRoot, "--exit-code"), expect: { code: 0, out: noop }, budget: atMost(1000) },
      { name: `plan ${DEDICATED} dedicated users, empty root`, ...wirebot("plan", "--config", dedicatedFile, "--root", empty), expect: { code: 0, out: /^Plan: \d+ to create, 0 to update, 0 to delete\./m }, budget: atMost(1000) },
      { name: `plan ${DEDICATED} dedicated users, no-op`, ...wirebot("plan", "--root", dedicatedRoot, "--exit-code"), expect: { code: 0, out: noop }, budget: atMost(1000) },
      { name: `plan ${SHARED} users, one bad (refused)`, ...wirebot("plan", "--config", badFile, "--root", empty), expect: { code: 78, err: /users\[\d+\]\.id: must match/ }, budget: atMost(1000) },
    ];

    const loadBefore = load();
    say(`• ${RUNS} timed rounds after one warm-up, the cases interleaved in each round (load ${loadBefore})`);
    const times = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    for (let round = 0; round <= RUNS; round++) {
      for (const c of cases) {
        const r = runOnce(c, env);
        check(c, r);
        if (round > 0) times.get(c.name)!.push(r.ms);
      }
    }
    const loadAfter = load();
    if (readdirSync(empty).length > 0) throw new Error(`bench/cli.ts: a plan wrote into the empty root ${empty}`);

    const medians = new Map([...times].map(([k, v]) => [k, median(v)]));
    const rows = cases.map((c) => {
      const ms = medians.get(c.name)!;
      const b = c.budget?.(medians);
      return { name: c.name, medianMs: Math.round(ms), overNodeMs: Math.round(ms - nodeMs(medians)), runsMs: times.get(c.name)!.map(Math.round), budget: b?.text ?? "baseline", budgetMs: b ? Math.round(b.limitMs) : null, ok: b ? ms <= b.limitMs : null };
    });
    const header = {
      date: new Date().toISOString(),
      machine: machine(),
      loadBefore,
      loadAfter,
      wirebot: `${values.node} (${wirebotNodeVersion}) ${values.bin}`,
      openclaw: `${runtime.nodeBin} (${runtimeNodeVersion}) ${runtime.gatewayEntry}`,
      runs: RUNS,
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ...header, rows }, null, 2)}\n`);
      return;
    }
    const out = (l: string) => process.stdout.write(`${l}\n`);
    out(`machine: ${header.machine}`);
    out(`load average (1/5/15 min): ${loadBefore} before, ${loadAfter} after`);
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
  } finally {
    if (values.keep) say(`• kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
