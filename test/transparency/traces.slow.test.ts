/**
 * Real openclaw with wirebot's trace plugin on the shared gateway we render, a scripted model, the real
 * daemon API and ledger: every tool call of a turn becomes one trace with the right agent and action,
 * allowed, denied by policy, blocked by a plugin, escaping the workspace; secrets never reach the ledger;
 * a daemon restart mid-run loses nothing.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startApi, type ApiServer } from "../../installer/meter/api.ts";
import { openLedgerDb } from "../../installer/meter/db.ts";
import { Ledger } from "../../installer/meter/ledger.ts";
import { createTraceApi } from "../../installer/meter/trace-api.ts";
import { TraceStore, type StoredTrace } from "../../installer/meter/traces.ts";
import { deriveToken, traceLabel, TRACE_TOKEN_VAR } from "../../installer/transparency/tokens.ts";
import { captureLogger } from "../litellm-standin/fixtures.ts";
import { PROBE, startScriptedModel, type ProbeStep, type ScriptedModel } from "../isolation/scripted-model.ts";
import { pointProvidersAt, prepareSharedGateway, workspaceOf, type PreparedGateway } from "../isolation/shared-gateway.ts";
import { freeLoopbackPort, getTestRuntime, startGateway, type GatewayHandle } from "../support/runtime.ts";
import { testWorkDir } from "../support/work-dir.ts";

const say = (s: string) => console.log(`[traces] ${s}`);
const API_TOKEN = `api-${randomBytes(16).toString("hex")}`;
/** A secret only the gateway holds (an extra env secret, as secrets.map would add): must never reach the ledger. (Not BRAVE_API_KEY: that name makes the runtime npm-install its Brave plugin.) */
const GATEWAY_SECRET = `brv-${randomBytes(12).toString("hex")}`;

const work = testWorkDir("wb-traces-");
const dataDir = path.join(work, "data");
let model: ScriptedModel;
let prep: PreparedGateway;
let gw: GatewayHandle;
let daemon: ApiServer | null = null;
let store: TraceStore;
let db: ReturnType<typeof openLedgerDb>;
let daemonPort: number;

/** A test-only plugin that blocks `write` to forbidden.md, as any before_tool_call gate would. */
function writeBlocker(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "wb-test-blocker", version: "1.0.0", type: "module", openclaw: { extensions: ["./index.js"] } }));
  writeFileSync(path.join(dir, "openclaw.plugin.json"), JSON.stringify({ id: "wb-test-blocker", name: "test blocker", activation: { onStartup: true }, configSchema: { type: "object", additionalProperties: false, properties: {} } }));
  writeFileSync(
    path.join(dir, "index.js"),
    `export default { id: "wb-test-blocker", register(api) { api.on("before_tool_call", (ev) => (ev?.toolName === "write" && String(ev?.params?.path ?? "").includes("forbidden") ? { block: true, blockReason: "test gate: forbidden.md" } : undefined)); } };\n`,
  );
}

async function startDaemon(): Promise<void> {
  const traces = createTraceApi({ config: prep.config, apiToken: API_TOKEN, store });
  daemon = await startApi({ ledger: new Ledger(db, prep.config.litellm.instanceId), config: prep.config, token: API_TOKEN, traces, log: captureLogger().log }, { port: daemonPort });
}

beforeAll(async () => {
  const rt = await getTestRuntime();
  model = await startScriptedModel();
  daemonPort = await freeLoopbackPort();
  const port = await freeLoopbackPort();
  const blocker = path.join(work, "blocker");
  writeBlocker(blocker);
  prep = prepareSharedGateway(dataDir, port, (doc) => {
    pointProvidersAt(doc, model.baseUrl);
    (doc["gateway"] as Record<string, unknown>)["http"] = { endpoints: { chatCompletions: { enabled: true } } };
    const plugins = doc["plugins"] as { load: { paths: string[] }; entries: Record<string, { enabled?: boolean; config?: Record<string, unknown> }> };
    // the daemon of this test listens on its own port; everything else is the config wirebot renders
    plugins.entries["wirebot-trace"]!.config!["endpoint"] = `http://127.0.0.1:${daemonPort}/v1/traces`;
    plugins.load.paths.push(blocker);
    plugins.entries["wb-test-blocker"] = { enabled: true, config: {} };
  });
  for (const u of prep.config.users) mkdirSync(workspaceOf(dataDir, u.id), { recursive: true, mode: 0o700 });
  db = openLedgerDb(path.join(work, "ledger.sqlite"));
  store = new TraceStore(db);
  await startDaemon();
  const env = { ...prep.env, [TRACE_TOKEN_VAR]: deriveToken(API_TOKEN, traceLabel("shared")), WB_SEARCH_API_TOKEN: GATEWAY_SECRET };
  gw = await startGateway({ runtime: rt, stateDir: prep.shared.stateDir, configPath: prep.shared.configPath, port, env, readyTimeoutMs: 120_000 });
  say(`gateway healthy after ${gw.readyAfterMs} ms; daemon on ${daemonPort}`);
}, 600_000);

afterAll(async () => {
  await gw?.stop();
  await daemon?.close();
  await model?.close();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

/** One turn of `agent` through the gateway's chat endpoint; the scripted model makes the probe's tool calls in order. */
async function turn(agent: string, steps: ProbeStep[]): Promise<number> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${prep.token}`, "content-type": "application/json" },
    body: JSON.stringify({ model: `openclaw/${agent}`, messages: [{ role: "user", content: `${PROBE}${JSON.stringify(steps)}` }] }),
    signal: AbortSignal.timeout(180_000),
  });
  await res.text();
  return res.status;
}

/** The traces of one agent once `n` have arrived (the plugin sends about once a second). */
async function tracesOf(agent: string, n: number, timeoutMs = 60_000): Promise<StoredTrace[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = store.list({ agents: [agent], limit: 10_000 });
    if (got.length >= n || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const summary = (t: StoredTrace) => `${t.tool} ${t.action}${t.reason ? ` (${t.reason.replace(/: .*$/, "")})` : ""}`;

describe("tool-call traces from the real gateway", () => {
  test("a turn's calls, call for call: allowed, denied by the rendered policy, blocked by a plugin, escaping the workspace", async () => {
    const steps: ProbeStep[] = [
      { tool: "write", args: { path: "notes.md", content: `remember ${GATEWAY_SECRET} and card 4111 1111 1111 1111` } },
      "notes.md",
      { tool: "exec", args: { command: "id" } },
      { tool: "write", args: { path: "forbidden.md", content: "x" } },
      { tool: "tool_call", args: { id: "sessions_list", args: {} } },
      "../bob/workspace/notes.md",
    ];
    expect(await turn("alice", steps)).toBe(200);
    const traces = await tracesOf("alice", steps.length);
    if (process.env["WB_TRACES_DEBUG"]) say(gw.logs().split("\n").filter((l) => /blocker|plugin|wirebot-trace/i.test(l)).slice(0, 40).join("\n"));
    for (const t of traces) say(`alice: ${t.tool} ${t.action} ${t.reason ?? ""} ${(t.error ?? "").slice(0, 100)} result=${(t.result ?? "").slice(0, 300)}`);
    expect(traces.map(summary)).toEqual([
      "write allow",
      "read allow",
      "exec deny (runtime-policy)",
      "write deny (blocked)",
      "tool_call deny (runtime-policy)",
      "read deny (runtime-policy)",
    ]);
    expect(traces.find((t) => t.tool === "exec")!.reason).toBe("runtime-policy: exec: tools.deny exec");
    expect(traces.find((t) => t.tool === "tool_call")!.reason).toMatch(/^runtime-policy: sessions_list: tools\.deny group:sessions$/);
    expect(new Set(traces.map((t) => t.gateway))).toEqual(new Set(["shared"]));
    expect(traces.every((t) => t.durationMs !== null && t.runId !== null)).toBe(true);
    // the gateway's secret and the card number never reached the ledger: masked in the gateway, then by shape
    const all = JSON.stringify(store.list({ limit: 10_000 }));
    expect(all).not.toContain(GATEWAY_SECRET);
    expect(all).not.toContain("4111 1111 1111 1111");
    expect(all).toContain("[secret:WB_SEARCH_API_TOKEN]");
  }, 600_000);

  test("a daemon restart mid-run loses no trace: the plugin spools and replays; nothing is stored twice", async () => {
    await daemon!.close();
    daemon = null;
    const steps: ProbeStep[] = ["a.md", "b.md", { tool: "exec", args: { command: "true" } }];
    expect(await turn("bob", steps)).toBe(200);
    // give the plugin a few flush ticks against the closed port
    await new Promise((r) => setTimeout(r, 3_000));
    expect(store.list({ agents: ["bob"] })).toHaveLength(0);
    await startDaemon();
    const traces = await tracesOf("bob", steps.length);
    expect(traces.map(summary)).toEqual(["read allow", "read allow", "exec deny (runtime-policy)"]);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(store.list({ agents: ["bob"] })).toHaveLength(steps.length);
    expect(store.list({ agents: ["alice"] })).toHaveLength(6);
  }, 600_000);
});
