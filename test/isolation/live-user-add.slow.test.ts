/** Real runtime: a user added to a running shared gateway (the config and key file wirebot renders) answers on its own key, live, while the other tenants keep answering. */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { litellmKeyVar, resolveLayout } from "../../installer/config/layout.ts";
import { parseConfig } from "../../installer/config/load.ts";
import { gatewayConfigObject } from "../../installer/render/gateway-config.ts";
import { freeLoopbackPort, getTestRuntime, startGateway, type GatewayHandle, type TestRuntime } from "../support/runtime.ts";
import { testWorkDir } from "../support/work-dir.ts";
import { startScriptedModel, type ScriptedModel } from "./scripted-model.ts";
import { pointProvidersAt, prepareSharedGateway, usePackagePlugins, workspaceOf, type PreparedGateway } from "./shared-gateway.ts";

const work = testWorkDir("wb-live-add-");
const dataDir = path.join(work, "data");
const ZOE_KEY = `sk-zoe-${randomBytes(12).toString("hex")}`;

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
  rmSync(work, { recursive: true, force: true });
}, 30_000);

/** The test's documented edits, as in prepareSharedGateway: the scripted upstream, the chat endpoint, no channels. */
function testEdits(doc: Record<string, unknown>, keysPath: string): void {
  pointProvidersAt(doc, model!.baseUrl);
  (doc["gateway"] as Record<string, unknown>)["http"] = { endpoints: { chatCompletions: { enabled: true } } };
  doc["channels"] = {};
  doc["bindings"] = [];
  usePackagePlugins(doc);
  const providers = (doc["secrets"] as { providers: Record<string, { path: string }> }).providers;
  for (const p of Object.values(providers)) p.path = keysPath;
}

/** The shared gateway's config for examples/three-users.yaml plus one user, rendered by wirebot. */
function renderWithZoe(keysPath: string): Record<string, unknown> {
  const text = readFileSync(new URL("../../examples/three-users.yaml", import.meta.url), "utf8").replace(/(\nusers:\n)/, "$1  - id: zoe\n    name: Zoe\n");
  const config = parseConfig(text, "three-users + zoe", { WIREBOT_PATHS__DATA: dataDir, WIREBOT_GATEWAY__PORT: String(prep.shared.port) });
  const layout = resolveLayout(config);
  const doc = gatewayConfigObject(config, layout, layout.shared!);
  testEdits(doc, keysPath);
  return doc;
}

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

async function ask(agent: string): Promise<{ status: number; auth: string[] }> {
  const before = model!.requests.length;
  const res = await fetch(`${gw!.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${prep.token}`, "content-type": "application/json" },
    body: JSON.stringify({ model: `openclaw/${agent}`, messages: [{ role: "user", content: "hello" }] }),
    signal: AbortSignal.timeout(120_000),
  });
  await res.text();
  return { status: res.status, auth: model!.requests.slice(before).filter((r) => r.agent === agent).map((r) => r.auth ?? "") };
}

/** Waits for the runtime's verdict on a config change in its log: applied live, or needing a restart. */
async function reloadOutcome(sinceChars: number): Promise<string> {
  const started = Date.now();
  for (;;) {
    const lines = gw!.logs().slice(sinceChars).split("\n").filter((l) => /\[reload\]/.test(l));
    const verdict = lines.find((l) => /hot reload applied|requires gateway restart|reload skipped/.test(l));
    if (verdict) return verdict;
    if (Date.now() - started > 30_000) throw new Error(`no reload verdict within 30 s:\n${lines.join("\n")}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("a user added to a running shared gateway", () => {
  test("is taken live: same process, the new agent answers on its own key from the key file, the others answer throughout", async () => {
    model = await startScriptedModel();
    const port = await freeLoopbackPort();
    prep = prepareSharedGateway(dataDir, port, (doc) => testEdits(doc, path.join(dataDir, "gateway", "agent-keys.json")));
    for (const u of ["alice", "bob", "carol", "zoe"]) mkdirSync(workspaceOf(dataDir, u), { recursive: true, mode: 0o700 });
    gw = await startGateway({ runtime: rt, stateDir: prep.shared.stateDir, configPath: prep.shared.configPath, port, env: prep.env, readyTimeoutMs: 120_000 });
    const keysPath = path.join(prep.shared.stateDir, "agent-keys.json");
    expect((await ask("alice")).status).toBe(200);

    // Alice chats all through the change: no turn of hers may fail while the gateway takes the new user.
    let stop = false;
    const aliceTurns: number[] = [];
    const aliceLoop = (async () => {
      while (!stop) aliceTurns.push((await ask("alice")).status);
    })();

    // The order `wirebot apply` keeps on the box: the key file first (the secrets step), then the config.
    const keys = JSON.parse(readFileSync(keysPath, "utf8")) as Record<string, string>;
    writeAtomic(keysPath, JSON.stringify({ ...keys, [litellmKeyVar("zoe")]: ZOE_KEY }) + "\n");
    const since = gw.logs().length;
    writeAtomic(prep.shared.configPath, JSON.stringify(renderWithZoe(keysPath), null, 2) + "\n");
    const verdict = await reloadOutcome(since);
    console.log(`[live-add] ${verdict.trim()}`);
    expect(verdict).toMatch(/config hot reload applied/);
    // Only the agent roster and its provider: no plugin reload (that would drop replies in flight, and for a
    // moment run without the tenant guard, whose reply hook the runtime treats as fail-open).
    const hot = /applied \(([^)]*)\)/.exec(verdict)?.[1]?.split(", ") ?? [];
    expect(hot.length).toBeGreaterThan(0);
    expect(hot.filter((p) => !/^(agents|models)\./.test(p))).toEqual([]);

    const zoe = await ask("zoe");
    stop = true;
    await aliceLoop;
    console.log(`[live-add] alice's turns during the change: ${aliceTurns.join(" ")}`);
    expect(zoe.status).toBe(200);
    expect(zoe.auth.length).toBeGreaterThan(0);
    expect(new Set(zoe.auth)).toEqual(new Set([`Bearer ${ZOE_KEY}`]));
    expect(aliceTurns.length).toBeGreaterThan(0);
    expect(aliceTurns.every((s) => s === 200)).toBe(true);
    // Still the process that was started: nothing restarted it.
    expect(() => process.kill(gw!.pid, 0)).not.toThrow();
    expect(gw.logs().slice(since)).not.toMatch(/gateway restart|\[shutdown\]|was reloaded/);
  }, 300_000);

  test("red: with the key in the environment (as before), a user added live has no key and cannot answer", async () => {
    // The same change with zoe's key as an env ref: the running process's environment was fixed at its start.
    const keysPath = path.join(prep.shared.stateDir, "agent-keys.json");
    const doc = renderWithZoe(keysPath) as { models: { providers: Record<string, { apiKey: unknown }> }; agents: { entries: Record<string, unknown> } };
    const renamed = JSON.parse(JSON.stringify(doc).replaceAll("zoe", "yann").replaceAll("Zoe", "Yann")) as typeof doc;
    renamed.models.providers["litellm-yann"]!.apiKey = { source: "env", provider: "default", id: litellmKeyVar("yann") };
    mkdirSync(workspaceOf(dataDir, "yann"), { recursive: true, mode: 0o700 });
    const since = gw!.logs().length;
    writeAtomic(prep.shared.configPath, JSON.stringify(renamed, null, 2) + "\n");
    await reloadOutcome(since);
    const yann = await ask("yann");
    console.log(`[live-add] red case: a live-added agent with an env-ref key answered ${yann.status}; upstream calls with a key: ${yann.auth.filter((a) => a.startsWith("Bearer sk-")).length}`);
    expect(yann.auth.filter((a) => a.startsWith("Bearer sk-"))).toEqual([]);
    expect(yann.status).not.toBe(200);
  }, 300_000);
});
