/** `wirebot audit [--since T] [--json|--csv]` lists what was done to the box, by whom; `wirebot audit verify` checks the chain is whole. */
import { csvCell } from "../csv.ts";
import { checkChain, type AuditEvent } from "../audit/chain.ts";
import { AUDIT_LOG, configHash, readTrail } from "../audit/trail.ts";
import { EXIT, usageError } from "../errors.ts";
import type { CommandContext } from "../pipeline/context.ts";

export interface AuditOptions {
  since?: string;
  json?: boolean;
  csv?: boolean;
}

/** An ISO date or time, or an age: 90m, 12h, 7d. */
export function parseSince(v: string, now: Date): Date {
  const age = /^(\d+)([mhd])$/.exec(v.trim());
  if (age) return new Date(now.getTime() - Number(age[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[age[2] as "m" | "h" | "d"]);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw usageError("audit.since", `--since ${JSON.stringify(v)} is neither a date nor an age`, "give an ISO date (2026-12-01, 2026-12-01T08:00Z) or an age such as 90m, 12h or 7d");
  return new Date(t);
}

const short = (h: string) => (h === "none" ? "none" : h.slice(0, 12));
const who = (e: AuditEvent) => (e.actor.sudoUser ? `${e.actor.sudoUser} (sudo, uid ${e.actor.uid ?? "?"})` : `${e.actor.user} (uid ${e.actor.uid ?? "?"})`);

/** Edits made by hand since the last command on the trail: the file no longer has the hash the trail left it with. */
async function handEdit(ctx: CommandContext, events: readonly AuditEvent[]): Promise<{ since: string; now: string; trail: string } | null> {
  const last = events.at(-1);
  if (!last) return null;
  const now = await configHash(ctx.host);
  return now === last.config.after ? null : { since: last.at, now, trail: last.config.after };
}

export async function auditCommand(ctx: CommandContext, opts: AuditOptions): Promise<number> {
  const check = checkChain(await readTrail(ctx.host));
  const since = opts.since ? parseSince(opts.since, ctx.host.now()) : null;
  const events = check.events.filter((e) => !since || Date.parse(e.at) >= since.getTime());
  const edit = await handEdit(ctx, check.events);
  if (opts.json) {
    ctx.io.json({ ok: check.ok, file: ctx.host.resolve(AUDIT_LOG), events, handEdit: edit, ...(check.ok ? {} : { broken: { line: check.line, reason: check.reason } }) });
    return EXIT.ok;
  }
  if (opts.csv) {
    ctx.io.out("seq,at,user,uid,sudo_user,command,root,config_before,config_after,exit,code");
    for (const e of events) ctx.io.out([e.seq, e.at, e.actor.user, e.actor.uid, e.actor.sudoUser, e.command, e.root, e.config.before, e.config.after, e.result.exit, e.result.code].map(csvCell).join(","));
    return EXIT.ok;
  }
  if (check.events.length === 0 && check.ok) ctx.io.out(`No audited command yet (${ctx.host.resolve(AUDIT_LOG)}).`);
  for (const e of events)
    ctx.io.out(`#${e.seq} ${e.at} ${who(e)}: ${e.command} → exit ${e.result.exit}${e.result.code ? ` (${e.result.code})` : ""}; wirebot.yaml ${e.config.before === e.config.after ? `unchanged (${short(e.config.after)})` : `${short(e.config.before)} → ${short(e.config.after)}`}`);
  if (edit) ctx.io.out(`! wirebot.yaml was changed outside wirebot after #${check.events.at(-1)!.seq} (${edit.since}): ${short(edit.trail)} → ${short(edit.now)}`);
  if (!check.ok) ctx.io.out(`! the trail is broken at line ${check.line}: ${check.reason} (wirebot audit verify)`);
  return EXIT.ok;
}

/** 0 when every event chains to the one before; 1 (verify) naming the first line that does not. */
export async function auditVerifyCommand(ctx: CommandContext, opts: { json?: boolean }): Promise<number> {
  const check = checkChain(await readTrail(ctx.host));
  const edit = await handEdit(ctx, check.events);
  if (opts.json) ctx.io.json({ ok: check.ok, events: check.events.length, handEdit: edit, ...(check.ok ? {} : { broken: { line: check.line, reason: check.reason } }) });
  else if (check.ok) ctx.io.out(`The audit trail is whole: ${check.events.length} event(s), each chained to the one before.${edit ? ` wirebot.yaml was changed outside wirebot after the last one (${edit.since}).` : ""}`);
  else ctx.io.err(`error[audit.broken]: ${ctx.host.resolve(AUDIT_LOG)} line ${check.line}: ${check.reason}\n  fix: the events before it (${check.events.length}) are intact; keep the file as evidence and compare it with a backup`);
  return check.ok ? EXIT.ok : EXIT.verify;
}
