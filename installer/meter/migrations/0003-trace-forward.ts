/** Ledger schema v3: how far traces have been forwarded (transparency.forward), so a restart resends nothing and skips nothing. */
import type { Db } from "../db.ts";
import type { Migration } from "./index.ts";

const migration: Migration = {
  version: 3,
  name: "trace-forward",
  up(db: Db) {
    db.exec(`
      -- One row per forward URL: the last traces rowid the endpoint accepted.
      CREATE TABLE trace_forward (
        url       TEXT    PRIMARY KEY,
        last_row  INTEGER NOT NULL,
        sent      INTEGER NOT NULL DEFAULT 0,
        last_at   INTEGER,
        last_error TEXT
      ) WITHOUT ROWID;
    `);
  },
};

export default migration;
