/** A plan's remote part: what Cloudflare, LiteLLM and the runtime's plugins hold that differs from wirebot.yaml, as text and as JSON. Pure. */

/** `runtime`: packages apply installs into the pinned runtime (the WhatsApp plugin), read from its directory */
export type RemoteSystem = "cloudflare" | "litellm" | "runtime";

export interface RemoteChange {
  system: RemoteSystem;
  /** tunnel, ingress, dns, access-app, access-policy; key; plugin */
  kind: string;
  /** the object's name there: a hostname, an Access app's name, a key alias */
  name: string;
  action: "create" | "update" | "delete";
  /** what differs; never a secret value */
  detail?: string;
}

export interface RemotePlan {
  /** the systems read for this plan */
  read: RemoteSystem[];
  /** systems not read, and why (not configured, --local, no admin secret in secrets.map) */
  skipped: { system: RemoteSystem; reason: string }[];
  changes: RemoteChange[];
}

const SIGN = { create: "+", update: "~", delete: "-" } as const;
const LABEL: Record<RemoteSystem, string> = { cloudflare: "Cloudflare", litellm: "LiteLLM", runtime: "runtime" };

export function formatRemotePlan(r: RemotePlan): string {
  const lines: string[] = [];
  const read = r.read.map((s) => LABEL[s]).join(" and ");
  if (r.read.length > 0) {
    if (r.changes.length === 0) lines.push(`Remote: no changes (${read} match wirebot.yaml).`);
    else {
      lines.push(`Remote: ${r.changes.length} change(s) in ${read}; \`wirebot apply\` makes them:`);
      for (const c of r.changes) lines.push(`  ${SIGN[c.action]} ${LABEL[c.system]} ${c.kind} ${c.name}${c.detail ? `: ${c.detail}` : ""}`);
    }
  }
  for (const s of r.skipped) lines.push(`Remote: ${LABEL[s.system]} not read (${s.reason}).`);
  return lines.join("\n");
}

export function remotePlanJson(r: RemotePlan) {
  return { read: r.read, skipped: r.skipped, changes: r.changes };
}
