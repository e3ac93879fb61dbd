/** The drift record: what the last scheduled plan found different from wirebot.yaml (local and remote), each item since when. */
import { PATHS } from "../config/layout.ts";
import type { Change, Plan } from "../engine/plan.ts";
import type { Host } from "../host/host.ts";
import type { RemotePlan } from "../remote/remote-plan.ts";

export interface DriftItem {
  /** "local" (a file, link or unit on this host), "cloudflare" or "litellm" */
  where: string;
  /** one line, e.g. `update file /etc/wirebot/...: content` or `create dns api.example.org` */
  what: string;
  /** the first check that saw this item, while it has stayed unfixed since */
  since: string;
}

export interface DriftRecord {
  checkedAt: string;
  drift: DriftItem[];
  /** the check itself failed (a service unreachable): what it said; drift then holds what the last good check saw */
  error: { code: string; message: string } | null;
}

const localWhat = (c: Change) => `${c.action} ${c.kind} ${c.path}${c.action === "update" ? `: ${c.fields.join(", ")}` : ""}`;

/** The items a plan shows, local first; `since` carried over from the previous record for items still there. */
export function driftItems(p: Plan, remote: RemotePlan | null, previous: DriftRecord | null, now: Date): DriftItem[] {
  const seen = new Map((previous?.drift ?? []).map((d) => [`${d.where} ${d.what}`, d.since]));
  const items = [
    ...p.changes.map((c) => ({ where: "local", what: localWhat(c) })),
    ...p.stop.map((u) => ({ where: "local", what: `stop unit ${u}` })),
    ...(remote?.changes ?? []).map((c) => ({ where: c.system, what: `${c.action} ${c.kind} ${c.name}${c.detail ? `: ${c.detail}` : ""}` })),
  ];
  return items.map((i) => ({ ...i, since: seen.get(`${i.where} ${i.what}`) ?? now.toISOString() }));
}

export async function readDriftRecord(host: Host): Promise<DriftRecord | null> {
  const raw = await host.readFile(PATHS.driftRecord);
  if (!raw) return null;
  try {
    const r = JSON.parse(raw.toString("utf8")) as Partial<DriftRecord>;
    if (typeof r.checkedAt !== "string" || !Array.isArray(r.drift)) return null;
    return { checkedAt: r.checkedAt, drift: r.drift, error: r.error ?? null };
  } catch {
    return null;
  }
}

export async function writeDriftRecord(host: Host, record: DriftRecord): Promise<void> {
  await host.mkdir(PATHS.driftDir, { mode: 0o700 });
  await host.writeFileAtomic(PATHS.driftRecord, JSON.stringify(record, null, 2) + "\n", { mode: 0o600 });
}
