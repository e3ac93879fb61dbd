/** Gateway footprint bench: RSS of one real shared gateway with N agents, when ready and after every agent chatted once, with the runtime's defaults beside wirebot's memory knobs. */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildRuntimeEnv } from "../installer/runtime/openclaw-cli.ts";
import { applyGatewayMemoryKnobs } from "../installer/render/gateway-memory.ts";
import { startScriptedModel, type ScriptedModel } from "../test/isolation/scripted-model.ts";
import { freeLoopbackPort, getTestRuntime, startGateway, type GatewayHandle, type TestRuntime } from "../test/support/runtime.ts";
import { testWorkDir } from "../test/support/work-dir.ts";
import { prepareFootprintGateway, setPath } from "./footprint-config.ts";
import { mib, processesIn, treeMemory, type TreeMemory } from "./proc-memory.ts";

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "1,10,50,100,200" },
    // none: the config `wirebot apply` renders today; wirebot: plus applyGatewayMemoryKnobs. Both: side by side.
    knobs: { type: "string", default: "none,wirebot" },
    // Exploration: extra config edits (path=JSON) and gateway env (K=V) applied to every run, labelled as such.
    set: { type: "string", multiple: true, default: [] },
    env: { type: "string", multiple: true, default: [] },
    concurrency: { type: "string", default: "4" },
    // Seconds to let the gateway settle before each sample (start-up work and turn side-jobs run after the answer).
    settle: { type: "string", default: "10" },
    // Seconds to wait after the chats for a second sample: shows whether anything retires on its own.
    hold: { type: "string", default: "0" },
    "trace-workers": { type: "boolean", default: false },
    // MiB: the gateway sees this as its cgroup limit (process.constrainedMemory), as under systemd MemoryHigh=/MemoryMax=.
    "memory-limit": { type: "string" },
    json: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const say = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const counts = values.agents.split(",").map(Number);
if (counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--agents: positive integers, comma-separated (got ${values.agents})`);
const knobSets = values.knobs.split(",");
if (knobSets.some((k) => k !== "none" && k !== "wirebot")) throw new Error(`--knobs: none, wirebot or both (got ${values.knobs})`);
const CONCURRENCY = Number(values.concurrency);
const SETTLE_MS = Number(values.settle) * 1000;
const HOLD_MS = Number(values.hold) * 1000;
// An e2e may run its gateways on these at the same time.
const RESERVED_PORTS = new Set([28789, 28900, 28100]);

const extraSets = values.set.map((s) => {
  const at = s.indexOf("=");
  if (at < 1) throw new Error(`--set path=JSON (got ${s})`);
  return { path: s.slice(0, at), value: JSON.parse(s.slice(at + 1)) as unknown };
});
const extraEnv = Object.fromEntries(
  values.env.map((s) => {
    const at = s.indexOf("=");
    if (at < 1) throw new Error(`--env K=V (got ${s})`);
    return [s.slice(0, at), s.slice(at + 1)];
  }),
);

interface Sample {
  rssMiB: number;
  pssMiB: number;
  rssAnonMiB: number;
  workerThreads: number;
  threads: number;
  processes: number;
}

interface Row {
  knobs: string;
  agents: number;
  readyMs: number;
  ready: Sample;
  chatted: Sample;
  /** highest tree RSS sampled once a second while the chats ran */
  peakRssMiB: number;
  held?: Sample;
  answered: number;
  /** agents that did not answer their turn, asked once more after the sample: a hang that passed, or one that stays (the run fails either way) */
  retried?: { id: string; first: string; again: string; ok: boolean }[];
  chatSeconds: number;
  /** median and slowest turn, ms */
  turnMs: { p50: number; max: number };
}

const sample = (m: TreeMemory): Sample => ({
  rssMiB: mib(m.rss),
  pssMiB: mib(m.pss),
  rssAnonMiB: mib(m.rssAnon),
  workerThreads: m.threads["WorkerThread"] ?? 0,
  threads: Object.values(m.threads).reduce((a, b) => a + b, 0),
  processes: m.pids.length,
});

// Everything started here, for the exit handler: a bench interrupted at N=200 must not leave a 10 GB gateway behind.
const live = { gateway: undefined as GatewayHandle | undefined, upstream: undefined as ScriptedModel | undefined, dirs: [] as string[] };
async function cleanup(): Promise<void> {
  const gw = live.gateway;
  live.gateway = undefined;
  await gw?.stop().catch(() => undefined);
  await live.upstream?.close().catch(() => undefined);
  live.upstream = undefined;
  // A gateway interrupted before /health answered has no handle yet: find it by its working directory (its state dir).
  for (const d of live.dirs)
    for (const pid of processesIn(d)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
  if (!values.keep) for (const d of live.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.once(sig, () => {
    say(`[footprint] ${sig}: stopping the gateway`);
    void cleanup().finally(() => process.exit(130));
  });

async function freePort(): Promise<number> {
  for (;;) {
    const p = await freeLoopbackPort();
    if (!RESERVED_PORTS.has(p)) return p;
  }
}

/** One chat turn as agent `id`; true when the scripted upstream's "ok" came back. */
async function chatOnce(gw: GatewayHandle, token: string, id: string): Promise<{ ok: boolean; ms: number; detail: string }> {
  const started = Date.now();
  try {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ model: `openclaw/${id}`, messages: [{ role: "user", content: "hello" }] }),
      signal: AbortSignal.timeout(300_000),
    });
    const text = await res.text();
    let reply = text;
    try {
      reply = String((JSON.parse(text) as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message?.content ?? text);
    } catch {
      /* not JSON: keep the body for the failure message */
    }
    return { ok: res.status === 200 && reply.trim() === "ok", ms: Date.now() - started, detail: `HTTP ${res.status}: ${reply.slice(0, 200)}` };
  } catch (e) {
    return { ok: false, ms: Date.now() - started, detail: String(e) };
  }
}

/** `openclaw config validate --json` on the rendered file: a knob the runtime does not know fails here, not in production. */
function validate(rt: TestRuntime, stateDir: string, configPath: string): void {
  const r = spawnSync(rt.nodeBin, [rt.gatewayEntry, "config", "validate", "--json"], { env: buildRuntimeEnv(rt.nodeBin, stateDir, configPath), cwd: stateDir, encoding: "utf8", timeout: 120_000 });
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  const out = line ? (JSON.parse(line) as { valid?: boolean; warnings?: unknown[] }) : undefined;
  if (r.status !== 0 || out?.valid !== true) throw new Error(`openclaw config validate refused the rendered config (exit ${r.status}): ${(r.stdout + r.stderr).trim().slice(0, 2000)}`);
  if (out.warnings?.length) say(`[footprint]   validate warnings: ${JSON.stringify(out.warnings)}`);
}

async function runOne(rt: TestRuntime, knobs: string, n: number): Promise<Row> {
  const dataDir = testWorkDir(`footprint-${knobs}-${n}-`);
  live.dirs.push(dataDir);
  const upstream = await startScriptedModel();
  live.upstream = upstream;
  const port = await freePort();
  const prep = prepareFootprintGateway(ROOT, n, dataDir, port, upstream.baseUrl, (doc) => {
    if (knobs === "wirebot") applyGatewayMemoryKnobs(doc, { shared: true });
    for (const s of extraSets) setPath(doc, s.path, s.value);
  });
  validate(rt, prep.shared.stateDir, prep.shared.configPath);
  const traceFile = path.join(dataDir, "workers.jsonl");
  const preloads: string[] = [];
  const traceEnv: Record<string, string> = {};
  if (values["trace-workers"]) {
    preloads.push(path.join(ROOT, "bench", "worker-trace.mjs"));
    traceEnv["WB_WORKER_TRACE"] = traceFile;
  }
  if (values["memory-limit"]) {
    preloads.push(path.join(ROOT, "bench", "constrained-memory.mjs"));
    traceEnv["WB_CONSTRAINED_MEMORY"] = String(Number(values["memory-limit"]) * 1024 * 1024);
  }
  // The preloads join any NODE_OPTIONS given with --env (a V8 flag under test) instead of replacing it.
  if (preloads.length) traceEnv["NODE_OPTIONS"] = [extraEnv["NODE_OPTIONS"] ?? "", ...preloads.map((p) => `--import=${p}`)].join(" ").trim();

  say(`[footprint] ${knobs} N=${n}: starting the gateway on 127.0.0.1:${port} (data ${dataDir})`);
  const gw = await startGateway({ runtime: rt, stateDir: prep.shared.stateDir, configPath: prep.shared.configPath, port, env: { ...prep.env, ...extraEnv, ...traceEnv }, readyTimeoutMs: 300_000 });
  live.gateway = gw;
  try {
    await sleep(SETTLE_MS);
    const ready = sample(treeMemory(gw.pid));
    say(`[footprint]   ready after ${gw.readyAfterMs} ms: ${ready.rssMiB} MiB RSS, ${ready.workerThreads} WorkerThread`);

    let peak = ready.rssMiB;
    const sampler = setInterval(() => (peak = Math.max(peak, mib(treeMemory(gw.pid).rss))), 1000);
    const queue = [...prep.agents];
    const results: { id: string; ok: boolean; ms: number; detail: string }[] = [];
    const started = Date.now();
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          const r = await chatOnce(gw, prep.token, id);
          results.push({ id, ...r });
          if (results.length % 25 === 0) say(`[footprint]   ${results.length}/${n} chatted, ${mib(treeMemory(gw.pid).rss)} MiB`);
        }
      }),
    );
    const chatSeconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    await sleep(SETTLE_MS);
    const chatted = sample(treeMemory(gw.pid));
    peak = Math.max(peak, chatted.rssMiB);
    const answered = results.filter((r) => r.ok).length;
    say(`[footprint]   ${answered}/${n} answered in ${chatSeconds.toFixed(1)} s: ${chatted.rssMiB} MiB RSS, ${chatted.workerThreads} WorkerThread`);
    const failed = results.filter((r) => !r.ok);
    for (const f of failed.slice(0, 5)) say(`[footprint]   ${f.id} did not answer: ${f.detail}`);
    const ms = results.map((r) => r.ms).sort((a, b) => a - b);
    const row: Row = { knobs, agents: n, readyMs: gw.readyAfterMs, ready, chatted, peakRssMiB: peak, answered, chatSeconds, turnMs: { p50: ms[Math.floor(ms.length / 2)] ?? 0, max: ms.at(-1) ?? 0 } };
    if (failed.length > 0) {
      row.retried = [];
      for (const f of failed.slice(0, 10)) {
        const again = await chatOnce(gw, prep.token, f.id);
        row.retried.push({ id: f.id, first: f.detail.slice(0, 200), again: again.detail.slice(0, 200), ok: again.ok });
        say(`[footprint]   ${f.id} asked again: ${again.ok ? "answered" : again.detail} (${again.ms} ms)`);
      }
    }
    if (HOLD_MS > 0) {
      await sleep(HOLD_MS);
      row.held = sample(treeMemory(gw.pid));
      say(`[footprint]   ${values.hold} s later: ${row.held.rssMiB} MiB RSS, ${row.held.workerThreads} WorkerThread`);
    }
    if (values["trace-workers"]) summarizeTrace(traceFile);
    return row;
  } catch (e) {
    say(`[footprint] gateway log tail:\n${gw.logs().split("\n").slice(-40).join("\n")}`);
    throw e;
  } finally {
    await cleanup();
  }
}

/** Which code started the gateway's workers, how many, how many still run (worker-trace.mjs's log). */
function summarizeTrace(file: string): void {
  let lines: { ev: string; id: number; what: string; stack?: string[]; limits?: unknown }[] = [];
  try {
    lines = readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as (typeof lines)[number]);
  } catch {
    say("[footprint]   no worker trace written");
    return;
  }
  const exited = new Set(lines.filter((l) => l.ev === "exit").map((l) => l.id));
  const groups = new Map<string, { started: number; alive: number; stack: string[]; limits?: unknown }>();
  for (const l of lines.filter((x) => x.ev === "start")) {
    const key = `${l.what.replace(/^file:\/\/.*node_modules\/openclaw\//, "")} <- ${(l.stack ?? []).find((s) => s.includes("/dist/")) ?? "?"}`;
    const g = groups.get(key) ?? { started: 0, alive: 0, stack: l.stack ?? [], limits: l.limits };
    g.started += 1;
    if (!exited.has(l.id)) g.alive += 1;
    groups.set(key, g);
  }
  for (const [key, g] of [...groups].sort((a, b) => b[1].alive - a[1].alive)) {
    say(`[footprint]   workers: ${g.started} started, ${g.alive} alive: ${key}${g.limits ? ` limits=${JSON.stringify(g.limits)}` : ""}`);
    for (const s of g.stack.slice(0, 6)) say(`[footprint]       ${s.replace(/.*node_modules\/openclaw\//, "")}`);
  }
}

/** Least squares y = a + b·x over the rows: the base and the per-agent cost. */
function fit(points: [number, number][]): { base: number; perAgent: number } | null {
  if (points.length < 2) return null;
  const n = points.length;
  const sx = points.reduce((s, [x]) => s + x, 0);
  const sy = points.reduce((s, [, y]) => s + y, 0);
  const sxx = points.reduce((s, [x]) => s + x * x, 0);
  const sxy = points.reduce((s, [x, y]) => s + x * y, 0);
  const d = n * sxx - sx * sx;
  if (d === 0) return null;
  const perAgent = (n * sxy - sx * sy) / d;
  return { base: (sy - perAgent * sx) / n, perAgent };
}

const pad = (s: string | number, w: number) => String(s).padStart(w);

async function main(): Promise<void> {
  const rt = await getTestRuntime();
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "?", memGiB: +(os.totalmem() / 1024 ** 3).toFixed(1), kernel: os.release(), load: os.loadavg().map((l) => +l.toFixed(2)) };
  say(`[footprint] openclaw ${rt.version} on Node ${rt.node}; ${machine.cpus} cores, ${machine.memGiB} GiB, load ${machine.load.join(" ")}; chats ${CONCURRENCY} at a time`);
  if (extraSets.length || Object.keys(extraEnv).length) say(`[footprint] extra: ${JSON.stringify({ set: extraSets, env: extraEnv })}`);
  const rows: Row[] = [];
  let failed = false;
  for (const n of counts)
    for (const k of knobSets) {
      const row = await runOne(rt, k, n);
      rows.push(row);
      // One line per finished run: an interrupted N=200 keeps the figures of every N before it.
      say(`[footprint] row ${JSON.stringify(row)}`);
      if (row.answered !== n) failed = true;
    }

  const fits = Object.fromEntries(
    knobSets.map((k) => {
      const mine = rows.filter((r) => r.knobs === k);
      return [k, { ready: fit(mine.map((r) => [r.agents, r.ready.rssMiB])), chatted: fit(mine.map((r) => [r.agents, r.chatted.rssMiB])) }];
    }),
  );
  const loadAfter = os.loadavg().map((l) => +l.toFixed(2));
  if (values.json) process.stdout.write(JSON.stringify({ runtime: { openclaw: rt.version, node: rt.node }, machine: { ...machine, loadAfter }, concurrency: CONCURRENCY, settleSeconds: SETTLE_MS / 1000, extra: { set: extraSets, env: extraEnv }, rows, fits }, null, 2) + "\n");
  else {
    const out = (l: string) => process.stdout.write(`${l}\n`);
    out(`knobs    agents  ready(s)  ready RSS  ready PSS  chatted RSS  chatted PSS  peak RSS  workers r/c  answered  chat(s)${HOLD_MS ? "  held RSS/workers" : ""}`);
    for (const r of rows)
      out(
        `${r.knobs.padEnd(8)} ${pad(r.agents, 6)} ${pad((r.readyMs / 1000).toFixed(1), 9)} ${pad(r.ready.rssMiB, 10)} ${pad(r.ready.pssMiB, 10)} ${pad(r.chatted.rssMiB, 12)} ${pad(r.chatted.pssMiB, 12)} ${pad(r.peakRssMiB, 9)} ${pad(`${r.ready.workerThreads}/${r.chatted.workerThreads}`, 12)} ${pad(`${r.answered}/${r.agents}`, 9)} ${pad(r.chatSeconds.toFixed(0), 8)}${r.held ? `  ${pad(r.held.rssMiB, 8)}/${r.held.workerThreads}` : ""}`,
      );
    out("(MiB; RSS and PSS summed over the gateway's process tree)");
    for (const [k, f] of Object.entries(fits)) {
      const show = (x: { base: number; perAgent: number } | null) => (x ? `${x.base.toFixed(0)} MiB + ${x.perAgent.toFixed(2)} MiB/agent` : "needs two N");
      out(`${k}: ready ${show(f.ready)}; after one chat each ${show(f.chatted)}${f.chatted ? `; 200 agents ≈ ${(f.chatted.base + 200 * f.chatted.perAgent).toFixed(0)} MiB (budget ${(2 * 1024).toFixed(0)})` : ""}`);
    }
    out(`load average before ${machine.load.join(" ")}, after ${loadAfter.join(" ")}`);
  }
  if (failed) {
    say("[footprint] FAIL: not every agent answered");
    process.exitCode = 1;
  }
}

main()
  .catch((e: unknown) => {
    say(`[footprint] ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());

