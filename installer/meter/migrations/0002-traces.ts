/** Ledger schema v2: tool-call traces (transparency/), one row per call, and the monotonic counters /metrics serves. */
import type { Db } from "../db.ts";
import type { Migration } from "./index.ts";

const migration: Migration = {
  version: 2,
  name: "traces",
  up(db: Db) {
    db.exec(`
      -- One row per tool call. trace_id is derived from (gateway, run, tool call id), so a record sent twice
      -- (a retry, a spool replayed after a restart) is stored once. params/result/error are already redacted
      -- and capped JSON text; size_bytes is what retention by size counts.
      CREATE TABLE traces (
        trace_id     TEXT    PRIMARY KEY,
        at_ms        INTEGER NOT NULL,
        gateway      TEXT    NOT NULL,
        agent_id     TEXT    NOT NULL,
        session_key  TEXT,
        channel      TEXT,
        requester    TEXT,
        run_id       TEXT,
        tool_call_id TEXT    NOT NULL,
        parent_id    TEXT,
        tool         TEXT    NOT NULL,
        action       TEXT    NOT NULL CHECK (action IN ('allow', 'deny')),
        reason       TEXT,
        params       TEXT,
        result       TEXT,
        error        TEXT,
        duration_ms  INTEGER,
        size_bytes   INTEGER NOT NULL
      );
      CREATE INDEX traces_at ON traces (at_ms);
      CREATE INDEX traces_agent_at ON traces (agent_id, at_ms);

      -- Prometheus counters must never go down: retention deletes traces, not these.
      CREATE TABLE trace_counts (
        agent_id TEXT    NOT NULL,
        tool     TEXT    NOT NULL,
        action   TEXT    NOT NULL,
        n        INTEGER NOT NULL,
        PRIMARY KEY (agent_id, tool, action)
      ) WITHOUT ROWID;
    `);
  },
};

export default migration;
