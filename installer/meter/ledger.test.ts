/** Ledger: migrations, nano-USD exactness on the sample, insert-or-ignore, conflicting reuse kept apart. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { loadSampleRows, SAMPLE_AGENTS } from "../../test/litellm-standin/generate.ts";
import { renderRow } from "../../test/litellm-standin/server.ts";
import { captureLogger } from "../../test/litellm-standin/fixtures.ts";
import { LEDGER_CACHE_KIB, migrate, openLedgerDb } from "./db.ts";
import { Ledger, parseLiteLlmTime, parseSpendRow, toNusd } from "./ledger.ts";
import { MIGRATIONS } from "./migrations/index.ts";
import { sha256Hex } from "./litellm-keys.ts";
import { formatUsd } from "./money.ts";

const tmp = () => path.join(mkdtempSync(path.join(tmpdir(), "wb-ledger-")), "ledger.sqlite");
const sampleEvents = () => loadSampleRows().map((r) => parseSpendRow(renderRow(r, "v2")));

describe("migrations", () => {
  it("creates the schema at the latest user_version (3: traces, trace forwarding) in WAL mode, and a second migrate is a no-op", () => {
    const file = tmp();
    const db = openLedgerDb(file);
    expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.at(-1)!.version);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    // SQLite's page cache is bounded by the meter's memory budget, not better-sqlite3's 16 MB default
    expect(db.pragma("cache_size", { simple: true })).toBe(-LEDGER_CACHE_KIB);
    expect(LEDGER_CACHE_KIB).toBeLessThan(16_000);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    expect(tables).toEqual(["agent_keys", "budget_events", "spend_anomalies", "spend_daily", "spend_events", "sync_state", "trace_counts", "trace_forward", "traces"]);
    expect(migrate(db)).toBe(3);
    db.close();
    expect(openLedgerDb(file).pragma("user_version", { simple: true })).toBe(3);
  });

  it("a v1 ledger (an earlier wirebot's) gains the trace tables and keeps its rows", () => {
    const file = tmp();
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    migrate(db, MIGRATIONS.slice(0, 1));
    db.prepare("INSERT INTO sync_state (instance_id, watermark_ms) VALUES ('i', 42)").run();
    db.close();
    const up = openLedgerDb(file);
    expect(up.pragma("user_version", { simple: true })).toBe(3);
    expect(up.prepare("SELECT watermark_ms FROM sync_state").pluck().get()).toBe(42);
    expect(up.prepare("SELECT count(*) FROM traces").pluck().get()).toBe(0);
    up.close();
  });

  it("refuses a ledger from a newer wirebot", () => {
    const file = tmp();
    const db = openLedgerDb(file);
    db.pragma("user_version = 99");
    db.close();
    expect(() => openLedgerDb(file)).toThrow(/newer than this wirebot knows/);
  });
});

describe("parsing", () => {
  it("reads both timestamp styles and keeps sub-micro-dollar spend", () => {
    expect(parseLiteLlmTime("2026-10-20T09:02:11.204000Z")).toBe(Date.UTC(2026, 9, 20, 9, 2, 11, 204));
    expect(parseLiteLlmTime("2026-10-20T09:02:11.204000+00:00")).toBe(Date.UTC(2026, 9, 20, 9, 2, 11, 204));
    expect(parseLiteLlmTime("2026-10-20T11:02:11+02:00")).toBe(Date.UTC(2026, 9, 20, 9, 2, 11));
    expect(toNusd(0.00040364999999999997)).toBe(403_650);
    expect(toNusd(2e-7)).toBe(200); // a 10-token embedding: 0.2 µUSD survives
    expect(formatUsd(6_627_300)).toBe("0.006627300");
    expect(formatUsd(-1_500_000_000, 2)).toBe("-1.50");
  });

  it("sums the sample file to the nano-dollar totals of litellm.md §12", () => {
    const byKey = new Map<string, number>();
    for (const e of sampleEvents()) byKey.set(e.keyHash, (byKey.get(e.keyHash) ?? 0) + e.spendNusd);
    for (const a of SAMPLE_AGENTS) expect(BigInt(byKey.get(sha256Hex(a.key))!)).toBe(a.nusd);
    const hit = sampleEvents().find((e) => e.requestId.includes("_cache_hit"))!;
    expect(hit.cacheHit).toBe(true);
    expect(sampleEvents().filter((e) => e.cacheHit)).toHaveLength(1);
  });
});

describe("keySpendSince", () => {
  it("equals the sum of the key's events from any instant, mid-day, at midnight, before and after them", () => {
    const db = openLedgerDb(tmp());
    const ledger = new Ledger(db, "default");
    // the sample is one day; spread copies over three days so whole days and a partial first day both count
    const base = sampleEvents();
    const events = [0, 1, 2].flatMap((d) => base.map((e) => ({ ...e, requestId: `${e.requestId}-d${d}`, startMs: e.startMs + d * 86_400_000 })));
    ledger.commitWindow(events, 0, 1);
    const raw = db.prepare("SELECT coalesce(sum(spend_nusd), 0) FROM spend_events WHERE key_hash = ? AND start_ms >= ?").pluck();
    const times = [...new Set(events.map((e) => e.startMs))].sort((a, b) => a - b);
    const midnight = Math.floor(times[0]! / 86_400_000) * 86_400_000;
    const since = [0, midnight, midnight + 86_400_000, midnight + 86_400_000 + 1, times.at(-1)! + 1, ...times, ...times.map((t) => t + 1)];
    const hashes = [...new Set(events.map((e) => e.keyHash))];
    for (const h of hashes) for (const t of since) expect(ledger.keySpendSince(h, t), `since ${new Date(t).toISOString()}`).toBe(raw.get(h, t));
    expect(ledger.keySpendSince(hashes[0]!, midnight + 86_400_000 + 1)).toBeGreaterThan(0);
    expect(ledger.keySpendSince("unknown", 0)).toBe(0);
  });
});

describe("commitWindow", () => {
  it("inserts once, ignores replays, keeps aggregates equal to events, never moves the watermark back", () => {
    const db = openLedgerDb(tmp());
    const ledger = new Ledger(db, "default");
    const events = sampleEvents();
    expect(ledger.commitWindow(events, 2_000, 1)).toEqual({ inserted: 20, duplicates: 0, conflicts: 0 });
    expect(ledger.commitWindow(events, 1_000, 2)).toEqual({ inserted: 0, duplicates: 20, conflicts: 0 });
    expect(ledger.readState().watermarkMs).toBe(2_000);
    const sumEvents = db.prepare("SELECT sum(spend_nusd) FROM spend_events").pluck().get();
    const sumDaily = db.prepare("SELECT sum(spend_nusd) FROM spend_daily").pluck().get();
    expect(sumDaily).toBe(sumEvents);
    expect(db.prepare("SELECT min(first_seen_at) FROM spend_events").pluck().get()).toBe(1);
  });

  it("records a request_id reused with other content as an anomaly, once, without merging it", () => {
    const { log, text } = captureLogger();
    const db = openLedgerDb(tmp());
    const ledger = new Ledger(db, "default", log);
    const [first] = sampleEvents();
    ledger.commitWindow([first!], 0, 1);
    const changed = parseSpendRow({ ...renderRow(loadSampleRows()[0]!, "v2"), spend: 9.99 });
    expect(ledger.commitWindow([changed], 0, 2)).toEqual({ inserted: 0, duplicates: 0, conflicts: 1 });
    ledger.commitWindow([changed], 0, 3);
    expect(ledger.anomalyCount()).toBe(1);
    expect(db.prepare("SELECT spend_nusd FROM spend_events").pluck().all()).toEqual([first!.spendNusd]);
    expect(text()).toContain("reused a request_id");
  });

  it("attributes by key hash at read time, so a key registered late still lands on its agent", () => {
    const db = openLedgerDb(tmp());
    const ledger = new Ledger(db, "default");
    ledger.commitWindow(sampleEvents(), 0, 1);
    expect(ledger.usage("2026-10-01", "2026-10-31", "month").map((r) => r.agent)).toEqual(["(unattributed)"]);
    ledger.ensureAgentKeys(new Map(SAMPLE_AGENTS.map((a) => [a.agentId, [sha256Hex(a.key)]])), 2);
    expect(Object.fromEntries(ledger.monthSpend("2026-10"))).toEqual({ builder: 292_760_000, reviewer: 190_791_840, scout: 6_627_300 });
  });
});
