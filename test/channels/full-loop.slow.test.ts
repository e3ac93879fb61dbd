/** The whole chat loop with a real gateway: Telegram stand-in → routed agent → LiteLLM stand-in → reply → ledger. */
import { testWorkDir } from "../support/work-dir.ts";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { litellmKeyVar, resolveLayout } from "../../installer/config/layout.ts";
import { ConfigSchema, type Config } from "../../installer/config/schema.ts";
import { captureIo } from "../../installer/io.ts";
import { createLogger } from "../../installer/log.ts";
import { openLedgerDb } from "../../installer/meter/db.ts";
import { Ledger } from "../../installer/meter/ledger.ts";
import { runReconcile } from "../../installer/meter/run.ts";
import { gatewayConfigObject } from "../../installer/render/gateway-config.ts";
import { parseChannelsStatus } from "../../installer/channels/channels-status.ts";
import { createNodeHost } from "../../installer/host/node-host.ts";
import { openclawCli } from "../../installer/runtime/openclaw-cli.ts";
import { replyText } from "../litellm-standin/chat.ts";
import { seedKey, startStandin, type Standin } from "../litellm-standin/server.ts";
import { sha256 } from "../litellm-standin/store.ts";
import { freeLoopbackPort, getTestRuntime, startGateway, type GatewayHandle } from "../support/runtime.ts";
import { startTelegramStandin, type TelegramStandin } from "../telegram-standin/server.ts";

const ALICE_PEER = "123456789";
const BOB_PEER = "234567890";
const STRANGER = "999000111";
const BOT_TOKEN = `7000001:${randomBytes(18).toString("base64url")}`;
const KEYS = { alice: `sk-${randomBytes(16).toString("base64url")}`, bob: `sk-${randomBytes(16).toString("base64url")}` };
// The shared gateway's system agent has its own key; a chat turn must never spend it.
const SYSTEM_KEY = `sk-${randomBytes(16).toString("base64url")}`;

const work = testWorkDir("wb-full-loop-");
let tg: TelegramStandin | undefined;
let lit: Standin | undefined;
let gw: GatewayHandle | undefined;
let config: Config;
let runtimePaths: { nodeBin: string; gatewayEntry: string };
let gatewayEnv: Record<string, string>;
const timings: Record<string, number> = {};

/** Two users of the shared gateway, each on their own Telegram peer, with LiteLLM at the stand-in. */
function twoUserConfig(litellmUrl: string, telegramApiRoot: string, port: number): Config {
  return ConfigSchema.parse({
    domain: "wirebot.example.org",
    mode: "shared",
    gateway: { port },
    paths: { data: path.join(work, "data") },
    litellm: { baseUrl: litellmUrl, models: ["gpt-4o-mini"], defaultModel: "gpt-4o-mini" },
    secrets: { backend: "file", file: { path: "/etc/wirebot/test-secrets.env" }, map: { TELEGRAM_BOT_TOKEN: "wirebot/telegram-bot-token" } },
    // Rows are readable as soon as the stand-in has flushed them: no settle lag in a test.
    metering: { settleSeconds: 0 },
    // the Bot API stand-in, through the same key a sysadmin uses for a self-hosted Bot API server
    channels: { telegram: { apiRoot: telegramApiRoot } },
    users: [
      { id: "alice", name: "Alice", channels: { telegram: { peer: ALICE_PEER } } },
      { id: "bob", name: "Bob", channels: { telegram: { peer: BOB_PEER } } },
    ],
  });
}

beforeAll(async () => {
  const runtime = await getTestRuntime();
  tg = await startTelegramStandin({ token: BOT_TOKEN });
  lit = await startStandin();
  seedKey(lit.store, KEYS.alice, "wirebot/alice");
  seedKey(lit.store, KEYS.bob, "wirebot/bob");
  seedKey(lit.store, SYSTEM_KEY, "wirebot/wirebot");

  config = twoUserConfig(lit.url, tg.apiRoot, await freeLoopbackPort());
  const layout = resolveLayout(config);
  const g = layout.shared!;
  const doc = gatewayConfigObject(config, layout, g);
  mkdirSync(g.stateDir, { recursive: true, mode: 0o700 });
  for (const u of config.users) mkdirSync(path.join(config.paths.data, "users", u.id, "workspace"), { recursive: true, mode: 0o700 });
  writeFileSync(g.configPath, JSON.stringify(doc, null, 2) + "\n", { mode: 0o600 });

  runtimePaths = runtime;
  gatewayEnv = {
    OPENCLAW_GATEWAY_TOKEN: randomBytes(24).toString("hex"),
    TELEGRAM_BOT_TOKEN: BOT_TOKEN,
    [litellmKeyVar("alice")]: KEYS.alice,
    [litellmKeyVar("bob")]: KEYS.bob,
    [litellmKeyVar("wirebot")]: SYSTEM_KEY,
  };
  gw = await startGateway({ runtime, stateDir: g.stateDir, configPath: g.configPath, port: g.port, env: gatewayEnv });
  timings["gatewayHealthMs"] = gw.readyAfterMs;
  const t0 = Date.now();
  await tg.waitForPoller(60_000);
  timings["pollerAfterHealthMs"] = Date.now() - t0;
}, 600_000);

afterAll(async () => {
  // Gateway first: with Telegram gone it would wait out its whole shutdown budget.
  await gw?.stop();
  await tg?.close();
  await lit?.close();
  rmSync(work, { recursive: true, force: true });
  console.log(`[full-loop] timings ${JSON.stringify(timings)}; telegram methods called: ${tg ? JSON.stringify(tg.methodsCalled()) : "-"}; unknown: ${tg ? JSON.stringify([...tg.unknownMethods]) : "-"}`);
});

describe("a real shared gateway with two users on one Telegram bot", () => {
  test("each peer gets its own agent's reply on its own key; a stranger gets nothing; the ledger has every turn", async () => {
    const t = tg!;
    const l = lit!;
    const chatRequests = () => l.requests.filter((r) => r.startsWith("/v1/chat/completions") || r.startsWith("/chat/completions")).length;
    const before = chatRequests();

    // The stranger writes first, so by the time both replies are in, it has long been handled.
    const since = Date.now();
    t.injectPrivateMessage(STRANGER, "hello, who are you?");
    t.injectPrivateMessage(ALICE_PEER, "Hi, this is Alice.");
    t.injectPrivateMessage(BOB_PEER, "Hi, this is Bob.");

    const aliceReply = await t.waitForSent(ALICE_PEER, { since, timeoutMs: 90_000 });
    timings["aliceReplyMs"] = aliceReply.at - since;
    const bobReply = await t.waitForSent(BOB_PEER, { since, timeoutMs: 90_000 });
    timings["bobReplyMs"] = bobReply.at - since;
    expect(aliceReply.plain).toContain(replyText("wirebot/alice"));
    expect(bobReply.plain).toContain(replyText("wirebot/bob"));

    // Give a late answer to the stranger the time of one more turn to show up.
    await new Promise((r) => setTimeout(r, 5_000));
    expect(t.sent.filter((s) => s.chatId === STRANGER)).toEqual([]);

    // Every chat the proxy served was on alice's or bob's key: no unmetered background call. Each turn
    // is one agent call plus utility-model "Activity recap" calls on the same key, so two identical
    // turns cost the same number of calls per agent; a stranger routed anywhere would break that.
    const rows = l.store.rows;
    const aliceRows = rows.filter((r) => r.api_key === sha256(KEYS.alice));
    const bobRows = rows.filter((r) => r.api_key === sha256(KEYS.bob));
    console.log(`[full-loop] upstream calls: ${JSON.stringify(rows.map((r) => ({ alias: r.key_alias, prompt: r.prompt_tokens, atMs: r.startMs - since })))}`);
    expect(chatRequests() - before).toBe(rows.length);
    expect(aliceRows.length + bobRows.length).toBe(rows.length);
    expect(aliceRows.length).toBeGreaterThanOrEqual(1);
    expect(bobRows.length).toBe(aliceRows.length);
    expect(aliceRows.every((r) => r.key_alias === "wirebot/alice") && bobRows.every((r) => r.key_alias === "wirebot/bob")).toBe(true);
    const unexpected = l.requests.filter((r) => !/^\/(v1\/)?chat\/completions/.test(r));
    expect(unexpected).toEqual([]);

    // Wait out the stand-in's flush, then one reconcile cycle through the meter's own entry point.
    await new Promise((r) => setTimeout(r, 2_500));
    const ledgerPath = path.join(work, "ledger.sqlite");
    const io = captureIo();
    const log = createLogger({ name: "full-loop", level: "silent" });
    const code = await runReconcile(
      { once: true, ledgerPath, log, env: { LITELLM_MASTER_KEY: l.masterKey, [litellmKeyVar("alice")]: KEYS.alice, [litellmKeyVar("bob")]: KEYS.bob } },
      config,
      io,
    );
    expect(code, io.text()).toBe(0);

    const db = openLedgerDb(ledgerPath);
    try {
      const ledger = new Ledger(db, config.litellm.instanceId);
      const day = new Date().toISOString().slice(0, 10);
      const byAgent = new Map(ledger.usage("2000-01-01", "2100-12-31", "month").map((u) => [u.agent, u]));
      for (const [agent, key] of Object.entries(KEYS)) {
        const own = rows.filter((r) => r.api_key === sha256(key));
        const expectNusd = own.reduce((s, r) => s + Math.round(r.spend * 1e9), 0);
        const promptTokens = own.reduce((s, r) => s + r.prompt_tokens, 0);
        expect(byAgent.get(agent), `ledger for ${agent} on ${day}`).toMatchObject({ requests: own.length, spendNusd: expectNusd, promptTokens });
        timings[`${agent}Nusd`] = expectNusd;
        timings[`${agent}Calls`] = own.length;
      }
      expect([...byAgent.keys()].sort()).toEqual(["alice", "bob"]);
    } finally {
      db.close();
    }
  });
});

test("the runtime's channel status for that gateway reads as linked and connected", async () => {
  const g = resolveLayout(config).shared!;
  // Real paths: the host has root "/" and the runtime's files are where the test cache put them.
  const r = await openclawCli(createNodeHost(), runtimePaths, ["channels", "status", "--json", "--timeout", "15000"], { stateDir: g.stateDir, configPath: g.configPath, env: gatewayEnv, timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
  const s = parseChannelsStatus(r.stdout);
  expect(s.gatewayReachable).toBe(true);
  expect(s.accounts).toContainEqual({ channel: "telegram", accountId: "default", configured: true, linked: true, connected: true, lastError: null });
});
