/** /v1/traces over real HTTP: a gateway sends for its own agents only; the operator reads all; alice's read token reads alice's traces and nothing of bob's. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { captureLogger, meterConfig } from "../../test/litellm-standin/fixtures.ts";
import { deriveToken, readLabel, traceLabel } from "../transparency/tokens.ts";
import { startApi, type ApiServer } from "./api.ts";
import { openLedgerDb } from "./db.ts";
import { Ledger } from "./ledger.ts";
import { createTraceApi } from "./trace-api.ts";
import { TraceStore } from "./traces.ts";
import { traceCommand } from "../commands/trace.ts";
import { createNodeHost } from "../host/node-host.ts";
import { captureIo } from "../io.ts";

const API_TOKEN = "api-token-0123456789abcdefghijklmnopq";
const MASTER = "sk-master-key-DO-NOT-STORE-12345";
const NOW = Date.UTC(2026, 11, 8, 12);
// alice and bob share a gateway; erin has her own
const config = meterConfig("http://127.0.0.1:4000", {
  users: [
    { id: "alice", name: "Alice" },
    { id: "bob", name: "Bob" },
    { id: "erin", name: "Erin", mode: "dedicated" },
  ],
} as never);

let api: ApiServer;
let store: TraceStore;
let ledgerFile: string;

/** What `wirebot trace --csv` prints from this ledger. */
async function csvExport(): Promise<string> {
  const io = captureIo();
  await traceCommand({ csv: true, ledgerPath: ledgerFile }, config, io, createNodeHost({}));
  return io.stdout.join("\n");
}
beforeEach(async () => {
  ledgerFile = path.join(mkdtempSync(path.join(tmpdir(), "wb-trace-api-")), "ledger.sqlite");
  const db = openLedgerDb(ledgerFile);
  store = new TraceStore(db);
  const traces = createTraceApi({ config, apiToken: API_TOKEN, store, secrets: new Map([[MASTER, "LITELLM_MASTER_KEY"]]) });
  api = await startApi({ ledger: new Ledger(db, "i"), config, token: API_TOKEN, traces, log: captureLogger().log, now: () => NOW }, { port: 0 });
});
afterEach(() => api.close());

const call = async (method: string, p: string, token: string | null, body?: unknown) => {
  const res = await fetch(api.url + p, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, body: (res.headers.get("content-type") ?? "").includes("json") ? ((await res.json()) as any) : await res.text() };
};
const gw = (id: string) => deriveToken(API_TOKEN, traceLabel(id));
const reader = (id: string) => deriveToken(API_TOKEN, readLabel(id));
const event = (n: number, agentId: string, o: Record<string, unknown> = {}) => ({ toolCallId: `call_${n}`, runId: "run-1", toolName: "read", agentId, startedAt: NOW - 1000 + n, params: { path: `notes-${n}.md` }, result: { ok: true }, durationMs: 3, ...o });

describe("POST /v1/traces", () => {
  it("stores a gateway's events for its own agents, once; refuses an agent on another gateway; judges denials against the rendered policy", async () => {
    const r = await call("POST", "/v1/traces", gw("shared"), { events: [event(1, "alice"), event(2, "bob", { toolName: "exec", error: "Tool exec not found" }), event(3, "erin")] });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ stored: 2, duplicates: 0, rejected: ["events[2]: agent 'erin' is not on gateway 'shared'"] });
    expect((await call("POST", "/v1/traces", gw("shared"), { events: [event(1, "alice")] })).body).toMatchObject({ stored: 0, duplicates: 1 });
    expect((await call("POST", "/v1/traces", gw("erin"), { events: [event(3, "erin")] })).body).toMatchObject({ stored: 1 });
    const bob = store.list({ agents: ["bob"] })[0]!;
    expect(bob).toMatchObject({ action: "deny", reason: "runtime-policy: exec: tools.deny exec", gateway: "shared" });
  });

  it("refuses anything but a gateway's trace token: none, the operator's, a user's, a made-up one", async () => {
    const body = { events: [event(1, "alice")] };
    expect((await call("POST", "/v1/traces", null, body)).status).toBe(401);
    expect((await call("POST", "/v1/traces", "made-up", body)).status).toBe(401);
    expect((await call("POST", "/v1/traces", API_TOKEN, body)).status).toBe(403);
    expect((await call("POST", "/v1/traces", reader("alice"), body)).status).toBe(403);
    expect((await call("POST", "/v1/traces", gw("shared"), "not json")).status).toBe(400);
    expect(store.list()).toEqual([]);
  });

  it("masks the daemon's own secrets and every shape before storing", async () => {
    await call("POST", "/v1/traces", gw("shared"), { events: [event(1, "alice", { params: { q: `${MASTER} ${API_TOKEN} ${gw("erin")} mail alice@example.org card 4111111111111111` } })] });
    const stored = store.list()[0]!.params!;
    const served = JSON.stringify((await call("GET", "/v1/traces", API_TOKEN)).body);
    // none of it in the database, the API's answer, or an export (the CSV `wirebot trace --csv` writes)
    const exported = await csvExport();
    for (const where of [stored, served, exported]) for (const leaked of [MASTER, API_TOKEN, gw("erin"), "alice@example.org", "4111111111111111"]) expect(where).not.toContain(leaked);
    expect(stored).toContain("[secret:LITELLM_MASTER_KEY]");
    expect(stored).toContain("[secret:WIREBOT_API_TOKEN]");
    expect(exported).toContain("[secret:LITELLM_MASTER_KEY]");
  });
});

describe("GET /v1/traces", () => {
  beforeEach(async () => {
    await call("POST", "/v1/traces", gw("shared"), { events: [event(1, "alice"), event(2, "bob", { toolName: "exec", error: "Tool exec not found" }), event(4, "alice")] });
    await call("POST", "/v1/traces", gw("erin"), { events: [event(3, "erin")] });
  });

  it("the operator reads every agent, filters by agent, tool and denied, and pages with after", async () => {
    const all = await call("GET", "/v1/traces", API_TOKEN);
    expect(all.body.traces.map((t: any) => `${t.agent} ${t.tool} ${t.action}`)).toEqual(["alice read allow", "bob exec deny", "alice read allow", "erin read allow"]);
    expect((await call("GET", "/v1/traces?denied=true", API_TOKEN)).body.traces.map((t: any) => t.agent)).toEqual(["bob"]);
    expect((await call("GET", "/v1/traces?agent=erin", API_TOKEN)).body.traces).toHaveLength(1);
    const page = await call("GET", "/v1/traces?limit=2", API_TOKEN);
    expect(page.body.traces).toHaveLength(2);
    expect((await call("GET", `/v1/traces?after=${all.body.traces[1].row}`, API_TOKEN)).body.traces.map((t: any) => t.agent)).toEqual(["alice", "erin"]);
    expect((await call("GET", "/v1/traces?since=yesterday", API_TOKEN)).status).toBe(400);
  });

  it("alice's read token reads alice's traces; asking for bob's is refused; a gateway token reads nothing", async () => {
    const mine = await call("GET", "/v1/traces", reader("alice"));
    expect(mine.status).toBe(200);
    expect(new Set(mine.body.traces.map((t: any) => t.agent))).toEqual(new Set(["alice"]));
    expect(mine.body.traces).toHaveLength(2);
    const theirs = await call("GET", "/v1/traces?agent=bob", reader("alice"));
    expect(theirs.status).toBe(403);
    expect(JSON.stringify(theirs.body)).not.toContain("exec");
    expect((await call("GET", "/v1/traces", gw("shared"))).status).toBe(403);
    expect((await call("GET", "/v1/traces", null)).status).toBe(401);
  });

  it("/metrics counts tool calls per agent, tool and action", async () => {
    const m = await call("GET", "/metrics", API_TOKEN);
    expect(m.body).toContain('wirebot_tool_calls_total{agent="alice",tool="read",action="allow"} 2');
    expect(m.body).toContain('wirebot_tool_calls_total{agent="bob",tool="exec",action="deny"} 1');
  });
});
