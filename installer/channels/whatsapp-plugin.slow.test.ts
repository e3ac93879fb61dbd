/** Real npm + real runtime: @openclaw/whatsapp installs into a copy of the test runtime, loads, and is removed again. */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { resolveLayout } from "../config/layout.ts";
import { ConfigSchema, type Config } from "../config/schema.ts";
import { createNodeHost } from "../host/node-host.ts";
import { captureIo } from "../io.ts";
import { openclawCli } from "../runtime/openclaw-cli.ts";
import { freeLoopbackPort, getTestRuntime, runtimeTestConfig, startGateway, type TestRuntime } from "../../test/support/runtime.ts";
import { parseChannelsStatus } from "./channels-status.ts";
import { ensureWhatsAppPlugin, WHATSAPP_MARKER } from "./whatsapp-plugin.ts";
import { whatsappPluginDir, whatsappPluginLoadPaths } from "../config/whatsapp-plugin-paths.ts";

const root = mkdtempSync(path.join(tmpdir(), "wirebot-wa-plugin-"));
let rt: TestRuntime;

function withWhatsApp(on: boolean): Config {
  const base = runtimeTestConfig();
  return ConfigSchema.parse({
    ...JSON.parse(JSON.stringify({ domain: base.domain, runtime: base.runtime, litellm: base.litellm, secrets: base.secrets })),
    users: [{ id: "carol", name: "Carol", channels: on ? { whatsapp: { peer: "+15557654321" } } : {} }],
  });
}

beforeAll(async () => {
  rt = await getTestRuntime();
  // A hard-linked copy costs seconds, not 650 MB; the files npm rewrites in place are unlinked first
  // so the shared cache never changes.
  const layout = resolveLayout(withWhatsApp(true));
  const dest = path.join(root, layout.runtimeDir);
  mkdirSync(path.dirname(dest), { recursive: true });
  execFileSync("cp", ["-al", rt.runtimeDir, dest]);
  for (const f of ["package.json", "package-lock.json", "node_modules/.package-lock.json"])
    execFileSync("cp", ["--remove-destination", path.join(rt.runtimeDir, f), path.join(dest, f)]);
}, 600_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

test("installs once, loads in the gateway's plugin inventory, and is removed when no user needs it", async () => {
  const host = createNodeHost({ root });
  const io = captureIo();
  const on = withWhatsApp(true);
  const layout = resolveLayout(on);

  let t = Date.now();
  const first = await ensureWhatsAppPlugin(host, on, io);
  const installMs = Date.now() - t;
  expect(first.outcome).toBe("installed");
  expect(host.resolve(first.pluginDir)).toBe(path.join(root, whatsappPluginDir(layout)));
  t = Date.now();
  expect((await ensureWhatsAppPlugin(host, on, io)).outcome).toBe("already-present");
  const secondMs = Date.now() - t;

  // The gateway sees it through plugins.load.paths (real paths: this copy lives under a temp root).
  const stateDir = "/state";
  mkdirSync(path.join(root, stateDir), { recursive: true, mode: 0o700 });
  const cfg = { gateway: { mode: "local" }, plugins: { load: { paths: whatsappPluginLoadPaths(on, layout).map((p) => host.resolve(p)) } } };
  writeFileSync(path.join(root, stateDir, "openclaw.json"), JSON.stringify(cfg), { mode: 0o600 });
  t = Date.now();
  const r = await openclawCli(host, layout, ["plugins", "list", "--json"], { stateDir, configPath: `${stateDir}/openclaw.json`, timeoutMs: 120_000 });
  const listMs = Date.now() - t;
  expect(r.code, r.stderr).toBe(0);
  const plugins = (JSON.parse(r.stdout) as { plugins: { id: string; version: string; status: string; origin: string; channelIds: string[] }[] }).plugins;
  const wa = plugins.find((p) => p.id === "whatsapp");
  expect(wa).toMatchObject({ version: on.runtime.version, status: "loaded", origin: "config", channelIds: ["whatsapp"] });

  // A gateway with a WhatsApp channel starts with the plugin loaded and reports the account as not linked.
  const port = await freeLoopbackPort();
  const gwCfg = {
    gateway: { mode: "local", port, bind: "loopback", auth: { mode: "token", token: "${OPENCLAW_GATEWAY_TOKEN}" } },
    channels: { whatsapp: { enabled: true, dmPolicy: "allowlist", allowFrom: ["+15557654321"], groupPolicy: "disabled", mediaMaxMb: 50 } },
    agents: { defaults: { heartbeat: { every: "0m" } } },
    plugins: cfg.plugins,
  };
  writeFileSync(path.join(root, stateDir, "openclaw.json"), JSON.stringify(gwCfg), { mode: 0o600 });
  const env = { OPENCLAW_GATEWAY_TOKEN: "wb-test-gateway-token-0123456789abcdef" };
  const gw = await startGateway({ runtime: { nodeBin: host.resolve(layout.nodeBin), gatewayEntry: host.resolve(layout.gatewayEntry) }, stateDir: host.resolve(stateDir), configPath: host.resolve(`${stateDir}/openclaw.json`), env, port, readyTimeoutMs: 180_000 });
  let statusOut = "";
  try {
    const st = await openclawCli(host, layout, ["channels", "status", "--json", "--timeout", "15000"], { stateDir, configPath: `${stateDir}/openclaw.json`, env, timeoutMs: 120_000 });
    statusOut = st.stdout;
  } finally {
    await gw.stop();
  }
  mkdirSync(path.join(process.cwd(), "test-artifacts"), { recursive: true });
  writeFileSync(path.join(process.cwd(), "test-artifacts", "channels-status-whatsapp.json"), statusOut);
  const wa2 = parseChannelsStatus(statusOut).accounts.find((a) => a.channel === "whatsapp");
  console.log(`[whatsapp-plugin] gateway healthy after ${gw.readyAfterMs} ms; whatsapp status ${JSON.stringify(wa2)}`);
  // Unlinked: no session, listener not running, and the runtime's own reason as the last error.
  expect(wa2).toMatchObject({ accountId: "default", configured: true, connected: false, lastError: expect.stringMatching(/not running/) });

  const off = withWhatsApp(false);
  expect(whatsappPluginLoadPaths(off, layout)).toEqual([]);
  expect((await ensureWhatsAppPlugin(host, off, io)).outcome).toBe("removed");
  expect(await host.stat(whatsappPluginDir(layout))).toBeNull();
  expect(await host.stat(`${layout.runtimeDir}/${WHATSAPP_MARKER}`)).toBeNull();
  expect((await ensureWhatsAppPlugin(host, off, io)).outcome).toBe("absent");
  // The runtime itself is untouched by the round trip.
  expect(await host.stat(`${layout.runtimeDir}/node_modules/openclaw/openclaw.mjs`)).not.toBeNull();
  console.log(`[whatsapp-plugin] install ${installMs} ms, second ensure ${secondMs} ms, plugins list ${listMs} ms (${plugins.length} plugins)`);
}, 900_000);
