/** The host boundary: every filesystem, process, network and clock effect of wirebot goes through this port. */

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
  cwd?: string;
  /** The child gets this terminal (stdin and stderr; its stdout goes to our stderr): for a prompt such as pinentry. Nothing is captured. */
  interactive?: boolean;
}

/** A running child whose stdout and stderr arrive line by line, interleaved as they come. */
export interface LineProcess {
  lines: AsyncIterable<string>;
  /** SIGTERM to the child's process group; a no-op once it has exited. */
  stop(): void;
}

export interface FileStat {
  kind: "file" | "dir" | "symlink" | "other";
  mode: number; // permission bits only (0o777)
  uid: number;
  gid: number;
  size: number;
}

export interface Ownership {
  uid: number;
  gid: number;
}

export interface WriteOptions {
  mode: number;
  owner?: Ownership;
}

/** An exclusive lock on a file (flock): held until release() or until this process ends, however it ends. */
export interface FileLock {
  /** Replace the lock file's content (who holds it, for the message a second taker prints). */
  record(text: string): void;
  /** Delete the lock file (while still holding it) and let go; a no-op the second time. */
  release(): void;
}

export interface Host {
  /** "/" in production; a temp dir for tests and `--root`. */
  readonly root: string;
  /** Absolute appliance path (as on the box) → real path under root. */
  resolve(path: string): string;
  readFile(path: string): Promise<Buffer | null>;
  /**
   * A file's bytes in bounded chunks, read as they are pulled, or null if absent. The file is open once
   * this resolves: iterate to the end, or break out of the loop, to close it.
   */
  readFileStream(path: string): Promise<AsyncIterable<Buffer> | null>;
  stat(path: string): Promise<FileStat | null>;
  readdir(path: string): Promise<string[] | null>;
  /** temp file in the same dir, fsync, chmod/chown, rename, fsync dir. */
  writeFileAtomic(path: string, content: string | Buffer, opts: WriteOptions): Promise<void>;
  /**
   * writeFileAtomic for content pulled chunk by chunk (archives bigger than memory). On any failure,
   * the chunks' own errors and a SIGINT/SIGTERM included, the temp file is removed and path is untouched.
   */
  writeFileStreamAtomic(path: string, chunks: AsyncIterable<Buffer>, opts: WriteOptions): Promise<void>;
  mkdir(path: string, opts: WriteOptions): Promise<void>;
  /** chmod (+ chown when given) an existing path. */
  setMode(path: string, opts: WriteOptions): Promise<void>;
  remove(path: string, opts?: { recursive?: boolean }): Promise<void>;
  /** Remove an empty directory (fails when it is not empty). */
  rmdir(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Target of a symlink, null if absent or not a link. */
  readLink(path: string): Promise<string | null>;
  /** Create or atomically replace a symlink. */
  symlink(target: string, path: string): Promise<void>;
  /** Filesystem type of the mount holding path ("tmpfs", "ext4", …). */
  fsType(path: string): Promise<string>;
  /** Bytes available to unprivileged users on the filesystem holding path (nearest existing parent). */
  freeBytes(path: string): Promise<number>;
  /** true when something accepts TCP connections on 127.0.0.1:port */
  portOpen(port: number): Promise<boolean>;
  /** Resolve a user/group name from <root>/etc/passwd and /etc/group; null if absent. */
  lookupUser(name: string): Promise<Ownership | null>;
  /** Take an exclusive lock on path (created 0600 in an existing directory); null when another open file holds it. */
  tryLock(path: string): Promise<FileLock | null>;
  /** Never throws on a non-zero exit: the result carries the code. */
  exec(cmd: string, args: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Starts a long-running command (an interactive login flow) and streams its output lines. */
  execLines(cmd: string, args: string[], opts?: Omit<ExecOptions, "input" | "timeoutMs">): LineProcess;
  /** One HTTP request (WHATWG fetch): health probes and the Cloudflare and LiteLLM clients all go through it. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  now(): Date;
  /** Wait on this host's clock: polling loops sleep here, so a test can run them on a clock it advances. */
  sleep(ms: number): Promise<void>;
  readonly env: Readonly<Record<string, string | undefined>>;
}
