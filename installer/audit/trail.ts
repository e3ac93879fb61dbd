/** Appends to and reads the audit trail on the host (/var/log/wirebot/audit.jsonl, root 0600), one writer at a time. */
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { PATHS } from "../config/layout.ts";
import { tempFailError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { checkChain, GENESIS, hashEvent, type AuditEvent } from "./chain.ts";

export const AUDIT_DIR = "/var/log/wirebot";
export const AUDIT_LOG = `${AUDIT_DIR}/audit.jsonl`;
const LOCK = `${AUDIT_DIR}/.audit.lock`;

export async function configHash(host: Host): Promise<string> {
  const buf = await host.readFile(PATHS.configFile);
  return buf ? createHash("sha256").update(buf).digest("hex") : "none";
}

export async function readTrail(host: Host): Promise<string> {
  return (await host.readFile(AUDIT_LOG))?.toString("utf8") ?? "";
}

/** Appends one event after the last one (whose hash it carries). Another writer holds the lock for milliseconds: wait up to 5 s. */
export async function appendAudit(host: Host, e: Omit<AuditEvent, "seq" | "prev" | "hash">): Promise<AuditEvent> {
  await host.mkdir(AUDIT_DIR, { mode: 0o700 });
  let lock = await host.tryLock(LOCK);
  for (let i = 0; lock === null && i < 50; i++) {
    await sleep(100);
    lock = await host.tryLock(LOCK);
  }
  if (lock === null) throw tempFailError("audit.locked", `another wirebot command is writing ${AUDIT_LOG}`, { hint: "run the command again" });
  try {
    const text = await readTrail(host);
    const lines = text.split("\n").filter((l) => l.trim() !== "");
    const last = lines.length ? (JSON.parse(lines.at(-1)!) as AuditEvent) : null;
    const base = { seq: (last?.seq ?? 0) + 1, ...e, prev: last?.hash ?? GENESIS };
    const event: AuditEvent = { ...base, hash: hashEvent(base) };
    // The whole file again, atomically: a crash never leaves half a line that would break the chain.
    await host.writeFileAtomic(AUDIT_LOG, `${lines.join("\n")}${lines.length ? "\n" : ""}${JSON.stringify(event)}\n`, { mode: 0o600 });
    return event;
  } finally {
    lock.release();
  }
}

export { checkChain };
