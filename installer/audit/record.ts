/** Which commands go on the audit trail, and the event main.ts appends after one ran: who, what, wirebot.yaml before and after, how it ended. */
import { EXIT } from "../errors.ts";
import type { Host } from "../host/host.ts";
import type { Io } from "../io.ts";
import { appendAudit, configHash } from "./trail.ts";

/** The commands that change the box (a dry run, a listing or a plan does not). */
export function isAudited(command: readonly string[], opts: Record<string, unknown>): boolean {
  if (opts["dryRun"] === true || opts["list"] === true) return false;
  const [first, second] = command;
  if (first === "user") return second === "add" || second === "remove" || second === "move";
  if (first === "secrets") return second === "pull";
  return ["install", "apply", "upgrade", "uninstall", "backup", "restore"].includes(first ?? "");
}

export interface AuditStart {
  host: Host;
  command: string;
  /** `uninstall --purge`: once it succeeded nothing of wirebot may remain, this trail included */
  purge: boolean;
  before: string;
  env: Readonly<Record<string, string | undefined>>;
}

export async function auditStart(host: Host, command: string, env: Readonly<Record<string, string | undefined>>, purge = false): Promise<AuditStart> {
  return { host, command, purge, before: await configHash(host), env };
}

/** Never changes how the command ended: a trail that cannot be written is a warning on stderr. */
/**
 * Refused before anything was written (bad input, a failed preflight, the lock held by another command, a
 * prompt cancelled): the box is as it was, and so is its trail. The rest is recorded, failures included.
 */
const UNCHANGED_EXITS = new Set([EXIT.usage, EXIT.config, EXIT.preflight, EXIT.interrupted]);
const UNCHANGED_CODES = new Set(["lock.held", "lock.wait-timeout", "audit.locked"]);

export async function auditFinish(s: AuditStart, exit: number, code: string | null, io: Io): Promise<void> {
  if (s.purge && exit === 0) return;
  if (UNCHANGED_EXITS.has(exit as never) || (code !== null && UNCHANGED_CODES.has(code))) return;
  try {
    const uid = typeof process.getuid === "function" ? process.getuid() : null;
    await appendAudit(s.host, {
      at: s.host.now().toISOString(),
      actor: { user: s.env["USER"] ?? s.env["LOGNAME"] ?? (uid === 0 ? "root" : String(uid)), uid, sudoUser: s.env["SUDO_USER"] ?? null },
      command: s.command,
      root: s.host.root,
      config: { before: s.before, after: await configHash(s.host) },
      result: { exit, code },
    });
  } catch (e) {
    io.err(`wirebot: warning: the audit trail was not written (${(e as Error).message})`);
  }
}
