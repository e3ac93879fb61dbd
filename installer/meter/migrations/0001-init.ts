/** Ledger schema v1: spend events (append-only), per-day aggregates, key→agent map, sync state, anomalies, alerts. */
import type { Db } from "../db.ts";
import type { Migration } from "./index.ts";

const migration: Migration = {
  version: 1,
  name: "init",
  up(db: Db) {
    db.exec(`
      -- One row per LiteLLM_SpendLogs row. (instance_id, request_id) is LiteLLM's own primary key scoped to a
      -- deployment, because request ids repeat across LiteLLM database resets (litellm.md §10.3). A rowid table
      -- with a UNIQUE index rather than WITHOUT ROWID: rows arrive in startTime order, so the table is appended
      -- to and only the small index takes random writes (measured 2x faster on a million rows).
      CREATE TABLE spend_events (
        id                INTEGER PRIMARY KEY,
        instance_id       TEXT    NOT NULL,
        request_id        TEXT    NOT NULL,
        key_hash          TEXT    NOT NULL,
        start_ms          INTEGER NOT NULL,
        end_ms            INTEGER,
        model             TEXT    NOT NULL,
        model_group       TEXT,
        call_type         TEXT,
        status            TEXT,
        cache_hit         INTEGER NOT NULL,
        prompt_tokens     INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        total_tokens      INTEGER NOT NULL,
        spend_nusd        INTEGER NOT NULL,
        spend_raw         TEXT    NOT NULL,
        end_user          TEXT,
        label_agent       TEXT,
        fingerprint       TEXT    NOT NULL,
        first_seen_at     INTEGER NOT NULL,
        UNIQUE (instance_id, request_id)
      );
      CREATE INDEX spend_events_key_time ON spend_events (key_hash, start_ms);

      -- Maintained in the same transaction as the events it sums, so it can never disagree with them.
      -- Keyed by key hash, not agent: attribution is resolved at read time, so a key registered late
      -- or rotated still lands on its agent.
      CREATE TABLE spend_daily (
        key_hash          TEXT    NOT NULL,
        day               TEXT    NOT NULL,
        model             TEXT    NOT NULL,
        requests          INTEGER NOT NULL,
        spend_nusd        INTEGER NOT NULL,
        prompt_tokens     INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        total_tokens      INTEGER NOT NULL,
        PRIMARY KEY (key_hash, day, model)
      ) WITHOUT ROWID;

      -- Old hashes stay after a rotation so earlier rows keep their agent.
      CREATE TABLE agent_keys (
        key_hash      TEXT PRIMARY KEY,
        agent_id      TEXT NOT NULL,
        registered_at INTEGER NOT NULL
      );
      CREATE INDEX agent_keys_agent ON agent_keys (agent_id);

      CREATE TABLE sync_state (
        instance_id     TEXT PRIMARY KEY,
        watermark_ms    INTEGER NOT NULL,
        last_success_at INTEGER,
        last_sweep_at   INTEGER,
        last_error_at   INTEGER,
        last_error      TEXT
      );

      -- A request_id seen again with different content: recorded, never merged into the event.
      CREATE TABLE spend_anomalies (
        id           INTEGER PRIMARY KEY,
        instance_id  TEXT    NOT NULL,
        request_id   TEXT    NOT NULL,
        kind         TEXT    NOT NULL,
        fingerprint  TEXT    NOT NULL,
        detail       TEXT    NOT NULL,
        seen_at      INTEGER NOT NULL,
        UNIQUE (instance_id, request_id, kind, fingerprint)
      );

      -- One row per threshold crossed per month, so a warning is logged once, not every cycle.
      CREATE TABLE budget_events (
        agent_id  TEXT    NOT NULL,
        month     TEXT    NOT NULL,
        kind      TEXT    NOT NULL,
        percent   INTEGER NOT NULL,
        at        INTEGER NOT NULL,
        PRIMARY KEY (agent_id, month, kind, percent)
      );
    `);
  },
};

export default migration;
