/** Isolation-test support: renders examples/three-users.yaml's shared gateway into a temp data dir, hermetic (no channels, no network). */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { GATEWAY_TOKEN_VAR, litellmKeyVar, meteredAgents, PATHS, resolveLayout, type GatewayLayout, type Layout } from "../../installer/config/layout.ts";
import { parseConfig } from "../../installer/config/load.ts";
import type { Config } from "../../installer/config/schema.ts";
import { gatewayConfigObject } from "../../installer/render/gateway-config.ts";

const EXAMPLE = fileURLToPath(new URL("../../examples/three-users.yaml", import.meta.url));

export interface PreparedGateway {
  config: Config;
  layout: Layout;
  shared: GatewayLayout;
  /** the object written to shared.configPath (the renderer's output plus the test's documented edits) */
  doc: Record<string, unknown>;
  /** env for startGateway: the gateway token, every agent's LiteLLM key (the system agent's too), no channels */
  env: Record<string, string>;
  token: string;
}

/**
 * The committed example's config with only paths.data and gateway.port overridden (through the same
 * env overrides an operator would use), so nothing touches /data/wirebot or the fixed port 18789.
 * `edit` sees the renderer's object before it is written; tests use it for test-only switches.
 */
export function prepareSharedGateway(dataDir: string, port: number, edit: (doc: Record<string, unknown>, c: Config) => void = () => {}): PreparedGateway {
  const config = parseConfig(readFileSync(EXAMPLE, "utf8"), "examples/three-users.yaml", {
    WIREBOT_PATHS__DATA: dataDir,
    WIREBOT_GATEWAY__PORT: String(port),
  });
  const layout = resolveLayout(config);
  const shared = layout.shared;
  if (!shared) throw new Error("three-users.yaml has no shared gateway");
  const doc = gatewayConfigObject(config, layout, shared);
  // Channels would reach Telegram's API and npm-install the WhatsApp plugin (see gateway.slow.test.ts);
  // the agents' tool policy, which is what these tests are about, does not depend on them.
  doc["channels"] = {};
  doc["bindings"] = [];
  usePackagePlugins(doc);
  edit(doc, config);
  mkdirSync(shared.stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(shared.configPath, JSON.stringify(doc, null, 2) + "\n", { mode: 0o600 });

  const token = `wb-test-${randomBytes(24).toString("hex")}`;
  const env: Record<string, string> = { [GATEWAY_TOKEN_VAR]: token, OPENCLAW_SKIP_CHANNELS: "1" };
  for (const a of meteredAgents(config, layout)) if (a.gateway === shared) env[litellmKeyVar(a.id)] = `sk-${a.id}-${randomBytes(12).toString("hex")}`;
  return { config, layout, shared, doc, env, token };
}

/** Points every `litellm-<id>` provider (each user's and the system agent's) at another base URL (a stand-in upstream). */
export function pointProvidersAt(doc: Record<string, unknown>, baseUrl: string): void {
  const providers = (doc["models"] as { providers: Record<string, { baseUrl: string }> }).providers;
  for (const p of Object.values(providers)) p.baseUrl = baseUrl;
}

/**
 * Loads wirebot's gateway plugins from this checkout's plugins/ instead of /opt/wirebot/plugins: the same
 * files `apply` installs there (render/index.ts copies them verbatim), without writing to /opt on this machine.
 */
export function usePackagePlugins(doc: Record<string, unknown>): void {
  const load = (doc["plugins"] as { load?: { paths?: string[] } } | undefined)?.load;
  if (load?.paths) load.paths = load.paths.map((p) => (p.startsWith(`${PATHS.pluginsDir}/`) ? path.join(PACKAGE_PLUGINS, p.slice(PATHS.pluginsDir.length + 1)) : p));
}

const PACKAGE_PLUGINS = fileURLToPath(new URL("../../plugins", import.meta.url));

export const workspaceOf = (dataDir: string, userId: string) => path.join(dataDir, "users", userId, "workspace");
