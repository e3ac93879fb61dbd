/** Reads Cloudflare, LiteLLM and the runtime's plugins for `plan`: the same inputs apply converges, in dry-run, with a timeout; changes nothing. */
import { litellmKeyVar, meteredAgents, resolveLayout } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import { CLOUDFLARE_TOKEN_VAR, LITELLM_MASTER_VAR, planSecrets } from "../config/secret-plan.ts";
import { WirebotError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import type { Io } from "../io.ts";
import { wantedKeyBlocks } from "../meter/key-blocks.ts";
import { planWhatsAppPlugin } from "../channels/whatsapp-plugin.ts";
import { WHATSAPP_PLUGIN_PACKAGE } from "../config/whatsapp-plugin-paths.ts";
import { LiteLlmError } from "../meter/litellm-client.ts";
import { keyAlias, planAgentKeys, type AgentKeySpec } from "../meter/litellm-keys.ts";
import { cloudflareError, provisionTunnel } from "../tunnel/cloudflare.ts";
import { tunnelInputs } from "../tunnel/tunnel-inputs.ts";
import type { Services } from "../pipeline/services.ts";
import type { RemoteChange, RemotePlan } from "./remote-plan.ts";

export interface ReadRemoteOptions {
  host: Host;
  io: Io;
  services: Services;
  /** per request; a service that does not answer in time is "unreachable" (exit 75) */
  timeoutMs?: number;
}

const unreachable = (what: string, detail: string) =>
  new WirebotError("tempFail", "remote.unreachable", `${what} did not answer while reading the remote state: ${detail}`, {
    hint: "check the network and the service, or run `wirebot plan --local` to see the local changes only",
  });

export async function readRemotePlan(config: Config, o: ReadRemoteOptions): Promise<RemotePlan> {
  const timeoutMs = o.timeoutMs ?? 15_000;
  const layout = resolveLayout(config);
  const secrets = planSecrets(config, layout);
  const plan: RemotePlan = { read: [], skipped: [], changes: [] };
  // The runtime's plugins live on this host: no vault, no network.
  const wa = await planWhatsAppPlugin(o.host, config);
  plan.read.push("runtime");
  if (wa.action !== "none")
    plan.changes.push({
      system: "runtime",
      kind: "plugin",
      name: WHATSAPP_PLUGIN_PACKAGE,
      action: wa.action === "remove" ? "delete" : wa.present === null ? "create" : "update",
      detail: wa.action === "remove" ? "no user has a WhatsApp channel" : `${wa.present ?? "absent"} → ${wa.wanted} (a user has a WhatsApp channel)`,
    });
  const tunnel = tunnelInputs(config, layout);
  const cfNeed = secrets.applyTime.find((s) => s.envVar === CLOUDFLARE_TOKEN_VAR);
  const masterNeed = secrets.applyTime.find((s) => s.envVar === LITELLM_MASTER_VAR);
  if (!tunnel) plan.skipped.push({ system: "cloudflare", reason: config.tunnel.enabled ? "tunnel.accountId/zoneId not set: the tunnel is not provisioned through the API" : "tunnel.enabled is false" });
  else if (!cfNeed) plan.skipped.push({ system: "cloudflare", reason: "secrets.map has no CLOUDFLARE_API_TOKEN" });
  if (!masterNeed) plan.skipped.push({ system: "litellm", reason: "secrets.map has no LITELLM_MASTER_KEY" });
  if ((!tunnel || !cfNeed) && !masterNeed) return plan;

  // Every agent key's vault name, to read its hash in LiteLLM (values stay in memory, as in apply).
  const agentVault = new Map<string, string>();
  for (const a of meteredAgents(config, layout))
    for (const f of secrets.envFiles) for (const v of f.vars) if (v.envVar === litellmKeyVar(a.id) && (f.path === (a.gateway.keysFile ?? a.gateway.envFile))) agentVault.set(a.id, v.vaultName);

  const backend = await o.services.vault(config, o.io);
  try {
    const names = [...(tunnel && cfNeed ? [cfNeed.vaultName] : []), ...(masterNeed ? [masterNeed.vaultName, ...agentVault.values()] : [])];
    const vault = await backend.get(names);

    if (tunnel && cfNeed) {
      const apiToken = vault.get(cfNeed.vaultName);
      if (!apiToken) plan.skipped.push({ system: "cloudflare", reason: `the vault lacks '${cfNeed.vaultName}' (CLOUDFLARE_API_TOKEN)` });
      else {
        const client = await o.services.cloudflare({ apiToken, maxRetries: 0, timeoutMs });
        let r;
        try {
          r = await provisionTunnel({ client, ...tunnel, dryRun: true });
        } catch (e) {
          const err = e instanceof WirebotError ? e : cloudflareError("read the tunnel", e, client);
          throw err.kind === "tempFail" ? unreachable("Cloudflare", err.message) : err;
        }
        plan.read.push("cloudflare");
        for (const c of r.changes) if (c.action !== "unchanged") plan.changes.push({ system: "cloudflare", kind: c.kind, name: c.name, action: c.action, ...(c.detail ? { detail: c.detail } : {}) });
      }
    }

    if (masterNeed) {
      const adminKey = vault.get(masterNeed.vaultName);
      if (!adminKey) plan.skipped.push({ system: "litellm", reason: `the vault lacks '${masterNeed.vaultName}' (LITELLM_MASTER_KEY)` });
      else {
        const client = await o.services.litellm({ baseUrl: config.litellm.baseUrl, adminKey, timeoutMs, attempts: 1 });
        try {
          const specs: AgentKeySpec[] = [];
          const blocks = await wantedKeyBlocks(o.host, config);
          for (const a of meteredAgents(config, layout)) {
            const key = vault.get(agentVault.get(a.id) ?? "");
            // A key the vault does not hold yet is generated by the next apply's secrets pull, then registered.
            if (key === undefined) plan.changes.push({ system: "litellm", kind: "key", name: keyAlias(a.id), action: "create", detail: "new key (generated into the vault by apply)" });
            else {
              const blocked = blocks.get(a.id);
              specs.push({ agentId: a.id, key, monthlyUsd: a.monthlyUsd, models: config.litellm.models, ...(blocked !== undefined ? { blocked } : {}) });
            }
          }
          for (const k of await planAgentKeys(client, specs)) {
            if (k.action === "create") plan.changes.push({ system: "litellm", kind: "key", name: keyAlias(k.agentId), action: "create", detail: "not registered in LiteLLM" });
            else if (k.action === "update") plan.changes.push({ system: "litellm", kind: "key", name: keyAlias(k.agentId), action: "update", detail: k.drift.join(", ") });
          }
          plan.read.push("litellm");
        } catch (e) {
          if (e instanceof LiteLlmError && (e.temporary || e.status === 0)) throw unreachable("LiteLLM", e.message);
          if (e instanceof LiteLlmError && (e.status === 401 || e.status === 403))
            throw new WirebotError("config", "litellm.auth", `LiteLLM refused the admin key (${e.status}) while reading the agents' keys`, { hint: "check LITELLM_MASTER_KEY in the vault (secrets.map)" });
          throw e;
        } finally {
          await client.close();
        }
      }
    }
  } finally {
    await backend.close?.();
  }
  return plan;
}

