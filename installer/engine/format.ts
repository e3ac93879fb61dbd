/** Plan output: readable text with small diffs (secret files hidden) and the --json document. */
import type { Change, Plan } from "./plan.ts";

const SIGN = { create: "+", update: "~", delete: "-" } as const;

function lineDiff(before: string, after: string, max = 12): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  const setA = new Set(a);
  const setB = new Set(b);
  const out = [...a.filter((l) => !setB.has(l)).map((l) => `      - ${l}`), ...b.filter((l) => !setA.has(l)).map((l) => `      + ${l}`)];
  return out.length > max ? [...out.slice(0, max), `      … ${out.length - max} more changed line(s)`] : out;
}

function describe(ch: Change): string[] {
  const r = ch.resource;
  const meta = r && r.kind !== "link" ? ` (${r.mode.toString(8).padStart(4, "0")} ${r.owner.user}:${r.owner.group})` : r?.kind === "link" ? ` → ${r.target}` : "";
  const what = ch.action === "update" ? `: ${ch.fields.join(", ")}` : "";
  const lines = [`  ${SIGN[ch.action]} ${ch.kind} ${ch.path}${meta}${what}`];
  if (ch.action === "update" && ch.fields.includes("content") && r?.kind === "file") {
    if (ch.secret) lines.push("      (content hidden)");
    else if (ch.before !== undefined) lines.push(...lineDiff(ch.before, r.content));
  }
  return lines;
}

export function formatPlan(p: Plan): string {
  if (p.changes.length === 0 && p.stop.length === 0) return "No changes: the host matches wirebot.yaml.";
  const lines = [`Plan: ${count(p, "create")} to create, ${count(p, "update")} to update, ${count(p, "delete")} to delete.`];
  for (const ch of p.changes) lines.push(...describe(ch));
  if (p.restart.length) lines.push(`  units to restart: ${p.restart.join(", ")}`);
  if (p.reload.length) lines.push(`  units that take the change live (no restart): ${p.reload.join(", ")}`);
  if (p.stop.length) lines.push(`  units to stop and disable: ${p.stop.join(", ")}`);
  return lines.join("\n");
}

const count = (p: Plan, a: Change["action"]) => p.changes.filter((c) => c.action === a).length;

export function planJson(p: Plan) {
  return {
    changes: p.changes.map((c) => ({
      action: c.action,
      kind: c.kind,
      path: c.path,
      fields: c.fields,
      ...(c.resource && c.resource.kind !== "link" ? { mode: c.resource.mode.toString(8).padStart(4, "0"), owner: `${c.resource.owner.user}:${c.resource.owner.group}` } : {}),
      ...(c.secret ? { content: "hidden" } : {}),
    })),
    restart: p.restart,
    reload: p.reload,
    stop: p.stop,
  };
}
