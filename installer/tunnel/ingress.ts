/** Which public hostnames the tunnel publishes and where each one lands on loopback. Pure. */
import type { Layout } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import type { IngressRule } from "./ingress-validate.ts";

/** The catch-all every rule set ends with: an unknown hostname gets a plain 404, never a gateway. */
export const CATCH_ALL: IngressRule = { service: "http_status:404" };

export interface PublishedHost {
  hostname: string;
  /** "helm" (shared gateway), "api" (metering API) or "helm:<userId>" (a dedicated gateway). */
  role: "helm" | "api" | `helm:${string}`;
  /** loopback origin the tunnel forwards to */
  service: string;
  /** the gateway behind it, for allowedOrigins/publicOrigin; null for the API */
  gatewayId: string | null;
}

const origin = (port: number) => `http://127.0.0.1:${port}`;

export const helmHostname = (c: Config) => c.tunnel.hostnames.helm ?? `helm.${c.domain}`;
export const apiHostname = (c: Config) => c.tunnel.hostnames.api ?? `api.${c.domain}`;
/**
 * One label under the domain, never `helm.<user>.<domain>`: Universal SSL covers the apex and one
 * level of subdomain only, so deeper names would fail TLS at the edge.
 */
export const dedicatedHostname = (c: Config, userId: string) => `helm-${userId}.${c.domain}`;

/** Every hostname the tunnel serves, in ingress order. */
export function publishedHosts(c: Config, l: Layout): PublishedHost[] {
  const hosts: PublishedHost[] = [];
  if (l.shared) hosts.push({ hostname: helmHostname(c), role: "helm", service: origin(l.shared.port), gatewayId: l.shared.id });
  hosts.push({ hostname: apiHostname(c), role: "api", service: origin(c.metering.api.port), gatewayId: null });
  for (const g of l.dedicated) hosts.push({ hostname: dedicatedHostname(c, g.id), role: `helm:${g.id}`, service: origin(g.port), gatewayId: g.id });
  return hosts;
}

/** The browser origin of a gateway's Control UI (for `gateway.controlUi.allowedOrigins`), or null if not published. */
export function gatewayPublicOrigin(c: Config, l: Layout, gatewayId: string): string | null {
  const h = publishedHosts(c, l).find((p) => p.gatewayId === gatewayId);
  return h ? `https://${h.hostname}` : null;
}

/** Ingress rules for the config: one exact hostname per published host, then the 404 catch-all. */
export function buildIngress(c: Config, l: Layout): IngressRule[] {
  return [...publishedHosts(c, l).map((h): IngressRule => ({ hostname: h.hostname, service: h.service })), { ...CATCH_ALL }];
}
