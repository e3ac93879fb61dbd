/** Ingestion against the stand-in: exact totals, replays add nothing, late rows once, splitting, retries, no partial window. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { captureLogger, meterConfig, sampleStandin, SAMPLE_DAY, SAMPLE_NOON } from "../../test/litellm-standin/fixtures.ts";
import { benchAgents, generateRows, SAMPLE_AGENTS } from "../../test/litellm-standin/generate.ts";
import { renderRow, seedKey, startStandin, type Standin } from "../../test/litellm-standin/server.ts";
import { groundTruthNusd } from "../../test/litellm-standin/store.ts";
import { Meter } from "./daemon.ts";
import { openLedgerDb } from "./db.ts";
import { runIngestCycle } from "./ingest.ts";
import { Ledger, parseSpendRow } from "./ledger.ts";
import { LiteLlmClient } from "./litellm-client.ts";
import { sha256Hex } from "./litellm-keys.ts";

const tmp = () => path.join(mkdtempSync(path.join(tmpdir(), "wb-ingest-")), "ledger.sqlite");
const instant = async () => {};
let s: Standin;
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  await s?.close();
});

function setup(standin: Standin, opts: { timeoutMs?: number } = {}) {
  const db = openLedgerDb(tmp());
  const ledger = new Ledger(db, "default");
  const client = new LiteLlmClient({ baseUrl: standin.url, adminKey: standin.masterKey, sleep: instant, timeoutMs: opts.timeoutMs ?? 5_000 });
  closers.push(() => client.close(), () => void db.close());
  return { db, ledger, client };
}
const keySums = (db: ReturnType<typeof openLedgerDb>) =>
  new Map((db.prepare("SELECT key_hash AS h, sum(spend_nusd) AS s FROM spend_events GROUP BY key_hash").all() as { h: string; s: number }[]).map((r) => [r.h, BigInt(r.s)]));

describe("ingest against the sample", () => {
  it("totals per agent equal the stand-in's ground truth to the nano-dollar", async () => {
    let now = SAMPLE_NOON;
    s = await sampleStandin({ now: () => now });
    const { log } = captureLogger();
    const m = new Meter({ config: meterConfig(s.url), ledgerPath: tmp(), adminKey: s.masterKey, log, now: () => now, backfillFromMs: SAMPLE_DAY });
    closers.push(() => m.close());
    await m.cycle();
    expect(Object.fromEntries(m.ledger.monthSpend("2026-10"))).toEqual(Object.fromEntries(SAMPLE_AGENTS.map((a) => [a.agentId, Number(a.nusd)])));
    // the drift check agrees: LiteLLM's key spend equals the ledger when nothing was lost
    expect(m.lastDrift.map((d) => d.outcome)).toEqual(["match", "match", "match"]);
    now += 60_000;
    const again = await m.cycle();
    expect(again.ingest.inserted).toBe(0);
  });

  it("counts a late row inside the overlap exactly once", async () => {
    let now = Date.UTC(2026, 9, 20, 10, 30);
    s = await sampleStandin({ now: () => now });
    const { db, ledger, client } = setup(s);
    const o = { overlapMs: 30 * 60_000, settleMs: 60_000, now: () => now, backfillFromMs: SAMPLE_DAY };
    await runIngestCycle(client, ledger, o);
    const late = db.prepare("SELECT count(*) FROM spend_events WHERE request_id = 'msg_01bS7aKMfKeRQnrrLrVD7fCZ'").pluck();
    // 10:26:13 start, flushed ~10:33:11: the 10:30 poll (watermark 10:29) cannot see it
    expect(ledger.readState().watermarkMs).toBe(Date.UTC(2026, 9, 20, 10, 29));
    expect(late.get()).toBe(0);
    for (now = Date.UTC(2026, 9, 20, 10, 35); now <= SAMPLE_NOON; now += 5 * 60_000) await runIngestCycle(client, ledger, o);
    expect(late.get()).toBe(1);
    const truth = groundTruthNusd(s.store.visible(now));
    expect(keySums(db)).toEqual(truth);
    expect(db.prepare("SELECT first_seen_at FROM spend_events WHERE request_id = 'msg_01bS7aKMfKeRQnrrLrVD7fCZ'").pluck().get()).toBe(Date.UTC(2026, 9, 20, 10, 35));
  });

  it("replaying any window adds nothing", async () => {
    s = await sampleStandin({ now: () => SAMPLE_NOON });
    const { db, ledger, client } = setup(s);
    await runIngestCycle(client, ledger, { overlapMs: 1_800_000, settleMs: 60_000, now: () => SAMPLE_NOON, backfillFromMs: SAMPLE_DAY });
    const before = keySums(db);
    for (let a = Date.UTC(2026, 9, 20, 9); a < Date.UTC(2026, 9, 20, 12); a += 7 * 60_000) {
      const page = await client.spendLogs({ startMs: a, endMs: a + 20 * 60_000, pageSize: 1000 });
      expect(ledger.commitWindow(page.data.map(parseSpendRow), a, SAMPLE_NOON + 1).inserted).toBe(0);
    }
    // a forced re-sweep of the whole day re-reads everything and adds nothing
    const sweep = await runIngestCycle(client, ledger, { overlapMs: 1_800_000, settleMs: 60_000, now: () => SAMPLE_NOON + 25 * 3_600_000 });
    expect(sweep.swept).toBe(true);
    expect(sweep.rowsSeen).toBeGreaterThanOrEqual(20);
    expect(sweep.inserted).toBe(0);
    expect(keySums(db)).toEqual(before);
  });
});

describe("ingest of dense data", () => {
  async function dense(count: number, burst: number) {
    s = await startStandin();
    const agents = benchAgents(3);
    for (const a of agents) seedKey(s.store, a.key, `wirebot/${a.agentId}`);
    const from = Date.UTC(2026, 9, 20, 8);
    for (const r of generateRows({ seed: 11, count, agents, fromMs: from, spanMs: 2 * 3_600_000, tieShare: 0.3 })) s.store.add(r);
    // a burst larger than a page, all in one second and many on the same millisecond
    for (let i = 0; i < burst; i++) s.store.add({ ...s.store.rows[0]!, request_id: `burst-${i}`, startMs: from + 3_600_000 + (i % 7), endMs: from + 3_600_000 + 500, visibleAtMs: from + 3_601_000, spend: 0.000123 * (i + 1) });
    return { from, agents };
  }

  it("splits windows in halves and falls back to OFFSET only inside one second; totals exact", async () => {
    const { from } = await dense(3000, 180);
    const { db, ledger, client } = setup(s);
    const r = await runIngestCycle(client, ledger, { overlapMs: 1_800_000, settleMs: 60_000, pageSize: 50, now: () => from + 4 * 3_600_000, backfillFromMs: from - 1000 });
    expect(r.inserted).toBe(s.store.rows.length);
    expect(keySums(db)).toEqual(groundTruthNusd(s.store.rows));
    // OFFSET paging (page > 1) happened, and only for one-second windows
    const paged = s.requests.filter((u) => /[?&]page=([2-9]|\d\d)/.test(u));
    expect(paged.length).toBeGreaterThan(0);
    for (const u of paged) {
      const p = new URL(u, "http://x").searchParams;
      expect(Date.parse(p.get("end_date")!.replace(" ", "T") + "Z") - Date.parse(p.get("start_date")!.replace(" ", "T") + "Z")).toBeLessThanOrEqual(1000);
    }
  });

  it("skips unreadable rows once each, in split windows and inside an overflowing second alike", async () => {
    const { from } = await dense(1500, 120);
    // one unreadable row in the burst second (read through OFFSET passes) and one in an ordinary window
    const spoil = (id: string) => {
      const row = s.store.rows.find((r) => r.request_id === id)!;
      row.extra = { ...renderRow(row, "v2"), spend: "not-a-number" };
      return row;
    };
    const spoiled = [spoil("burst-3"), spoil(s.store.rows[100]!.request_id)];
    const { db, ledger, client } = setup(s);
    const { log, text } = captureLogger();
    const r = await runIngestCycle(client, ledger, { overlapMs: 1_800_000, settleMs: 60_000, pageSize: 50, now: () => from + 4 * 3_600_000, backfillFromMs: from - 1000, log });
    expect(r.badRows).toBe(2);
    expect(text().match(/skipped an unreadable spend row/g)).toHaveLength(2);
    expect(r.inserted).toBe(s.store.rows.length - 2);
    expect(keySums(db)).toEqual(groundTruthNusd(s.store.rows.filter((x) => !spoiled.includes(x))));
  });

  it("retries 5xx, resets and timeouts, and still ends exact", async () => {
    const { from } = await dense(600, 0);
    const { db, ledger, client } = setup(s, { timeoutMs: 300 });
    s.faults.failNext(2, 502);
    s.faults.resetNext(1);
    s.faults.hangNext(1, 1_000);
    s.faults.failNext(1, 503);
    const r = await runIngestCycle(client, ledger, { overlapMs: 1_800_000, settleMs: 60_000, pageSize: 100, now: () => from + 4 * 3_600_000, backfillFromMs: from - 1000 });
    expect(r.outcome).toBe("ingested");
    expect(keySums(db)).toEqual(groundTruthNusd(s.store.rows));
  });

  it("a failure mid-cycle leaves whole windows only, and the watermark at the last commit", async () => {
    const { from } = await dense(2000, 0);
    const { db, ledger, client } = setup(s);
    let calls = 0;
    const real = client.spendLogs.bind(client);
    client.spendLogs = async (p) => {
      if (++calls === 30) s.faults.failNext(50, 500); // every retry of every later window fails too
      return real(p);
    };
    const o = { overlapMs: 1_800_000, settleMs: 60_000, pageSize: 100, now: () => from + 4 * 3_600_000, backfillFromMs: from - 1000 };
    await expect(runIngestCycle(client, ledger, o)).rejects.toThrow(/HTTP 500/);
    const w = ledger.readState().watermarkMs!;
    const ids = new Set(db.prepare("SELECT request_id FROM spend_events").pluck().all() as string[]);
    // exactly the rows with startTime <= watermark (the end bound is inclusive at second precision)
    const expected = s.store.rows.filter((r) => r.startMs <= w).map((r) => r.request_id);
    expect(ids.size).toBe(expected.length);
    expect(ids.size).toBeGreaterThan(0);
    expect(ids.size).toBeLessThan(s.store.rows.length);
    for (const id of expected) expect(ids.has(id)).toBe(true);
    client.spendLogs = real;
    s.faults.clear();
    await runIngestCycle(client, ledger, o);
    expect(keySums(db)).toEqual(groundTruthNusd(s.store.rows));
    expect(Object.keys(Object.fromEntries(keySums(db)))).toContain(sha256Hex(benchAgents(3)[0]!.key));
  });
});
