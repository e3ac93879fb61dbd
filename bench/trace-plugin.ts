/** What the trace plugin adds to a tool call: its before and after hooks called as the runtime calls them, beside a baseline of no-op hooks in the same run. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
// @ts-expect-error plain JS shipped to the gateway as is; no declarations
import plugin from "../plugins/wirebot-trace/index.js";

const CALLS = 20_000;
const dir = mkdtempSync(path.join(tmpdir(), "wb-bench-trace-"));
type Hook = (ev: unknown, ctx: unknown) => unknown;

function hooksOf(register: (api: { pluginConfig: unknown; on: (name: string, fn: Hook) => void }) => void): Map<string, Hook> {
  const hooks = new Map<string, Hook>();
  // a closed port: the sender spools, and none of that happens inside a hook
  register({ pluginConfig: { endpoint: "http://127.0.0.1:9/v1/traces", spoolDir: path.join(dir, "spool"), flushMs: 3_600_000 }, on: (name, fn) => hooks.set(name, fn) });
  return hooks;
}

/** The plugin's queue, which its one-second flush would drain (a closed port here: drained by hand, off the clock). */
const queue = () => (globalThis as Record<symbol, { sender: { queue: unknown[] } } | undefined>)[Symbol.for("wirebot-trace")]?.sender.queue;

function perCallUs(hooks: Map<string, Hook>, tag: string): number {
  const before = hooks.get("before_tool_call") ?? (() => undefined);
  const after = hooks.get("after_tool_call") ?? (() => undefined);
  const params = { path: "notes/2026-12-08.md", content: "x".repeat(400) };
  let spent = 0n;
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) {
    if (i % 1000 === 999) {
      spent += process.hrtime.bigint() - t0;
      queue()?.splice(0);
      t0 = process.hrtime.bigint();
    }
    const ctx = { agentId: "alice", sessionKey: "agent:alice:telegram:direct:1", runId: `run-${tag}`, toolCallId: `${tag}-${i}`, channelId: "telegram" };
    const ev = { toolName: "write", toolCallId: `${tag}-${i}`, params };
    before(ev, ctx);
    after({ ...ev, result: { content: [{ type: "text", text: "ok" }] }, durationMs: 3 }, ctx);
  }
  spent += process.hrtime.bigint() - t0;
  return Number(spent) / 1000 / CALLS;
}

const baseline = perCallUs(new Map<string, Hook>([["before_tool_call", () => undefined], ["after_tool_call", () => undefined]]), "noop");
const hooks = hooksOf((api) => plugin.register(api));
perCallUs(hooks, "warm");
const traced = perCallUs(hooks, "traced");
console.log(`trace plugin, ${CALLS} tool calls (before + after hook, 400-byte params, no network inside a hook):`);
console.log(`  no-op hooks (baseline)   ${baseline.toFixed(2)} µs per call`);
console.log(`  wirebot-trace            ${traced.toFixed(2)} µs per call (+${(traced - baseline).toFixed(2)} µs)`);
rmSync(dir, { recursive: true, force: true });
process.exit(0);
