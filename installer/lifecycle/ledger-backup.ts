/** A consistent copy of the ledger while the reconcile daemon writes to it: SQLite's online backup API. */
import Database from "better-sqlite3";
import type { Host } from "../host/host.ts";

/** Copies `src` to `dest` (appliance paths on the same host) page by page under SQLite's locking. */
export type LedgerBackup = (host: Host, src: string, dest: string) => Promise<void>;

export const sqliteOnlineBackup: LedgerBackup = async (host, src, dest) => {
  // better-sqlite3 needs real paths; the host only maps them, every other effect stays behind the port.
  const db = new Database(host.resolve(src), { fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    await db.backup(host.resolve(dest));
  } finally {
    db.close();
  }
};
