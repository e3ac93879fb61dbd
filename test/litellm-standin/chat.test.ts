/** The stand-in's chat completions: the reply names the key, usage is reported, the spend row lands after the flush delay. */
import { afterEach, beforeEach, expect, test } from "vitest";
import { CHAT_FLUSH_DELAY_MS, replyText } from "./chat.ts";
import { seedKey, startStandin, type Standin } from "./server.ts";
import { sha256 } from "./store.ts";

let clock = 1_790_000_000_000;
let lit: Standin;
beforeEach(async () => {
  lit = await startStandin({ now: () => clock });
  seedKey(lit.store, "sk-alice-test-key-000000", "wirebot/alice");
});
afterEach(() => lit.close());

const chat = (key: string, body: Record<string, unknown>) =>
  fetch(`${lit.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });

test("non-streaming: reply names the key alias, usage is reported, the row is hidden until flushed", async () => {
  const r = await chat("sk-alice-test-key-000000", { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
  const body = (await r.json()) as any;
  expect(body.choices[0].message.content).toBe(replyText("wirebot/alice"));
  expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
  expect(lit.store.visible(clock)).toHaveLength(0);
  clock += CHAT_FLUSH_DELAY_MS;
  const [row] = lit.store.visible(clock);
  expect(row).toMatchObject({ api_key: sha256("sk-alice-test-key-000000"), key_alias: "wirebot/alice", request_id: body.id, prompt_tokens: body.usage.prompt_tokens });
  expect(row!.spend).toBeGreaterThan(0);
});

test("streaming: SSE deltas add up to the reply, a usage chunk precedes [DONE]", async () => {
  const r = await chat("sk-alice-test-key-000000", { model: "gpt-4o-mini", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }] });
  expect(r.headers.get("content-type")).toBe("text/event-stream");
  const events = (await r.text()).split("\n\n").filter(Boolean).map((e) => e.replace(/^data: /, ""));
  expect(events.at(-1)).toBe("[DONE]");
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as any);
  expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe(replyText("wirebot/alice"));
  expect(chunks.at(-1).usage.prompt_tokens).toBeGreaterThan(0);
});

test("an unknown key gets LiteLLM's 401 envelope and costs nothing", async () => {
  const r = await chat("sk-nobody", { model: "gpt-4o-mini", messages: [] });
  expect(r.status).toBe(401);
  expect(((await r.json()) as any).error).toMatchObject({ type: "token_not_found_in_db", code: "401" });
  expect(lit.store.rows).toHaveLength(0);
});
