/** Which secret each consumer needs: env var, vault name, and whether wirebot generates it. Pure. */
import { GATEWAY_TOKEN_VAR, litellmKeyVar, PATHS, SERVICE_USER, SYSTEM_AGENT_ID, type Layout } from "./layout.ts";
import type { Config } from "./schema.ts";
import { ownBotVar, SHARED_BOT_VAR } from "./telegram-bots.ts";
import { TRACE_TOKEN_VAR, traceLabel } from "../transparency/tokens.ts";

/** What to generate when the vault lacks the secret (never rotated once stored). */
export type Generator = "token" | "litellm-key";

export interface SecretNeed {
  envVar: string;
  vaultName: string;
  generate?: Generator;
  /** not the vault's value but a token derived from it with this label (transparency/tokens.ts) */
  derive?: string;
}

export interface EnvFilePlan {
  /** absolute path on tmpfs */
  path: string;
  /** the unit that reads it */
  consumer: string;
  vars: SecretNeed[];
  /**
   * "env": KEY=value lines for EnvironmentFile=, read by PID 1 as root (root 0600). "json": one object
   * {VAR: value} the runtime itself reads through a file SecretRef, so it belongs to the consumer's user.
   */
  format: "env" | "json";
  /** owner of a "json" file (the runtime refuses a secrets file it does not own) */
  owner?: string;
  /**
   * The consumer re-reads this file when its config changes, so a new variable needs no restart; a
   * changed value of one it already holds still does (nothing tells the runtime to read it again).
   */
  liveReload?: boolean;
}

export interface SecretPlan {
  envFiles: EnvFilePlan[];
  /** Secrets wirebot itself needs during `apply` (admin keys), not written to any env file. */
  applyTime: SecretNeed[];
  tunnelToken: { path: string; vaultName: string } | null;
}

export const TELEGRAM_TOKEN_VAR = SHARED_BOT_VAR;
export const LITELLM_MASTER_VAR = "LITELLM_MASTER_KEY";
export const CLOUDFLARE_TOKEN_VAR = "CLOUDFLARE_API_TOKEN";
export const API_TOKEN_VAR = "WIREBOT_API_TOKEN";
export const FORWARD_TOKEN_VAR = "WIREBOT_FORWARD_TOKEN";
const RESERVED = new Set([TELEGRAM_TOKEN_VAR, LITELLM_MASTER_VAR, CLOUDFLARE_TOKEN_VAR, API_TOKEN_VAR, GATEWAY_TOKEN_VAR, TRACE_TOKEN_VAR, FORWARD_TOKEN_VAR, "TUNNEL_TOKEN"]);

/** A dedicated user's own Telegram bot token: one poller per token, so never the shared bot's. */
export const dedicatedTelegramVar = ownBotVar;

export function planSecrets(c: Config, l: Layout): SecretPlan {
  const map = c.secrets.map;
  const named = (envVar: string, fallback: string, generate?: Generator): SecretNeed => ({
    envVar,
    vaultName: map[envVar] ?? fallback,
    ...(generate ? { generate } : {}),
  });
  const fromMap = (envVar: string, mapKey = envVar): SecretNeed | null =>
    map[mapKey] === undefined ? null : { envVar, vaultName: map[mapKey]! };
  const agentKey = (id: string) => named(litellmKeyVar(id), `wirebot/litellm-key/${id}`, "litellm-key");
  // A gateway's trace plugin sends with a token derived from the API token: no vault entry per gateway.
  const traceToken = (gatewayId: string): SecretNeed => ({ ...named(API_TOKEN_VAR, "wirebot/api-token", "token"), envVar: TRACE_TOKEN_VAR, derive: traceLabel(gatewayId) });
  const extras = Object.keys(map)
    .filter((v) => !RESERVED.has(v) && !v.startsWith(`${TELEGRAM_TOKEN_VAR}_`) && !v.startsWith("LITELLM_KEY_"))
    .map((v) => ({ envVar: v, vaultName: map[v]! }));

  const envFiles: EnvFilePlan[] = [];
  if (l.shared) {
    // The agents' keys are not in the environment: a user added later must reach the running gateway.
    const vars: SecretNeed[] = [named(GATEWAY_TOKEN_VAR, "wirebot/gateway-token", "token"), traceToken(l.shared.id)];
    const tg = fromMap(TELEGRAM_TOKEN_VAR);
    if (tg && l.shared.users.some((u) => u.channels.telegram)) vars.push(tg);
    envFiles.push({ path: PATHS.gatewayEnv, consumer: l.shared.unit, vars: [...vars, ...extras], format: "env" });
    const keys = [...l.shared.users.map((u) => agentKey(u.id)), agentKey(SYSTEM_AGENT_ID)];
    envFiles.push({ path: l.shared.keysFile ?? PATHS.gatewayKeys, consumer: l.shared.unit, vars: keys, format: "json", owner: SERVICE_USER, liveReload: true });
  }
  for (const g of l.dedicated) {
    const u = g.users[0]!;
    const vars: SecretNeed[] = [
      { envVar: GATEWAY_TOKEN_VAR, vaultName: map[`${GATEWAY_TOKEN_VAR}_${u.id.toUpperCase().replace(/-/g, "_")}`] ?? `wirebot/gateway-token/${u.id}`, generate: "token" },
      agentKey(u.id),
      traceToken(g.id),
    ];
    const tg = fromMap(TELEGRAM_TOKEN_VAR, dedicatedTelegramVar(u.id));
    if (tg && u.channels.telegram) vars.push(tg);
    envFiles.push({ path: g.envFile, consumer: g.unit, vars, format: "env" });
  }
  const reconcile: SecretNeed[] = [named(API_TOKEN_VAR, "wirebot/api-token", "token")];
  const master = fromMap(LITELLM_MASTER_VAR);
  if (master) reconcile.push(master);
  // The trace forwarder runs in the daemon: only it holds the external endpoint's token.
  const forward = c.transparency.forward ? fromMap(FORWARD_TOKEN_VAR) : null;
  if (forward) reconcile.push(forward);
  envFiles.push({ path: PATHS.reconcileEnv, consumer: "wirebot-reconcile.service", vars: reconcile, format: "env" });

  const applyTime = [fromMap(LITELLM_MASTER_VAR), fromMap(CLOUDFLARE_TOKEN_VAR)].filter((s): s is SecretNeed => s !== null);
  return {
    envFiles,
    applyTime,
    tunnelToken: c.tunnel.enabled ? { path: PATHS.tunnelToken, vaultName: map["TUNNEL_TOKEN"] ?? `wirebot/tunnel-token/${c.tunnel.name}` } : null,
  };
}
