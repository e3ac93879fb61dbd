/** The apply lock: one writing command at a time per root, held in /run/wirebot/apply.lock until it finishes or dies. */
import { AsyncLocalStorage } from "node:async_hooks";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { PATHS } from "../config/layout.ts";
import { preflightError, tempFailError, writeError } from "../errors.ts";
import type { FileLock, Host } from "../host/host.ts";
import { FLOCK_FAILED } from "../host/flock.ts";
import type { Io } from "../io.ts";

export const APPLY_LOCK = `${PATHS.runDir}/apply.lock`;
/** `--wait` without a number: longer than a live install's verify (180 s) plus a runtime provision. */
export const DEFAULT_WAIT_SECONDS = 600;
const POLL_MS = 250;
const PROGRESS_EVERY_MS = 10_000;

/** What the command line says about the locking command: its name for the holder record, and --wait. */
export interface LockRequest {
  /** e.g. "wirebot user add gina" (positional arguments only: flags could carry paths nobody needs to see) */
  command?: string;
  /** --wait: how long to wait for the holder; absent means exit 75 at once */
  waitSeconds?: number;
}

/** What the holder writes into the lock file, for the message a second command prints. */
export interface LockHolder {
  pid: number;
  command: string;
  since: string;
}

export interface LockScope {
  host: Host;
  io: Io;
  lock?: LockRequest;
}

/** Lock files this async call chain holds: converge inside `user add` (or upgrade, restore) takes the lock its caller has. */
const held = new AsyncLocalStorage<ReadonlySet<string>>();

/**
 * Runs fn holding the root's apply lock. A second writer gets exit 75 naming the holder, or with --wait
 * polls until the holder finishes (progress on stderr) up to its bound. The lock is a flock on an open
 * file (host/flock.ts), so a holder that crashes or is killed leaves nothing that blocks the next
 * command, even when its record is still in the file.
 */
export async function withApplyLock<T>(scope: LockScope, fn: () => Promise<T>): Promise<T> {
  const key = scope.host.resolve(APPLY_LOCK);
  const mine = held.getStore();
  if (mine?.has(key)) return fn();
  const { lock, created } = await acquire(scope);
  try {
    return await held.run(new Set([...(mine ?? []), key]), fn);
  } finally {
    lock.release();
    await removeCreatedDirs(scope.host, created);
  }
}

async function acquire(scope: LockScope): Promise<{ lock: FileLock; created: string[] }> {
  const { host, io } = scope;
  const waitMs = (scope.lock?.waitSeconds ?? 0) * 1000;
  const started = performance.now();
  const created: string[] = [];
  let progressAt = Number.NEGATIVE_INFINITY;
  for (let vanished = 0; ; ) {
    for (const dir of await ensureLockDir(host)) if (!created.includes(dir)) created.push(dir);
    let lock: FileLock | null;
    try {
      lock = await host.tryLock(APPLY_LOCK);
    } catch (e) {
      // Another command's cleanup (or uninstall) removed the directory between our mkdir and open.
      if ((e as NodeJS.ErrnoException).code === "ENOENT" && ++vanished < 20) continue;
      await removeCreatedDirs(host, created);
      throw lockFailure(host, e);
    }
    if (lock) {
      const record: LockHolder = { pid: process.pid, command: scope.lock?.command ?? "wirebot", since: host.now().toISOString() };
      try {
        lock.record(`${JSON.stringify(record)}\n`);
      } catch (e) {
        lock.release();
        await removeCreatedDirs(host, created);
        throw lockFailure(host, e);
      }
      return { lock, created };
    }
    const holder = await readHolder(host);
    const waited = performance.now() - started;
    if (waited >= waitMs) {
      await removeCreatedDirs(host, created);
      throw waitMs === 0 ? heldError(host, holder) : waitedTooLong(host, holder, waitMs);
    }
    if (performance.now() - progressAt >= PROGRESS_EVERY_MS) {
      progressAt = performance.now();
      io.err(`• waiting for the apply lock, held by ${describeHolder(holder)}: ${Math.round(waited / 1000)} s of at most ${Math.round(waitMs / 1000)} s`);
    }
    await sleep(POLL_MS);
  }
}

/** The holder's record, or null while it has not written one yet (it writes right after taking the lock). */
export async function readHolder(host: Host): Promise<LockHolder | null> {
  for (let tries = 0; tries < 5; tries++) {
    const text = (await host.readFile(APPLY_LOCK).catch(() => null))?.toString("utf8") ?? "";
    const holder = parseHolder(text);
    if (holder) return holder;
    await sleep(50);
  }
  return null;
}

export function parseHolder(text: string): LockHolder | null {
  try {
    const o = JSON.parse(text) as Partial<LockHolder>;
    if (typeof o.pid === "number" && typeof o.command === "string" && typeof o.since === "string") return { pid: o.pid, command: o.command, since: o.since };
  } catch {
    /* empty or half-written */
  }
  return null;
}

const describeHolder = (h: LockHolder | null) => (h ? `pid ${h.pid} (${h.command}, since ${h.since})` : "another wirebot process");

function heldError(host: Host, holder: LockHolder | null) {
  return tempFailError("lock.held", `another wirebot command is changing this host: ${describeHolder(holder)} holds ${host.resolve(APPLY_LOCK)}`, {
    hint: `wait for it to finish and run this again, or add --wait to wait for it (up to ${DEFAULT_WAIT_SECONDS} s; --wait SECONDS for another bound); nothing was changed. The lock ends with that process however it ends, so there is nothing to delete by hand`,
  });
}

function waitedTooLong(host: Host, holder: LockHolder | null, waitMs: number) {
  return tempFailError("lock.wait-timeout", `waited ${Math.round(waitMs / 1000)} s for the apply lock ${host.resolve(APPLY_LOCK)}; ${describeHolder(holder)} still holds it`, {
    hint: `${holder ? `see what it is doing (\`ps -o pid,etime,args -p ${holder.pid}\`), then ` : ""}run this again when it is done, or with a longer --wait SECONDS; nothing was changed`,
  });
}

function lockFailure(host: Host, e: unknown) {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === FLOCK_FAILED)
    return preflightError("lock.flock", `cannot take the apply lock ${host.resolve(APPLY_LOCK)}: ${(e as Error).message}`, {
      hint: "install util-linux (`apt-get install util-linux`), which provides flock; nothing was changed",
    });
  return writeError("lock.write", `cannot take the apply lock ${host.resolve(APPLY_LOCK)}: ${code ?? (e as Error)?.message}`, {
    hint: host.root === "/" ? "run it as root (sudo); nothing was changed" : `check that ${host.root} is writable by you; nothing was changed`,
    cause: e,
  });
}

/** Creates the lock's directory (and missing parents under a --root); returns what it created, parents first. */
async function ensureLockDir(host: Host): Promise<string[]> {
  const missing: string[] = [];
  for (let dir = path.posix.dirname(APPLY_LOCK); dir !== "/" && !(await host.stat(dir)); dir = path.posix.dirname(dir)) missing.unshift(dir);
  try {
    // /run/wirebot is what tmpfiles.d makes at boot (root 0700); its parents only exist to hold it.
    for (const dir of missing) await host.mkdir(dir, { mode: dir === PATHS.runDir ? 0o700 : 0o755 });
  } catch (e) {
    throw lockFailure(host, e);
  }
  return missing;
}

/**
 * Under a --root the lock leaves no trace, so a refused or failed command leaves the tree as it was.
 * On `/` the directory stays: it is the one the units' ReadWritePaths= need, and tmpfiles.d makes it anyway.
 */
async function removeCreatedDirs(host: Host, created: readonly string[]): Promise<void> {
  if (host.root === "/") return;
  for (const dir of [...created].reverse()) await host.rmdir(dir).catch(() => undefined);
}

/** The LockRequest of a commander command: its path of names with its positional arguments, and --wait. */
export function lockRequestOf(cmd: { name(): string; parent: unknown; args: readonly string[]; opts(): Record<string, unknown> }): LockRequest {
  const names: string[] = [];
  for (let c: typeof cmd | null = cmd; c; c = c.parent as typeof cmd | null) names.unshift(c.name());
  const wait = cmd.opts()["wait"];
  return {
    command: [...names, ...cmd.args].join(" "),
    ...(wait === true ? { waitSeconds: DEFAULT_WAIT_SECONDS } : typeof wait === "number" ? { waitSeconds: wait } : {}),
  };
}
