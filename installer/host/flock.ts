/** flock(2) for Node: util-linux flock(1) locks an fd this process keeps open, so the lock ends with the process. */
import { spawn } from "node:child_process";
import { closeSync, constants as fsc, fstatSync, ftruncateSync, openSync, statSync, unlinkSync, writeSync } from "node:fs";
import type { FileLock } from "./host.ts";

/** flock(1)'s exit status when the lock is taken by someone else (chosen here; its default 1 is also its error status). */
const BUSY = 75;

/**
 * Node has no flock(). A flock lock belongs to the open file description, not to the process that
 * called flock(): the helper locks the description it shares with us through fd 3 and exits, and the
 * lock stays until our fd is closed, which the kernel does when this process ends (crash, SIGKILL
 * included). Node opens files close-on-exec, so no service or child started later inherits the lock.
 */
export async function tryFlock(file: string): Promise<FileLock | null> {
  for (;;) {
    // O_NOFOLLOW: record() truncates the file, so a planted symlink must not lead anywhere else.
    const fd = openSync(file, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600);
    let kept = false;
    try {
      if (!(await flockFd(fd))) return null;
      // The holder we waited for deletes the file as it lets go: a lock on that old inode guards nothing.
      if (!isSameFile(fd, file)) continue;
      kept = true;
      return heldLock(fd, file);
    } finally {
      if (!kept) closeSync(fd);
    }
  }
}

function heldLock(fd: number, file: string): FileLock {
  let open = true;
  return {
    record(text) {
      ftruncateSync(fd, 0);
      writeSync(fd, text, 0);
    },
    release() {
      if (!open) return;
      open = false;
      // Unlink while still holding it: whoever opened the same inode meanwhile sees it is stale and opens anew.
      try {
        if (isSameFile(fd, file)) unlinkSync(file);
      } finally {
        closeSync(fd);
      }
    },
  };
}

function isSameFile(fd: number, file: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(file);
    return a.ino === b.ino && a.dev === b.dev;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}

function flockFd(fd: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn("flock", ["--exclusive", "--nonblock", "--conflict-exit-code", String(BUSY), "3"], {
      stdio: ["ignore", "ignore", "pipe", fd],
      env: { PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" },
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (e) => reject(flockFailed(`flock (util-linux) could not run: ${e.message}`)));
    child.on("close", (code) => {
      if (code === 0) resolve(true);
      else if (code === BUSY) resolve(false);
      else reject(flockFailed(`flock exited ${String(code)}: ${stderr.trim()}`));
    });
  });
}

/** Tells the helper's own failure apart from the lock file's errno (ENOENT from spawn vs. from open). */
export const FLOCK_FAILED = "EFLOCK";
const flockFailed = (message: string) => Object.assign(new Error(message), { code: FLOCK_FAILED });
