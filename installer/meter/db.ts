/** Opens the ledger (better-sqlite3, WAL) and runs the forward-only migrations tracked by PRAGMA user_version. */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import { PATHS } from "../config/layout.ts";
import { WirebotError } from "../errors.ts";
import { MIGRATIONS, type Migration } from "./migrations/index.ts";

/** The ledger path for a root (`/` in production, a temp dir in tests); here so `usage` needs no daemon module. */
export const ledgerPathFor = (root = "/") => join(root, PATHS.ledger);

export type Db = Database.Database;

/** SQLite page cache per connection, in KiB (the meter's RSS budget: docs/performance.md). */
export const LEDGER_CACHE_KIB = 2048;

/** A template tag for SQL text: interpolations are refused so values can only travel as bound parameters. */
export function sql(parts: TemplateStringsArray, ...values: never[]): string {
  if (values.length > 0) throw new Error("sql``: bind values as parameters, never interpolate them");
  return parts.join("");
}

export interface OpenOptions {
  log?: Logger;
  readonly?: boolean;
  /** queries slower than this are logged (ms) */
  slowMs?: number;
}

/**
 * Opens (and creates) the ledger. Errors from SQLite carry the SQL text so a failing statement can be
 * found from the log alone; slow statements are logged.
 */
export function openLedgerDb(path: string, opts: OpenOptions = {}): Db {
  if (!opts.readonly && path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  let db: Db;
  try {
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (cause) {
    throw new WirebotError(opts.readonly ? "preflight" : "cantWrite", "ledger.open", `cannot open the ledger at ${path}: ${(cause as Error).message}`, {
      cause,
      hint: opts.readonly ? "run `wirebot reconcile --once` first to create it" : "check that the directory exists and is writable by the wirebot user",
    });
  }
  if (!opts.readonly) {
    db.pragma("journal_mode = WAL");
    // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commit).
    db.pragma("synchronous = NORMAL");
  }
  // better-sqlite3 compiles SQLite with a 16 MB page cache per connection (SQLITE_DEFAULT_CACHE_SIZE);
  // the meter's whole footprint budget is 150 MB. Ingest appends to the table and the (key, time) index,
  // and the request_id index takes random writes that the OS page cache serves just as well, so 2 MB
  // costs the bench no measurable rate and takes 15-30 MB (with malloc's fragmentation) off peak RSS.
  db.pragma(`cache_size = -${LEDGER_CACHE_KIB}`);
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  if (opts.log && opts.slowMs !== undefined) instrument(db, opts.log, opts.slowMs);
  if (!opts.readonly) migrate(db, MIGRATIONS, opts.log);
  else assertKnownVersion(db, MIGRATIONS);
  return db;
}

function instrument(db: Db, log: Logger, slowMs: number): void {
  const prepare = db.prepare.bind(db);
  (db as { prepare: Db["prepare"] }).prepare = ((source: string) => {
    let stmt;
    try {
      stmt = prepare(source);
    } catch (err) {
      (err as Error).message += ` [sql: ${source.trim().replace(/\s+/g, " ")}]`;
      throw err;
    }
    for (const m of ["run", "get", "all"] as const) {
      const orig = (stmt[m] as (...a: unknown[]) => unknown).bind(stmt);
      (stmt as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return orig(...args);
        } catch (err) {
          (err as Error).message += ` [sql: ${source.trim().replace(/\s+/g, " ")}]`;
          throw err;
        } finally {
          const ms = performance.now() - t0;
          if (ms > slowMs) log.warn({ ms: Math.round(ms), sql: source.trim().slice(0, 200) }, "slow ledger query");
        }
      };
    }
    return stmt;
  }) as Db["prepare"];
}

function assertKnownVersion(db: Db, migrations: readonly Migration[]): number {
  const current = db.pragma("user_version", { simple: true }) as number;
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest)
    throw new WirebotError("config", "ledger.too-new", `the ledger is at schema version ${current}, newer than this wirebot knows (${latest})`, {
      hint: "upgrade wirebot; migrations are forward-only and an older binary must not write a newer ledger",
    });
  return current;
}

/** Runs every migration above the current user_version, each in one immediate transaction. Idempotent. */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS, log?: Logger): number {
  let current = assertKnownVersion(db, migrations);
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
    log?.info({ version: m.version, name: m.name }, "ledger migrated");
    current = m.version;
  }
  return current;
}

/**
 * Copies the ledger at `src` to `dest` with SQLite's online backup API: page by page under SQLite's own
 * locking, so the copy is consistent while the reconcile daemon keeps writing (a file copy of a WAL
 * database is not).
 */
export async function backupLedgerDb(src: string, dest: string): Promise<void> {
  let db: Db;
  try {
    db = new Database(src, { fileMustExist: true });
  } catch (cause) {
    throw new WirebotError("cantWrite", "ledger.backup-open", `cannot open the ledger at ${src} for a backup: ${(cause as Error).message}`, { cause, hint: "check that the file exists and is readable by root" });
  }
  try {
    db.pragma("busy_timeout = 5000");
    await db.backup(dest);
  } finally {
    db.close();
  }
}
