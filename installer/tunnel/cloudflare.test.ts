/** provisionTunnel with the real `cloudflare` SDK against the local API stand-in over HTTP: idempotency, moves, removals, foreign records, Access per Control UI, errors. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import Cloudflare from "cloudflare";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { ACCESS_PATHS, startCloudflareStandin, type CloudflareStandin } from "../../test/cloudflare-standin/server.ts";
import { parseConfig } from "../config/load.ts";
import { resolveLayout } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import { WirebotError } from "../errors.ts";
import { buildIngress, publishedHosts } from "./ingress.ts";
import { accessAppName, accessFor, accessPolicyName } from "./cloudflare-access.ts";
import { provisionTunnel, recordComment, tunnelTarget, type ProvisionOptions } from "./cloudflare.ts";
import { validateIngress, validateTunnelYaml, type IngressRule } from "./ingress-validate.ts";
import { renderTunnelConfig } from "./tunnel-config.ts";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const ZONE = "fedcba9876543210fedcba9876543210";
const API_TOKEN = "cf-api-token-DO-NOT-LEAK-1234567890";

const base = readFileSync(join(import.meta.dirname, "../../examples/mixed.yaml"), "utf8");
function config(edit: (text: string) => string = (t) => t): Config {
  return parseConfig(edit(base), "test.yaml");
}
const withDomain = (d: string) => (t: string) => t.replace(/^domain: .*$/m, `domain: ${d}`).replace(/^tunnel: .*$/m, "tunnel: { enabled: true, name: wirebot, accountId: 0123456789abcdef0123456789abcdef, zoneId: fedcba9876543210fedcba9876543210 }");
const withoutErin = (t: string) => t.replace(/  - id: erin[\s\S]*$/, "");

let cf: CloudflareStandin;
let client: Cloudflare;
beforeEach(async () => {
  // per_page 2 by default, so every list call walks several pages
  cf = await startCloudflareStandin({ apiToken: API_TOKEN, accounts: [ACCOUNT], zones: [{ id: ZONE, name: "example.org" }], defaultPerPage: 2 });
  client = new Cloudflare({ apiToken: API_TOKEN, baseURL: cf.baseURL, maxRetries: 0 });
});
afterEach(async () => cf.stop());

function inputs(c: Config, extra: Partial<ProvisionOptions> = {}): ProvisionOptions {
  const l = resolveLayout(c);
  return {
    client,
    accountId: ACCOUNT,
    zoneId: ZONE,
    tunnelName: c.tunnel.name,
    managed: c.tunnel.managed === "remote" ? "remote" : "local",
    ingress: buildIngress(c, l),
    hostnames: publishedHosts(c, l).map((h) => h.hostname),
    ...extra,
  };
}
const remote = (c: Config) => inputs(c, { managed: "remote" });
const summary = (changes: { action: string; kind: string; name: string }[]) => changes.map((c) => `${c.action} ${c.kind} ${c.name}`);
const cnames = () => cf.records.filter((r) => r.type === "CNAME").map((r) => `${r.name} -> ${r.content}`).sort();

describe("provisionTunnel", () => {
  test("first run creates the tunnel, its remote ingress and proxied CNAMEs, and returns the token without exposing it", async () => {
    const r = await provisionTunnel(remote(config()));
    const id = r.tunnelId!;
    expect(summary(r.changes)).toEqual([
      "create tunnel wirebot",
      "create ingress wirebot",
      "create dns helm.wirebot.example.org",
      "create dns api.wirebot.example.org",
      "create dns helm-erin.wirebot.example.org",
    ]);
    expect(cnames()).toEqual([
      `api.wirebot.example.org -> ${id}.cfargotunnel.com`,
      `helm-erin.wirebot.example.org -> ${id}.cfargotunnel.com`,
      `helm.wirebot.example.org -> ${id}.cfargotunnel.com`,
    ]);
    expect(cf.records.every((rec) => rec.proxied && rec.ttl === 1 && rec.comment === recordComment("wirebot"))).toBe(true);
    const t = cf.tunnels[0]!;
    expect(t.config_src).toBe("cloudflare");
    expect(t.config?.ingress?.at(-1)).toEqual({ service: "http_status:404" }); // the catch-all went out without a hostname
    // the token is the real one and decodes to this tunnel
    expect(typeof r.token).toBe("string");
    expect(JSON.parse(Buffer.from(r.token!, "base64").toString())).toMatchObject({ a: ACCOUNT, t: id });
    // …but serialising the result never shows it
    expect(JSON.stringify(r)).not.toContain(r.token!);
    expect(inspect(r, { depth: 5 })).not.toContain(r.token!);
  });

  test("a second run changes nothing (only GETs) and returns the same tunnel", async () => {
    const first = await provisionTunnel(remote(config()));
    const before = cf.mutations().length;
    const second = await provisionTunnel(remote(config()));
    expect(cf.mutations().length).toBe(before);
    expect(second.tunnelId).toBe(first.tunnelId);
    expect(second.changes.every((c) => c.action === "unchanged")).toBe(true);
    expect(cf.tunnels).toHaveLength(1);
    // list calls walked pages: the stand-in answered page 2 at least once
    expect(cf.requests.some((q) => q.method === "GET" && q.query["page"] === "2")).toBe(true);
  });

  test("a renamed domain moves the records: old names removed, new ones created, ingress updated", async () => {
    const first = await provisionTunnel(remote(config()));
    const oldNames = publishedHosts(config(), resolveLayout(config())).map((h) => h.hostname);
    const moved = config(withDomain("bots.example.org"));
    const r = await provisionTunnel({ ...remote(moved), previousHostnames: oldNames });
    expect(r.tunnelId).toBe(first.tunnelId);
    const target = tunnelTarget(first.tunnelId!);
    expect(cnames()).toEqual([`api.bots.example.org -> ${target}`, `helm-erin.bots.example.org -> ${target}`, `helm.bots.example.org -> ${target}`]);
    expect(summary(r.changes.filter((c) => c.action === "delete")).sort()).toEqual([
      "delete dns api.wirebot.example.org",
      "delete dns helm-erin.wirebot.example.org",
      "delete dns helm.wirebot.example.org",
    ]);
    expect(summary(r.changes.filter((c) => c.kind === "ingress"))).toEqual(["update ingress wirebot"]);
    expect(cf.tunnels[0]!.config?.ingress?.[0]).toEqual({ hostname: "helm.bots.example.org", service: "http://127.0.0.1:18789" });
  });

  test("a removed dedicated user loses its record and its ingress rule", async () => {
    await provisionTunnel(remote(config()));
    const r = await provisionTunnel(remote(config(withoutErin)));
    expect(summary(r.changes.filter((c) => c.action !== "unchanged"))).toEqual(["update ingress wirebot", "delete dns helm-erin.wirebot.example.org"]);
    expect(cf.records.map((x) => x.name).sort()).toEqual(["api.wirebot.example.org", "helm.wirebot.example.org"]);
  });

  test("foreign records are left alone, even CNAMEs to another tunnel and records removed from the config", async () => {
    const blog = cf.addRecord(ZONE, { name: "blog.example.org", type: "CNAME", content: "other-tunnel.cfargotunnel.com", proxied: true });
    const www = cf.addRecord(ZONE, { name: "www.example.org", type: "A", content: "192.0.2.10" });
    await provisionTunnel(remote(config()));
    await provisionTunnel(remote(config(withoutErin)));
    await provisionTunnel({ ...remote(config(withDomain("bots.example.org"))), previousHostnames: ["blog.example.org", "www.example.org"] });
    expect(cf.records.find((r) => r.id === blog.id)).toEqual(blog);
    expect(cf.records.find((r) => r.id === www.id)).toEqual(www);
  });

  test("a foreign record on a wanted hostname stops provisioning before any change", async () => {
    cf.addRecord(ZONE, { name: "helm.wirebot.example.org", type: "A", content: "192.0.2.20" });
    const err = await provisionTunnel(remote(config())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WirebotError);
    expect((err as WirebotError).code).toBe("tunnel.dns-clash");
    expect((err as WirebotError).issues).toEqual([{ path: "helm.wirebot.example.org", message: "existing A record → 192.0.2.20 is not wirebot's" }]);
    expect(cf.mutations()).toEqual([]);
    expect(cf.tunnels).toEqual([]);
  });

  test("a record wirebot made for an earlier incarnation of the tunnel is taken back", async () => {
    cf.addRecord(ZONE, { name: "api.wirebot.example.org", type: "CNAME", content: "dead-tunnel.cfargotunnel.com", proxied: true, comment: recordComment("wirebot") });
    const r = await provisionTunnel(remote(config()));
    expect(summary(r.changes.filter((c) => c.kind === "dns" && c.action === "update"))).toEqual(["update dns api.wirebot.example.org"]);
    expect(cnames()).toContain(`api.wirebot.example.org -> ${tunnelTarget(r.tunnelId!)}`);
  });

  test("local management: a locally managed tunnel, no remote configuration calls", async () => {
    const r = await provisionTunnel(inputs(config()));
    expect(cf.tunnels[0]!.config_src).toBe("local");
    expect(cf.requests.filter((q) => q.path.endsWith("/configurations"))).toEqual([]);
    expect(summary(r.changes).slice(0, 1)).toEqual(["create tunnel wirebot"]);
    // the tunnel secret wirebot generated went only into the create request and comes back only inside the token
    const created = cf.requests.find((q) => q.method === "POST" && q.path.endsWith("/cfd_tunnel"))!.body as { tunnel_secret: string };
    expect(Buffer.from(created.tunnel_secret, "base64").length).toBe(32);
    expect(JSON.parse(Buffer.from(r.token!, "base64").toString()).s).toBe(created.tunnel_secret);
  });

  test("switching a remotely managed tunnel back to local is refused with a fix", async () => {
    await provisionTunnel(remote(config()));
    await expect(provisionTunnel(inputs(config()))).rejects.toMatchObject({ code: "tunnel.managed" });
  });

  test("dry run reports what would change and changes nothing", async () => {
    const r = await provisionTunnel({ ...remote(config()), dryRun: true });
    expect(summary(r.changes)[0]).toBe("create tunnel wirebot");
    expect(r.tunnelId).toBeNull();
    expect(r.token).toBeNull();
    expect(cf.mutations()).toEqual([]);
  });

  test("an invalid ingress is refused before anything is sent", async () => {
    const bad = { ...remote(config()), ingress: [{ hostname: "helm.wirebot.example.org", service: "http://127.0.0.1:18789/" }, { service: "http_status:404" }] };
    await expect(provisionTunnel(bad)).rejects.toThrow(/ingress rules don't support proxying to a different path/);
    expect(cf.requests).toEqual([]);
  });
});

describe("Cloudflare Access: one application per Control UI, each admitting only its owners", () => {
  const ADMINS = ["ops@example.org", "Root@example.org"];
  /** mixed.yaml with e-mails: erin (dedicated) and alice (shared, whose e-mail must grant nothing). */
  const withEmails = (t: string) => t.replace("    name: Erin\n", "    name: Erin\n    email: erin@example.org\n").replace("    name: Alice\n", "    name: Alice\n    email: alice@example.org\n");
  const access = (c: Config, emails: string[] = ADMINS, enabled = true, users = c.users) => ({
    ...remote(c),
    access: accessFor({ enabled, emails }, publishedHosts(c, resolveLayout(c)), users),
  });
  const accessChanges = (changes: { action: string; kind: string; name: string }[]) => summary(changes.filter((x) => x.kind.startsWith("access") && x.action !== "unchanged"));
  /** Who Access lets into each hostname, read back from the stand-in: destination → the linked policies' e-mails. */
  const admitted = () =>
    Object.fromEntries(
      cf.apps.flatMap((a) =>
        a.destinations.map((d) => [
          d.uri,
          a.policies.flatMap((l) => (cf.policies.find((p) => p.id === l.id)?.include ?? []).map((r) => (r as { email: { email: string } }).email.email)).sort(),
        ]),
      ),
    );
  const appNamed = (label: string) => cf.apps.find((a) => a.name === accessAppName("wirebot", label));
  const policyNamed = (label: string) => cf.policies.find((p) => p.name === accessPolicyName("wirebot", label));
  /** The methods of the requests sent since `n` requests had been recorded. */
  const methodsSince = (n: number) => [...new Set(cf.requests.slice(n).map((q) => q.method))];
  const accessWritesSince = (n: number) => cf.requests.slice(n).filter((q) => q.method !== "GET" && q.path.includes("/access/")).map((q) => `${q.method} ${q.path.replace(`/accounts/${ACCOUNT}/access/`, "")}`);

  test("helm admits the admin e-mails only, helm-erin admits erin only; a shared user's e-mail grants nothing; the API stays outside; a second run sends only GETs", async () => {
    const c = config(withEmails);
    const r1 = await provisionTunnel(access(c));
    expect(accessChanges(r1.changes)).toEqual([
      "create access-policy wirebot wirebot helm allowlist",
      "create access-policy wirebot wirebot helm-erin allowlist",
      "create access-app wirebot wirebot helm",
      "create access-app wirebot wirebot helm-erin",
    ]);
    expect(admitted()).toEqual({
      "helm.wirebot.example.org": ["ops@example.org", "root@example.org"],
      "helm-erin.wirebot.example.org": ["erin@example.org"],
    });
    expect(appNamed("helm")).toMatchObject({ domain: "helm.wirebot.example.org", type: "self_hosted", session_duration: "24h", app_launcher_visible: false, policies: [{ id: policyNamed("helm")!.id, precedence: 1 }] });
    expect(appNamed("helm-erin")).toMatchObject({ domain: "helm-erin.wirebot.example.org", policies: [{ id: policyNamed("helm-erin")!.id, precedence: 1 }] });
    expect(JSON.stringify(cf.policies)).not.toContain("alice@example.org");

    const before = cf.requests.length;
    const r2 = await provisionTunnel(access(c, ["root@example.org", "OPS@example.org"]));
    expect(methodsSince(before)).toEqual(["GET"]);
    expect(r2.changes.every((x) => x.action === "unchanged")).toBe(true);
  });

  test("changing the admin e-mails updates only helm's policy; changing a dedicated user's e-mail updates only theirs", async () => {
    await provisionTunnel(access(config(withEmails)));
    let before = cf.requests.length;
    const admins = await provisionTunnel(access(config(withEmails), ["ops@example.org"]));
    expect(accessChanges(admins.changes)).toEqual(["update access-policy wirebot wirebot helm allowlist"]);
    expect(accessWritesSince(before)).toEqual([`PUT policies/${policyNamed("helm")!.id}`]);

    before = cf.requests.length;
    const moved = await provisionTunnel(access(config((t) => withEmails(t).replace("erin@example.org", "erin@elsewhere.example")), ["ops@example.org"]));
    expect(accessChanges(moved.changes)).toEqual(["update access-policy wirebot wirebot helm-erin allowlist"]);
    expect(accessWritesSince(before)).toEqual([`PUT policies/${policyNamed("helm-erin")!.id}`]);
    expect(admitted()).toEqual({ "helm.wirebot.example.org": ["ops@example.org"], "helm-erin.wirebot.example.org": ["erin@elsewhere.example"] });
  });

  test("a removed dedicated user loses its application, then its policy; the shared one is untouched", async () => {
    await provisionTunnel(access(config(withEmails)));
    const erinApp = appNamed("helm-erin")!.id;
    const erinPolicy = policyNamed("helm-erin")!.id;
    const before = cf.requests.length;
    const r = await provisionTunnel(access(config((t) => withoutErin(withEmails(t)))));
    expect(accessChanges(r.changes)).toEqual(["delete access-app wirebot wirebot helm-erin", "delete access-policy wirebot wirebot helm-erin allowlist"]);
    expect(accessWritesSince(before)).toEqual([`DELETE apps/${erinApp}`, `DELETE policies/${erinPolicy}`]);
    expect(admitted()).toEqual({ "helm.wirebot.example.org": ["ops@example.org", "root@example.org"] });
  });

  test("with no shared gateway there is no helm application, and one left by an earlier apply is deleted", async () => {
    await provisionTunnel(access(config(withEmails)));
    // Every user dedicated: each polls Telegram with a bot of their own (one poller per bot token).
    const c = config((t) => withEmails(t).replace(/^mode: shared$/m, "mode: dedicated").replace("    TELEGRAM_BOT_TOKEN:", "    TELEGRAM_BOT_TOKEN_BOB: wirebot/telegram-bot-token-bob\n    TELEGRAM_BOT_TOKEN_ALICE:"));
    const users = c.users.map((u) => ({ ...u, email: u.email ?? `${u.id}@example.org` }));
    const r = await provisionTunnel(access(c, ADMINS, true, users));
    expect(accessChanges(r.changes)).toEqual([
      "create access-policy wirebot wirebot helm-alice allowlist",
      "create access-policy wirebot wirebot helm-bob allowlist",
      "delete access-app wirebot wirebot helm",
      "create access-app wirebot wirebot helm-alice",
      "create access-app wirebot wirebot helm-bob",
      "delete access-policy wirebot wirebot helm allowlist",
    ]);
    expect(admitted()).toEqual({
      "helm-alice.wirebot.example.org": ["alice@example.org"],
      "helm-bob.wirebot.example.org": ["bob@example.org"],
      "helm-erin.wirebot.example.org": ["erin@example.org"],
    });
  });

  test("the single application of earlier releases is split: helm keeps its name and admins, helm-erin moves to its own application", async () => {
    // What an earlier apply left: one app over every Control UI, admitting the same list everywhere.
    const old = await client.zeroTrust.access.policies.create({ account_id: ACCOUNT, name: accessPolicyName("wirebot"), decision: "allow", include: ADMINS.map((email) => ({ email: { email: email.toLowerCase() } })) });
    const uris = ["helm.wirebot.example.org", "helm-erin.wirebot.example.org"];
    await client.zeroTrust.access.applications.create({ account_id: ACCOUNT, type: "self_hosted", name: accessAppName("wirebot"), domain: uris[0]!, destinations: uris.map((uri) => ({ type: "public" as const, uri })), policies: [{ id: old.id!, precedence: 1 }] });
    const sharedApp = appNamed("helm")!.id;
    const before = cf.requests.length;
    const r = await provisionTunnel(access(config(withEmails)));
    expect(accessChanges(r.changes)).toEqual([
      "create access-policy wirebot wirebot helm-erin allowlist",
      "update access-app wirebot wirebot helm",
      "create access-app wirebot wirebot helm-erin",
    ]);
    // helm-erin is released by the shared app before its own app claims it (the stand-in refuses two apps on one hostname)
    expect(accessWritesSince(before)).toEqual([`POST policies`, `PUT apps/${sharedApp}`, `POST apps`]);
    expect(appNamed("helm")!.id).toBe(sharedApp);
    expect(admitted()).toEqual({ "helm.wirebot.example.org": ["ops@example.org", "root@example.org"], "helm-erin.wirebot.example.org": ["erin@example.org"] });
  });

  test("an application changed in the dashboard is put back: its hostnames, and the policy it links", async () => {
    const c = config(withEmails);
    await provisionTunnel(access(c));
    appNamed("helm")!.destinations.push({ type: "public", uri: "grafana.wirebot.example.org" });
    appNamed("helm-erin")!.policies = [{ id: policyNamed("helm")!.id, precedence: 1 }];
    const r = await provisionTunnel(access(c));
    expect(accessChanges(r.changes)).toEqual(["update access-app wirebot wirebot helm", "update access-app wirebot wirebot helm-erin"]);
    expect(admitted()).toEqual({ "helm.wirebot.example.org": ["ops@example.org", "root@example.org"], "helm-erin.wirebot.example.org": ["erin@example.org"] });
  });

  test("turning Access off deletes every application and policy wirebot made for this tunnel, never a foreign one or another tunnel's; the next run sends only GETs", async () => {
    const mine = await provisionTunnel(access(config(withEmails)));
    expect(mine.changes.filter((x) => x.action === "create" && x.kind === "access-app")).toHaveLength(2);
    const foreignPolicy = await client.zeroTrust.access.policies.create({ account_id: ACCOUNT, name: "ops team", decision: "allow", include: [{ email: { email: "ops@example.org" } }] });
    for (const [name, uri] of [["Grafana", "grafana.example.org"], ["wirebot other helm", "helm.other.example.org"], ["wirebot wirebot helm extra", "extra.example.org"]] as const)
      await client.zeroTrust.access.applications.create({ account_id: ACCOUNT, type: "self_hosted", name, domain: uri, destinations: [{ type: "public", uri }], policies: [{ id: foreignPolicy.id!, precedence: 1 }] });
    await client.zeroTrust.access.policies.create({ account_id: ACCOUNT, name: "wirebot other helm allowlist", decision: "allow", include: [{ email: { email: "x@example.org" } }] });

    const off = await provisionTunnel(access(config(withEmails), [], false));
    expect(accessChanges(off.changes)).toEqual([
      "delete access-app wirebot wirebot helm",
      "delete access-app wirebot wirebot helm-erin",
      "delete access-policy wirebot wirebot helm allowlist",
      "delete access-policy wirebot wirebot helm-erin allowlist",
    ]);
    expect(cf.apps.map((a) => a.name).sort()).toEqual(["Grafana", "wirebot other helm", "wirebot wirebot helm extra"]);
    expect(cf.policies.map((p) => p.name).sort()).toEqual(["ops team", "wirebot other helm allowlist"]);

    const before = cf.requests.length;
    const again = await provisionTunnel(access(config(withEmails), [], false));
    expect(methodsSince(before)).toEqual(["GET"]);
    expect(accessChanges(again.changes)).toEqual([]);
  });

  test("the origin checks Access too: each protected hostname's rule requires the team and the AUD tag of the application Cloudflare returned; the API's rule does not", async () => {
    const c = config(withEmails);
    const r = await provisionTunnel(access(c));
    const rules = (cf.tunnels.find((t) => t.deleted_at === null)!.config!.ingress ?? []) as { hostname?: string; originRequest?: { access?: unknown } }[];
    const accessOf = (h: string) => rules.find((x) => x.hostname === h)?.originRequest?.access;
    expect(accessOf("helm.wirebot.example.org")).toEqual({ required: true, teamName: "wirebot-team", audTag: [appNamed("helm")!.aud] });
    expect(accessOf("helm-erin.wirebot.example.org")).toEqual({ required: true, teamName: "wirebot-team", audTag: [appNamed("helm-erin")!.aud] });
    expect(accessOf("api.wirebot.example.org")).toBeUndefined();
    expect(r.accessFacts).toEqual({ teamName: "wirebot-team", aud: { "helm.wirebot.example.org": appNamed("helm")!.aud, "helm-erin.wirebot.example.org": appNamed("helm-erin")!.aud } });
    expect(validateIngress(rules as IngressRule[]).ok).toBe(true);

    // The application deleted in the dashboard: the next apply makes a new one, and the origin follows its new AUD tag.
    const oldAud = appNamed("helm")!.aud;
    cf.apps.splice(cf.apps.indexOf(appNamed("helm")!), 1);
    const dry = await provisionTunnel({ ...access(c), dryRun: true });
    expect(summary(dry.changes.filter((x) => x.action !== "unchanged"))).toEqual(["update ingress wirebot", "create access-app wirebot wirebot helm"]);
    const r2 = await provisionTunnel(access(c));
    expect(appNamed("helm")!.aud).not.toBe(oldAud);
    expect(accessOf2()).toEqual([appNamed("helm")!.aud]);
    expect(r2.accessFacts!.aud["helm.wirebot.example.org"]).toBe(appNamed("helm")!.aud);

    // Access off: no origin check left (and no facts).
    const r3 = await provisionTunnel(access(c, ADMINS, false));
    expect(JSON.stringify(cf.tunnels.find((t) => t.deleted_at === null)!.config)).not.toContain('"access"');
    expect(r3.accessFacts).toBeNull();

    function accessOf2() {
      const now = (cf.tunnels.find((t) => t.deleted_at === null)!.config!.ingress ?? []) as { hostname?: string; originRequest?: { access?: { audTag?: string[] } } }[];
      return now.find((x) => x.hostname === "helm.wirebot.example.org")?.originRequest?.access?.audTag;
    }
  });

  test("a locally managed tunnel gets the same check in its config file, from the facts the last apply kept; cloudflared's validation accepts it", async () => {
    const tunnelLine = (more: string) => `tunnel: { enabled: true, name: wirebot, accountId: ${ACCOUNT}, zoneId: ${ZONE}${more} }`;
    const on = parseConfig(withEmails(base).replace(/^tunnel: .*$/m, tunnelLine(", access: { enabled: true, emails: [ops@example.org] }")), "t.yaml");
    expect(on.tunnel.managed).toBe("local");
    const r = await provisionTunnel({ ...access(on), managed: "local" });
    const yaml = renderTunnelConfig(on, resolveLayout(on), undefined, r.accessFacts);
    expect(validateTunnelYaml(yaml).ok).toBe(true);
    expect(yaml).toContain(`audTag:\n          - ${r.accessFacts!.aud["helm.wirebot.example.org"]}`);
    expect(yaml).toContain("teamName: wirebot-team");
    // Access off in wirebot.yaml: facts left on disk are not rendered.
    const off = parseConfig(base.replace(/^tunnel: .*$/m, tunnelLine("")), "t.yaml");
    expect(renderTunnelConfig(off, resolveLayout(off), undefined, r.accessFacts)).not.toContain("audTag");
  });

  test("dry run lists the applications and policies it would create and sends no write", async () => {
    await provisionTunnel(remote(config(withEmails)));
    const before = cf.requests.length;
    const r = await provisionTunnel({ ...access(config(withEmails)), dryRun: true });
    expect(accessChanges(r.changes)).toHaveLength(4);
    expect(methodsSince(before)).toEqual(["GET"]);
    expect(cf.apps).toEqual([]);
  });

  test("Access off with a token that gets 403 on Access: provisioning goes on and the tunnel and DNS are done", async () => {
    cf.forbid(ACCESS_PATHS);
    const r = await provisionTunnel(access(config(), [], false));
    // the stand-in really refused: the policies listing was tried and answered 403
    expect(cf.requests.some((q) => q.method === "GET" && q.path === `/accounts/${ACCOUNT}/access/policies`)).toBe(true);
    expect(cf.mutations().filter((q) => q.path.includes("/access/"))).toEqual([]);
    expect(cf.tunnels).toHaveLength(1);
    expect(cnames()).toHaveLength(3);
    expect(typeof r.token).toBe("string");
    expect(r.changes.filter((x) => x.kind.startsWith("access"))).toEqual([
      { action: "unchanged", kind: "access-app", name: accessAppName("wirebot"), detail: "the API token cannot read Access: nothing wirebot could have created" },
      { action: "unchanged", kind: "access-policy", name: accessPolicyName("wirebot"), detail: "the API token cannot read Access: nothing wirebot could have created" },
    ]);
  });

  test("Access on with a token that gets 403 on Access still fails as an auth error", async () => {
    cf.forbid(ACCESS_PATHS);
    const err = await provisionTunnel(access(config(withEmails))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WirebotError);
    expect((err as WirebotError).code).toBe("cloudflare.auth");
    expect((err as WirebotError).message).toBe("Cloudflare API refused to list Access policies: 403 Authentication error (code 10000)");
    expect(cf.apps).toEqual([]);
  });

  test("a Control UI that would admit nobody is a config error naming the key, before any call", async () => {
    const err = await provisionTunnel(access(config(), [])).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "tunnel.access", exitCode: 78 });
    expect((err as WirebotError).issues).toEqual([
      { path: "tunnel.access.emails", message: "helm.wirebot.example.org has no e-mail address to admit" },
      { path: "users[2].email", message: "helm-erin.wirebot.example.org has no e-mail address to admit" },
    ]);
    expect(cf.requests).toEqual([]);
  });

  test("enabled with no Control UI hostname is a config error before any call", async () => {
    await expect(provisionTunnel({ ...remote(config()), access: { enabled: true, apps: [] } })).rejects.toMatchObject({ code: "tunnel.access" });
    expect(cf.requests).toEqual([]);
  });
});

describe("API errors surface as WirebotErrors without secrets", () => {
  const catchErr = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as WirebotError);

  test("a refused DNS create names the step and Cloudflare's code; neither the API token nor the tunnel token appears", async () => {
    cf.failNext("POST", /\/dns_records$/, 400, [{ code: 81053, message: "An A, AAAA, or CNAME record with that host already exists." }]);
    const err = await catchErr(provisionTunnel(remote(config())));
    expect(err).toBeInstanceOf(WirebotError);
    expect(err!.code).toBe("cloudflare.api");
    expect(err!.exitCode).toBe(78);
    expect(err!.message).toBe(
      "Cloudflare API refused to create the DNS record helm.wirebot.example.org: 400 An A, AAAA, or CNAME record with that host already exists. (code 81053)",
    );
    const tunnelSecret = cf.tunnels[0]!.secret;
    const everything = JSON.stringify({ m: err!.message, i: err!.issues, h: err!.hint }) + inspect(err, { depth: 6 });
    expect(everything).not.toContain(API_TOKEN);
    expect(everything).not.toContain(tunnelSecret);
  });

  test("a bad API token is an auth error with the permissions it needs", async () => {
    const wrong = new Cloudflare({ apiToken: "wrong-token-SECRET", baseURL: cf.baseURL, maxRetries: 0 });
    const err = await catchErr(provisionTunnel({ ...remote(config()), client: wrong }));
    expect(err!.code).toBe("cloudflare.auth");
    expect(err!.message).toContain("Authentication error (code 10000)");
    expect(err!.hint).toMatch(/Cloudflare Tunnel: Edit/);
    expect(inspect(err, { depth: 6 })).not.toContain("wrong-token-SECRET");
  });

  test("5xx and rate limits are temporary failures (exit 75)", async () => {
    cf.failNext("GET", /\/cfd_tunnel$/, 503, [{ code: 10013, message: "Service unavailable" }]);
    const err = await catchErr(provisionTunnel(remote(config())));
    expect(err!.code).toBe("cloudflare.unavailable");
    expect(err!.exitCode).toBe(75);
  });

  test("an unknown zone is reported as Cloudflare says it", async () => {
    const err = await catchErr(provisionTunnel({ ...remote(config()), zoneId: "00000000000000000000000000000000" }));
    expect(err!.code).toBe("cloudflare.api");
    expect(err!.issues[0]!.path).toBe("cloudflare code 7003");
  });

  test("an unreachable API is a temporary failure", async () => {
    const dead = new Cloudflare({ apiToken: API_TOKEN, baseURL: "http://127.0.0.1:1/client/v4", maxRetries: 0 });
    const err = await catchErr(provisionTunnel({ ...remote(config()), client: dead }));
    expect(err!.code).toBe("cloudflare.unreachable");
    expect(err!.exitCode).toBe(75);
  });
});
