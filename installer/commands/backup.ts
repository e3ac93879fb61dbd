/** `wirebot backup FILE` / `wirebot restore FILE`: wirebot.yaml, state dirs, workspaces and the ledger in one tar.gz, without secrets. */
import path from "node:path";
import { PATHS, SERVICE_USER, resolveLayout, userDir } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { createSystemd } from "../engine/systemd.ts";
import { EXIT, configError, preflightError, tempFailError, usageError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { converge } from "../pipeline/converge.ts";
import { sqliteOnlineBackup, type LedgerBackup } from "../lifecycle/ledger-backup.ts";
import { withApplyLock } from "../pipeline/lock.ts";
import { chownRecursive } from "../lifecycle/migrate.ts";
import { isMarked, writeMarker } from "../ownership/marker.ts";
import { managedUnits } from "../lifecycle/probes.ts";
import { gunzipStream, gzipStream, readTar, writeTar, type TarStreamEntry } from "../lifecycle/tar.ts";
import type { Io } from "../io.ts";
import { assertDataDirOwned } from "../preflight/data-dir.ts";
import { provisionRuntime } from "../runtime/provision.ts";
import { assertAccessToken, BWS_CRED_ENCRYPTED, BWS_CRED_PLAIN, storeBootstrapToken, type StoredToken } from "../secrets/bootstrap-token.ts";
import { parseEnvFile } from "../secrets/env-file.ts";
import { parseSecretFile } from "../secrets/secret-file.ts";
import { loadConfig, type CommandContext } from "../pipeline/context.ts";

export interface BackupOptions {
  /** archive path on the operator's filesystem */
  file: string;
  /** replace an existing archive */
  force?: boolean;
}

export interface RestoreOptions {
  file: string;
  /** restore over an existing wirebot.yaml or non-empty data dir */
  force?: boolean;
}

export interface BackupDeps {
  ledgerBackup?: LedgerBackup;
  /** production: storeBootstrapToken (systemd-creds, else a root 0600 file) */
  storeBootstrapToken?: (host: Host, token: string) => Promise<StoredToken>;
  /** production: provisionRuntime; a fresh host has no runtime until restore installs the archived pin */
  provisionRuntime?: (host: Host, config: Config, io: Io) => Promise<unknown>;
}

export const META_NAME = "wirebot-backup.json";

interface BackupMeta {
  format: 1;
  createdAt: string;
  dataDir: string;
  runtime: Config["runtime"];
  users: string[];
  excluded: string[];
}

/**
 * Never archived: channel credentials (WhatsApp session keys under `$STATE/credentials`), env files
 * an operator or the runtime dropped into a state dir, and lock/temp dirs. /run/wirebot and the
 * credstore are outside the archived trees altogether.
 */
const EXCLUDED_DIRS = new Set(["credentials", "tmp"]);
const excludedFile = (name: string) => name === ".env" || name.endsWith(".env") || name.endsWith(".env.bak");
const EXCLUDE_NOTE = ["*/credentials/", "*/tmp/", "*.env", "files holding a value from /run/wirebot"];

/** Values of every secret on tmpfs, so a file that happens to embed one is left out of the archive. */
async function knownSecrets(host: Host): Promise<string[]> {
  const values: string[] = [];
  for (const dir of [PATHS.runDir, PATHS.runUsersDir])
    for (const name of (await host.readdir(dir)) ?? []) {
      const buf = await host.readFile(`${dir}/${name}`).catch(() => null);
      if (!buf) continue;
      if (name.endsWith(".env")) for (const v of parseEnvFile(buf.toString("utf8")).values()) values.push(v);
      else if (name === "cloudflared.token" || name === "cloudflared.json") values.push(buf.toString("utf8").trim());
    }
  const keys = await host.readFile(PATHS.gatewayKeys).catch(() => null);
  if (keys) values.push(...parseSecretFile(keys.toString("utf8"), "json").values());
  // Short values would match ordinary text; real tokens and keys are long.
  return values.filter((v) => v.length >= 12);
}

interface Found {
  path: string;
  kind: "file" | "dir";
  mode: number;
}

/** Depth-first, one directory listing at a time: a data dir of any size is never listed whole. */
async function* walk(host: Host, dir: string, skipped: string[]): AsyncGenerator<Found> {
  for (const name of (await host.readdir(dir)) ?? []) {
    const p = `${dir}/${name}`;
    const st = await host.stat(p);
    if (!st) continue;
    if (st.kind === "dir") {
      if (EXCLUDED_DIRS.has(name)) {
        skipped.push(`${p}/`);
        continue;
      }
      yield { path: p, kind: "dir", mode: st.mode };
      yield* walk(host, p, skipped);
    } else if (st.kind === "file") {
      if (excludedFile(name)) skipped.push(p);
      else yield { path: p, kind: "file", mode: st.mode };
    } else skipped.push(p); // symlinks, sockets: not state wirebot restores
  }
}

const rel = (p: string) => p.replace(/^\/+/, "");

/** Files up to this size are archived from the one read that scanned them, a snapshot as before; bigger ones stream twice. */
const WHOLE_READ_MAX = 1024 * 1024;

/** Finds any of `secrets` in a file read chunk by chunk, a value split across two chunks included. */
function secretScanner(secrets: readonly string[]): (chunk: Buffer) => boolean {
  const needles = secrets.map((s) => Buffer.from(s, "utf8"));
  const keep = Math.max(0, ...needles.map((n) => n.length - 1));
  let tail = Buffer.alloc(0);
  return (chunk) => {
    const window = tail.length > 0 ? Buffer.concat([tail, chunk]) : chunk;
    tail = Buffer.from(window.subarray(Math.max(0, window.length - keep)));
    return needles.some((n) => window.includes(n));
  };
}

interface BackupReport {
  files: number;
  /** excluded by name or kind, in walk order */
  skipped: string[];
  /** left out for holding a secret value */
  secret: string[];
  /** big files whose size changed between the scan and the copy */
  changed: string[];
}

/** A file's second read, cut or zero-padded to the size its tar header already declared (as GNU tar does). */
async function* streamedCopy(host: Host, p: string, size: number, secrets: readonly string[], report: BackupReport): AsyncGenerator<Buffer> {
  const scan = secretScanner(secrets);
  let left = size;
  for await (const chunk of (await host.readFileStream(p)) ?? []) {
    // What is already in the archive holds no whole secret; stopping here drops the archive altogether.
    if (scan(chunk))
      throw tempFailError("backup.changed", `${p} took in a secret value while it was being archived`, { hint: "run the backup again: files holding a secret value are left out" });
    if (chunk.length > left) {
      if (left > 0) yield chunk.subarray(0, left);
      left = 0;
      report.changed.push(p);
      break;
    }
    left -= chunk.length;
    yield chunk;
  }
  if (left > 0) report.changed.push(p);
  for (; left > 0; left -= Math.min(left, 65536)) yield Buffer.alloc(Math.min(left, 65536));
}

/** A data file as a tar entry; null when it vanished or holds a secret value (recorded in the report). */
async function fileEntry(host: Host, f: Found, secrets: readonly string[], report: BackupReport): Promise<TarStreamEntry | null> {
  const chunks = await host.readFileStream(f.path);
  if (!chunks) return null;
  const scan = secretScanner(secrets);
  let held: Buffer[] | null = [];
  let size = 0;
  for await (const chunk of chunks) {
    if (scan(chunk)) {
      report.secret.push(`${f.path} (holds a secret value)`);
      return null;
    }
    size += chunk.length;
    if (held && size <= WHOLE_READ_MAX) held.push(chunk);
    else held = null;
  }
  const content = held ?? streamedCopy(host, f.path, size, secrets, report);
  return { path: rel(f.path), type: "file", mode: f.mode, size, content };
}

const inlineEntry = (p: string, content: Buffer): TarStreamEntry => ({ path: p, type: "file", mode: 0o600, size: content.length, content: [content] });

/** What goes into the archive, produced as the tar writer pulls it: the meta entry first, then config, data, ledger. */
async function* archiveEntries(host: Host, text: string, meta: BackupMeta, secrets: readonly string[], deps: BackupDeps, report: BackupReport): AsyncGenerator<TarStreamEntry> {
  yield inlineEntry(META_NAME, Buffer.from(JSON.stringify(meta, null, 2) + "\n"));
  yield { path: rel(PATHS.etcDir), type: "dir", mode: 0o700, size: 0 };
  yield inlineEntry(rel(PATHS.configFile), Buffer.from(text));
  report.files++;

  const dataSt = await host.stat(meta.dataDir);
  if (dataSt?.kind === "dir") {
    yield { path: rel(meta.dataDir), type: "dir", mode: dataSt.mode, size: 0 };
    for await (const f of walk(host, meta.dataDir, report.skipped)) {
      if (f.kind === "dir") {
        yield { path: rel(f.path), type: "dir", mode: f.mode, size: 0 };
        continue;
      }
      const entry = await fileEntry(host, f, secrets, report);
      if (!entry) continue;
      report.files++;
      yield entry;
    }
  }

  if (await host.stat(PATHS.ledger)) {
    // The daemon keeps writing while we copy: the online backup API gives a consistent snapshot.
    const tmp = `${PATHS.ledgerDir}/.backup-${process.pid}.sqlite`;
    try {
      await (deps.ledgerBackup ?? sqliteOnlineBackup)(host, PATHS.ledger, tmp);
      yield { path: rel(PATHS.ledgerDir), type: "dir", mode: 0o700, size: 0 };
      report.files++;
      yield { path: rel(PATHS.ledger), type: "file", mode: 0o600, size: (await host.stat(tmp))!.size, content: (await host.readFileStream(tmp))! };
    } finally {
      await host.remove(tmp);
    }
  }
}

export async function backupCommand(ctx: CommandContext, opts: BackupOptions, deps: BackupDeps = {}): Promise<number> {
  const { config, text } = await loadConfig(ctx);
  const file = path.resolve(opts.file);
  if (!opts.force && (await ctx.local.stat(file))) throw usageError("backup.exists", `${file} already exists`, "choose another name or add --force");
  const host = ctx.host;
  const secrets = await knownSecrets(host);
  const meta: BackupMeta = { format: 1, createdAt: host.now().toISOString(), dataDir: config.paths.data, runtime: config.runtime, users: config.users.map((u) => u.id), excluded: EXCLUDE_NOTE };
  const report: BackupReport = { files: 0, skipped: [], secret: [], changed: [] };
  // Read, tar, gzip and write one chunk at a time: memory stays flat however big the data dir is.
  await ctx.local.writeFileStreamAtomic(file, gzipStream(writeTar(archiveEntries(host, text, meta, secrets, deps, report), host.now())), { mode: 0o600 });
  const size = (await ctx.local.stat(file))?.size ?? 0;
  ctx.io.out(`Wrote ${file} (${(size / 1024).toFixed(0)} KiB, ${report.files} file(s), mode 0600). No secrets: /run/wirebot, the credstore and channel credentials are not included.`);
  for (const s of [...report.skipped, ...report.secret]) ctx.io.err(`  left out: ${s}`);
  for (const p of report.changed) ctx.io.err(`  changed while it was archived (copy may be inconsistent): ${p}`);
  return EXIT.ok;
}

/** Every archive path must be one wirebot restores, and never climb out of it. */
function assertSafe(entries: readonly { path: string }[], dataDir: string): void {
  const data = rel(dataDir);
  const allowed = (p: string) =>
    p === META_NAME || p === rel(PATHS.etcDir) || p === rel(PATHS.configFile) || p === rel(PATHS.ledgerDir) || p === rel(PATHS.ledger) || p === data || p.startsWith(`${data}/`);
  const bad = entries.filter((e) => e.path.split("/").some((s) => s === ".." || s === "") || path.posix.isAbsolute(e.path) || !allowed(e.path));
  if (bad.length > 0)
    throw configError("restore.paths", `the archive holds ${bad.length} path(s) wirebot does not restore`, {
      issues: bad.slice(0, 10).map((e) => ({ path: e.path, message: "outside wirebot.yaml, the data dir and the ledger" })),
      hint: "restore only archives written by `wirebot backup`; nothing was changed",
    });
}

/** Missing ancestors (/data, /var/lib on a fresh root) are ordinary 0755 dirs, not copies of the child's mode. */
async function ensureParents(host: Host, p: string): Promise<void> {
  const missing: string[] = [];
  for (let d = path.posix.dirname(p); d !== "/" && !(await host.stat(d)); d = path.posix.dirname(d)) missing.unshift(d);
  for (const d of missing) await host.mkdir(d, { mode: 0o755 });
}

async function ownState(host: Host, c: Config): Promise<number> {
  const l = resolveLayout(c);
  let n = 0;
  const own = async (p: string, user: string) => {
    const o = await host.lookupUser(user);
    if (o) n += await chownRecursive(host, p, o);
  };
  if (l.shared) await own(l.shared.stateDir, l.shared.serviceUser);
  for (const g of l.gateways) for (const u of g.users) await own(userDir(c, u.id), g.serviceUser);
  await own(PATHS.ledgerDir, SERVICE_USER);
  return n;
}

/** wirebot.yaml and the meta entry are read into memory; an archive with bigger ones is not a wirebot backup. */
const INLINE_MAX = 16 * 1024 * 1024;

interface ArchiveHeader {
  path: string;
  type: "file" | "dir";
  mode: number;
  size: number;
}

/** First pass: every header, and the archive read to its end (gzip CRC included), before anything is written. */
async function scanArchive(local: Host, file: string): Promise<{ headers: ArchiveHeader[]; meta: Buffer | null; yaml: Buffer | null }> {
  const chunks = await local.readFileStream(file);
  if (!chunks) throw usageError("restore.missing", `no archive at ${file}`);
  const headers: ArchiveHeader[] = [];
  // The first entry of each name counts; a dir of that name has no content.
  const inline = new Map<string, Buffer | null>();
  try {
    for await (const e of readTar(gunzipStream(chunks))) {
      headers.push({ path: e.path, type: e.type, mode: e.mode, size: e.size });
      if ((e.path !== META_NAME && e.path !== rel(PATHS.configFile)) || inline.has(e.path)) continue;
      if (e.size > INLINE_MAX) throw new Error(`${e.path} is ${e.size} bytes`);
      const parts: Buffer[] = [];
      for await (const c of e.content ?? []) parts.push(c);
      inline.set(e.path, e.type === "file" ? Buffer.concat(parts) : null);
    }
  } catch (e) {
    throw configError("restore.archive", `${file} is not a wirebot backup (${(e as Error).message})`);
  }
  return { headers, meta: inline.get(META_NAME) ?? null, yaml: inline.get(rel(PATHS.configFile)) ?? null };
}

/** Second pass: each file streamed into place, the archive checked against what the first pass saw. */
async function extractFiles(ctx: CommandContext, file: string, headers: readonly ArchiveHeader[]): Promise<void> {
  const changed = () =>
    tempFailError("restore.changed", `${file} changed while it was being restored`, { hint: "restore again with --force from a copy nothing writes to; files restored so far may be a mix" });
  const chunks = await ctx.local.readFileStream(file);
  if (!chunks) throw changed();
  let i = 0;
  for await (const e of readTar(gunzipStream(chunks))) {
    const want = headers[i++];
    if (!want || want.path !== e.path || want.type !== e.type || want.mode !== e.mode || want.size !== e.size) throw changed();
    if (e.type !== "file" || e.path === META_NAME) continue;
    await ensureParents(ctx.host, `/${e.path}`);
    await ctx.host.writeFileStreamAtomic(`/${e.path}`, e.content!, { mode: e.mode & 0o1777 });
  }
  if (i !== headers.length) throw changed();
}

/**
 * The vault's machine-account token is not in backups (it is the one secret the box keeps). A host
 * that has none stored gets it from $BWS_ACCESS_TOKEN, as `install --config` does; without it the
 * restore stops here, before writing anything, rather than leave units that cannot pull secrets.
 */
async function tokenToStore(ctx: CommandContext, config: Config): Promise<string | null> {
  if (config.secrets.backend !== "bitwarden") return null;
  if ((await ctx.host.stat(BWS_CRED_ENCRYPTED)) || (await ctx.host.stat(BWS_CRED_PLAIN))) return null;
  const token = ctx.env["BWS_ACCESS_TOKEN"]?.trim();
  if (!token)
    throw preflightError("restore.no-token", "this host has no stored Bitwarden access token, and backups do not carry it", {
      hint: "read -rs BWS_ACCESS_TOKEN && export BWS_ACCESS_TOKEN && wirebot restore <file> (the token stays out of shell history; restore stores it with systemd-creds); nothing was changed",
    });
  assertAccessToken(token, "$BWS_ACCESS_TOKEN");
  return token;
}

/** Restore writes the whole appliance, so it holds the apply lock; backup only reads and does not. */
export function restoreCommand(ctx: CommandContext, opts: RestoreOptions, deps: BackupDeps = {}): Promise<number> {
  return withApplyLock(ctx, () => restore(ctx, opts, deps));
}

async function restore(ctx: CommandContext, opts: RestoreOptions, deps: BackupDeps): Promise<number> {
  const file = path.resolve(opts.file);
  const archive = await scanArchive(ctx.local, file);
  if (!archive.meta || !archive.yaml) throw configError("restore.archive", `${file} has no ${META_NAME} or wirebot.yaml: not a wirebot backup`);
  const meta = JSON.parse(archive.meta.toString("utf8")) as BackupMeta;
  if (meta.format !== 1) throw configError("restore.format", `backup format ${String(meta.format)} is not supported by this wirebot`);
  assertSafe(archive.headers, meta.dataDir);
  const text = archive.yaml.toString("utf8");
  const config = parseConfig(text, `${file}:${PATHS.configFile}`, ctx.env);

  const host = ctx.host;
  const occupied = (await host.stat(PATHS.configFile)) !== null || ((await host.readdir(config.paths.data)) ?? []).length > 0;
  if (occupied && !opts.force)
    throw usageError("restore.occupied", `${host.resolve(PATHS.configFile)} or ${host.resolve(config.paths.data)} already holds an appliance`, "restore onto a fresh host, or add --force to overwrite it (take a `wirebot backup` first)");
  // --force overwrites wirebot's own data dir, never another program's (issue 14).
  await assertDataDirOwned(host, config);

  const live = ctx.live;
  const bootstrapToken = live ? await tokenToStore(ctx, config) : null;
  const sd = createSystemd(host);
  const units = managedUnits(config, resolveLayout(config));
  if (live && occupied) await sd.stop(units);

  // Parents before children; the archive lists them in that order, sorting makes it independent of the writer.
  const dirs = archive.headers.filter((e) => e.type === "dir" && e.path !== META_NAME).sort((a, b) => a.path.split("/").length - b.path.split("/").length);
  for (const e of dirs) {
    await ensureParents(host, `/${e.path}`);
    await host.mkdir(`/${e.path}`, { mode: e.mode & 0o1777 });
  }
  await extractFiles(ctx, file, archive.headers);
  // An archive from before markers restores an unmarked tree: restore made it, so it is wirebot's.
  if (!(await isMarked(host, config.paths.data))) await writeMarker(host, config.paths.data);
  for (const stale of [`${PATHS.ledger}-wal`, `${PATHS.ledger}-shm`]) await host.remove(stale);
  let chowned = await ownState(host, config);

  if (live) {
    // A fresh host has no runtime yet: install the one the archive's wirebot.yaml pins, as install would.
    await (deps.provisionRuntime ?? provisionRuntime)(host, config, ctx.io);
    if (bootstrapToken) {
      const stored = await (deps.storeBootstrapToken ?? storeBootstrapToken)(host, bootstrapToken);
      ctx.io.err(`• access token stored ${stored.outcome === "encrypted" ? "encrypted with systemd-creds" : "as a root 0600 file"}: ${stored.path}`);
    }
    // Service users exist only after apply's sysusers step; hand the state over, then start.
    await converge(ctx, config, text, { start: false });
    chowned += await ownState(host, config);
    await converge(ctx, config, text, {});
    ctx.io.out(`Restored ${file} (taken ${meta.createdAt}) and applied it; ${chowned} entr(ies) re-owned.`);
  } else {
    ctx.io.out(`Restored ${file} (taken ${meta.createdAt}) into ${host.root}. Next: \`wirebot apply${host.root === "/" ? "" : ` --root ${host.root}`}\`.`);
  }
  ctx.io.out(`Channel credentials are not in backups: pair WhatsApp again (docs/operations.md); secrets come from the vault on the next \`systemctl start wirebot-secrets\`.`);
  return EXIT.ok;
}
