/** The status line of the drift record: what the last scheduled plan found, since when, or that the check itself failed. */
import type { Config } from "../config/schema.ts";
import type { Host } from "../host/host.ts";
import { ageText, type Check } from "./report.ts";
import { DRIFT_TIMER, DRIFT_UNIT } from "../config/units.ts";
import { readDriftRecord } from "../drift/record.ts";

const SHOWN = 5;

export async function driftRecordCheck(host: Host, c: Config): Promise<Check | null> {
  if (c.drift.schedule === undefined) return null;
  const base = { area: "drift" as const, name: "scheduled plan" };
  const r = await readDriftRecord(host);
  const now = host.now().getTime();
  if (!r) return { ...base, level: "warn", summary: `no check yet (${DRIFT_TIMER}, ${c.drift.schedule})`, fix: `systemctl start ${DRIFT_UNIT}` };
  const checked = `checked ${ageText(now - Date.parse(r.checkedAt))} ago`;
  const data = { checkedAt: r.checkedAt, drift: r.drift, error: r.error };
  if (r.error) return { ...base, level: "warn", summary: `last check failed (${r.error.code}: ${r.error.message}); ${checked}`, fix: `journalctl -u ${DRIFT_UNIT} -n 50 --no-pager`, data };
  if (r.drift.length === 0) return { ...base, level: "ok", summary: `none: this host, Cloudflare and LiteLLM match wirebot.yaml (${checked})`, data };
  const oldest = r.drift.reduce((a, d) => (d.since < a ? d.since : a), r.drift[0]!.since);
  const counts = new Map<string, number>();
  for (const d of r.drift) counts.set(d.where, (counts.get(d.where) ?? 0) + 1);
  // Remote items first: local drift also shows in `wirebot doctor`, a changed key or DNS record nowhere else.
  const shown = [...r.drift.filter((d) => d.where !== "local"), ...r.drift.filter((d) => d.where === "local")].slice(0, SHOWN);
  const list = shown.map((d) => `${d.where}: ${d.what}`).join("; ");
  return {
    ...base,
    level: "warn",
    summary: `${r.drift.length} change(s) pending for ${ageText(now - Date.parse(oldest))} (${checked}; ${[...counts].map(([w, n]) => `${w} ${n}`).join(", ")}): ${list}${r.drift.length > SHOWN ? `; … ${r.drift.length - SHOWN} more` : ""}`,
    fix: "wirebot plan (to see them), then wirebot apply",
    data,
  };
}
