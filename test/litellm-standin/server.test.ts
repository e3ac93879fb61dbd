/** The stand-in keeps LiteLLM's quirks (litellm.md §10.1): errors, date formats, caps, tie order, hashing, lateness. */
import { afterEach, describe, expect, it } from "vitest";
import { request } from "undici";
import { SAMPLE_AGENTS } from "./generate.ts";
import { sampleStandin, SAMPLE_NOON } from "./fixtures.ts";
import { startStandin, type Standin } from "./server.ts";
import { sha256, type StoredRow } from "./store.ts";

let s: Standin;
afterEach(async () => s?.close());

async function get(path: string, key: string | null = s.masterKey) {
  const res = await request(s.url + path, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: res.statusCode, headers: res.headers, body: (await res.body.json()) as any };
}
async function post(path: string, body: unknown, key = s.masterKey) {
  const res = await request(s.url + path, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}
const q = (o: Record<string, string>) => "?" + new URLSearchParams(o).toString();

describe("/spend/logs/v2", () => {
  it("requires both dates and accepts only the two formats", async () => {
    s = await sampleStandin({ now: () => SAMPLE_NOON });
    expect((await get("/spend/logs/v2" + q({ start_date: "2026-10-20" }))).body).toEqual({ error: { message: "Start date and end date are required", type: "bad_request", param: "None", code: "400" } });
    const bad = await get("/spend/logs/v2" + q({ start_date: "2026-07-30T23:05:00Z", end_date: "2026-10-21" }));
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe("Invalid date format: 2026-07-30T23:05:00Z. Expected: 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'");
    const ok = await get("/spend/logs/v2" + q({ start_date: "2026-10-20 09:00:00", end_date: "2026-10-20 11:30:00", page_size: "1000", sort_order: "asc" }));
    expect(ok.body.total).toBe(20);
    expect(ok.body.total_is_capped).toBe(false);
    expect(ok.body.data[0].startTime).toBe("2026-10-20T09:02:11.204000+00:00");
    expect(ok.body.data[0]).not.toHaveProperty("messages");
    expect(ok.body.data[0].request_duration_ms).toBe(1777);
  });

  it("caps page_size at 1000 with FastAPI's 422 and rejects an unknown sort_by", async () => {
    s = await sampleStandin({ now: () => SAMPLE_NOON });
    const r = await get("/spend/logs/v2" + q({ start_date: "2026-10-20", end_date: "2026-10-21", page_size: "5000" }));
    expect(r.status).toBe(422);
    expect(r.body.detail[0]).toMatchObject({ type: "less_than_equal", loc: ["query", "page_size"], ctx: { le: 1000 } });
    const sb = await get("/spend/logs/v2" + q({ start_date: "2026-10-20", end_date: "2026-10-21", sort_by: "foo" }));
    expect(sb.body.error).toMatchObject({ type: "bad_request", param: "sort_by", code: "400" });
  });

  it("matches api_key on the hash only, and the end bound at second precision", async () => {
    s = await sampleStandin({ now: () => SAMPLE_NOON });
    const scout = SAMPLE_AGENTS[0];
    const base = { start_date: "2026-10-20", end_date: "2026-10-21", page_size: "100" };
    expect((await get("/spend/logs/v2" + q({ ...base, api_key: scout.key }))).body.total).toBe(0);
    expect((await get("/spend/logs/v2" + q({ ...base, api_key: sha256(scout.key) }))).body.total).toBe(7);
    // the 09:02:11.204 row is excluded by end=09:02:11 and included by end=09:02:12
    expect((await get("/spend/logs/v2" + q({ start_date: "2026-10-20 09:00:00", end_date: "2026-10-20 09:02:11" }))).body.total).toBe(0);
    expect((await get("/spend/logs/v2" + q({ start_date: "2026-10-20 09:00:00", end_date: "2026-10-20 09:02:12" }))).body.total).toBe(1);
  });

  it("bounds total at 10 000 with total_is_capped, and shuffles rows tied on startTime", async () => {
    s = await startStandin();
    const t = Date.UTC(2026, 9, 20, 10);
    for (let i = 0; i < 10_050; i++) s.store.add(row(`r${i}`, t + Math.floor(i / 500) * 1000));
    const r = await get("/spend/logs/v2" + q({ start_date: "2026-10-20", end_date: "2026-10-21", page_size: "1000" }));
    expect(r.body).toMatchObject({ total: 10_000, total_is_capped: true, total_pages: 10 });
    const orders = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const p = await get("/spend/logs/v2" + q({ start_date: "2026-10-20 10:00:00", end_date: "2026-10-20 10:00:00", page_size: "10", sort_order: "asc" }));
      orders.add(p.body.data.map((d: { request_id: string }) => d.request_id).join(","));
    }
    expect(orders.size).toBeGreaterThan(1);
  });

  it("shows a row only once it is flushed (endTime + delay), whatever its startTime", async () => {
    let now = Date.UTC(2026, 9, 20, 10, 30);
    s = await sampleStandin({ now: () => now });
    const win = q({ start_date: "2026-10-20 10:20:00", end_date: "2026-10-20 10:30:00" });
    const before = (await get("/spend/logs/v2" + win)).body.data.map((d: { request_id: string }) => d.request_id);
    expect(before).not.toContain("msg_01bS7aKMfKeRQnrrLrVD7fCZ");
    now = Date.UTC(2026, 9, 20, 10, 34);
    expect((await get("/spend/logs/v2" + win)).body.data.map((d: { request_id: string }) => d.request_id)).toContain("msg_01bS7aKMfKeRQnrrLrVD7fCZ");
  });
});

describe("legacy /spend/logs", () => {
  it("ignores a lone start_date, summarises per day with hash keys, and excludes end_date itself", async () => {
    s = await sampleStandin({ now: () => SAMPLE_NOON });
    const lone = await get("/spend/logs" + q({ start_date: "2026-10-21" }));
    expect(lone.body).toHaveLength(20);
    expect(lone.body[0].startTime).toBe("2026-10-20T11:16:41.250000Z");
    const sum = await get("/spend/logs" + q({ start_date: "2026-10-20", end_date: "2026-10-22" }));
    expect(sum.body).toHaveLength(3);
    expect(sum.body[0][sha256(SAMPLE_AGENTS[0].key)]).toBeCloseTo(0.0066273, 9);
    expect(sum.body[2]).toEqual({ startTime: "2026-10-22", spend: 0, users: {}, models: {} });
    expect((await get("/spend/logs" + q({ start_date: "2026-10-19", end_date: "2026-10-20", summarize: "false" }))).body).toEqual([]);
    const bad = await get("/spend/logs" + q({ start_date: "2026-10-20T00:00", end_date: "2026-10-21" }));
    expect(bad.status).toBe(500);
    expect(bad.body.error.message).toBe("/spend/logs Errortime data '2026-10-20T00:00' does not match format '%Y-%m-%d'");
    expect((await get("/spend/logs" + q({ api_key: SAMPLE_AGENTS[0].key }))).body).toHaveLength(7);
  });
});

describe("keys", () => {
  it("generates with an explicit key and alias, refuses a duplicate alias, blocks, and authenticates", async () => {
    s = await startStandin();
    const g = await post("/key/generate", { key: "sk-test-agent-one", key_alias: "wirebot/one", max_budget: 5, budget_duration: "1mo", metadata: { agent_id: "one" } });
    expect(g.body).toMatchObject({ key: "sk-test-agent-one", token: sha256("sk-test-agent-one"), key_alias: "wirebot/one", max_budget: 5, budget_duration: "1mo" });
    const dup = await post("/key/generate", { key: "sk-test-agent-two", key_alias: "wirebot/one" });
    expect(dup.status).toBe(400);
    expect(dup.body.error.message).toContain("Key with alias 'wirebot/one' already exists");
    expect((await get("/key/info" + q({ key: sha256("sk-test-agent-one") }))).body.info).toMatchObject({ key_alias: "wirebot/one", blocked: false, spend: 0 });
    expect((await get("/key/info" + q({ key: "sk-nope" }))).status).toBe(404);
    // a plain virtual key may not read spend logs
    const denied = await get("/spend/logs/v2" + q({ start_date: "2026-10-20", end_date: "2026-10-21" }), "sk-test-agent-one");
    expect(denied.body.error.message).toContain("Only proxy admin");
    await post("/key/block", { key: sha256("sk-test-agent-one") });
    expect((await get("/key/info", "sk-test-agent-one")).body.error.message).toContain("Key is blocked");
    expect((await get("/key/info", null)).body.error.message).toBe("Authentication Error, No api key passed in.");
    expect((await get("/key/info", "sk-unknown-1234")).body.error.type).toBe("token_not_found_in_db");
  });

  it("drops a duplicate request_id silently and counts lost rows in key spend only", async () => {
    s = await startStandin();
    await post("/key/generate", { key: "sk-a", key_alias: "a" });
    const r1 = { ...row("same", Date.UTC(2026, 9, 20)), api_key: sha256("sk-a"), spend: 1 };
    expect(s.store.add(r1).outcome).toBe("written");
    expect(s.store.add({ ...r1, spend: 2 }).outcome).toBe("dropped-duplicate");
    expect(s.store.add({ ...r1, request_id: "lost" }, { lose: true }).outcome).toBe("lost");
    expect(s.store.rows).toHaveLength(1);
    expect((await get("/key/info" + q({ key: sha256("sk-a") }))).body.info.spend).toBe(4);
  });
});

describe("faults", () => {
  it("fails, resets and hangs the next requests on demand", async () => {
    s = await sampleStandin({ now: () => SAMPLE_NOON });
    s.faults.failNext(1, 503);
    const path = "/spend/logs/v2" + q({ start_date: "2026-10-20", end_date: "2026-10-21" });
    expect((await get(path)).status).toBe(503);
    s.faults.resetNext(1);
    await expect(get(path)).rejects.toThrow();
    expect((await get(path)).status).toBe(200);
  });
});

function row(id: string, startMs: number): StoredRow {
  return {
    request_id: id, api_key: "h", startMs, endMs: startMs + 1000, visibleAtMs: startMs + 2000, spend: 0.001, prompt_tokens: 1, completion_tokens: 1, total_tokens: 2,
    model: "m", model_group: "m", custom_llm_provider: "openai", call_type: "acompletion", status: "success", cache_hit: "False", end_user: "", user: "",
    key_alias: null, agent_label: null, session_id: "s", litellm_call_id: id,
  };
}
