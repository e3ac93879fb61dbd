/** Test helper: a logged-in, unlocked rbw stand-in vault (config.json, the file:// server, an agent) and the way to stop its agent. */
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** test/fake-rbw: rbw, rbw-agent and pinentry-file. */
export const FAKE_RBW_DIR = path.dirname(fileURLToPath(import.meta.url));

/** One entry as the server file holds it: in clear (the stand-in's server is a fixture, not a vault). */
export interface RbwServerEntry {
  id?: string;
  name: string;
  password?: string | null;
  folder?: string;
  username?: string;
  notes?: string;
  history?: { last_used_date: string; password: string }[];
}

export interface RbwServerDoc {
  email: string;
  kdfIterations: number;
  master: string;
  entries: RbwServerEntry[];
  userKey?: string;
  key?: string;
}

export interface RbwVaultOptions {
  /** the rbw user's HOME: config in .config/rbw, the encrypted cache in .cache/rbw, agent logs in .local/share/rbw */
  home: string;
  /** XDG_RUNTIME_DIR: the agent's socket is <runtimeDir>/rbw/socket. Unset: rbw's ${TMPDIR}/rbw-<uid>, with TMPDIR=<home>/tmp so it stays this test's own */
  runtimeDir?: string;
  /** the server file (base_url file://...) */
  serverFile: string;
  email: string;
  /** the master password: only its hash goes into the server file; pinentry-file answers with it from pinentryFile */
  master: string;
  entries: RbwServerEntry[];
  /** written with the master password (0600); the agent's pinentry reads it ($FAKE_PINENTRY_FILE) */
  pinentryFile: string;
  /** where rbw, rbw-agent and pinentry-file are; this directory by default */
  binDir?: string;
  /** Bitwarden's default for new accounts, 600000, by default */
  kdfIterations?: number;
  /** config.json's lock_timeout in seconds (rbw's default 3600) */
  lockTimeout?: number;
  /** $FAKE_RBW_ARGV_LOG for every rbw, rbw-agent and pinentry-file process started with this vault's env */
  argvLog?: string;
  /** more environment for the client that starts the agent (the agent and its pinentry inherit it) */
  env?: Record<string, string>;
}

export interface RbwRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RbwVault {
  /** the environment the agent was started with: PATH, HOME, XDG_RUNTIME_DIR (or TMPDIR), FAKE_PINENTRY_FILE[, FAKE_RBW_ARGV_LOG] */
  env: Record<string, string>;
  configFile: string;
  socket: string;
  pidFile: string;
  /** the encrypted cache db rbw keeps: <home>/.cache/rbw/<percent-encoded base_url>:<email>.json */
  dbFile: string;
  serverFile: string;
  pinentryFile: string;
  /** runs the stand-in rbw with this vault's env (plus `env`), `input` on stdin */
  rbw(args: string[], input?: string, env?: Record<string, string>): Promise<RbwRun>;
  readServer(): Promise<RbwServerDoc>;
  /** stops this vault's agent (rbw stop-agent, then a kill if it is still there) */
  stop(): Promise<void>;
}

/** Bitwarden's master password hash: PBKDF2-SHA256(PBKDF2-SHA256(password, email, n), password, 1), base64. */
export function rbwMasterHash(email: string, master: string, iterations: number): string {
  const masterKey = crypto.pbkdf2Sync(master, email.trim().toLowerCase(), iterations, 32, "sha256");
  return crypto.pbkdf2Sync(masterKey, master, 1, 32, "sha256").toString("base64");
}

/** Writes the stand-in's server file (atomically, 0600): ids are filled in so edits find their entry. */
export async function writeRbwServer(file: string, o: { email: string; master: string; entries: RbwServerEntry[]; kdfIterations?: number }): Promise<void> {
  const kdfIterations = o.kdfIterations ?? 600_000;
  const doc: RbwServerDoc = { email: o.email, kdfIterations, master: rbwMasterHash(o.email, o.master, kdfIterations), entries: o.entries.map((e) => ({ id: crypto.randomUUID(), ...e })) };
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, JSON.stringify(doc, null, 2) + "\n", { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

/** config.json as `rbw config set` writes it (serde's key order, compact). */
export function rbwConfigJson(o: { email: string; serverFile: string; pinentry: string; lockTimeout?: number }): string {
  return JSON.stringify({
    email: o.email,
    sso_id: null,
    base_url: pathToFileURL(o.serverFile).href,
    identity_url: null,
    ui_url: null,
    notifications_url: null,
    lock_timeout: o.lockTimeout ?? 3600,
    sync_interval: 3600,
    pinentry: o.pinentry,
    client_cert_path: null,
  });
}

/** rbw's dirs.rs db_file name: controls, non-ASCII, '/', '%' and ':' percent-encoded. */
function dbFileName(server: string, email: string): string {
  let enc = "";
  for (const b of Buffer.from(server, "utf8")) enc += b < 0x20 || b >= 0x7f || b === 0x2f || b === 0x25 || b === 0x3a ? `%${b.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(b);
  return `${enc}:${email}.json`;
}

export function runRbwStandin(binDir: string, env: Record<string, string>, args: string[], input?: string): Promise<RbwRun> {
  return new Promise((resolve) => {
    const child = execFile(path.join(binDir, "rbw"), args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(input ?? "");
  });
}

const started = new Set<RbwVault>();

export async function setupRbwVault(o: RbwVaultOptions): Promise<RbwVault> {
  const binDir = o.binDir ?? FAKE_RBW_DIR;
  const env: Record<string, string> = {
    PATH: `${binDir}:${process.env["PATH"] ?? "/usr/bin:/bin"}`,
    HOME: o.home,
    FAKE_PINENTRY_FILE: o.pinentryFile,
    ...(o.runtimeDir ? { XDG_RUNTIME_DIR: o.runtimeDir } : { TMPDIR: path.join(o.home, "tmp") }),
    ...(o.argvLog ? { FAKE_RBW_ARGV_LOG: o.argvLog } : {}),
    ...o.env,
  };
  const runtime = o.runtimeDir ? path.join(o.runtimeDir, "rbw") : path.join(o.home, "tmp", `rbw-${process.getuid!()}`);
  const configFile = path.join(o.home, ".config", "rbw", "config.json");
  const base = pathToFileURL(o.serverFile).href;

  await mkdir(path.dirname(configFile), { recursive: true });
  if (!o.runtimeDir) await mkdir(path.join(o.home, "tmp"), { recursive: true });
  await writeFile(configFile, rbwConfigJson({ email: o.email, serverFile: o.serverFile, pinentry: path.join(binDir, "pinentry-file"), ...(o.lockTimeout === undefined ? {} : { lockTimeout: o.lockTimeout }) }), { mode: 0o644 });
  await writeRbwServer(o.serverFile, { email: o.email, master: o.master, entries: o.entries, ...(o.kdfIterations === undefined ? {} : { kdfIterations: o.kdfIterations }) });
  await mkdir(path.dirname(o.pinentryFile), { recursive: true });
  await writeFile(o.pinentryFile, `${o.master}\n`, { mode: 0o600 });

  const vault: RbwVault = {
    env,
    configFile,
    socket: path.join(runtime, "socket"),
    pidFile: path.join(runtime, "pidfile"),
    dbFile: path.join(o.home, ".cache", "rbw", dbFileName(base, o.email)),
    serverFile: o.serverFile,
    pinentryFile: o.pinentryFile,
    rbw: (args, input, extra = {}) => runRbwStandin(binDir, { ...env, ...extra }, args, input),
    readServer: async () => JSON.parse(await readFile(o.serverFile, "utf8")) as RbwServerDoc,
    stop: () => stopRbwAgent(vault),
  };
  started.add(vault);
  // what `wirebot secrets unlock` does: start the agent, log in (first time), unlock, all through pinentry
  const r = await vault.rbw(["unlock"]);
  if (r.code !== 0) throw new Error(`rbw unlock failed (exit ${r.code}): ${r.stderr.trim()}`);
  return vault;
}

function agentPid(pidFile: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(pidFile, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Running, not a zombie waiting for PID 1 to reap it. */
export function rbwAgentAlive(pidFile: string): boolean {
  const pid = agentPid(pidFile);
  if (pid === null) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z" && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("rbw-agent");
  } catch {
    return false;
  }
}

/** `rbw stop-agent` with the vault's env; SIGKILL for an agent that does not answer. Never throws. */
export async function stopRbwAgent(vault: Pick<RbwVault, "rbw" | "pidFile">): Promise<void> {
  if (rbwAgentAlive(vault.pidFile)) await vault.rbw(["stop-agent"]).catch(() => undefined);
  const pid = agentPid(vault.pidFile);
  if (pid !== null && rbwAgentAlive(vault.pidFile)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  started.delete(vault as RbwVault);
}

/** For afterEach/afterAll: stops every agent setupRbwVault started in this process. */
export async function stopAllRbwAgents(): Promise<void> {
  for (const v of [...started]) await stopRbwAgent(v);
}
