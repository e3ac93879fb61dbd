/** The ingress wirebot builds and the cloudflared config it renders: right hostnames and ports, valid for cloudflared, no secrets. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parseConfig } from "../config/load.ts";
import { resolveLayout } from "../config/layout.ts";
import { buildIngress, dedicatedHostname, gatewayPublicOrigin, publishedHosts } from "./ingress.ts";
import { matchRule, validateTunnelYaml } from "./ingress-validate.ts";
import { TUNNEL_CONFIG_HEADER, TUNNEL_CREDENTIALS_FILE, renderTunnelConfig } from "./tunnel-config.ts";

const examplesDir = join(import.meta.dirname, "../../examples");
const examples = readdirSync(examplesDir).filter((f) => f.endsWith(".yaml"));
const load = (file: string, env: Record<string, string> = {}) => parseConfig(readFileSync(join(examplesDir, file), "utf8"), file, env);

describe("buildIngress", () => {
  test("mixed.yaml: helm → shared gateway, api → metering, helm-<user> → dedicated gateway, then 404", () => {
    const c = load("mixed.yaml");
    const l = resolveLayout(c);
    const erin = l.dedicated.find((g) => g.id === "erin")!;
    expect(buildIngress(c, l)).toEqual([
      { hostname: "helm.wirebot.example.org", service: "http://127.0.0.1:18789" },
      { hostname: "api.wirebot.example.org", service: "http://127.0.0.1:8100" },
      { hostname: "helm-erin.wirebot.example.org", service: `http://127.0.0.1:${erin.port}` },
      { service: "http_status:404" },
    ]);
    expect(gatewayPublicOrigin(c, l, "erin")).toBe("https://helm-erin.wirebot.example.org");
    expect(gatewayPublicOrigin(c, l, "shared")).toBe("https://helm.wirebot.example.org");
  });

  test("without a shared gateway there is no helm rule; hostnames default from domain", () => {
    const text = readFileSync(join(examplesDir, "one-user.yaml"), "utf8")
      .replace(/^domain: .*$/m, "domain: bots.example.net")
      .replace(/^mode: shared$/m, "mode: dedicated")
      // With no shared gateway, the one bot is dana's own (one poller per bot token).
      .replace("TELEGRAM_BOT_TOKEN:", "TELEGRAM_BOT_TOKEN_DANA:")
      .replace(/^tunnel: .*$/m, "tunnel: { enabled: true, accountId: 0123456789abcdef0123456789abcdef, zoneId: fedcba9876543210fedcba9876543210 }");
    const c = parseConfig(text, "inline");
    const l = resolveLayout(c);
    expect(l.shared).toBeNull();
    expect(publishedHosts(c, l).map((h) => h.hostname)).toEqual(["api.bots.example.net", "helm-dana.bots.example.net"]);
    expect(buildIngress(c, l).at(-1)).toEqual({ service: "http_status:404" });
  });

  test("dedicated hostnames stay one label deep, so Universal SSL covers them", () => {
    const c = load("mixed.yaml");
    expect(dedicatedHostname(c, "erin").split(".").length).toBe(c.domain.split(".").length + 1);
  });
});

describe.each(examples)("renderTunnelConfig(%s)", (file) => {
  const c = load(file);
  const l = resolveLayout(c);

  test("passes the cloudflared validation port without errors or warnings", () => {
    const v = validateTunnelYaml(renderTunnelConfig(c, l));
    expect(v.ok ? "ok" : v.error).toBe("ok");
    expect(v.warnings).toEqual([]);
  });

  test("every published hostname reaches its own loopback origin; anything else gets 404", () => {
    const v = validateTunnelYaml(renderTunnelConfig(c, l));
    if (!v.ok) throw new Error(v.error);
    for (const h of publishedHosts(c, l)) expect(matchRule(v.rules, `https://${h.hostname}/`).rule.service).toBe(h.service);
    expect(matchRule(v.rules, `https://evil.${c.domain}/`).rule.service).toBe("http_status:404");
  });

  test("starts with the managed-by header, names the tunnel and credentials for local management, holds no secret", () => {
    const text = renderTunnelConfig(c, l, "6ff42ae2-765d-4adf-8112-31c55c1551ef");
    expect(text.split("\n")[0]).toBe(TUNNEL_CONFIG_HEADER);
    expect(text).toContain("tunnel: 6ff42ae2-765d-4adf-8112-31c55c1551ef\n");
    expect(text).toContain(`credentials-file: ${TUNNEL_CREDENTIALS_FILE}\n`);
    expect(text).not.toMatch(/TunnelSecret|tunnel_secret|AccountTag|token:|password/i);
  });
});

test("remote management: the file documents the ingress but names no tunnel or credentials", () => {
  const c = load("one-user.yaml", { WIREBOT_TUNNEL__MANAGED: "remote", WIREBOT_TUNNEL__ACCOUNT_ID: "0123456789abcdef0123456789abcdef", WIREBOT_TUNNEL__ZONE_ID: "fedcba9876543210fedcba9876543210" });
  const text = renderTunnelConfig(c, resolveLayout(c));
  expect(text).toMatchInlineSnapshot(`
    "# Managed by wirebot; edit /etc/wirebot/wirebot.yaml and run 'wirebot apply'. Manual changes will be overwritten.
    # Remotely managed tunnel 'wirebot': Cloudflare holds the live ingress, set by 'wirebot apply';
    # this copy documents it and lets 'cloudflared tunnel --config <this file> ingress validate' check it.
    no-autoupdate: true
    originRequest:
      connectTimeout: 10s
    ingress:
      - hostname: helm.wirebot.example.org
        service: http://127.0.0.1:18789
      - hostname: api.wirebot.example.org
        service: http://127.0.0.1:8100
      - service: http_status:404
    "
  `);
});

test("before provisioning, the tunnel name stands in for the id", () => {
  const c = load("one-user.yaml");
  expect(renderTunnelConfig(c, resolveLayout(c))).toContain("tunnel: wirebot\n");
});
