/** Renders /etc/cloudflared/wirebot.yml: the ingress (and, for local management, the tunnel it belongs to). Pure; holds no secret. */
import { stringify } from "yaml";
import type { Layout } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import { buildIngress } from "./ingress.ts";
import { withOriginAccess, type AccessFacts } from "./origin-access.ts";
import { assertValidIngress, type IngressRule } from "./ingress-validate.ts";

export const TUNNEL_CONFIG_HEADER = "# Managed by wirebot; edit /etc/wirebot/wirebot.yaml and run 'wirebot apply'. Manual changes will be overwritten.";

import { TUNNEL_UNIT } from "../config/units.ts";
/** Credential names the unit loads with LoadCredential= (see docs/tunnel.md). */
export const TUNNEL_TOKEN_CREDENTIAL = "tunnel-token";
export const TUNNEL_CREDENTIALS_CREDENTIAL = "tunnel-credentials";
/**
 * The `credentials-file:` the rendered config names, in the unit's credentials directory (the unit runs
 * with DynamicUser= and cannot read root-owned files under /run/wirebot). Nothing fills it: cloudflared
 * runs with --token-file and takes the credentials from the token, so the line only gives the file the
 * shape of a complete locally-managed config.
 */
export const TUNNEL_CREDENTIALS_FILE = `/run/credentials/${TUNNEL_UNIT}/${TUNNEL_CREDENTIALS_CREDENTIAL}`;

// Go duration strings: cloudflared's YAML decoder reads them, the API's JSON uses seconds instead.
const ORIGIN_DEFAULTS = { connectTimeout: "10s" } as const;

export interface TunnelConfigDoc {
  tunnel?: string;
  "credentials-file"?: string;
  "no-autoupdate": true;
  originRequest: typeof ORIGIN_DEFAULTS;
  ingress: IngressRule[];
}

/**
 * The document behind the file. `tunnelId` is the UUID once provisioned; before that the tunnel's
 * name stands in (cloudflared accepts either for `tunnel:`). `access` (what the last apply got from
 * Cloudflare) puts cloudflared's own Access check on each protected hostname, while Access is on.
 */
export function buildTunnelConfigDoc(c: Config, l: Layout, tunnelId?: string, access: AccessFacts | null = null): TunnelConfigDoc {
  const ingress = withOriginAccess(buildIngress(c, l), c.tunnel.access.enabled ? access : null);
  assertValidIngress(ingress, "tunnel ingress");
  const local = c.tunnel.managed === "local";
  return {
    ...(local ? { tunnel: tunnelId ?? c.tunnel.name, "credentials-file": TUNNEL_CREDENTIALS_FILE } : {}),
    "no-autoupdate": true,
    originRequest: { ...ORIGIN_DEFAULTS },
    ingress,
  };
}

export function renderTunnelConfig(c: Config, l: Layout, tunnelId?: string, access: AccessFacts | null = null): string {
  const doc = buildTunnelConfigDoc(c, l, tunnelId, access);
  const header =
    c.tunnel.managed === "local"
      ? [TUNNEL_CONFIG_HEADER, `# Locally managed tunnel '${c.tunnel.name}': cloudflared reads this ingress; the credentials stay on tmpfs.`]
      : [
          TUNNEL_CONFIG_HEADER,
          `# Remotely managed tunnel '${c.tunnel.name}': Cloudflare holds the live ingress, set by 'wirebot apply';`,
          "# this copy documents it and lets 'cloudflared tunnel --config <this file> ingress validate' check it.",
        ];
  return `${header.join("\n")}\n${stringify(doc, { lineWidth: 0 })}`;
}
