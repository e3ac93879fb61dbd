/** Budgets (thresholds once per month, optional /key/block at 100 %) and the drift check against /key/info. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { captureLogger, meterConfig, sampleStandin, SAMPLE_DAY, SAMPLE_NOON } from "../../test/litellm-standin/fixtures.ts";
import { SAMPLE_AGENTS } from "../../test/litellm-standin/generate.ts";
import type { Standin } from "../../test/litellm-standin/server.ts";
import { readBudgets } from "./budgets.ts";
import { createNodeHost } from "../host/node-host.ts";
import { wantedKeyBlocks } from "./key-blocks.ts";
import { LiteLlmClient } from "./litellm-client.ts";
import { agentKeySpecs, ensureAgentKeys, planAgentKeys } from "./litellm-keys.ts";
import { Meter } from "./daemon.ts";
import { periodStart } from "./drift.ts";

let s: Standin;
let m: Meter | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
  await s?.close();
});

const users = (scoutUsd: number) => [
  { id: "scout", name: "Scout", budget: { monthlyUsd: scoutUsd } },
  { id: "builder", name: "Builder", budget: { monthlyUsd: 0.35 } },
  { id: "reviewer", name: "Reviewer" },
];

describe("budgets", () => {
  it("warns once per threshold per month and blocks at 100 % when blockAtBudget is on", async () => {
    let now = SAMPLE_NOON;
    s = await sampleStandin({ now: () => now });
    const cap = captureLogger();
    const config = meterConfig(s.url, { users: users(0.006), metering: { blockAtBudget: true } });
    m = new Meter({ config, ledgerPath: path.join(mkdtempSync(path.join(tmpdir(), "wb-b-")), "l.sqlite"), adminKey: s.masterKey, log: cap.log, now: () => now, backfillFromMs: SAMPLE_DAY });
    const r1 = await m.cycle();
    expect(r1.budgets).toEqual([
      { agentId: "scout", action: "warned", percent: 80 },
      { agentId: "scout", action: "warned", percent: 100 },
      { agentId: "scout", action: "blocked", percent: 110.45 },
      { agentId: "builder", action: "warned", percent: 80 },
    ]);
    expect(s.store.findKey(SAMPLE_AGENTS[0].key)!.blocked).toBe(true);
    expect(s.store.findKey(SAMPLE_AGENTS[1].key)!.blocked).toBe(false);
    expect(cap.text()).toContain("agent scout reached 80 % of its monthly budget");
    now += 5 * 60_000;
    expect((await m.cycle()).budgets).toEqual([]);
    // a new month: under budget again, so the key is unblocked
    now = Date.UTC(2026, 10, 1, 0, 10);
    expect((await m.cycle()).budgets).toEqual([{ agentId: "scout", action: "unblocked", percent: 0 }]);
    expect(s.store.findKey(SAMPLE_AGENTS[0].key)!.blocked).toBe(false);
  });

  it("apply owns the block state the ledger implies: a key unblocked by hand while over budget is blocked again, a raised budget lifts wirebot's block, a block made by hand is left alone", async () => {
    const now = SAMPLE_NOON;
    s = await sampleStandin({ now: () => now });
    const root = mkdtempSync(path.join(tmpdir(), "wb-blocks-"));
    const host = createNodeHost({ root, now: () => new Date(now) });
    const config = meterConfig(s.url, { users: users(0.006), metering: { blockAtBudget: true } });
    m = new Meter({ config, ledgerPath: path.join(root, "var/lib/wirebot/ledger.sqlite"), adminKey: s.masterKey, log: captureLogger().log, now: () => now, backfillFromMs: SAMPLE_DAY });
    await m.cycle();
    const client = new LiteLlmClient({ baseUrl: s.url, adminKey: s.masterKey });
    const keys = Object.fromEntries([...SAMPLE_AGENTS.map((a) => [a.agentId, a.key] as const), ["wirebot", "sk-fake-wirebot-key-0003"] as const]);
    await ensureAgentKeys(client, agentKeySpecs(config, keys));
    const scout = () => s.store.findKey(SAMPLE_AGENTS[0].key)!;
    const plan = async (c: typeof config) => (await planAgentKeys(client, agentKeySpecs(c, keys, await wantedKeyBlocks(host, c)))).filter((p) => p.action !== "unchanged").map((p) => `${p.agentId}: ${p.drift.join("; ")}`);

    // the meter blocked scout at 100 %; someone unblocks the key in the LiteLLM dashboard
    expect(scout().blocked).toBe(true);
    expect(await plan(config)).toEqual([]);
    scout().blocked = false;
    expect(await plan(config)).toEqual(["scout: blocked: false → true (monthly budget spent)"]);
    await ensureAgentKeys(client, agentKeySpecs(config, keys, await wantedKeyBlocks(host, config)));
    expect(scout().blocked).toBe(true);
    expect(await plan(config)).toEqual([]);

    // the operator raises scout's budget: wirebot's block has no reason left, so apply lifts it
    const raised = meterConfig(s.url, { users: users(5), metering: { blockAtBudget: true } });
    expect(await plan(raised)).toEqual(["scout: max_budget: 0.006 → 5; blocked: true → false (no longer over its budget)"]);
    await ensureAgentKeys(client, agentKeySpecs(raised, keys, await wantedKeyBlocks(host, raised)));
    expect(scout().blocked).toBe(false);

    // a key blocked by hand, for a reason wirebot cannot know, stays blocked
    s.store.findKey(SAMPLE_AGENTS[2].key)!.blocked = true;
    expect(await plan(raised)).toEqual([]);
    await client.close();
  });

  it("never blocks without blockAtBudget, and reports state from integer arithmetic", async () => {
    s = await sampleStandin({ now: () => SAMPLE_NOON });
    const config = meterConfig(s.url, { users: users(0.0066273) });
    m = new Meter({ config, ledgerPath: path.join(mkdtempSync(path.join(tmpdir(), "wb-b-")), "l.sqlite"), adminKey: s.masterKey, log: captureLogger().log, now: () => SAMPLE_NOON, backfillFromMs: SAMPLE_DAY });
    await m.cycle();
    expect(s.store.findKey(SAMPLE_AGENTS[0].key)!.blocked).toBe(false);
    const scout = readBudgets(m.ledger, config, SAMPLE_NOON)[0]!;
    expect(scout).toMatchObject({ percent: 100, state: "over", reached: [80, 100] });
  });
});

describe("drift", () => {
  it("reports rows LiteLLM billed but never logged as a negative difference", async () => {
    s = await sampleStandin({ now: () => SAMPLE_NOON });
    const lost = { ...s.store.rows[0]!, request_id: "lost-on-restart", spend: 0.5 };
    s.store.add(lost, { lose: true });
    const cap = captureLogger();
    m = new Meter({ config: meterConfig(s.url), ledgerPath: path.join(mkdtempSync(path.join(tmpdir(), "wb-d-")), "l.sqlite"), adminKey: s.masterKey, log: cap.log, now: () => SAMPLE_NOON, backfillFromMs: SAMPLE_DAY });
    const r = await m.cycle();
    const d = r.drift!.find((x) => x.keyHash === lost.api_key)!;
    expect(d).toMatchObject({ outcome: "drift", diffNusd: -500_000_000 });
    expect(r.drift!.filter((x) => x.outcome === "match")).toHaveLength(2);
    expect(cap.text()).toContain("disagree");
  });

  it("derives the budget period start from budget_reset_at and budget_duration", () => {
    expect(periodStart("2026-11-01T00:00:00Z", "1mo")).toBe(Date.UTC(2026, 9, 1));
    expect(periodStart("2026-11-01T00:00:00", "30d")).toBe(Date.UTC(2026, 9, 2));
    expect(periodStart(null, "30d")).toBeNull();
  });
});
