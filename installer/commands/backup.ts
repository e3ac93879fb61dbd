/** `wirebot backup FILE` / `wirebot restore FILE`: wirebot.yaml, state dirs, workspaces and the ledger in one tar.gz, without secrets. */
import path from "node:path";
import { PATHS, SERVICE_USER, resolveLayout, userDir } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { createSystemd } from "../engine/systemd.ts";
import { EXIT, configError, usageError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { convergeOf, liveOf, type LifecycleDeps } from "../lifecycle/deps.ts";
import { sqliteOnlineBackup, type LedgerBackup } from "../lifecycle/ledger-backup.ts";
import { chownRecursive } from "../lifecycle/migrate.ts";
import { managedUnits } from "../lifecycle/probes.ts";
import { gunzipTar, gzipTar, type TarEntry } from "../lifecycle/tar.ts";
import { parseEnvFile } from "../secrets/env-file.ts";
import { loadConfig, type CommandContext } from "./context.ts";

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

export interface BackupDeps extends LifecycleDeps {
  ledgerBackup?: LedgerBackup;
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
  // Short values would match ordinary text; real tokens and keys are long.
  return values.filter((v) => v.length >= 12);
}

async function walk(host: Host, dir: string, out: { path: string; kind: "file" | "dir"; mode: number }[], skipped: string[]): Promise<void> {
  for (const name of (await host.readdir(dir)) ?? []) {
    const p = `${dir}/${name}`;
    const st = await host.stat(p);
    if (!st) continue;
    if (st.kind === "dir") {
      if (EXCLUDED_DIRS.has(name)) {
        skipped.push(`${p}/`);
        continue;
      }
      out.push({ path: p, kind: "dir", mode: st.mode });
      await walk(host, p, out, skipped);
    } else if (st.kind === "file") {
      if (excludedFile(name)) skipped.push(p);
      else out.push({ path: p, kind: "file", mode: st.mode });
    } else skipped.push(p); // symlinks, sockets: not state wirebot restores
  }
}

const rel = (p: string) => p.replace(/^\/+/, "");

export async function backupCommand(ctx: CommandContext, opts: BackupOptions, deps: BackupDeps = {}): Promise<number> {
  const { config, text } = await loadConfig(ctx);
  const file = path.resolve(opts.file);
  if (!opts.force && (await ctx.local.stat(file))) throw usageError("backup.exists", `${file} already exists`, "choose another name or add --force");
  const host = ctx.host;
  const secrets = await knownSecrets(host);
  const entries: TarEntry[] = [];
  const skipped: string[] = [];

  entries.push({ path: rel(PATHS.etcDir), type: "dir", mode: 0o700 });
  entries.push({ path: rel(PATHS.configFile), type: "file", mode: 0o600, content: Buffer.from(text) });

  const dataSt = await host.stat(config.paths.data);
  if (dataSt?.kind === "dir") {
    const found: { path: string; kind: "file" | "dir"; mode: number }[] = [];
    await walk(host, config.paths.data, found, skipped);
    entries.push({ path: rel(config.paths.data), type: "dir", mode: dataSt.mode });
    for (const f of found) {
      if (f.kind === "dir") {
        entries.push({ path: rel(f.path), type: "dir", mode: f.mode });
        continue;
      }
      const content = await host.readFile(f.path);
      if (!content) continue;
      if (secrets.some((s) => content.includes(s))) {
        skipped.push(`${f.path} (holds a secret value)`);
        continue;
      }
      entries.push({ path: rel(f.path), type: "file", mode: f.mode, content });
    }
  }

  if (await host.stat(PATHS.ledger)) {
    // The daemon keeps writing while we copy: the online backup API gives a consistent snapshot.
    const tmp = `${PATHS.ledgerDir}/.backup-${process.pid}.sqlite`;
    try {
      await (deps.ledgerBackup ?? sqliteOnlineBackup)(host, PATHS.ledger, tmp);
      entries.push({ path: rel(PATHS.ledgerDir), type: "dir", mode: 0o700 });
      entries.push({ path: rel(PATHS.ledger), type: "file", mode: 0o600, content: (await host.readFile(tmp))! });
    } finally {
      await host.remove(tmp);
    }
  }

  const meta: BackupMeta = { format: 1, createdAt: host.now().toISOString(), dataDir: config.paths.data, runtime: config.runtime, users: config.users.map((u) => u.id), excluded: EXCLUDE_NOTE };
  const archive = gzipTar([{ path: META_NAME, type: "file", mode: 0o600, content: Buffer.from(JSON.stringify(meta, null, 2) + "\n") }, ...entries], host.now());
  await ctx.local.writeFileAtomic(file, archive, { mode: 0o600 });
  const files = entries.filter((e) => e.type === "file").length;
  ctx.io.out(`Wrote ${file} (${(archive.length / 1024).toFixed(0)} KiB, ${files} file(s), mode 0600). No secrets: /run/wirebot, the credstore and channel credentials are not included.`);
  for (const s of skipped) ctx.io.err(`  left out: ${s}`);
  return EXIT.ok;
}

/** Every archive path must be one wirebot restores, and never climb out of it. */
function assertSafe(entries: TarEntry[], dataDir: string): void {
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

export async function restoreCommand(ctx: CommandContext, opts: RestoreOptions, deps: BackupDeps = {}): Promise<number> {
  const file = path.resolve(opts.file);
  const buf = await ctx.local.readFile(file);
  if (!buf) throw usageError("restore.missing", `no archive at ${file}`);
  let entries: TarEntry[];
  try {
    entries = gunzipTar(buf);
  } catch (e) {
    throw configError("restore.archive", `${file} is not a wirebot backup (${(e as Error).message})`);
  }
  const metaEntry = entries.find((e) => e.path === META_NAME);
  const yamlEntry = entries.find((e) => e.path === rel(PATHS.configFile));
  if (!metaEntry?.content || !yamlEntry?.content) throw configError("restore.archive", `${file} has no ${META_NAME} or wirebot.yaml: not a wirebot backup`);
  const meta = JSON.parse(metaEntry.content.toString("utf8")) as BackupMeta;
  if (meta.format !== 1) throw configError("restore.format", `backup format ${String(meta.format)} is not supported by this wirebot`);
  assertSafe(entries, meta.dataDir);
  const text = yamlEntry.content.toString("utf8");
  const config = parseConfig(text, `${file}:${PATHS.configFile}`, ctx.env);

  const host = ctx.host;
  const occupied = (await host.stat(PATHS.configFile)) !== null || ((await host.readdir(config.paths.data)) ?? []).length > 0;
  if (occupied && !opts.force)
    throw usageError("restore.occupied", `${host.resolve(PATHS.configFile)} or ${host.resolve(config.paths.data)} already holds an appliance`, "restore onto a fresh host, or add --force to overwrite it (take a `wirebot backup` first)");

  const live = liveOf(ctx, deps);
  const sd = createSystemd(host);
  const units = managedUnits(config, resolveLayout(config));
  if (live && occupied) await sd.stop(units);

  // Parents before children; the archive lists them in that order, sorting makes it independent of the writer.
  const byDepth = [...entries].filter((e) => e.path !== META_NAME).sort((a, b) => a.path.split("/").length - b.path.split("/").length || (a.type === "dir" ? -1 : 1));
  for (const e of byDepth.filter((x) => x.type === "dir")) {
    await ensureParents(host, `/${e.path}`);
    await host.mkdir(`/${e.path}`, { mode: e.mode & 0o1777 });
  }
  for (const e of byDepth.filter((x) => x.type === "file")) {
    await ensureParents(host, `/${e.path}`);
    await host.writeFileAtomic(`/${e.path}`, e.content ?? Buffer.alloc(0), { mode: e.mode & 0o1777 });
  }
  for (const stale of [`${PATHS.ledger}-wal`, `${PATHS.ledger}-shm`]) await host.remove(stale);
  let chowned = await ownState(host, config);

  if (live) {
    // Service users exist only after apply's sysusers step; hand the state over, then start.
    const converge = convergeOf(deps);
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
