/** Footprint bench support: the shared gateway config `wirebot apply` renders for N shared users, made hermetic (no channels, a stand-in upstream, the test-only chat endpoint). */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { GATEWAY_TOKEN_VAR, litellmKeyVar, meteredAgents, resolveLayout, type GatewayLayout } from "../installer/config/layout.ts";
import { parseConfig } from "../installer/config/load.ts";
import { gatewayConfigObject } from "../installer/render/gateway-config.ts";
import { pointProvidersAt, usePackagePlugins } from "../test/isolation/shared-gateway.ts";
import { sharedUsersConfig } from "./configs.ts";

export interface FootprintGateway {
  shared: GatewayLayout;
  doc: Record<string, unknown>;
  /** the tenants' agent ids: every one must answer a chat */
  agents: string[];
  env: Record<string, string>;
  token: string;
}

/**
 * bench/configs.ts's N-user wirebot.yaml, rendered by the real renderer into dataDir. `edit` sees the
 * object before it is written (the knob set under test). Channels are dropped (they would reach
 * Telegram and npm-install WhatsApp's plugin); the tool policy and plugins stay as rendered.
 */
export function prepareFootprintGateway(root: string, n: number, dataDir: string, port: number, upstream: string, edit: (doc: Record<string, unknown>) => void): FootprintGateway {
  const config = parseConfig(sharedUsersConfig(root, n), `bench shared-${n}.yaml`, { WIREBOT_PATHS__DATA: dataDir, WIREBOT_GATEWAY__PORT: String(port) });
  const layout = resolveLayout(config);
  const shared = layout.shared;
  if (!shared) throw new Error("bench/configs.ts sharedUsersConfig rendered no shared gateway");
  const doc = gatewayConfigObject(config, layout, shared);
  doc["channels"] = {};
  doc["bindings"] = [];
  usePackagePlugins(doc);
  // The WhatsApp plugin's path exists only where `apply` installed it; without channels it would not start anyway.
  const load = (doc["plugins"] as { load?: { paths?: string[] } }).load;
  if (load?.paths) load.paths = load.paths.filter((p) => existsSync(p));
  pointProvidersAt(doc, upstream);
  // Bench-only, as in the isolation tests: the OpenAI-compatible endpoint is how the bench speaks as one agent.
  (doc["gateway"] as Record<string, unknown>)["http"] = { endpoints: { chatCompletions: { enabled: true } } };
  const token = `wb-bench-${randomBytes(24).toString("hex")}`;
  const keys: Record<string, string> = {};
  for (const a of meteredAgents(config, layout)) if (a.gateway === shared) keys[litellmKeyVar(a.id)] = `sk-${a.id}-${randomBytes(12).toString("hex")}`;
  edit(doc);
  mkdirSync(shared.stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(shared.configPath, JSON.stringify(doc, null, 2) + "\n", { mode: 0o600 });
  // As LITELLM_KEY_* variables: startGateway hands them to the gateway as the renderer says (env refs or its keys file).
  const env: Record<string, string> = { [GATEWAY_TOKEN_VAR]: token, OPENCLAW_SKIP_CHANNELS: "1", ...keys };
  return { shared, doc, agents: shared.users.map((u) => u.id), env, token };
}

/** Sets a dotted path in a config object, creating objects on the way ("agents.defaults.x" = value). */
export function setPath(doc: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split(".");
  let at = doc;
  for (const k of keys.slice(0, -1)) {
    if (typeof at[k] !== "object" || at[k] === null) at[k] = {};
    at = at[k] as Record<string, unknown>;
  }
  at[keys.at(-1)!] = value;
}
