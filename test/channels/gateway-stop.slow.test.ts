/** A real gateway with Telegram stops within seconds of SIGTERM, and a turn cut by the stop is answered exactly once after the restart. */
import { testWorkDir } from "../support/work-dir.ts";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { litellmKeyVar, resolveLayout, type GatewayLayout } from "../../installer/config/layout.ts";
import { ConfigSchema } from "../../installer/config/schema.ts";
import { gatewayConfigObject } from "../../installer/render/gateway-config.ts";
import { freeLoopbackPort, getTestRuntime, startGateway, type GatewayHandle, type TestRuntime } from "../support/runtime.ts";
import { startTelegramStandin, type TelegramStandin } from "../telegram-standin/server.ts";

const ALICE_PEER = "123456789";
const UNIT = "clawdbot-gateway.service";

/** The stop timeout the shared unit carries, in seconds: the runtime sizes its shutdown from it. */
function unitStopTimeoutSec(): number {
  const text = readFileSync(new URL("../../units/clawdbot-gateway.service.tmpl", import.meta.url), "utf8");
  const m = /^TimeoutStopSec=(\d+)s?$/m.exec(text);
  if (!m) throw new Error("units/clawdbot-gateway.service.tmpl has no TimeoutStopSec=<n>s line");
  return Number(m[1]);
}
const BOT_TOKEN = `7000002:${randomBytes(18).toString("base64url")}`;
const KEY = `sk-${randomBytes(16).toString("base64url")}`;
const SYSTEM_KEY = `sk-${randomBytes(16).toString("base64url")}`;

/** An OpenAI-compatible upstream whose chat answers take `delayMs`: the in-flight turn the stop meets. */
interface SlowModel {
  baseUrl: string;
  delayMs: number;
  /** chat calls received, in order, with the user's last message text */
  calls: { at: number; text: string; tools: number }[];
  close(): Promise<void>;
}

async function startSlowModel(): Promise<SlowModel> {
  const calls: SlowModel["calls"] = [];
  const state = { delayMs: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = (req.url ?? "").split("?")[0]!;
      if (req.method !== "POST" || !url.endsWith("/chat/completions")) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not found" } }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as { stream?: boolean; model?: string; tools?: unknown[]; messages?: { role: string; content?: unknown }[] };
      const user = (body.messages ?? []).filter((m) => m.role === "user").map((m) => (typeof m.content === "string" ? m.content : JSON.stringify(m.content)));
      const text = user.join("\n");
      calls.push({ at: Date.now(), text, tools: body.tools?.length ?? 0 });
      const probe = /STOP-PROBE-(\d+)/.exec(text)?.[1];
      const answer = probe ? `ANSWER-${probe}` : "ok";
      const timer = setTimeout(() => {
        const id = `chatcmpl-stop-${calls.length}`;
        const created = Math.floor(Date.now() / 1000);
        const model = body.model ?? "gpt-4o-mini";
        const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
        if (!body.stream) {
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id, object: "chat.completion", created, model, choices: [{ index: 0, message: { role: "assistant", content: answer }, finish_reason: "stop" }], usage }));
          return;
        }
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
        send({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta: { role: "assistant", content: answer }, finish_reason: null }] });
        send({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
        send({ id, object: "chat.completion.chunk", created, model, choices: [], usage });
        res.end("data: [DONE]\n\n");
      }, state.delayMs);
      // A gateway that gives up on the call (its stop aborting the turn) closes the socket.
      res.on("close", () => clearTimeout(timer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(v: number) {
      state.delayMs = v;
    },
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const work = testWorkDir("wb-gateway-stop-");
let runtime: TestRuntime;
let tg: TelegramStandin | undefined;
let model: SlowModel | undefined;
let g: GatewayLayout;
let renderedDoc: Record<string, unknown>;
let env: Record<string, string>;
const gateways: GatewayHandle[] = [];
const figures: Record<string, number> = {};

beforeAll(async () => {
  runtime = await getTestRuntime();
  tg = await startTelegramStandin({ token: BOT_TOKEN });
  model = await startSlowModel();
  const config = ConfigSchema.parse({
    domain: "wirebot.example.org",
    mode: "shared",
    gateway: { port: await freeLoopbackPort() },
    paths: { data: path.join(work, "data") },
    litellm: { baseUrl: model.baseUrl, models: ["gpt-4o-mini"], defaultModel: "gpt-4o-mini" },
    secrets: { backend: "file", file: { path: "/etc/wirebot/test-secrets.env" }, map: { TELEGRAM_BOT_TOKEN: "wirebot/telegram-bot-token" } },
    channels: { telegram: { apiRoot: tg.apiRoot } },
    users: [{ id: "alice", name: "Alice", channels: { telegram: { peer: ALICE_PEER } } }],
  });
  const layout = resolveLayout(config);
  g = layout.shared!;
  mkdirSync(g.stateDir, { recursive: true, mode: 0o700 });
  mkdirSync(path.join(config.paths.data, "users", "alice", "workspace"), { recursive: true, mode: 0o700 });
  renderedDoc = gatewayConfigObject(config, layout, g);
  writeFileSync(g.configPath, JSON.stringify(renderedDoc, null, 2) + "\n", { mode: 0o600 });
  // No systemd manager runs here. Under systemd the runtime asks `systemctl show <its unit>` for
  // TimeoutStopUSec and sizes drain and forced exit from it (openclaw run-loop-shutdown-budget.ts):
  // a one-line systemctl answers that query with the value the unit carries, as PID 1 would.
  const bin = path.join(work, "bin");
  mkdirSync(bin, { recursive: true });
  const invocation = randomBytes(16).toString("hex");
  writeFileSync(path.join(bin, "systemctl"), `#!/bin/sh\nprintf 'TimeoutStopUSec=%ss\\nInvocationID=${invocation}\\nLoadState=loaded\\n' ${unitStopTimeoutSec()}\n`);
  chmodSync(path.join(bin, "systemctl"), 0o755);
  env = {
    PATH: `${bin}:${path.dirname(runtime.nodeBin)}:/usr/local/bin:/usr/bin:/bin`,
    INVOCATION_ID: invocation,
    // Else the runtime puts /usr/bin ahead of PATH at start, and finds the host's systemctl.
    OPENCLAW_PATH_BOOTSTRAPPED: "1",
    OPENCLAW_SYSTEMD_UNIT: UNIT,
    OPENCLAW_GATEWAY_TOKEN: randomBytes(24).toString("hex"),
    TELEGRAM_BOT_TOKEN: BOT_TOKEN,
    [litellmKeyVar("alice")]: KEY,
    [litellmKeyVar("wirebot")]: SYSTEM_KEY,
  };
}, 600_000);

afterAll(async () => {
  for (const gw of gateways) await gw.stop();
  await tg?.close();
  await model?.close();
  rmSync(work, { recursive: true, force: true });
  console.log(`[gateway-stop] figures ${JSON.stringify(figures)}`);
});

async function start(opts: { poller?: boolean } = {}): Promise<GatewayHandle> {
  // One gateway at a time on the port: a test that failed midway leaves its gateway running.
  for (const old of gateways) await old.stop();
  const gw = await startGateway({ runtime, stateDir: g.stateDir, configPath: g.configPath, port: g.port, env });
  gateways.push(gw);
  if (opts.poller !== false) await tg!.waitForPoller(90_000);
  return gw;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGTERM to the gateway alone (as systemd's KillMode=mixed does first); ms until it has exited, or null past `limitMs`. */
async function sigtermAndTime(gw: GatewayHandle, limitMs: number): Promise<number | null> {
  const t0 = Date.now();
  process.kill(gw.pid, "SIGTERM");
  while (alive(gw.pid)) {
    if (Date.now() - t0 > limitMs) return null;
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - t0;
}

const shutdownLog = (gw: GatewayHandle) =>
  gw
    .logs()
    .split("\n")
    .filter((l) => /shutdown|drain|signal|telegram|stopp|abort|exit/i.test(l))
    .slice(-40)
    .join("\n");

describe("stopping a real gateway with the Telegram channel polling", () => {
  test("idle: SIGTERM to exit in seconds", async () => {
    const gw = await start();
    const ms = await sigtermAndTime(gw, 120_000);
    console.log(`[gateway-stop] idle stop ${ms} ms\n${shutdownLog(gw)}`);
    figures["idleStopMs"] = ms ?? -1;
    expect(ms, shutdownLog(gw)).not.toBeNull();
    expect(ms!).toBeLessThan(15_000);
  });

  test("in flight: a turn whose model call outlasts the stop is answered exactly once, after the restart", async () => {
    const t = tg!;
    const m = model!;
    m.delayMs = 40_000;
    const gw = await start();
    const since = Date.now();
    const callsBefore = m.calls.length;
    t.injectPrivateMessage(ALICE_PEER, "STOP-PROBE-1 please answer");
    // The turn is in flight once the model has the agent's call (it offers tools; the runtime's own
    // side calls on the same text, such as a session title, offer none).
    for (const deadline = Date.now() + 90_000; !m.calls.slice(callsBefore).some((c) => c.tools > 0 && c.text.includes("STOP-PROBE-1")); ) {
      if (Date.now() > deadline) throw new Error(`the model never got the turn; logs:\n${gw.logs().slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(`[gateway-stop] model calls at the stop: ${JSON.stringify(m.calls.slice(callsBefore).map((c) => ({ tools: c.tools, atMs: c.at - since, probe: c.text.includes("STOP-PROBE-1") })))}`);
    const ms = await sigtermAndTime(gw, 120_000);
    console.log(`[gateway-stop] in-flight stop ${ms} ms\n${shutdownLog(gw)}`);
    figures["inFlightStopMs"] = ms ?? -1;
    expect(ms, shutdownLog(gw)).not.toBeNull();
    expect(ms!).toBeLessThan(15_000);

    m.delayMs = 0;
    const gw2 = await start();
    const answered = () => t.sent.filter((s) => s.chatId === ALICE_PEER && s.plain.includes("ANSWER-1"));
    for (const deadline = Date.now() + 120_000; answered().length === 0; ) {
      if (Date.now() > deadline) throw new Error(`no ANSWER-1 after the restart; sent: ${JSON.stringify(t.sent.map((s) => s.plain))}; logs after restart:\n${gw2.logs().slice(-6000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    figures["replyAfterRestartMs"] = answered()[0]!.at - since;
    // Exactly once: give a duplicate the time of another turn to show up.
    await new Promise((r) => setTimeout(r, 10_000));
    console.log(`[gateway-stop] sent to alice: ${JSON.stringify(t.sent.filter((s) => s.chatId === ALICE_PEER).map((s) => ({ text: s.plain, edit: s.edit ?? false, atMs: s.at - since })))}`);
    const answers = answered().filter((s) => !s.edit);
    expect(answers.length, JSON.stringify(t.sent)).toBe(1);
    // The next test starts its own gateway on the same port.
    await gw2.stop();
  });

  test("Telegram's API unreachable (connections accepted, never answered): the stop still ends within the unit's budget", async () => {
    // What a host cut off from Telegram sees (the e2e container's 86 s reboot): every Bot API call hangs.
    const held = new Set<net.Socket>();
    const hole = net.createServer((s) => held.add(s));
    await new Promise<void>((resolve) => hole.listen(0, "127.0.0.1", resolve));
    const doc = structuredClone(renderedDoc) as { channels: { telegram: { apiRoot?: string } } };
    doc.channels.telegram.apiRoot = `http://127.0.0.1:${(hole.address() as AddressInfo).port}`;
    writeFileSync(g.configPath, JSON.stringify(doc, null, 2) + "\n", { mode: 0o600 });
    try {
      const gw = await start({ poller: false });
      // Let the channel start and get stuck in its first call.
      for (const deadline = Date.now() + 30_000; held.size === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 200));
      expect(held.size, "the gateway never called the unreachable Bot API").toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 3_000));
      const ms = await sigtermAndTime(gw, 120_000);
      console.log(`[gateway-stop] stop with Telegram unreachable ${ms} ms\n${shutdownLog(gw)}`);
      figures["unreachableStopMs"] = ms ?? -1;
      expect(ms, shutdownLog(gw)).not.toBeNull();
      expect(ms!).toBeLessThan(15_000);
    } finally {
      for (const s of held) s.destroy();
      hole.close();
      writeFileSync(g.configPath, JSON.stringify(renderedDoc, null, 2) + "\n", { mode: 0o600 });
    }
  });
});
