/** Cloudflare Access in front of the Control UIs: one application and one allow-list policy per UI, each admitting only that UI's owners. */
import type Cloudflare from "cloudflare";
import { WirebotError, configError } from "../errors.ts";
import type { CloudflareChange } from "./cloudflare.ts";
import type { PublishedHost } from "./ingress.ts";

/** One Control UI behind Access. */
export interface AccessApp {
  /** `helm` (the shared gateway) or `helm-<userId>` (a dedicated one); names the application and its policy. */
  label: string;
  hostname: string;
  /** Who may sign in. Empty only for a config the schema should have refused; provisioning refuses it too. */
  emails: string[];
  /** The wirebot.yaml key the e-mails come from, for error messages. */
  source: string;
}

export interface AccessOptions {
  enabled: boolean;
  /** Empty when disabled: every application and policy wirebot made for this tunnel is then removed. */
  apps: AccessApp[];
}

export const SHARED_LABEL = "helm";
export const accessAppName = (tunnelName: string, label: string = SHARED_LABEL) => `wirebot ${tunnelName} ${label}`;
export const accessPolicyName = (tunnelName: string, label: string = SHARED_LABEL) => `${accessAppName(tunnelName, label)} allowlist`;

/**
 * The label of an application or policy wirebot made for this tunnel, or null for anything else.
 * Tunnel names cannot contain spaces, so another tunnel's objects never match.
 */
function ownLabel(tunnelName: string, name: string | undefined, suffix: "" | " allowlist"): string | null {
  const m = new RegExp(`^wirebot ${tunnelName} (helm(?:-[a-z][a-z0-9-]{0,30})?)${suffix}$`).exec(name ?? "");
  return m ? m[1]! : null;
}

/**
 * The Access settings for a config: each Control UI gets its own application. The shared gateway's
 * `helm` admits the operator's admin e-mails only, because its token is operator over every agent in
 * it; a dedicated `helm-<id>` admits that user's own e-mail only. The metering API is never behind
 * Access (machines call it with a bearer token). Disabled still yields options, so what an earlier
 * apply created gets removed.
 */
export function accessFor(
  access: { enabled: boolean; emails: string[] },
  hosts: readonly PublishedHost[],
  users: readonly { id: string; email?: string | undefined }[],
): AccessOptions {
  if (!access.enabled) return { enabled: false, apps: [] };
  const apps: AccessApp[] = [];
  for (const h of hosts) {
    if (h.role === "helm") apps.push({ label: SHARED_LABEL, hostname: h.hostname, emails: access.emails, source: "tunnel.access.emails" });
    else if (h.role.startsWith("helm:")) {
      const id = h.role.slice("helm:".length);
      const i = users.findIndex((u) => u.id === id);
      const email = users[i]?.email;
      apps.push({ label: `helm-${id}`, hostname: h.hostname, emails: email ? [email] : [], source: `users[${i}].email` });
    }
  }
  return { enabled: true, apps };
}

/** Refuse, before any call, Access settings under which a Control UI would admit nobody. */
export function assertAccessOptions(access: AccessOptions): void {
  if (!access.enabled) return;
  if (access.apps.length === 0)
    throw configError("tunnel.access", "tunnel.access.enabled is true but no Control UI hostname is published to put behind Access", {
      hint: "Access protects the Control UIs (helm); set tunnel.access.enabled: false if no gateway is published",
    });
  const empty = access.apps.filter((a) => a.emails.length === 0);
  if (empty.length > 0)
    throw configError("tunnel.access", `${empty.length} Control UI(s) behind Cloudflare Access would admit nobody`, {
      issues: empty.map((a) => ({ path: a.source, message: `${a.hostname} has no e-mail address to admit` })),
      hint: "list the operator's e-mails under tunnel.access.emails (for helm) and give each dedicated user an email (for helm-<id>), or set tunnel.access.enabled: false",
    });
}

interface ExistingPolicy {
  id: string;
  include: unknown;
}
interface ExistingApp {
  id: string;
  aud: string | null;
  domain: string;
  destinations: unknown;
  policies: unknown;
}

const normalizeEmails = (emails: readonly string[]) => [...new Set(emails.map((e) => e.toLowerCase()))].sort();

const includedEmails = (include: unknown): string[] =>
  normalizeEmails(
    (Array.isArray(include) ? include : []).map((r: { email?: { email?: string } }) => r?.email?.email).filter((e): e is string => typeof e === "string"),
  );

/** The public destinations' URIs, sorted: Access does not care about their order, so neither does the comparison. */
const destinationUris = (destinations: unknown): string[] =>
  (Array.isArray(destinations) ? destinations : [])
    .filter((d: { type?: string; uri?: unknown }) => d?.type === "public" && typeof d.uri === "string")
    .map((d: { uri: string }) => d.uri.toLowerCase())
    .sort();

const push = <K, V>(m: Map<K, V[]>, k: K, v: V) => m.set(k, [...(m.get(k) ?? []), v]);

/**
 * Converge Access for one tunnel: create, update or delete wirebot's own applications and policies
 * (found by name), never anyone else's. Order: policies first (an application can only link a policy
 * that exists), then existing applications are updated and stale ones deleted before new ones are
 * created, so a hostname moving between applications is released before it is claimed; policies no
 * application uses go last. Returns each wanted application's AUD tag by hostname (absent for one a dry run
 * would create).
 */
export async function convergeAccess(
  client: Cloudflare,
  account_id: string,
  tunnelName: string,
  access: AccessOptions,
  dry: boolean,
  changes: CloudflareChange[],
  call: <T>(step: string, fn: () => Promise<T>) => Promise<T>,
): Promise<Record<string, string>> {
  const aud: Record<string, string> = {};
  const policies = new Map<string, ExistingPolicy[]>();
  const apps = new Map<string, ExistingApp[]>();
  try {
    await call("list Access policies", async () => {
      for await (const p of client.zeroTrust.access.policies.list({ account_id })) {
        const label = ownLabel(tunnelName, p.name, " allowlist");
        if (label && p.id) push(policies, label, { id: p.id, include: p.include });
      }
    });
    await call("list Access applications", async () => {
      // without `exact`, the name filter matches every name containing the prefix
      for await (const a of client.zeroTrust.access.applications.list({ account_id, name: accessAppName(tunnelName) })) {
        const app = a as unknown as { id?: string; aud?: string; name?: string; domain?: string; destinations?: unknown; policies?: unknown };
        const label = ownLabel(tunnelName, app.name, "");
        if (label && app.id) push(apps, label, { id: app.id, aud: app.aud ?? null, domain: app.domain ?? "", destinations: app.destinations, policies: app.policies });
      }
    });
  } catch (e) {
    // Access off is the default, so most tokens lack the Access permission: a token that cannot
    // read Access cannot have created anything there either, so there is nothing to remove.
    if (access.enabled || !(e instanceof WirebotError) || e.code !== "cloudflare.auth") throw e;
    const detail = "the API token cannot read Access: nothing wirebot could have created";
    changes.push(
      { action: "unchanged", kind: "access-app", name: accessAppName(tunnelName), detail },
      { action: "unchanged", kind: "access-policy", name: accessPolicyName(tunnelName), detail },
    );
    return aud;
  }

  const wanted = new Map((access.enabled ? access.apps : []).map((a) => [a.label, a]));

  // ---- policies: one allow list per Control UI ----
  const policyIds = new Map<string, string | null>();
  for (const a of wanted.values()) {
    const name = accessPolicyName(tunnelName, a.label);
    const emails = normalizeEmails(a.emails);
    const body = { account_id, name, decision: "allow" as const, include: emails.map((email) => ({ email: { email } })) };
    const detail = `${emails.length} e-mail(s)`;
    const cur = policies.get(a.label)?.[0];
    if (!cur) {
      changes.push({ action: "create", kind: "access-policy", name, detail });
      policyIds.set(a.label, dry ? null : ((await call(`create Access policy '${name}'`, () => client.zeroTrust.access.policies.create(body))).id ?? null));
      continue;
    }
    policyIds.set(a.label, cur.id);
    if (JSON.stringify(includedEmails(cur.include)) === JSON.stringify(emails)) changes.push({ action: "unchanged", kind: "access-policy", name });
    else {
      changes.push({ action: "update", kind: "access-policy", name, detail });
      if (!dry) await call(`update Access policy '${name}'`, () => client.zeroTrust.access.policies.update(cur.id, body));
    }
  }

  const appBody = (a: AccessApp) => {
    const policyId = policyIds.get(a.label) ?? null;
    return {
      account_id,
      type: "self_hosted" as const,
      name: accessAppName(tunnelName, a.label),
      // `domain` is what the App Launcher shows; `destinations` is what Access actually secures.
      domain: a.hostname.toLowerCase(),
      destinations: [{ type: "public" as const, uri: a.hostname.toLowerCase() }],
      session_duration: "24h",
      app_launcher_visible: false,
      policies: policyId ? [{ id: policyId, precedence: 1 }] : [],
    };
  };

  // ---- existing applications: updated in place ----
  for (const a of wanted.values()) {
    const cur = apps.get(a.label)?.[0];
    if (!cur) continue;
    const body = appBody(a);
    if (cur.aud) aud[body.domain] = cur.aud;
    const policyId = policyIds.get(a.label) ?? null;
    const linked = Array.isArray(cur.policies) && cur.policies.length === 1 && (cur.policies[0] as { id?: string })?.id === policyId;
    if (cur.domain.toLowerCase() === body.domain && JSON.stringify(destinationUris(cur.destinations)) === JSON.stringify([body.domain]) && linked)
      changes.push({ action: "unchanged", kind: "access-app", name: body.name });
    else {
      changes.push({ action: "update", kind: "access-app", name: body.name, detail: body.domain });
      if (!dry) await call(`update Access application '${body.name}'`, () => client.zeroTrust.access.applications.update(cur.id, body));
    }
  }

  // ---- applications that no longer belong (a removed dedicated user, Access turned off, duplicates) ----
  for (const [label, list] of apps)
    for (const [i, app] of list.entries()) {
      if (wanted.has(label) && i === 0) continue;
      const name = accessAppName(tunnelName, label);
      changes.push({ action: "delete", kind: "access-app", name, detail: app.domain });
      if (!dry) await call(`delete Access application '${name}'`, () => client.zeroTrust.access.applications.delete(app.id, { account_id }));
    }

  // ---- new applications ----
  for (const a of wanted.values()) {
    if (apps.get(a.label)?.length) continue;
    const body = appBody(a);
    changes.push({ action: "create", kind: "access-app", name: body.name, detail: body.domain });
    if (dry) continue;
    const created = (await call(`create Access application '${body.name}'`, () => client.zeroTrust.access.applications.create(body))) as { aud?: string };
    if (created.aud) aud[body.domain] = created.aud;
  }

  // ---- policies no application of ours links any more ----
  for (const [label, list] of policies)
    for (const [i, p] of list.entries()) {
      if (wanted.has(label) && i === 0) continue;
      const name = accessPolicyName(tunnelName, label);
      changes.push({ action: "delete", kind: "access-policy", name });
      if (!dry) await call(`delete Access policy '${name}'`, () => client.zeroTrust.access.policies.delete(p.id, { account_id }));
    }
  return aud;
}
