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

const tools = [{ type: "function", function: { name: "read", parameters: { properties: { path: {} }, required: ["path"] } } }];
const probe = (steps: unknown[]) => ({ role: "user", content: `Read these.\nWB-PROBE ${JSON.stringify(steps)}\n` });

test("scripted tools: a probe turn gets one tool call per step, then every tool result echoed, all billed to the key", async () => {
  const first = (await (await chat("sk-alice-test-key-000000", { model: "gpt-4o-mini", tools, messages: [probe(["/etc/hostname"])] })).json()) as any;
  expect(first.choices[0]).toMatchObject({ finish_reason: "tool_calls", message: { content: null } });
  const call = first.choices[0].message.tool_calls[0];
  expect(call.function).toEqual({ name: "read", arguments: JSON.stringify({ path: "/etc/hostname" }) });
  const done = (await (
    await chat("sk-alice-test-key-000000", {
      model: "gpt-4o-mini",
      tools,
      messages: [probe(["/etc/hostname"]), { role: "assistant", content: null, tool_calls: [call] }, { role: "tool", tool_call_id: call.id, content: "refused" }],
    })
  ).json()) as any;
  expect(done.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: "RESULT 0: refused" } });
  clock += CHAT_FLUSH_DELAY_MS;
  expect(lit.store.visible(clock).map((r) => r.key_alias)).toEqual(["wirebot/alice", "wirebot/alice"]);
});

test("scripted tools over SSE: the tool call arrives as one delta and the turn ends with finish_reason tool_calls", async () => {
  const r = await chat("sk-alice-test-key-000000", { model: "gpt-4o-mini", stream: true, tools, messages: [probe([{ tool: "exec", args: { command: "id" } }])] });
  const chunks = (await r.text()).split("\n\n").filter((e) => e && e !== "data: [DONE]").map((e) => JSON.parse(e.replace(/^data: /, "")) as any);
  expect(chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []).map((t: any) => t.function)).toEqual([{ name: "exec", arguments: '{"command":"id"}' }]);
  expect(chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean)).toEqual(["tool_calls"]);
});

test("scripted tools in a channel turn: the runtime's context block after the probe, quoting it, does not hide it", async () => {
  const context = { role: "user", content: [{ type: "text", text: `<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>\n${JSON.stringify(probe(["/old"]).content)}` }] };
  const got = (await (await chat("sk-alice-test-key-000000", { model: "gpt-4o-mini", tools, messages: [probe(["/etc/hostname"]), context] })).json()) as any;
  expect(got.choices[0].message.tool_calls[0].function.arguments).toBe(JSON.stringify({ path: "/etc/hostname" }));
});

test("not a probe turn: side calls without tools, and turns after a probe, get the usual reply", async () => {
  for (const body of [
    { model: "gpt-4o-mini", messages: [probe(["/etc/hostname"])] },
    { model: "gpt-4o-mini", tools, messages: [probe(["/etc/hostname"]), { role: "assistant", content: "RESULT 0: x" }, { role: "user", content: "thanks" }] },
  ]) {
    const got = (await (await chat("sk-alice-test-key-000000", body)).json()) as any;
    expect(got.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: replyText("wirebot/alice") } });
  }
});
