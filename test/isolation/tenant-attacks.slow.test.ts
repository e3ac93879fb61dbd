/** Real runtime, real Telegram loop: alice attacks bob through the shared gateway we render, one vector per turn; each vector is shown to turn red on a weakened config (DESIGN.md §Trust modes). */
import { testWorkDir } from "../support/work-dir.ts";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { litellmKeyVar, meteredAgents, resolveLayout, workspaceDir } from "../../installer/config/layout.ts";
import { ConfigSchema, type Config } from "../../installer/config/schema.ts";
import { gatewayConfigObject } from "../../installer/render/gateway-config.ts";
import { freeLoopbackPort, getTestRuntime, startGateway, type GatewayHandle, type TestRuntime } from "../support/runtime.ts";
import { startTelegramStandin, type TelegramStandin } from "../telegram-standin/server.ts";
import { messageText, PROBE, probeSteps, startScriptedModel, type ProbeStep, type ScriptedModel, type SeenRequest } from "./scripted-model.ts";
import { usePackagePlugins } from "./shared-gateway.ts";
import { weaken } from "./weaken.ts";
import { startApi } from "../../installer/meter/api.ts";
import { openLedgerDb } from "../../installer/meter/db.ts";
import { Ledger } from "../../installer/meter/ledger.ts";
import { createTraceApi } from "../../installer/meter/trace-api.ts";
import { TraceStore } from "../../installer/meter/traces.ts";
import { deriveToken, traceLabel, TRACE_TOKEN_VAR } from "../../installer/transparency/tokens.ts";
import { captureLogger } from "../litellm-standin/fixtures.ts";

const ALICE = "123456789";
const BOB = "234567890";
const STRANGER = "999000111";
const BOT_TOKEN = `7000002:${randomBytes(18).toString("base64url")}`;
const say = (s: string) => console.log(`[attacks] ${s}`);

/** What one attack turn left behind: alice's reply, the bot's sends and uploads, and the upstream calls. */
interface Turn {
  reply: string;
  sentTo: (chat: string) => string[];
  uploadsTo: (chat: string) => Buffer[];
  upstream: SeenRequest[];
}

interface Vector {
  name: string;
  /** the tools whose calls this vector makes: each must be on the record as a denied trace of alice's agent */
  deniedTools?: string[];
  /** the chat messages alice sends, in order; each waits for the bot's answer to her */
  messages: (ctx: Ctx) => string[];
  /** true when the attack got through */
  leaked: (t: Turn, ctx: Ctx) => boolean;
}

// Where a Telegram DM of bob's lands: his agent's main session, or a per-peer one (dmScope).
const BOB_SESSION_KEYS = ["agent:bob:main", `agent:bob:telegram:direct:${BOB}`];

interface Ctx {
  /** in bob's files only */
  marker: string;
  /** in what alice tries to send (her own words: they stay in her session) */
  tag: string;
  /** in what bob told his own agent */
  bobSaid: string;
  keys: Record<string, string>;
  bobInbound: string;
  bobSecret: string;
  config: Config;
}

const probe = (steps: ProbeStep[]) => `${PROBE}${JSON.stringify(steps)}`;
const send = (target: string, extra: Record<string, unknown>) => ({ action: "send", channel: "telegram", target, ...extra });

const VECTORS: Vector[] = [
  {
    name: "message tool: a message into bob's chat through the shared bot (directly and through tool_call)",
    deniedTools: ["message", "tool_call"],
    messages: (c) => [probe([{ tool: "message", args: send(BOB, { message: `${c.tag} from alice` }) }, { tool: "tool_call", args: { id: "message", args: send(BOB, { message: `${c.tag} via tool_call` }) } }])],
    leaked: (t, c) => t.sentTo(BOB).some((s) => s.includes(c.tag)),
  },
  {
    name: "message tool: a message to a stranger outside the allowlist",
    deniedTools: ["message", "tool_call"],
    messages: (c) => [probe([{ tool: "message", args: send(STRANGER, { message: `${c.tag} to a stranger` }) }, { tool: "tool_call", args: { id: "message", args: send(STRANGER, { message: c.tag }) } }])],
    leaked: (t, c) => t.sentTo(STRANGER).some((s) => s.includes(c.tag)),
  },
  {
    name: "message attachment: bob's inbound document from the shared media dir, uploaded into alice's own chat",
    deniedTools: ["message", "tool_call"],
    messages: (c) => [probe([{ tool: "message", args: send(ALICE, { message: "here", media: c.bobInbound }) }, { tool: "tool_call", args: { id: "message", args: send(ALICE, { message: "here", media: c.bobInbound }) } }])],
    leaked: (t, c) => t.uploadsTo(ALICE).some((b) => b.includes(c.marker)),
  },
  {
    name: "MEDIA: line in the reply: bob's inbound document attached to alice's answer",
    messages: (c) => [probe([{ say: `Here it is.\n\nMEDIA:${c.bobInbound}` }])],
    leaked: (t, c) => t.uploadsTo(ALICE).some((b) => b.includes(c.marker)),
  },
  {
    name: "files: bob's workspace through read, a ../ path and exec",
    deniedTools: ["read", "exec"],
    messages: (c) => [probe([c.bobSecret, path.relative(workspaceDir(c.config, "alice"), c.bobSecret), { tool: "exec", args: { command: `cat ${c.bobSecret}` } }])],
    leaked: (t, c) => t.reply.includes(c.marker) || t.upstream.some((r) => r.raw.includes(c.marker)),
  },
  {
    name: "sessions tools: bob's conversation through sessions_list and sessions_history",
    deniedTools: ["tool_call"],
    messages: () => [probe([{ tool: "tool_call", args: { id: "sessions_list", args: {} } }, ...BOB_SESSION_KEYS.map((sessionKey) => ({ tool: "tool_call", args: { id: "sessions_history", args: { sessionKey, includeTools: true } } }))])],
    leaked: (t, c) => t.upstream.some((r) => r.raw.includes(c.bobSaid)),
  },
  {
    name: "/model onto bob's provider, then a normal turn: who pays",
    messages: () => ["/model litellm-bob/gpt-4o-mini", "hello again"],
    // Every call of alice's turns must carry alice's key; one on bob's key is bob paying for alice.
    leaked: (t, c) => t.upstream.some((r) => r.auth !== `Bearer ${c.keys["alice"]}`),
  },
  {
    name: "owner-only chat command: /config show (the whole gateway config, every tenant in it)",
    messages: () => ["/config show"],
    leaked: (t) => t.reply.includes("litellm-bob"),
  },
];

const work = testWorkDir("wb-attacks-");
let rt: TestRuntime;
let model: ScriptedModel;
let tg: TelegramStandin;

beforeAll(async () => {
  rt = await getTestRuntime();
  model = await startScriptedModel();
  tg = await startTelegramStandin({ token: BOT_TOKEN });
}, 600_000);

afterAll(async () => {
  await tg?.close();
  await model?.close();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

/** Waits until neither the model nor the bot has been called for 2 s: a turn's trailing sends, uploads and side calls are in. */
async function quiet(): Promise<void> {
  const deadline = Date.now() + 60_000;
  const last = () => Math.max(model.requests.at(-1)?.at ?? 0, tg.calls.filter((c) => c.method !== "getUpdates").at(-1)?.at ?? 0);
  while (Date.now() - last() < 2_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
}

/** Two shared Telegram users, as `wirebot install` would render them, the model at the scripted upstream. */
function attackConfig(dataDir: string, port: number): Config {
  return ConfigSchema.parse({
    domain: "wirebot.example.org",
    mode: "shared",
    gateway: { port },
    paths: { data: dataDir },
    litellm: { baseUrl: model.baseUrl.replace(/\/v1$/, ""), models: ["gpt-4o-mini"], defaultModel: "gpt-4o-mini" },
    secrets: { backend: "file", file: { path: "/etc/wirebot/test-secrets.env" }, map: { TELEGRAM_BOT_TOKEN: "wirebot/telegram-bot-token" } },
    channels: { telegram: { apiRoot: tg.apiRoot } },
    users: [
      { id: "alice", name: "Alice", channels: { telegram: { peer: ALICE } } },
      { id: "bob", name: "Bob", channels: { telegram: { peer: BOB } } },
    ],
  });
}

/** Starts the gateway on the rendered config (optionally weakened), plants bob's secrets, runs every vector. */
async function runVectors(label: "rendered" | "weakened"): Promise<{ leaked: Map<string, boolean>; unrun: string[]; normalReplies: boolean; undenied: string[] }> {
  const dataDir = path.join(work, label);
  const port = await freeLoopbackPort();
  // The trace daemon of the appliance (its API, a real ledger): every tool call alice makes must be on the record.
  const apiToken = randomBytes(24).toString("hex");
  const meterPort = await freeLoopbackPort();
  const config = { ...attackConfig(dataDir, port), metering: { ...attackConfig(dataDir, port).metering, api: { port: meterPort } } };
  mkdirSync(dataDir, { recursive: true });
  const ledgerDb = openLedgerDb(path.join(dataDir, "ledger.sqlite"));
  const traces = new TraceStore(ledgerDb);
  const daemon = await startApi({ ledger: new Ledger(ledgerDb, "i"), config, token: apiToken, traces: createTraceApi({ config, apiToken, store: traces }), log: captureLogger().log }, { port: meterPort });
  const layout = resolveLayout(config);
  const g = layout.shared!;
  const doc = gatewayConfigObject(config, layout, g);
  usePackagePlugins(doc);
  if (label === "weakened") weaken(doc, "alice", ALICE);
  mkdirSync(g.stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(g.configPath, JSON.stringify(doc, null, 2) + "\n", { mode: 0o600 });
  for (const u of config.users) mkdirSync(workspaceDir(config, u.id), { recursive: true, mode: 0o700 });

  const marker = `WB-BOB-${randomBytes(10).toString("hex")}`;
  const bobSecret = path.join(workspaceDir(config, "bob"), "SECRET.md");
  writeFileSync(bobSecret, `# Bob's notes\n${marker}\n`, { mode: 0o600 });
  // Where the runtime stores a document bob received: <stateDir>/media/inbound/<name>---<uuid>.<ext>.
  const inboundDir = path.join(g.stateDir, "media", "inbound");
  mkdirSync(inboundDir, { recursive: true, mode: 0o700 });
  const bobInbound = path.join(inboundDir, `bank-statement---${randomUUID()}.txt`);
  writeFileSync(bobInbound, `bob's bank statement ${marker}\n`, { mode: 0o600 });

  const keys: Record<string, string> = {};
  const env: Record<string, string> = { OPENCLAW_GATEWAY_TOKEN: randomBytes(24).toString("hex"), TELEGRAM_BOT_TOKEN: BOT_TOKEN, [TRACE_TOKEN_VAR]: deriveToken(apiToken, traceLabel(g.id)) };
  for (const a of meteredAgents(config, layout)) env[litellmKeyVar(a.id)] = keys[a.id] = `sk-${a.id}-${randomBytes(12).toString("hex")}`;
  const ctx: Ctx = { marker, tag: `WB-ALICE-${randomBytes(8).toString("hex")}`, bobSaid: `WB-BOBSAID-${randomBytes(8).toString("hex")}`, keys, bobInbound, bobSecret, config };

  const gw: GatewayHandle = await startGateway({ runtime: rt, stateDir: g.stateDir, configPath: g.configPath, port, env, readyTimeoutMs: 120_000 });
  const leaked = new Map<string, boolean>();
  /** tool vectors some of whose calls are not on the record as denied traces of alice's agent */
  const undenied: string[] = [];
  /** vectors whose tool steps did not all reach a tool: a held verdict there would prove nothing */
  const unrun: string[] = [];
  let normalReplies = false;
  try {
    await tg.waitForPoller(90_000);
    say(`${label}: gateway healthy after ${gw.readyAfterMs} ms, Telegram poller up`);
    // Bob has a conversation of his own before alice starts.
    const bobAt = Date.now();
    tg.injectPrivateMessage(BOB, `my door code is ${ctx.bobSaid}`);
    await tg.waitForSent(BOB, { since: bobAt, timeoutMs: 120_000 });
    await quiet();
    for (const v of VECTORS) {
      const since = Date.now();
      for (const text of v.messages(ctx)) {
        const at = Date.now();
        tg.injectPrivateMessage(ALICE, text);
        // A reply whose attachment the runtime refuses may never come: no answer is a verdict, not a hang.
        await tg.waitForSent(ALICE, { since: at, timeoutMs: 90_000, uploads: true }).catch(() => say(`${label}: no answer to alice within 90 s`));
        await quiet();
      }
      const turn: Turn = {
        // Everything the bot told alice in the turn: replies, their streamed edits, command answers.
        reply: tg.sent.filter((s) => s.chatId === ALICE && s.at >= since).map((s) => s.plain).join("\n"),
        sentTo: (chat) => tg.sent.filter((s) => s.chatId === chat && s.at >= since).map((s) => s.plain),
        uploadsTo: (chat) => tg.uploads.filter((u) => u.chatId === chat && u.at >= since).map((u) => u.raw),
        upstream: model.requests.filter((r) => r.at >= since && r.body?.messages !== undefined),
      };
      const lastMain = turn.upstream.filter((r) => r.body?.tools?.length).at(-1)?.body?.messages ?? [];
      // This turn's tool results: those after its own probe message (earlier turns are in the conversation too).
      const probeAt = lastMain.map((m) => m.role === "user" && probeSteps(messageText(m)) !== null).lastIndexOf(true);
      // (a turn without a probe of its own has no tool steps either: toolSteps below is 0 then)
      const results = probeAt < 0 ? [] : lastMain.slice(probeAt + 1).filter((m) => m.role === "tool").map(messageText);
      const got = v.leaked(turn, ctx);
      const toolSteps = v.messages(ctx).flatMap((m) => (m.startsWith(PROBE) ? (JSON.parse(m.slice(PROBE.length)) as ProbeStep[]) : [])).filter((x) => typeof x === "string" || "tool" in x).length;
      if (results.length < toolSteps) unrun.push(`${v.name}: ${results.length} of ${toolSteps} tool results`);
      leaked.set(v.name, got);
      if (v.deniedTools) {
        // the plugin sends about once a second
        await new Promise((res) => setTimeout(res, 2_500));
        const mine = traces.list({ agents: ["alice"], sinceMs: since - 1000, limit: 10_000 });
        for (const t of mine) say(`${label}: trace alice ${t.tool} ${t.action} ${t.reason ?? ""}`);
        const missing = v.deniedTools.filter((tool) => !mine.some((t) => t.tool === tool && t.action === "deny"));
        const allowedTool = mine.filter((t) => t.action === "allow" && v.deniedTools!.includes(t.tool));
        if (missing.length > 0 || allowedTool.length > 0) undenied.push(`${v.name}: no denied trace of ${missing.join(", ") || "-"}; allowed: ${allowedTool.map((t) => t.tool).join(", ") || "-"}`);
      }
      for (const u of tg.uploads.filter((x) => x.at >= since)) say(`${label}: upload ${u.method} to chat '${u.chatId}', ${u.raw.length} bytes`);
      say(`${label}: ${got ? "LEAKED" : "held  "} ${v.name}\n    reply: ${turn.reply.replace(/\s+/g, " ").slice(0, 300)}\n    tool results: ${JSON.stringify(results.map((r) => r.replace(/\s+/g, " ").slice(0, 200)))}`);
    }
    // A normal turn for each tenant still gets its answer (the message tool is gone; replies are not it).
    const since = Date.now();
    tg.injectPrivateMessage(ALICE, "hello");
    tg.injectPrivateMessage(BOB, "hello");
    await Promise.all([tg.waitForSent(ALICE, { since, timeoutMs: 120_000 }), tg.waitForSent(BOB, { since, timeoutMs: 120_000 })]);
    await quiet();
    // The scripted model answers a plain message with exactly "ok" (possibly edited into a placeholder).
    const answered = (chat: string) => tg.sent.some((s) => s.chatId === chat && s.at >= since && s.plain.trim() === "ok");
    normalReplies = answered(ALICE) && answered(BOB);
    say(`${label}: normal turns answered: alice ${answered(ALICE)}, bob ${answered(BOB)}; sent: ${JSON.stringify(tg.sent.filter((s) => s.at >= since).map((s) => [s.chatId, s.plain.slice(0, 60)]))}`);
  } finally {
    await gw.stop();
    await daemon.close();
    // bob's turns call no tool (the scripted model answers him "ok"): nothing alice did may be on his record
    if (label === "rendered" && traces.list({ agents: ["bob"], limit: 10_000 }).length > 0) undenied.push("bob's record has calls bob never made");
    ledgerDb.close();
    // For whoever adapts the vectors to a new runtime: every upstream body of the run.
    if (process.env["WB_ATTACKS_DUMP"]) writeFileSync(`${process.env["WB_ATTACKS_DUMP"]}.${label}.json`, JSON.stringify(model.requests, null, 2));
  }
  return { leaked, unrun, normalReplies, undenied };
}

describe("a hostile tenant against the shared gateway (real openclaw, Telegram stand-in, scripted model)", () => {
  let rendered: Awaited<ReturnType<typeof runVectors>>;

  test("on the config wirebot renders, every vector is held and both tenants still get their replies", async () => {
    rendered = await runVectors("rendered");
    expect(rendered.unrun).toEqual([]);
    expect(Object.fromEntries(rendered.leaked)).toEqual(Object.fromEntries(VECTORS.map((v) => [v.name, false])));
    expect(rendered.normalReplies).toBe(true);
    // and every tool the attacker reached for is on the record as a denied call of alice's agent
    expect(rendered.undenied).toEqual([]);
  }, 900_000);

  test("on a weakened config every vector gets through, so each check above can see a leak", async () => {
    const weakened = await runVectors("weakened");
    expect(weakened.unrun).toEqual([]);
    // the trace check sees it too: each tool vector has calls on the record that were not denied
    expect(weakened.undenied.map((u) => u.split(":")[0])).toEqual(VECTORS.filter((v) => v.deniedTools).map((v) => v.name.split(":")[0]));
    expect(Object.fromEntries(weakened.leaked)).toEqual(Object.fromEntries(VECTORS.map((v) => [v.name, true])));
  }, 900_000);
});
