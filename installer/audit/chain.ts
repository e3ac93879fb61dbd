/** The box's audit trail as a hash chain: each event carries the hash of the one before, so an edited or deleted line shows. Pure. */
import { createHash } from "node:crypto";

export interface AuditEvent {
  seq: number;
  at: string;
  actor: { user: string; uid: number | null; sudoUser: string | null };
  /** the command as typed, flags included (never a secret: wirebot takes secrets from stdin, env or the vault) */
  command: string;
  /** --root when not / */
  root: string;
  /** sha256 of /etc/wirebot/wirebot.yaml before and after the command; "none" when absent */
  config: { before: string; after: string };
  result: { exit: number; code: string | null };
  prev: string;
  hash: string;
}

export const GENESIS = "0".repeat(64);

/** The hash of an event: sha256 over the previous hash and the event's fields in a fixed order. */
export function hashEvent(e: Omit<AuditEvent, "hash">): string {
  const canonical = JSON.stringify([e.seq, e.at, e.actor.user, e.actor.uid, e.actor.sudoUser, e.command, e.root, e.config.before, e.config.after, e.result.exit, e.result.code, e.prev]);
  return createHash("sha256").update(`${e.prev}\n${canonical}`).digest("hex");
}

export type ChainCheck = { ok: true; events: AuditEvent[] } | { ok: false; events: AuditEvent[]; line: number; reason: string };

/** Parses and checks every line: valid JSON, seq 1, 2, 3…, each `prev` the hash before it, each `hash` its own. */
export function checkChain(text: string): ChainCheck {
  const events: AuditEvent[] = [];
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  let prev = GENESIS;
  for (const [i, line] of lines.entries()) {
    const n = i + 1;
    let e: AuditEvent;
    try {
      e = JSON.parse(line) as AuditEvent;
    } catch {
      return { ok: false, events, line: n, reason: "not a JSON event (the line was edited or truncated)" };
    }
    if (e.seq !== n) return { ok: false, events, line: n, reason: `event number ${e.seq} where ${n} was due: ${e.seq > n ? `${e.seq - n} event(s) before it were deleted` : "an event was inserted or the lines reordered"}` };
    if (e.prev !== prev) return { ok: false, events, line: n, reason: "it does not follow the event before it (that one was edited, or one between them deleted)" };
    const { hash, ...rest } = e;
    if (hashEvent(rest) !== hash) return { ok: false, events, line: n, reason: "its content does not match its hash (it was edited)" };
    events.push(e);
    prev = hash;
  }
  return { ok: true, events };
}
