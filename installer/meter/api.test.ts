/** The local API: token protection (not /health), agents, usage JSON, Prometheus metrics, error envelope. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureLogger, meterConfig, sampleStandin, SAMPLE_DAY, SAMPLE_NOON } from "../../test/litellm-standin/fixtures.ts";
import type { Standin } from "../../test/litellm-standin/server.ts";
import { startApi, type ApiServer } from "./api.ts";
import { Meter } from "./daemon.ts";

const TOKEN = "test-api-token-not-secret";
let s: Standin;
let m: Meter;
let api: ApiServer;

beforeAll(async () => {
  s = await sampleStandin({ now: () => SAMPLE_NOON });
  const config = meterConfig(s.url, {
    users: [
      { id: "scout", name: "Scout", budget: { monthlyUsd: 0.005 } },
      { id: "builder", name: "Builder", budget: { monthlyUsd: 1 } },
      { id: "reviewer", name: "Reviewer" },
    ],
  });
  m = new Meter({ config, ledgerPath: path.join(mkdtempSync(path.join(tmpdir(), "wb-api-")), "l.sqlite"), adminKey: s.masterKey, log: captureLogger().log, now: () => SAMPLE_NOON, backfillFromMs: SAMPLE_DAY });
  await m.cycle();
  api = await startApi({ ledger: m.ledger, config, token: TOKEN, now: () => SAMPLE_NOON, lastDrift: () => m.lastDrift }, { port: 0 });
});
afterAll(async () => {
  await api.close();
  await m.close();
  await s.close();
});

async function get(p: string, token: string | null = TOKEN, method = "GET") {
  const res = await request(api.url + p, { method: method as "GET", headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) };
}

describe("auth", () => {
  it("serves /health without a token and nothing else", async () => {
    const h = await get("/health", null);
    expect(h.status).toBe(200);
    expect(h.json()).toMatchObject({ ok: true, status: "ok", lagSeconds: 60, lastError: null });
    for (const p of ["/v1/agents", "/v1/usage", "/metrics"]) {
      const r = await get(p, null);
      expect(r.status).toBe(401);
      expect(r.json()).toEqual({ error: { code: "unauthorized", message: "missing or wrong bearer token (WIREBOT_API_TOKEN)" } });
      expect((await get(p, "wrong")).status).toBe(401);
    }
  });

  it("answers unknown routes and methods with the error envelope", async () => {
    expect((await get("/nope")).json()).toEqual({ error: { code: "not_found", message: "no route /nope" } });
    expect((await get("/v1/usage", TOKEN, "POST")).status).toBe(405);
  });
});

describe("data", () => {
  it("lists agents with month spend and budget state", async () => {
    const a = (await get("/v1/agents")).json();
    expect(a.month).toBe("2026-10");
    expect(a.agents).toEqual([
      { id: "scout", name: "Scout", mode: "shared", keys: 1, monthSpendUsd: "0.006627300", monthSpendNusd: 6_627_300, budget: { monthlyUsd: 0.005, percent: 132.54, reached: [80, 100], state: "over" } },
      { id: "builder", name: "Builder", mode: "shared", keys: 1, monthSpendUsd: "0.292760000", monthSpendNusd: 292_760_000, budget: { monthlyUsd: 1, percent: 29.27, reached: [], state: "ok" } },
      { id: "reviewer", name: "Reviewer", mode: "shared", keys: 1, monthSpendUsd: "0.190791840", monthSpendNusd: 190_791_840, budget: null },
      // The shared gateway's system agent, metered under its own name.
      { id: "wirebot", name: "Wirebot system", mode: "system", keys: expect.any(Number), monthSpendUsd: "0.000000000", monthSpendNusd: 0, budget: null },
    ]);
  });

  it("reports usage per day and month, filtered by agent, with exact decimal strings", async () => {
    const u = (await get("/v1/usage?agent=builder&from=2026-10-01&to=2026-10-31&group=month")).json();
    expect(u.rows).toEqual([{ agent: "builder", period: "2026-10", requests: 7, spendUsd: "0.292760000", spendNusd: 292_760_000, promptTokens: expect.any(Number), completionTokens: expect.any(Number), totalTokens: expect.any(Number) }]);
    const d = (await get("/v1/usage?from=2026-10-20&to=2026-10-20")).json();
    expect(d.group).toBe("day");
    expect(d.rows.map((r: { agent: string }) => r.agent)).toEqual(["builder", "reviewer", "scout"]);
    expect((await get("/v1/usage?from=2026-10-21&to=2026-10-22")).json().rows).toEqual([]);
  });

  it("rejects bad usage parameters with 400", async () => {
    for (const qs of ["from=2026-13-01", "to=yesterday", "group=week", "from=2026-10-05&to=2026-10-01", "agent=../x"]) {
      const r = await get(`/v1/usage?${qs}`);
      expect(r.status).toBe(400);
      expect(r.json().error.code).toBe("bad_request");
    }
  });

  it("exposes Prometheus metrics per agent and model, sync time and lag", async () => {
    const r = await get("/metrics");
    expect(r.headers["content-type"]).toContain("text/plain; version=0.0.4");
    expect(r.text).toContain('wirebot_spend_usd_total{agent="scout",model="openai/gpt-4o-mini"}');
    expect(r.text).toContain('wirebot_tokens_total{agent="builder",model="anthropic/claude-sonnet-4-20250514",kind="prompt"}');
    expect(r.text).toContain("# TYPE wirebot_last_successful_sync_timestamp_seconds gauge");
    expect(r.text).toMatch(/^wirebot_sync_lag_seconds 60$/m);
    expect(r.text).toMatch(/^wirebot_budget_used_ratio\{agent="scout"\} 1\.3254$/m);
    expect(r.text).toMatch(/^wirebot_drift_usd\{agent="builder"\} 0$/m);
  });
});
