/** The real host: node:fs and node:child_process against `/` or a root directory. */
import { spawn } from "node:child_process";
import { createConnection } from "node:net";
import { constants as fsc, promises as fs, rmSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { cleanEnv } from "./clean-env.ts";
import { tryFlock } from "./flock.ts";
import type { ExecOptions, ExecResult, FileStat, Host, LineProcess, Ownership, WriteOptions } from "./host.ts";
import { spawnLines } from "./line-process.ts";

export type ExecFn = (cmd: string, args: string[], opts?: ExecOptions) => Promise<ExecResult>;

export interface NodeHostOptions {
  root?: string;
  exec?: ExecFn;
  execLines?: (cmd: string, args: string[], opts?: Omit<ExecOptions, "input" | "timeoutMs">) => LineProcess;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  portOpen?: (port: number) => Promise<boolean>;
  fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  env?: Record<string, string | undefined>;
}

export function createNodeHost(opts: NodeHostOptions = {}): Host {
  const root = path.resolve(opts.root ?? "/");
  const resolve = (p: string): string => {
    if (!path.isAbsolute(p)) throw new Error(`host paths must be absolute: ${p}`);
    const normal = path.posix.normalize(p);
    return root === "/" ? normal : path.join(root, normal);
  };
  const exec = opts.exec ?? spawnExec;

  return {
    root,
    resolve,
    env: opts.env ?? process.env,
    now: opts.now ?? (() => new Date()),
    sleep: opts.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms))),
    fetch: opts.fetch ?? ((input, init) => fetch(input, init)),
    exec,
    execLines: opts.execLines ?? spawnLines,

    async readFile(p) {
      try {
        return await fs.readFile(resolve(p));
      } catch (e) {
        if (isNotFound(e)) return null;
        throw e;
      }
    },

    async stat(p) {
      try {
        const st = await fs.lstat(resolve(p));
        const kind: FileStat["kind"] = st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "other";
        return { kind, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size };
      } catch (e) {
        if (isNotFound(e)) return null;
        throw e;
      }
    },

    async readdir(p) {
      try {
        return (await fs.readdir(resolve(p))).sort();
      } catch (e) {
        if (isNotFound(e)) return null;
        throw e;
      }
    },

    async readFileStream(p) {
      let fh: FileHandle;
      try {
        fh = await fs.open(resolve(p), fsc.O_RDONLY);
      } catch (e) {
        if (isNotFound(e)) return null;
        throw e;
      }
      return readChunks(fh);
    },

    async writeFileAtomic(p, content, w) {
      await writeAtomic(resolve(p), [typeof content === "string" ? Buffer.from(content, "utf8") : content], w);
    },

    async writeFileStreamAtomic(p, chunks, w) {
      const release = cleanUpOnSignal();
      try {
        await writeAtomic(resolve(p), chunks, w);
      } finally {
        release();
      }
    },

    async mkdir(p, w) {
      const target = resolve(p);
      await fs.mkdir(target, { recursive: true, mode: w.mode });
      await fs.chmod(target, w.mode);
      if (w.owner) await fs.chown(target, w.owner.uid, w.owner.gid);
    },

    async setMode(p, w) {
      const target = resolve(p);
      await fs.chmod(target, w.mode);
      if (w.owner) await fs.chown(target, w.owner.uid, w.owner.gid);
    },

    async remove(p, o) {
      await fs.rm(resolve(p), { force: true, recursive: o?.recursive ?? false });
    },

    async rmdir(p) {
      await fs.rmdir(resolve(p));
    },

    async rename(from, to) {
      await fs.rename(resolve(from), resolve(to));
    },

    async readLink(p) {
      try {
        return await fs.readlink(resolve(p));
      } catch (e) {
        if (isNotFound(e) || (e as NodeJS.ErrnoException).code === "EINVAL") return null;
        throw e;
      }
    },

    async symlink(target, p) {
      const real = resolve(p);
      const tmp = `${real}.wirebot-${process.pid}.tmp`;
      await fs.rm(tmp, { force: true });
      await fs.symlink(target, tmp);
      await fs.rename(tmp, real);
    },

    async fsType(p) {
      return readFsType(resolve(p));
    },

    async freeBytes(p) {
      let probe = resolve(p);
      for (;;) {
        try {
          const st = await fs.statfs(probe);
          return st.bavail * st.bsize;
        } catch (e) {
          const up = path.dirname(probe);
          if (!isNotFound(e) || up === probe) throw e;
          probe = up;
        }
      }
    },

    portOpen: opts.portOpen ?? tcpOpen,

    async lookupUser(name) {
      return lookupInRoot(resolve("/etc/passwd"), resolve("/etc/group"), name);
    },

    tryLock(p) {
      return tryFlock(resolve(p));
    },
  };
}

function isNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

const READ_CHUNK = 64 * 1024;

async function* readChunks(fh: FileHandle): AsyncGenerator<Buffer> {
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

const tempOf = (target: string) => path.join(path.dirname(target), `.${path.basename(target)}.wirebot-${process.pid}-${Date.now()}.tmp`);

/** temp file in the same dir, fsync, chmod/chown, rename, fsync dir; the temp is gone on any error. */
async function writeAtomic(target: string, chunks: AsyncIterable<Buffer> | Iterable<Buffer>, w: WriteOptions): Promise<void> {
  const dir = path.dirname(target);
  const tmp = tempOf(target);
  // O_EXCL with the final mode: the content never exists with looser permissions.
  const fh = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, w.mode & 0o777);
  pending.add(tmp);
  try {
    try {
      for await (const chunk of chunks) for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
      await fh.chmod(w.mode);
      if (w.owner) await fh.chown(w.owner.uid, w.owner.gid);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, target);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  } finally {
    pending.delete(tmp);
  }
  await syncDir(dir);
}

/** Temp files of atomic writes in flight, for the signal handler of streaming writes. */
const pending = new Set<string>();
const SIGNALS = ["SIGINT", "SIGTERM"] as const;
let streaming = 0;

/**
 * A streaming write can run for minutes (a backup of gigabytes): a Ctrl-C then must not leave the
 * temp file behind. Installed only while one runs; when something else listens for the signal, that
 * listener owns shutdown and the write finishes or fails as usual.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  for (const tmp of pending) rmSync(tmp, { force: true });
  for (const s of SIGNALS) process.off(s, onSignal);
  // End the way the signal would have ended the process without this handler.
  process.kill(process.pid, signal);
}

function cleanUpOnSignal(): () => void {
  if (streaming++ === 0) for (const s of SIGNALS) process.on(s, onSignal);
  return () => {
    if (--streaming === 0) for (const s of SIGNALS) process.off(s, onSignal);
  };
}

async function syncDir(dir: string): Promise<void> {
  const dh = await fs.open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Longest mount point in /proc/self/mounts that contains the path (walking up to an existing dir). */
async function readFsType(real: string): Promise<string> {
  let probe = real;
  for (;;) {
    try {
      probe = await fs.realpath(probe);
      break;
    } catch {
      const up = path.dirname(probe);
      if (up === probe) break;
      probe = up;
    }
  }
  const mounts = await fs.readFile("/proc/self/mounts", "utf8");
  let best = { point: "", type: "unknown" };
  for (const line of mounts.split("\n")) {
    const [, point, type] = line.split(" ");
    if (!point || !type) continue;
    const mp = point.replace(/\\040/g, " ");
    const inside = mp === "/" || probe === mp || probe.startsWith(mp + "/");
    if (inside && mp.length >= best.point.length) best = { point: mp, type };
  }
  return best.type;
}

async function lookupInRoot(passwdPath: string, groupPath: string, name: string): Promise<Ownership | null> {
  let passwd: string;
  try {
    passwd = await fs.readFile(passwdPath, "utf8");
  } catch {
    return null;
  }
  for (const line of passwd.split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f[2] !== undefined && f[3] !== undefined) {
      return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  }
  // A name may be a group only (root-owned dirs with a service group).
  try {
    for (const line of (await fs.readFile(groupPath, "utf8")).split("\n")) {
      const f = line.split(":");
      if (f[0] === name && f[2] !== undefined) return { uid: 0, gid: Number(f[2]) };
    }
  } catch {
    /* no group file */
  }
  return null;
}

const spawnExec: ExecFn = (cmd, args, opts = {}) => (opts.interactive ? spawnInteractive(cmd, args, opts) : spawnCaptured(cmd, args, opts));

/** stdout is our stderr: the command's own stdout stays one document (--json) whatever the child prints. */
const spawnInteractive: ExecFn = (cmd, args, opts = {}) =>
  new Promise((resolvePromise) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ? cleanEnv(opts.env) : process.env, stdio: ["inherit", 2, "inherit"] });
    child.on("error", (e) => resolvePromise({ code: 127, stdout: "", stderr: String(e.message) }));
    child.on("close", (code, signal) => resolvePromise({ code: code ?? (signal ? 128 + 9 : 1), stdout: "", stderr: "" }));
  });

const spawnCaptured: ExecFn = (cmd, args, opts = {}) =>
  new Promise((resolvePromise) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ? cleanEnv(opts.env) : process.env,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: opts.timeoutMs,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (e) => resolvePromise({ code: 127, stdout, stderr: stderr + String(e.message) }));
    child.on("close", (code, signal) => resolvePromise({ code: code ?? (signal ? 128 + 9 : 1), stdout, stderr }));
    // A child that exits without reading its input must not crash us with EPIPE.
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });


/** true when something accepts TCP connections on 127.0.0.1:port (1 s to answer). */
function tcpOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const sock = createConnection({ host: "127.0.0.1", port });
    const finish = (open: boolean) => {
      sock.destroy();
      done(open);
    };
    sock.setTimeout(1000, () => finish(false));
    sock.once("connect", () => finish(true));
    sock.once("error", () => finish(false));
  });
}
