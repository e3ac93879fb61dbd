/** A consistent copy of the ledger while the reconcile daemon writes to it, for `wirebot backup`. */
import type { Host } from "../host/host.ts";
import { backupLedgerDb } from "../meter/db.ts";

/** Copies `src` to `dest` (appliance paths on the same host) page by page under SQLite's locking. */
export type LedgerBackup = (host: Host, src: string, dest: string) => Promise<void>;

// better-sqlite3 needs real paths; the host maps them, and meter/db.ts stays the one place that opens the ledger.
export const sqliteOnlineBackup: LedgerBackup = (host, src, dest) => backupLedgerDb(host.resolve(src), host.resolve(dest));
