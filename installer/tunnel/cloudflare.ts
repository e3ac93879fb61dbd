/** Provisions the Cloudflare side of the tunnel through the `cloudflare` SDK: tunnel, remote ingress, DNS records, Access; idempotent. */
import { randomBytes } from "node:crypto";
import Cloudflare from "cloudflare";
import { WirebotError, configError, type ErrorIssue } from "../errors.ts";
import { assertValidIngress, matchRule, type IngressRule } from "./ingress-validate.ts";
import { assertAccessOptions, convergeAccess, type AccessOptions } from "./cloudflare-access.ts";
import { teamNameOf, withOriginAccess, type AccessFacts } from "./origin-access.ts";

export type ChangeAction = "create" | "update" | "delete" | "unchanged";

export interface CloudflareChange {
  action: ChangeAction;
  kind: "tunnel" | "ingress" | "dns" | "access-policy" | "access-app";
  name: string;
  detail?: string;
}

export interface ProvisionOptions {
  client: Cloudflare;
  accountId: string;
  zoneId: string;
  tunnelName: string;
  managed: "remote" | "local";
  /**
   * Full ingress, catch-all last; validated with the cloudflared port before anything is sent. With Access
   * on, each protected hostname's rule gets `originRequest.access` (team, AUD tag) before it is set.
   */
  ingress: IngressRule[];
  /** DNS names to route to the tunnel (every non-catch-all hostname of the ingress). */
  hostnames: string[];
  /** Names the previous apply published; checked for removal even if the zone listing misses them. */
  previousHostnames?: string[];
  /**
   * Omit to leave Access alone; `enabled: false` removes what wirebot created (and is a no-op for a
   * token that cannot read Access at all).
   */
  access?: AccessOptions;
  /** Read only: report what would change, change nothing, fetch no token. */
  dryRun?: boolean;
}

export interface ProvisionResult {
  /** null only in a dry run when the tunnel does not exist yet */
  tunnelId: string | null;
  changes: CloudflareChange[];
  /**
   * The tunnel token (a secret: write it to tmpfs, never log it). Non-enumerable, so JSON.stringify,
   * pino and util.inspect of the result leave it out. null in a dry run.
   */
  readonly token: string | null;
  /**
   * What cloudflared needs to check Access itself (team, AUD tag per protected hostname); null with Access off.
   * A locally managed tunnel renders it into its config file; a remote one has it in the ingress already.
   */
  accessFacts: AccessFacts | null;
}

export const tunnelTarget = (tunnelId: string) => `${tunnelId}.cfargotunnel.com`;
/** Marks records wirebot created, so a re-created tunnel can take back its own names. */
export const recordComment = (tunnelName: string) => `managed by wirebot (tunnel ${tunnelName})`;

/** The fields wirebot reads from a tunnel (Shared.CloudflareTunnel). */
interface TunnelInfo {
  id?: string;
  name?: string;
  created_at?: string;
  deleted_at?: string;
  remote_config?: boolean;
  config_src?: "local" | "cloudflare";
}

/** The fields wirebot reads from a DNS record (the SDK's union type has them on every member). */
interface DnsRecord {
  id: string;
  name: string;
  type: string;
  content?: string;
  proxied?: boolean;
  ttl?: number;
  comment?: string | null;
}

/** Turn an SDK failure into a WirebotError that names the step and Cloudflare's codes, and carries no credential. */
export function cloudflareError(step: string, err: unknown, client?: Cloudflare): WirebotError {
  const scrub = (s: string) => (client?.apiToken ? s.split(client.apiToken).join("[redacted]") : s);
  if (err instanceof WirebotError) return err;
  if (err instanceof Cloudflare.APIConnectionError)
    return new WirebotError("tempFail", "cloudflare.unreachable", `Cloudflare API unreachable while trying to ${step}: ${scrub(err.message)}`, {
      hint: "check the network (and CLOUDFLARE_BASE_URL if set), then run 'wirebot apply' again",
    });
  if (err instanceof Cloudflare.APIError) {
    const status = err.status ?? 0;
    const list = (err.errors as { code?: number; message?: string }[] | undefined) ?? [];
    const issues: ErrorIssue[] = list.map((e) => ({ path: `cloudflare code ${e.code ?? "?"}`, message: scrub(e.message ?? "") }));
    const summary = list.length > 0 ? list.map((e) => `${e.message ?? ""} (code ${e.code ?? "?"})`).join("; ") : `HTTP ${status}`;
    const message = scrub(`Cloudflare API refused to ${step}: ${status} ${summary}`);
    if (status === 401 || status === 403)
      return new WirebotError("config", "cloudflare.auth", message, {
        issues,
        hint: "CLOUDFLARE_API_TOKEN needs Account: Cloudflare Tunnel: Edit, Account: Access: Apps and Policies: Edit (if tunnel.access is on) and Zone: DNS: Edit for the zone; check tunnel.accountId and tunnel.zoneId",
      });
    if (status === 429 || status >= 500)
      return new WirebotError("tempFail", "cloudflare.unavailable", message, { issues, hint: "Cloudflare is busy or failing; run 'wirebot apply' again later" });
    return new WirebotError("config", "cloudflare.api", message, { issues, hint: "check tunnel.accountId, tunnel.zoneId and the hostnames in /etc/wirebot/wirebot.yaml" });
  }
  return new WirebotError("internal", "cloudflare.unexpected", `unexpected failure while trying to ${step}: ${scrub(err instanceof Error ? err.message : String(err))}`);
}

const sameIngress = (a: unknown, b: IngressRule[]) => JSON.stringify(normalizeIngress(a)) === JSON.stringify(normalizeIngress(b));

function normalizeIngress(rules: unknown): unknown[] {
  if (!Array.isArray(rules)) return [];
  return rules.map((r: Record<string, unknown>) => {
    const o = r["originRequest"];
    return {
      hostname: r["hostname"] ?? "",
      path: r["path"] ?? "",
      service: r["service"],
      ...(o && typeof o === "object" && Object.keys(o).length > 0 ? { originRequest: o } : {}),
    };
  });
}

/**
 * Converge the Cloudflare side: find-or-create the named tunnel, set its ingress (remote
 * management), route every hostname to it with a proxied CNAME, remove this tunnel's records
 * that no longer belong, and (optionally) put Access in front of each Control UI. Foreign records (any record
 * not pointing at this tunnel and not marked by wirebot) are never changed: a clash is an error.
 */
export async function provisionTunnel(opts: ProvisionOptions): Promise<ProvisionResult> {
  const { client, accountId: account_id, zoneId: zone_id, tunnelName } = opts;
  const dry = opts.dryRun === true;
  const changes: CloudflareChange[] = [];
  const call = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw cloudflareError(step, e, client);
    }
  };

  const rules = assertValidIngress(opts.ingress, `tunnel '${tunnelName}' ingress`);
  const hostnames = [...new Set(opts.hostnames.map((h) => h.toLowerCase()))];
  const unrouted = hostnames.filter((h) => matchRule(rules, { host: h, path: "/" }).index === rules.length - 1);
  if (unrouted.length > 0)
    throw configError("tunnel.hostnames", `hostname(s) ${unrouted.join(", ")} would reach only the catch-all rule`, {
      hint: "every published hostname needs its own ingress rule; this is a wirebot bug if the rules were generated",
    });
  if (opts.access) assertAccessOptions(opts.access);

  // ---- 1. the tunnel, by name ----
  const found: TunnelInfo[] = [];
  await call(`list tunnels named '${tunnelName}'`, async () => {
    for await (const t of client.zeroTrust.tunnels.cloudflared.list({ account_id, name: tunnelName, is_deleted: false }))
      if (t.name === tunnelName && !t.deleted_at) found.push(t);
  });
  if (found.length > 1)
    throw configError("tunnel.duplicate", `Cloudflare account has ${found.length} tunnels named '${tunnelName}'`, {
      issues: found.map((t) => ({ path: `tunnel ${t.id ?? "?"}`, message: `created ${t.created_at ?? "?"}` })),
      hint: "delete the extra tunnels in the Zero Trust dashboard (Networks → Tunnels) or choose another tunnel.name",
    });
  let tunnel = found[0];
  const existingRemote = tunnel !== undefined && (tunnel.remote_config === true || tunnel.config_src === "cloudflare");
  if (tunnel && opts.managed === "local" && existingRemote)
    throw configError("tunnel.managed", `tunnel '${tunnelName}' is remotely managed in Cloudflare, but tunnel.managed is 'local'`, {
      hint: "a remotely managed tunnel cannot go back to a local config file: set tunnel.managed: remote, or delete the tunnel in the dashboard and apply again",
    });

  // ---- 2. read DNS before any write, so a clash stops us before we change anything ----
  const readByName = async (name: string): Promise<DnsRecord[]> => {
    const out: DnsRecord[] = [];
    await call(`list DNS records for ${name}`, async () => {
      for await (const r of client.dns.records.list({ zone_id, name: { exact: name } })) out.push(r as unknown as DnsRecord);
    });
    return out;
  };
  const comment = recordComment(tunnelName);
  const knownTarget = tunnel?.id ? tunnelTarget(tunnel.id) : null;
  const isOurs = (r: DnsRecord) =>
    r.type === "CNAME" && ((knownTarget !== null && r.content === knownTarget) || (r.comment === comment && (r.content ?? "").endsWith(".cfargotunnel.com")));
  const plans = new Map<string, DnsRecord | null>();
  const clashes: ErrorIssue[] = [];
  for (const name of hostnames) {
    const existing = await readByName(name);
    const ours = existing.find(isOurs);
    const foreign = existing.filter((r) => r !== ours);
    // Cloudflare allows nothing else beside a CNAME, so any other record at the name is a clash.
    for (const f of foreign) clashes.push({ path: name, message: `existing ${f.type} record → ${f.content ?? "?"} is not wirebot's` });
    plans.set(name, ours ?? null);
  }
  if (clashes.length > 0)
    throw configError("tunnel.dns-clash", `${clashes.length} DNS record(s) in the zone already use wirebot's hostnames`, {
      issues: clashes,
      hint: "wirebot never changes records it did not create: remove or rename them in the Cloudflare dashboard, or change domain / tunnel.hostnames",
    });

  // ---- 2b. Access first: the ingress needs each application's AUD tag, and the team that signs its tokens ----
  let accessFacts: AccessFacts | null = null;
  const accessChanges: CloudflareChange[] = [];
  if (opts.access) {
    const aud = await convergeAccess(client, account_id, tunnelName, opts.access, dry, accessChanges, call);
    if (opts.access.enabled) {
      const org = await call("read the Zero Trust organization", () => client.zeroTrust.organizations.list({ account_id }));
      const teamName = teamNameOf(org?.auth_domain);
      if (!teamName)
        throw configError("tunnel.access-team", `the Cloudflare account has no Zero Trust team (auth domain '${org?.auth_domain ?? "none"}'), which Access needs`, {
          hint: "choose a team name in the Zero Trust dashboard (Settings → Custom pages → Team domain), or set tunnel.access.enabled: false",
        });
      accessFacts = { teamName, aud };
    }
  }
  const ingress = withOriginAccess(opts.ingress, accessFacts);
  assertValidIngress(ingress, `tunnel '${tunnelName}' ingress with Access`);

  // ---- 3. create the tunnel if needed ----
  const created = !tunnel;
  if (!tunnel) {
    changes.push({ action: "create", kind: "tunnel", name: tunnelName, detail: `${opts.managed} management` });
    if (!dry) {
      tunnel = await call(`create tunnel '${tunnelName}'`, () =>
        client.zeroTrust.tunnels.cloudflared.create(
          opts.managed === "remote"
            ? { account_id, name: tunnelName, config_src: "cloudflare" }
            : // a locally managed tunnel needs a secret of at least 32 bytes; it reaches the box only inside the token
              { account_id, name: tunnelName, config_src: "local", tunnel_secret: randomBytes(32).toString("base64") },
        ),
      );
    }
  } else {
    changes.push({
      action: opts.managed === "remote" && !existingRemote ? "update" : "unchanged",
      kind: "tunnel",
      name: tunnelName,
      detail: opts.managed === "remote" && !existingRemote ? "migrate to remote management (one way)" : `${tunnel.id}`,
    });
  }
  const tunnelId = tunnel?.id ?? null;
  if (tunnel && !tunnelId) throw new WirebotError("internal", "cloudflare.no-id", `Cloudflare returned tunnel '${tunnelName}' without an id`);
  const target = tunnelId ? tunnelTarget(tunnelId) : null;

  // ---- 4. remote ingress ----
  if (opts.managed === "remote") {
    let current: unknown = undefined;
    if (tunnelId && !created) {
      const cfg = await call(`read the ingress of tunnel '${tunnelName}'`, () =>
        client.zeroTrust.tunnels.cloudflared.configurations.get(tunnelId, { account_id }),
      );
      current = cfg.config?.ingress;
    }
    if (sameIngress(current, ingress)) changes.push({ action: "unchanged", kind: "ingress", name: tunnelName });
    else {
      changes.push({ action: current === undefined || current === null ? "create" : "update", kind: "ingress", name: tunnelName, detail: `${ingress.length} rules` });
      if (!dry && tunnelId) {
        // The SDK types declare `hostname` as required, yet the catch-all must have none; the body is
        // sent unchanged (installers.md §2.4).
        const body = ingress as unknown as Cloudflare.ZeroTrust.Tunnels.Cloudflared.ConfigurationUpdateParams.Config.Ingress[];
        await call(`set the ingress of tunnel '${tunnelName}'`, () =>
          client.zeroTrust.tunnels.cloudflared.configurations.update(tunnelId, { account_id, config: { ingress: body } }),
        );
      }
    }
  }

  // ---- 5. DNS: desired names ----
  for (const name of hostnames) {
    const rec = plans.get(name) ?? null;
    const body = { zone_id, type: "CNAME" as const, name, content: target ?? "<new tunnel>.cfargotunnel.com", proxied: true, ttl: 1 as const, comment };
    if (!rec) {
      changes.push({ action: "create", kind: "dns", name, detail: `CNAME → ${body.content} (proxied)` });
      if (!dry) await call(`create the DNS record ${name}`, () => client.dns.records.create(body));
    } else if (rec.content === target && rec.proxied === true && rec.ttl === 1 && rec.comment === comment) {
      changes.push({ action: "unchanged", kind: "dns", name });
    } else {
      changes.push({ action: "update", kind: "dns", name, detail: `CNAME ${rec.content ?? "?"} → ${body.content} (proxied)` });
      if (!dry) await call(`update the DNS record ${name}`, () => client.dns.records.update(rec.id, body));
    }
  }

  // ---- 6. DNS: this tunnel's records that no longer belong ----
  if (target) {
    const stale = new Map<string, DnsRecord>();
    await call(`list DNS records pointing at tunnel '${tunnelName}'`, async () => {
      for await (const r of client.dns.records.list({ zone_id, type: "CNAME", content: { exact: target } })) {
        const rec = r as unknown as DnsRecord;
        if (rec.content === target && !hostnames.includes(rec.name.toLowerCase())) stale.set(rec.id, rec);
      }
    });
    for (const name of opts.previousHostnames ?? []) {
      if (hostnames.includes(name.toLowerCase())) continue;
      for (const rec of await readByName(name.toLowerCase())) if (rec.type === "CNAME" && rec.content === target) stale.set(rec.id, rec);
    }
    for (const rec of stale.values()) {
      changes.push({ action: "delete", kind: "dns", name: rec.name, detail: `CNAME → ${target}` });
      if (!dry) await call(`delete the DNS record ${rec.name}`, () => client.dns.records.delete(rec.id, { zone_id }));
    }
  }

  // ---- 7. Access in front of each Control UI (converged in 2b; listed here, after the routes) ----
  changes.push(...accessChanges);

  // ---- 8. the token (a string), last, so a failure above never leaves a token half-handled ----
  let token: string | null = null;
  if (!dry && tunnelId) token = await call(`fetch the token of tunnel '${tunnelName}'`, () => client.zeroTrust.tunnels.cloudflared.token.get(tunnelId, { account_id }));
  const result: ProvisionResult = { tunnelId, changes, token: null, accessFacts };
  Object.defineProperty(result, "token", { value: token, enumerable: false, writable: false });
  return result;
}
