/** `wirebot trace` through main() on a --root: a line per call, --denied/--agent/--since filters, --json/--csv, --follow, the read token; usage errors exit 64. */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PATHS } from "../config/layout.ts";
import { createNodeHost } from "../host/node-host.ts";
import { captureIo } from "../io.ts";
import { main } from "../main.ts";
import { openLedgerDb } from "../meter/db.ts";
import { TraceStore } from "../meter/traces.ts";
import { exampleText, removeDir, tempDir, testContext } from "../testing/harness.ts";
import type { TraceRecord } from "../transparency/record.ts";
import { deriveToken, readLabel } from "../transparency/tokens.ts";
import { parseConfig } from "../config/load.ts";
import { traceCommand } from "./trace.ts";

const API_TOKEN = "api-token-for-trace-cli-0123456789";
const T0 = Date.UTC(2026, 11, 8, 9);
let root: string;
beforeEach(() => {
  root = tempDir();
  mkdirSync(path.join(root, "etc/wirebot"), { recursive: true });
  writeFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), exampleText("mixed"));
  const store = new TraceStore(openLedgerDb(path.join(root, PATHS.ledger)));
  const rec = (n: number, o: Partial<TraceRecord>): TraceRecord => ({
    traceId: `t${n}`, atMs: T0 + n * 60_000, gateway: "shared", agentId: "alice", sessionKey: "agent:alice:telegram:direct:1", channel: "telegram", requester: null,
    runId: "r1", toolCallId: `c${n}`, parentId: null, tool: "read", action: "allow", reason: null, params: '{"path":"notes.md"}', result: '{"ok":true}', error: null, durationMs: 4, ...o,
  });
  store.insert([rec(1, {}), rec(2, { agentId: "bob", tool: "exec", action: "deny", reason: "runtime-policy: exec: tools.deny exec", params: '{"command":"cat /etc/shadow"}' }), rec(3, { agentId: "erin", gateway: "erin", tool: "web_fetch" })]);
});
afterEach(() => removeDir(root));

const run = async (...args: string[]) => {
  const ctx = testContext(root);
  const code = await main(["trace", ...args, "--root", root], { io: ctx.io, context: () => ctx });
  return { code, out: ctx.io.stdout.join("\n"), err: ctx.io.stderr.join("\n") };
};

describe("wirebot trace", () => {
  it("a line per call, oldest first, a denial with its reason", async () => {
    const r = await run();
    expect(r.code).toBe(0);
    expect(r.out.split("\n")).toEqual([
      expect.stringMatching(/^2026-12-08 09:01:00 {2}alice +read \{"path":"notes\.md"\} {2}→ allow \(4 ms\)$/),
      expect.stringMatching(/^2026-12-08 09:02:00 {2}bob +exec \{"command":"cat \/etc\/shadow"\} {2}→ DENY runtime-policy: exec: tools\.deny exec \(4 ms\)$/),
      expect.stringMatching(/^2026-12-08 09:03:00 {2}erin +web_fetch/),
    ]);
  });

  it("--denied, --agent, --tool and --since filter; --json is one document; --csv has a header", async () => {
    expect((await run("--denied")).out).toMatch(/^[^\n]*bob[^\n]*DENY[^\n]*$/);
    expect((await run("--agent", "erin")).out.split("\n")).toHaveLength(1);
    expect((await run("--tool", "read")).out.split("\n")).toHaveLength(1);
    expect((await run("--since", "2026-12-08T09:02:30Z")).out).toMatch(/erin/);
    const json = JSON.parse((await run("--json", "--agent", "bob")).out);
    expect(json).toMatchObject({ ok: true, outcome: "traces", traces: [{ agent: "bob", tool: "exec", action: "deny", reason: "runtime-policy: exec: tools.deny exec" }] });
    const csv = (await run("--csv")).out.split("\n");
    expect(csv[0]).toBe("at,agent,tool,action,reason,duration_ms,params,result,error,gateway,session,channel,run,tool_call_id,trace_id,parent");
    expect(csv).toHaveLength(4);
  });

  it("bad input: an unknown agent, a bad --since, --json with --csv: exit 64 naming the fix, no stack trace", async () => {
    for (const args of [["--agent", "mallory"], ["--since", "last tuesday"], ["--json", "--csv"]]) {
      const r = await run(...args);
      expect(r.code, args.join(" ")).toBe(64);
      expect(r.err).toMatch(/fix: |known: |exclude/);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it("--follow prints calls recorded after it started", async () => {
    const io = captureIo();
    const stop = new AbortController();
    const host = createNodeHost({ root, sleep: async () => {
      // a gateway reports a call while the operator watches; then Ctrl-C
      new TraceStore(openLedgerDb(path.join(root, PATHS.ledger))).insert([{ traceId: "t9", atMs: T0 + 9 * 60_000, gateway: "shared", agentId: "alice", sessionKey: null, channel: null, requester: null, runId: null, toolCallId: "c9", parentId: null, tool: "write", action: "allow", reason: null, params: null, result: null, error: null, durationMs: 1 }]);
      stop.abort();
    } });
    expect(await traceCommand({ follow: true, followFor: stop.signal }, parseConfig(exampleText("mixed"), "t"), io, host)).toBe(0);
    expect(io.stdout.at(-1)).toMatch(/alice +write/);
    expect(io.stdout).toHaveLength(4);
  });

  it("trace token USER prints that user's read token, derived from the API token in reconcile.env", async () => {
    mkdirSync(path.join(root, "run/wirebot"), { recursive: true });
    writeFileSync(path.join(root, PATHS.reconcileEnv), `WIREBOT_API_TOKEN="${API_TOKEN}"\n`, { mode: 0o600 });
    const r = await run("token", "alice");
    expect(r.code).toBe(0);
    expect(r.out).toBe(deriveToken(API_TOKEN, readLabel("alice")));
    expect(r.err).not.toContain(API_TOKEN);
    expect((await run("token", "mallory")).code).toBe(64);
  });
});
