/** What a tunnel-fronted request looks like at the origin: which loopback service cloudflared picks and the headers the edge and cloudflared add. Pure. */
import type { Layout } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import { matchRule, validateTunnelYaml } from "../tunnel/ingress-validate.ts";
import { renderTunnelConfig } from "../tunnel/tunnel-config.ts";

export interface TunnelRequest {
  /** the loopback origin cloudflared forwards to, e.g. http://127.0.0.1:18789; null when the rule is not an HTTP origin */
  origin: string | null;
  /** 1-based ingress rule that matched */
  ruleNumber: number;
  /** the rule's service, e.g. "http_status:404" for an unknown hostname */
  service: string;
  /** path and query to request at the origin (cloudflared keeps the eyeball's path) */
  path: string;
  headers: Record<string, string>;
}

/**
 * The headers a request carries when it reaches the origin through Cloudflare and cloudflared:
 * the public Host, the client address in X-Forwarded-For / Cf-Connecting-Ip, and the https scheme.
 * Their presence is what makes OpenClaw treat a loopback connection as remote (openclaw.md §3).
 */
export function tunnelForwardedHeaders(opts: { hostname: string; clientIp?: string; accessEmail?: string; ray?: string }): Record<string, string> {
  const ip = opts.clientIp ?? "203.0.113.7";
  return {
    host: opts.hostname,
    "x-forwarded-for": ip,
    "x-forwarded-proto": "https",
    "cf-connecting-ip": ip,
    "cf-visitor": '{"scheme":"https"}',
    "cf-ray": opts.ray ?? "8f0c0ffee0000000-AMS",
    "cdn-loop": "cloudflare",
    ...(opts.accessEmail
      ? { "cf-access-authenticated-user-email": opts.accessEmail, "cf-access-jwt-assertion": "test.jwt.assertion" }
      : {}),
  };
}

/**
 * Route a public URL through the rendered tunnel config exactly as cloudflared would, and give the
 * request to send to loopback to reproduce it (for tests against a real gateway).
 */
export function resolveTunnelRequest(c: Config, l: Layout, publicUrl: string, opts: { clientIp?: string; accessEmail?: string } = {}): TunnelRequest {
  const v = validateTunnelYaml(renderTunnelConfig(c, l));
  if (!v.ok) throw new Error(`rendered tunnel config is invalid: ${v.error}`);
  const u = new URL(publicUrl);
  const m = matchRule(v.rules, publicUrl);
  const origin = m.rule.serviceKind === "http" && m.rule.url ? new URL(m.rule.service).origin : null;
  return {
    origin,
    ruleNumber: m.number,
    service: m.rule.service,
    path: u.pathname + u.search,
    headers: tunnelForwardedHeaders({ hostname: u.hostname, ...opts }),
  };
}
