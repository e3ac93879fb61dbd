/** Preload for the footprint bench (`--import`): logs every worker_threads Worker the gateway starts and stops (with the code that started it) and, every 15 s, each live worker's V8 heap, to $WB_WORKER_TRACE. */
import { appendFileSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import wt from "node:worker_threads";

const out = process.env.WB_WORKER_TRACE;
// Workers inherit NODE_OPTIONS: only the gateway's main thread wraps and logs.
if (out && wt.isMainThread) {
  Error.stackTraceLimit = 80;
  const Base = wt.Worker;
  const live = new Map();
  const log = (o) => appendFileSync(out, JSON.stringify({ at: Date.now(), ...o }) + "\n");
  // The runtime's own frames (async ones too) say which module wanted the worker; node:internal frames say nothing.
  const caller = () => (new Error().stack ?? "").split("\n").slice(2).filter((l) => l.includes("/dist/") && !l.includes("worker-trace.mjs")).slice(0, 40).map((l) => l.trim());
  wt.Worker = class TracedWorker extends Base {
    constructor(file, opts) {
      super(file, opts);
      const what = typeof file === "string" && opts?.eval ? `eval:${file.slice(0, 80).replace(/\s+/g, " ")}` : String(file);
      const id = this.threadId;
      live.set(id, { worker: this, what });
      log({ ev: "start", id, what, limits: opts?.resourceLimits, stack: caller() });
      this.once("exit", (code) => {
        live.delete(id);
        log({ ev: "exit", id, what, code });
      });
    }
  };
  syncBuiltinESMExports();
  const MiB = 1024 * 1024;
  setInterval(async () => {
    const workers = await Promise.all(
      [...live].map(async ([id, { worker, what }]) => {
        try {
          const h = await worker.getHeapStatistics();
          return { id, what: what.replace(/^.*\/dist\//, ""), usedMiB: +(h.used_heap_size / MiB).toFixed(1), totalMiB: +(h.total_heap_size / MiB).toFixed(1), externalMiB: +(h.external_memory / MiB).toFixed(1) };
        } catch {
          return { id, what, gone: true };
        }
      }),
    );
    const m = process.memoryUsage();
    log({ ev: "heap", main: { rssMiB: Math.round(m.rss / MiB), heapUsedMiB: Math.round(m.heapUsed / MiB), heapTotalMiB: Math.round(m.heapTotal / MiB), externalMiB: Math.round(m.external / MiB), arrayBuffersMiB: Math.round(m.arrayBuffers / MiB) }, workers });
  }, 15_000).unref();
}
