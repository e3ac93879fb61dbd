/** The Control UI in real headless Chromium against a real gateway rendered by wirebot: the app itself must start and connect. */
import { testWorkDir } from "../support/work-dir.ts";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { resolveLayout } from "../../installer/config/layout.ts";
import { ConfigSchema } from "../../installer/config/schema.ts";
import { gatewayConfigObject } from "../../installer/render/gateway-config.ts";
import { freeLoopbackPort, getTestRuntime, startGateway, type GatewayHandle } from "../support/runtime.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/", import.meta.url));
const work = testWorkDir("wb-control-ui-");
const token = randomBytes(24).toString("hex");
let gw: GatewayHandle | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const runtime = await getTestRuntime();
  const config = ConfigSchema.parse({
    domain: "wirebot.example.org",
    gateway: { port: await freeLoopbackPort() },
    paths: { data: path.join(work, "data") },
    litellm: { baseUrl: "http://127.0.0.1:9", models: ["gpt-4o-mini"], defaultModel: "gpt-4o-mini" },
    secrets: { backend: "file", file: { path: "/etc/wirebot/test-secrets.env" } },
    users: [{ id: "alice", name: "Alice" }],
  });
  const layout = resolveLayout(config);
  const g = layout.shared!;
  mkdirSync(path.join(config.paths.data, "users", "alice", "workspace"), { recursive: true, mode: 0o700 });
  mkdirSync(g.stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(g.configPath, JSON.stringify(gatewayConfigObject(config, layout, g), null, 2), { mode: 0o600 });
  gw = await startGateway({ runtime, stateDir: g.stateDir, configPath: g.configPath, port: g.port, env: { OPENCLAW_GATEWAY_TOKEN: token, LITELLM_KEY_ALICE: `sk-${randomBytes(16).toString("hex")}` } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("the Control UI app renders and connects with the gateway token from the URL fragment", async () => {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
  const consoleErrors: string[] = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  const started = Date.now();
  // docs/web/urls.md: the token travels in the fragment, never in a request line or Referer.
  await page.goto(`${gw!.url}/#token=${token}`, { waitUntil: "domcontentloaded" });

  // Only the JS bundle defines <openclaw-app> and fills it; the HTML shell has it empty.
  await page.waitForFunction(() => {
    const el = document.querySelector("openclaw-app");
    const rendered = el && ((el.shadowRoot?.childElementCount ?? 0) > 0 || el.childElementCount > 0);
    return Boolean(customElements.get("openclaw-app") && rendered);
  }, undefined, { timeout: 30_000 });
  const renderedMs = Date.now() - started;
  // The skeleton says "Gateway starting…" until the WebSocket handshake with the token succeeds; the model
  // name "<model> (LiteLLM)" comes from wirebot's rendered providers, so only an authenticated app shows it.
  await page
    .waitForFunction(() => /\(LiteLLM\)/.test((document.querySelector("openclaw-app") as HTMLElement | null)?.innerText ?? ""), undefined, { timeout: 90_000 })
    .catch(() => undefined);
  const connectedMs = Date.now() - started;
  await page.waitForTimeout(1_500);
  const text = await page.locator("openclaw-app").innerText();
  const fallbackHidden = await page.locator("#openclaw-mount-fallback").isHidden();
  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = path.join(ARTIFACTS, "control-ui.png");
  await page.screenshot({ path: shot, fullPage: false });
  console.log(`[control-ui] rendered after ${renderedMs} ms, settled after ${connectedMs} ms; screenshot ${shot}; text: ${JSON.stringify(text.slice(0, 400))}; console errors: ${JSON.stringify(consoleErrors.slice(0, 5))}`);

  expect(fallbackHidden).toBe(true);
  expect(text).not.toMatch(/Gateway starting/i);
  expect(text).toContain("gpt-4o-mini (LiteLLM)");
  // The UI must not carry the token into the visible page or keep it in the address bar.
  expect(text).not.toContain(token);
});

test("without the token the app stays at its login and shows nothing of the gateway", async () => {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${gw!.url}/`, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => ((document.querySelector("openclaw-app") as HTMLElement | null)?.innerText ?? "").trim() !== "", undefined, { timeout: 30_000 });
  await page.waitForTimeout(6_000);
  const text = await page.locator("openclaw-app").innerText();
  await page.screenshot({ path: path.join(ARTIFACTS, "control-ui-no-token.png") });
  console.log(`[control-ui] without token: ${JSON.stringify(text.slice(0, 300))}`);
  expect(text).toContain("This Gateway expects its token");
  expect(text).not.toContain("(LiteLLM)");
});
