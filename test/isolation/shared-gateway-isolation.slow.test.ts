/** Real runtime: in the shared gateway rendered from examples/three-users.yaml, alice's agent has no tool that reads bob's files (DESIGN.md §Trust modes). */
import { testWorkDir } from "../support/work-dir.ts";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { freeLoopbackPort, getTestRuntime, startGateway, type GatewayHandle, type TestRuntime } from "../support/runtime.ts";
import { messageText, PROBE, startScriptedModel, toolNames, type ProbeStep, type ScriptedModel, type SeenRequest } from "./scripted-model.ts";
import { pointProvidersAt, prepareSharedGateway, workspaceOf, type PreparedGateway } from "./shared-gateway.ts";

// Tools that run code or drive a browser as the gateway's OS user, and so can read anything it can.
const RUNS_CODE = /^(exec|bash|process|code_execution|browser|computer|terminal|nodes|canvas|screen)$/;

const work = testWorkDir("wb-isolation-");
const dataDir = path.join(work, "data");
const marker = `WB-SECRET-${randomBytes(12).toString("hex")}`;
const bobWorkspace = workspaceOf(dataDir, "bob");
const secretPath = path.join(bobWorkspace, "SECRET.md");
const secretText = `# Bob's notes\n${marker}\n`;
// The OpenAI endpoint derives the session key from `user`; alice can discover it with sessions_list.
const BOB_USER = "wb-bob-control";
const bobSessionKey = `agent:bob:openai-user:${BOB_USER}`;

let rt: TestRuntime;
let model: ScriptedModel | undefined;
let gw: GatewayHandle | undefined;
let prep: PreparedGateway;

beforeAll(async () => {
  rt = await getTestRuntime();
}, 600_000);

afterAll(async () => {
  await gw?.stop();
  await model?.close();
  // For whoever adapts the probes to a new runtime: every upstream body, tool schemas included.
  if (process.env["WB_ISOLATION_DUMP"] && model) writeFileSync(process.env["WB_ISOLATION_DUMP"], JSON.stringify(model.requests, null, 2));
  rmSync(work, { recursive: true, force: true });
}, 30_000);

/** Every file under dir whose bytes contain needle (the state dir is small in a fresh test). */
function filesContaining(dir: string, needle: string): string[] {
  const out: string[] = [];
  // The running gateway stages and renames files (cache/control-ui-assets/.staging-*) while we look.
  const gone = (e: unknown) => (e as NodeJS.ErrnoException).code === "ENOENT";
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch (e) {
      if (gone(e)) return;
      throw e;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        try {
          if (statSync(p).size < 20_000_000 && readFileSync(p).includes(needle)) out.push(p);
        } catch (err) {
          if (!gone(err)) throw err;
        }
      }
    }
  };
  walk(dir);
  return out;
}

async function ask(agent: string, steps: ProbeStep[], extra: Record<string, unknown> = {}): Promise<{ status: number; reply: string; ms: number; upstream: SeenRequest[] }> {
  const before = model!.requests.length;
  const started = Date.now();
  const res = await fetch(`${gw!.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${prep.token}`, "content-type": "application/json" },
    body: JSON.stringify({ ...extra, model: `openclaw/${agent}`, messages: [{ role: "user", content: `Please read these files.\n${PROBE}${JSON.stringify(steps)}` }] }),
    signal: AbortSignal.timeout(150_000),
  });
  const text = await res.text();
  let reply = text;
  try {
    reply = String((JSON.parse(text) as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message?.content ?? text);
  } catch {
    /* not JSON: keep the raw body for the assertion message */
  }
  // Side calls of other agents (recaps) can land during this turn: keep only this agent's.
  return { status: res.status, reply, ms: Date.now() - started, upstream: model!.requests.slice(before).filter((r) => r.agent === agent) };
}

/** The tool results in the conversation of the turn's last main call (the one that still offers tools). */
const toolResults = (upstream: SeenRequest[]) => (upstream.filter((r) => r.body?.tools?.length).at(-1)?.body?.messages ?? []).filter((m) => m.role === "tool").map(messageText);

describe("shared gateway, restricted trust (examples/three-users.yaml)", () => {
  test("alice's agent cannot read, change or relay bob's files; bob's agent can read his own", async () => {
    model = await startScriptedModel();
    const port = await freeLoopbackPort();
    prep = prepareSharedGateway(dataDir, port, (doc) => {
      pointProvidersAt(doc, model!.baseUrl);
      // Test-only: the OpenAI-compatible endpoint is how the test speaks as one agent; production leaves it off.
      (doc["gateway"] as Record<string, unknown>)["http"] = { endpoints: { chatCompletions: { enabled: true } } };
    });
    const entries = (prep.doc["agents"] as { entries: Record<string, { tools: unknown; workspace: string }> }).entries;
    console.log(`[isolation] rendered: tools=${JSON.stringify(prep.doc["tools"])} alice.tools=${JSON.stringify(entries["alice"]!.tools)}`);
    expect(entries["alice"]!.workspace).toBe(workspaceOf(dataDir, "alice"));

    for (const u of ["alice", "bob"]) mkdirSync(workspaceOf(dataDir, u), { recursive: true, mode: 0o700 });
    writeFileSync(secretPath, secretText, { mode: 0o600 });

    gw = await startGateway({ runtime: rt, stateDir: prep.shared.stateDir, configPath: prep.shared.configPath, port, env: prep.env, readyTimeoutMs: 120_000 });
    console.log(`[isolation] gateway /health ok after ${gw.readyAfterMs} ms on 127.0.0.1:${port}; upstream ${model.baseUrl}`);

    // Control first: the read tool works at all, and bob's turn leaves the marker in his session too.
    const bob = await ask("bob", [secretPath], { user: BOB_USER });
    console.log(`[isolation] bob: HTTP ${bob.status} in ${bob.ms} ms, ${bob.upstream.length} upstream call(s), tools offered: ${JSON.stringify(toolNames(bob.upstream[0]?.body))}`);
    console.log(`[isolation] bob reply: ${bob.reply.slice(0, 300)}`);
    expect(bob.status, bob.reply).toBe(200);
    expect(bob.reply).toContain(marker);

    // Where the marker now lives outside bob's workspace (his agent's SQLite, the shared log).
    const stateCopies = filesContaining(prep.shared.stateDir, marker).slice(0, 3);
    console.log(`[isolation] marker copies in the shared state dir: ${JSON.stringify(stateCopies.map((p) => path.relative(dataDir, p)))}`);

    const steps: ProbeStep[] = [
      // Files, through every file tool the gateway offers.
      secretPath,
      path.relative(workspaceOf(dataDir, "alice"), secretPath), // ../../bob/workspace/SECRET.md
      ...stateCopies,
      prep.shared.configPath,
      { tool: "write", args: { path: path.join(bobWorkspace, "PWNED.md"), content: "alice was here" } },
      { tool: "edit", args: { path: secretPath, edits: [{ oldText: "# Bob's notes", newText: "# Alice's notes" }] } },
      { tool: "apply_patch", args: { input: `*** Begin Patch\n*** Add File: ${path.join(bobWorkspace, "PATCHED.md")}\n+alice\n*** End Patch` } },
      { tool: "apply_patch", args: { input: `*** Begin Patch\n*** Update File: ${secretPath}\n@@\n-# Bob's notes\n+# Alice's notes\n*** End Patch` } },
      // Denied tools, directly and through the Tool Search indirection the gateway also offers.
      { tool: "exec", args: { command: `cat ${secretPath}` } },
      { tool: "tool_call", args: { id: "exec", args: { command: `cat ${secretPath}` } } },
      { tool: "tool_call", args: { id: "read", args: { path: secretPath } } },
      // Bob's agent as a proxy: his transcript, his session, a subagent running as bob.
      { tool: "tool_call", args: { id: "sessions_list", args: {} } },
      { tool: "tool_call", args: { id: "sessions_history", args: { sessionKey: bobSessionKey, includeTools: true } } },
      { tool: "tool_call", args: { id: "sessions_send", args: { sessionKey: bobSessionKey, message: `${PROBE}${JSON.stringify([secretPath])}`, timeoutSeconds: 60 } } },
      { tool: "tool_call", args: { id: "sessions_send", args: { agentId: "bob", message: `${PROBE}${JSON.stringify([secretPath])}`, timeoutSeconds: 60 } } },
      { tool: "tool_call", args: { id: "sessions_spawn", args: { agentId: "bob", task: `${PROBE}${JSON.stringify([secretPath])}` } } },
      { tool: "tool_search", args: { queries: [{ query: "run shell command" }, { query: "session history" }, { query: "send message" }, { query: "read file" }] } },
    ];
    const alice = await ask("alice", steps);
    const aliceTools = toolNames(alice.upstream[0]?.body);
    const results = toolResults(alice.upstream);
    console.log(`[isolation] alice: HTTP ${alice.status} in ${alice.ms} ms, ${alice.upstream.length} upstream call(s), tools offered: ${JSON.stringify(aliceTools)}`);
    for (const [i, r] of results.entries())
      console.log(`[isolation] alice step ${i} ${JSON.stringify(steps[i]).slice(0, 140)}\n  -> ${r.includes(marker) ? "CONTAINS BOB'S MARKER: " : ""}${r.replace(/\s+/g, " ").slice(0, 400)}`);

    // A subagent or a relayed reply reports back later: give it a moment to reach alice's session.
    await new Promise((r) => setTimeout(r, 8_000));
    const aliceBodies = model.requests.filter((x) => x.agent === "alice");

    expect(alice.status, alice.reply).toBe(200);
    expect(aliceTools).toContain("read");
    expect(aliceTools.filter((n) => RUNS_CODE.test(n))).toEqual([]);
    // Every step really went through a tool: a refusal by the gateway, not a model that never asked.
    expect(results.length).toBe(steps.length);
    expect(steps.filter((_, i) => results[i]?.includes(marker)).map((s) => JSON.stringify(s).slice(0, 100))).toEqual([]);
    expect(alice.reply).not.toContain(marker);
    expect(aliceBodies.filter((r) => r.raw.includes(marker.slice(-16))).length).toBe(0);
    expect(readFileSync(secretPath, "utf8")).toBe(secretText);
    expect(existsSync(path.join(bobWorkspace, "PWNED.md"))).toBe(false);
    expect(existsSync(path.join(bobWorkspace, "PATCHED.md"))).toBe(false);

    const stopStarted = Date.now();
    await gw.stop();
    console.log(`[isolation] gateway stopped in ${Date.now() - stopStarted} ms`);
    gw = undefined;
  }, 240_000);
});
