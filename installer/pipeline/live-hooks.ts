/** The steps of a live apply that talk to the outside: the Cloudflare tunnel, a secrets refresh, LiteLLM keys. */
import { litellmKeyVar, meteredAgents, PATHS, resolveLayout } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import { CLOUDFLARE_TOKEN_VAR, LITELLM_MASTER_VAR, planSecrets } from "../config/secret-plan.ts";
import { configError } from "../errors.ts";
import type { LiveHooks } from "../engine/apply.ts";
import { agentKeySpecs, ensureAgentKeys } from "../meter/litellm-keys.ts";
import { wantedKeyBlocks } from "../meter/key-blocks.ts";
import { SECRETS_UNIT, TUNNEL_UNIT } from "../config/units.ts";
import { ensureWhatsAppPlugin } from "../channels/whatsapp-plugin.ts";
import { needsRestart, parseSecretFile } from "../secrets/secret-file.ts";
import { pullSecrets } from "../secrets/pull.ts";
import { provisionTunnel } from "../tunnel/cloudflare.ts";
import { tunnelInputs } from "../tunnel/tunnel-inputs.ts";
import { readAccessFacts, writeAccessFacts } from "../tunnel/access-facts-file.ts";
import { sameFacts, type AccessFacts } from "../tunnel/origin-access.ts";
import { renderTunnelConfig } from "../tunnel/tunnel-config.ts";
import type { CommandContext } from "./context.ts";
import type { Logger } from "pino";

export async function liveHooks(ctx: CommandContext, config: Config): Promise<LiveHooks> {
  const log: Logger = await ctx.services.logger("wirebot-apply");
  const layout = resolveLayout(config);
  const secrets = planSecrets(config, layout);

  async function readEnvFiles(): Promise<Map<string, string>> {
    const snapshot = new Map<string, string>();
    for (const p of [...secrets.envFiles.map((f) => f.path), ...(secrets.tunnelToken ? [secrets.tunnelToken.path] : [])])
      snapshot.set(p, (await ctx.host.readFile(p))?.toString("utf8") ?? "");
    return snapshot;
  }

  /** Returns the units to restart: cloudflared when its origin Access check changed (a new AUD tag, Access on or off). */
  async function provisionTunnelStep(): Promise<string[]> {
    const t = config.tunnel;
    if (!t.enabled || !t.accountId || !t.zoneId || !secrets.tunnelToken) return [];
    const need = secrets.applyTime.find((s) => s.envVar === CLOUDFLARE_TOKEN_VAR);
    if (!need) throw configError("tunnel.no-api-token", "the tunnel is provisioned through the Cloudflare API but secrets.map has no CLOUDFLARE_API_TOKEN", { hint: "add CLOUDFLARE_API_TOKEN: <vault name> to secrets.map (a token with Tunnel:Edit, DNS:Edit and Access:Edit)" });
    const backend = await ctx.services.vault(config, ctx.io, log);
    try {
      const apiToken = (await backend.get([need.vaultName])).get(need.vaultName);
      if (!apiToken) throw configError("tunnel.no-api-token", `the vault lacks '${need.vaultName}' (CLOUDFLARE_API_TOKEN)`, { hint: "create it in the vault, then run `wirebot apply` again" });
      const client = await ctx.services.cloudflare({ apiToken, maxRetries: 2 });
      ctx.io.err(`• provisioning Cloudflare tunnel '${t.name}'`);
      const result = await provisionTunnel({ client, ...tunnelInputs(config, layout)! });
      for (const ch of result.changes) if (ch.action !== "unchanged") ctx.io.err(`  ${ch.action} ${ch.kind} ${ch.name}`);
      const restart = await syncAccessFacts(result.accessFacts);
      // The vault feeds cloudflared at every boot, so it must hold the token of the tunnel that exists now: a
      // tunnel deleted and recreated in the dashboard, or a rotated tunnel secret, has a new one.
      const name = secrets.tunnelToken!.vaultName;
      if (result.token) {
        const stored = (await backend.get([name])).get(name);
        if (stored === undefined) await backend.create(name, result.token);
        else if (stored !== result.token) {
          await backend.update(name, result.token);
          ctx.io.err(`  updated vault secret '${name}': Cloudflare now issues a different token for tunnel '${t.name}'`);
        }
      }
      return restart;
    } finally {
      await backend.close?.();
    }
  }

  /**
   * The AUD tags come from Cloudflare (an application deleted and recreated has a new one): keep them on the
   * host, so the next render is the same, and bring the tunnel config up to date now, before cloudflared starts.
   */
  async function syncAccessFacts(facts: AccessFacts | null): Promise<string[]> {
    if (sameFacts(await readAccessFacts(ctx.host), facts)) return [];
    await writeAccessFacts(ctx.host, facts);
    // apply wrote the file just before this step (its render had the facts the host kept until now)
    if (await ctx.host.stat(PATHS.tunnelConfig)) await ctx.host.writeFileAtomic(PATHS.tunnelConfig, renderTunnelConfig(config, layout, undefined, facts), { mode: 0o644 });
    ctx.io.err(`  origin Access check: ${facts ? `${Object.keys(facts.aud).length} hostname(s) of team '${facts.teamName}'` : "off"} (${PATHS.tunnelConfig})`);
    return config.tunnel.managed === "local" ? [TUNNEL_UNIT] : [];
  }

  return {
    secretsUnit: SECRETS_UNIT,

    async beforeSecrets() {
      const plugin = await ensureWhatsAppPlugin(ctx.host, config, ctx.io);
      // A gateway loads plugins at start only; only gateways with a WhatsApp user load this one (render/gateway-config.ts),
      // and a gateway that stops loading it has a changed config of its own.
      const restart = plugin.outcome === "installed" ? layout.gateways.filter((g) => g.users.some((u) => u.channels.whatsapp)).map((g) => g.unit) : [];
      return [...restart, ...(await provisionTunnelStep())];
    },

    async refreshSecrets() {
      const before = await readEnvFiles();
      await pullSecrets(config, ctx.host, ctx.io, {}, { logger: log, open: () => ctx.services.vault(config, ctx.io, log) });
      const after = await readEnvFiles();
      const consumers = new Set<string>();
      for (const f of secrets.envFiles) if (needsRestart(f, before.get(f.path) ?? "", after.get(f.path) ?? "")) consumers.add(f.consumer);
      if (secrets.tunnelToken && before.get(secrets.tunnelToken.path) !== after.get(secrets.tunnelToken.path)) consumers.add(TUNNEL_UNIT);
      return [...consumers];
    },

    async afterSecrets() {
      const master = secrets.applyTime.find((s) => s.envVar === LITELLM_MASTER_VAR);
      if (!master) {
        ctx.io.err("• LiteLLM keys not registered: secrets.map has no LITELLM_MASTER_KEY (register wirebot/<agent> keys yourself)");
        return;
      }
      // The pull has just written every agent's key and the master key to tmpfs; read them there as root.
      const env = new Map<string, string>();
      for (const f of secrets.envFiles) for (const [k, v] of parseSecretFile((await ctx.host.readFile(f.path))?.toString("utf8") ?? "", f.format)) env.set(`${f.path}:${k}`, v);
      const keys = new Map<string, string>();
      for (const a of meteredAgents(config, layout)) {
        const v = env.get(`${a.gateway.keysFile ?? a.gateway.envFile}:${litellmKeyVar(a.id)}`);
        if (v) keys.set(a.id, v);
      }
      const adminKey = env.get(`${PATHS.reconcileEnv}:${LITELLM_MASTER_VAR}`);
      if (!adminKey) throw configError("litellm.no-master-key", `${PATHS.reconcileEnv} has no ${LITELLM_MASTER_VAR} after the secrets pull`, { hint: "check secrets.map.LITELLM_MASTER_KEY and the vault" });
      const client = await ctx.services.litellm({ baseUrl: config.litellm.baseUrl, adminKey, log });
      const results = await ensureAgentKeys(client, agentKeySpecs(config, keys, await wantedKeyBlocks(ctx.host, config)), log);
      const changed = results.filter((r) => r.outcome !== "unchanged");
      ctx.io.err(`• LiteLLM keys: ${changed.length ? changed.map((r) => `${r.agentId} ${r.outcome}`).join(", ") : "all registered"}`);
    },
  };
}
