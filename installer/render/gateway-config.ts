/** Renders a gateway's clawdbot.json (JSON5 with a header comment) from the config. Pure. */
import { AGENT_KEYS_PROVIDER, GATEWAY_TOKEN_VAR, litellmKeyVar, PATHS, providerId, SYSTEM_AGENT_ID, usersDir, workspaceDir, type GatewayLayout, type Layout } from "../config/layout.ts";
import type { Config, UserConfig } from "../config/schema.ts";
import { whatsappPluginLoadPaths } from "../config/whatsapp-plugin-paths.ts";
import { dedicatedHostname, helmHostname } from "../tunnel/ingress.ts";
import { applyGatewayMemoryKnobs } from "./gateway-memory.ts";
import { sandboxFor } from "./sandbox.ts";
import { MANAGED_HEADER } from "./template.ts";

const envRef = (id: string) => ({ source: "env", provider: "default", id });
/** A key in the gateway's keysFile, by JSON pointer: re-read whenever the runtime reloads its config. */
const keyFileRef = (id: string) => ({ source: "file", provider: AGENT_KEYS_PROVIDER, id: `/${id}` });

/**
 * What adding, removing or changing a shared user changes in clawdbot.json, and nothing else: the runtime
 * hot-applies these (docs/gateway/configuration/hot-reload.md of the runtime: agents, models, bindings and
 * plugin entries without a restart; allow lists reload the channel in-process). Anything else restarts the
 * unit, as before. Measured in the e2e (a user added: same InvocationID, the others' turns answered).
 */
export const SHARED_LIVE_PATHS = [
  "agents.entries",
  "models.providers",
  "bindings",
  "channels.telegram.allowFrom",
  "channels.whatsapp.allowFrom",
] as const;
const LOOPBACK_PROXIES = ["127.0.0.1", "::1"];

function litellmV1(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "") + "/v1";
}

function userTrust(g: GatewayLayout, u: UserConfig) {
  return u.trust ?? (g.kind === "shared" ? "restricted" : "trusted");
}

/** No send to another chat, on this channel or any other: a shared bot reaches every tenant's chat. */
const NO_CROSS_CONTEXT = { allowWithinProvider: false, allowAcrossProviders: false };

/**
 * What a tenant's agent may not touch in a shared gateway (docs/trust.md): code and browsers run as the
 * gateway's OS user; sessions reach other agents; `message` sends anywhere the bot can write and
 * attaches files from shared state dirs (the runtime has no per-agent media root); the automation and
 * UI groups change the gateway for everyone.
 */
const TENANT_DENY = ["message", "group:messaging", "group:sessions", "group:automation", "group:ui", "group:nodes", "gateway", "browser"];

/** Tool policy per trust level (DESIGN.md §Trust modes). */
function agentTools(trust: "restricted" | "sandboxed" | "trusted") {
  const base = { elevated: { enabled: false } };
  // messaging alone has no file tools; the memory skills need read/write/edit, confined to the workspace.
  if (trust === "restricted")
    return { ...base, profile: "messaging", alsoAllow: ["read", "write", "edit"], deny: ["exec", "process", "group:runtime", ...TENANT_DENY], fs: { workspaceOnly: true }, message: { crossContext: NO_CROSS_CONTEXT } };
  // exec and process run inside the agent's container (sandbox.ts), never on the host.
  if (trust === "sandboxed")
    return { ...base, profile: "messaging", alsoAllow: ["read", "write", "edit", "exec", "process"], deny: TENANT_DENY, fs: { workspaceOnly: true }, message: { crossContext: NO_CROSS_CONTEXT } };
  return base;
}

/** The tool policy rendered for a user's agent: the traces judge denials against it (transparency/record.ts). */
export function agentToolPolicy(g: GatewayLayout, u: UserConfig): { profile?: string; alsoAllow?: string[]; deny?: string[] } {
  const t: { profile?: string; alsoAllow?: string[]; deny?: string[]; elevated: unknown } = agentTools(userTrust(g, u));
  return { ...(t.profile ? { profile: t.profile } : {}), ...(t.alsoAllow ? { alsoAllow: t.alsoAllow } : {}), ...(t.deny ? { deny: t.deny } : {}) };
}

/** The system agent has no chat of its own and needs no tool to answer system consults. */
export const SYSTEM_AGENT_TOOLS = { elevated: { enabled: false }, profile: "minimal", deny: ["gateway", "group:sessions", "group:runtime", "group:fs", "group:messaging", "group:automation", "group:ui", "group:nodes", "group:web"], fs: { workspaceOnly: true } };

/** Wirebot's own gateway plugin (plugins/wirebot-guard): where the runtime has no setting, it keeps tenants apart. */
export const GUARD_PLUGIN = "wirebot-guard";

/** Wirebot's trace plugin (plugins/wirebot-trace): every tool call of every gateway goes to the daemon as a trace. */
export const TRACE_PLUGIN = "wirebot-trace";

/** The shipped plugins a gateway loads: every gateway traces; a shared gateway's tenants need the guard too (a dedicated owner is alone). */
export const gatewayPlugins = (g: GatewayLayout): string[] => (g.kind === "shared" ? [GUARD_PLUGIN, TRACE_PLUGIN] : [TRACE_PLUGIN]);

/** Only the agent's own provider: `/model`, directives and overrides cannot put a turn on another agent's key. */
const ownModelsOnly = (agentId: string) => ({ allow: [`${providerId(agentId)}/*`] });

export function gatewayConfigObject(c: Config, l: Layout, g: GatewayLayout): Record<string, unknown> {
  const users = g.users;
  const first = users[0]!;
  // Always the public origin, tunnel or not: the hostname is fixed by the domain either way.
  const origins = [`https://${g.kind === "shared" ? helmHostname(c) : dedicatedHostname(c, g.id)}`];

  const providers: Record<string, unknown> = {};
  const entries: Record<string, unknown> = {};
  const addProvider = (agentId: string) => {
    providers[providerId(agentId)] = {
      baseUrl: litellmV1(c.litellm.baseUrl),
      apiKey: g.keysFile ? keyFileRef(litellmKeyVar(agentId)) : envRef(litellmKeyVar(agentId)),
      api: "openai-completions",
      headers: { "X-Wirebot-Agent": agentId },
      models: c.litellm.models.map((m) => ({ id: m, name: `${m} (LiteLLM)`, input: ["text"], contextWindow: 128000, maxTokens: 16384 })),
    };
  };
  const ownModel = (agentId: string) => `${providerId(agentId)}/${c.litellm.defaultModel}`;
  for (const u of users) {
    addProvider(u.id);
    const trust = userTrust(g, u);
    entries[u.id] = {
      name: u.name,
      workspace: workspaceDir(c, u.id),
      agentDir: `${g.stateDir}/agents/${u.id}/agent`,
      model: { primary: ownModel(u.id) },
      // The utility model serves observer digests: keep it on the agent's own metered key.
      utilityModel: ownModel(u.id),
      modelPolicy: ownModelsOnly(u.id),
      tools: agentTools(trust),
      ...(trust === "sandboxed" ? { sandbox: sandboxFor(c, u) } : {}),
    };
  }
  // A shared gateway's ambient work runs on an agent of its own, metered as `wirebot`, never on a tenant's key.
  const systemAgent = g.kind === "shared" ? SYSTEM_AGENT_ID : first.id;
  if (g.kind === "shared") {
    addProvider(SYSTEM_AGENT_ID);
    entries[SYSTEM_AGENT_ID] = {
      name: "Wirebot system",
      workspace: `${g.stateDir}/workspace-${SYSTEM_AGENT_ID}`,
      agentDir: `${g.stateDir}/agents/${SYSTEM_AGENT_ID}/agent`,
      model: { primary: ownModel(SYSTEM_AGENT_ID) },
      utilityModel: ownModel(SYSTEM_AGENT_ID),
      modelPolicy: ownModelsOnly(SYSTEM_AGENT_ID),
      tools: SYSTEM_AGENT_TOOLS,
    };
  }

  const channels: Record<string, unknown> = {};
  const bindings: unknown[] = [];
  const tgPeers = users.flatMap((u) => (u.channels.telegram ? [{ u, peer: u.channels.telegram.peer }] : []));
  if (tgPeers.length > 0) {
    channels["telegram"] = {
      enabled: true,
      botToken: envRef("TELEGRAM_BOT_TOKEN"),
      ...(c.channels.telegram.apiRoot ? { apiRoot: c.channels.telegram.apiRoot } : {}),
      dmPolicy: "allowlist",
      allowFrom: tgPeers.map((p) => p.peer),
      groupPolicy: "disabled",
    };
    for (const { u, peer } of tgPeers)
      bindings.push({ agentId: u.id, match: { channel: "telegram", accountId: "default", peer: { kind: "direct", id: peer } } });
  }
  const waPeers = users.flatMap((u) => (u.channels.whatsapp ? [{ u, peer: u.channels.whatsapp.peer }] : []));
  if (waPeers.length > 0) {
    channels["whatsapp"] = {
      enabled: true,
      dmPolicy: "allowlist",
      allowFrom: waPeers.map((p) => p.peer),
      groupPolicy: "disabled",
      mediaMaxMb: 50,
    };
    for (const { u, peer } of waPeers)
      bindings.push({ agentId: u.id, match: { channel: "whatsapp", accountId: "default", peer: { kind: "direct", id: peer } } });
  }

  // A rule rather than a list of users: a user added or removed leaves every plugin's config as it was.
  const guardConfig = { usersDir: usersDir(c), noLocalMedia: [SYSTEM_AGENT_ID] };
  // Fixed per gateway too: where events go, where they wait, which secrets files to mask (the token is in the env).
  const traceConfig = { endpoint: `http://127.0.0.1:${c.metering.api.port}/v1/traces`, spoolDir: `${g.stateDir}/wirebot-trace`, ...(g.keysFile ? { secretsFiles: [g.keysFile] } : {}) };
  const pluginPaths = [...(waPeers.length > 0 ? whatsappPluginLoadPaths(c, l) : []), ...gatewayPlugins(g).map((p) => `${PATHS.pluginsDir}/${p}`)];

  const doc: Record<string, unknown> = {
    gateway: {
      mode: "local",
      port: g.port,
      bind: "loopback",
      auth: { mode: "token", token: envRef(GATEWAY_TOKEN_VAR) },
      // cloudflared connects from loopback and adds X-Forwarded-For: without this every request is refused.
      trustedProxies: LOOPBACK_PROXIES,
      controlUi: { enabled: true, allowedOrigins: origins, sessionObserver: false },
      terminal: { enabled: false },
    },
    ...(g.keysFile ? { secrets: { providers: { [AGENT_KEYS_PROVIDER]: { source: "file", path: g.keysFile, mode: "json" } } } } : {}),
    models: { mode: "merge", providers },
    agents: {
      ownership: "explicit",
      defaults: {
        systemAgent: { agentId: systemAgent },
        // Heartbeats spend tokens every 30 min by default.
        heartbeat: { every: "0m" },
      },
      entries,
    },
    channels,
    bindings,
    // Session tools default to every agent's sessions: in a shared gateway that hands one user another's
    // transcripts (test/isolation/shared-gateway-isolation.slow.test.ts). Each agent sees its own only.
    tools: {
      elevated: { enabled: false },
      agentToAgent: { enabled: false },
      sessions: { visibility: "agent" },
      ...(g.kind === "shared" ? { message: { crossContext: NO_CROSS_CONTEXT } } : {}),
    },
    // A tenant's chat must not restart or reconfigure the gateway everyone shares; systemd restarts it.
    commands: { bash: false, config: false, mcp: false, plugins: false, debug: false, ...(g.kind === "shared" ? { restart: false } : {}) },
    skills: { load: { extraDirs: [PATHS.skillsDir] } },
    // Embeddings would go to OpenAI unmetered; recall stays on the memory files.
    memory: { search: { enabled: false } },
    plugins: {
      // OpenClaw does not look for plugins in its own node_modules: the WhatsApp plugin is named by path.
      ...(pluginPaths.length > 0 ? { load: { paths: pluginPaths } } : {}),
      entries: {
        "memory-core": { config: { dreaming: { enabled: false } } },
        // A reply's MEDIA: line may name any file in the shared inbound store (another tenant's documents):
        // the guard lets each agent attach from its own workspace only; the system agent attaches nothing.
        ...(g.kind === "shared" ? { [GUARD_PLUGIN]: { enabled: true, config: guardConfig } } : {}),
        // Every tool call to the daemon, never blocking a turn (docs/transparency.md).
        [TRACE_PLUGIN]: { enabled: true, config: traceConfig },
      },
    },
    logging: { file: `${g.stateDir}/logs/openclaw.log` },
  };
  // The shared gateway's memory: no worker per chatted agent (docs/gateway-footprint.md).
  applyGatewayMemoryKnobs(doc, { shared: g.kind === "shared" });
  return doc;
}

export function renderGatewayConfig(c: Config, l: Layout, g: GatewayLayout): string {
  return `// ${MANAGED_HEADER}\n${JSON.stringify(gatewayConfigObject(c, l, g), null, 2)}\n`;
}
