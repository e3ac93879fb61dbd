/** What the tunnel should be in Cloudflare for a config: the provisioning inputs apply uses and plan reads against. Pure. */
import type { Layout } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import { accessFor } from "./cloudflare-access.ts";
import type { ProvisionOptions } from "./cloudflare.ts";
import { buildIngress, publishedHosts } from "./ingress.ts";

/** null when the config does not provision the tunnel through the API (disabled, or no account/zone). */
export function tunnelInputs(config: Config, layout: Layout): Omit<ProvisionOptions, "client" | "dryRun"> | null {
  const t = config.tunnel;
  if (!t.enabled || !t.accountId || !t.zoneId) return null;
  const hosts = publishedHosts(config, layout);
  return {
    accountId: t.accountId,
    zoneId: t.zoneId,
    tunnelName: t.name,
    managed: t.managed,
    ingress: buildIngress(config, layout),
    hostnames: hosts.map((h) => h.hostname),
    // always passed, so turning Access off removes what an earlier apply created
    access: accessFor(t.access, hosts, config.users),
  };
}
