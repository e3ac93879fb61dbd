/** The stand-in's `POST /v1/chat/completions`: a deterministic reply (SSE or JSON), usage, and a spend row per call. */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { sha256, type KeyRecord, type SpendStore, type StoredRow } from "./store.ts";
import { decide, messageText, probeSteps, type ChatBody } from "../isolation/scripted-model.ts";

/** One chat call as the proxy saw it: which key (hash and alias), which model, what it billed. */
export interface ChatCall {
  requestId: string;
  keyHash: string;
  keyAlias: string | null;
  model: string;
  stream: boolean;
  promptTokens: number;
  completionTokens: number;
  spend: number;
  /** the `x-wirebot-agent` header, when the provider sets it */
  agentHeader: string | null;
  at: number;
}

export interface ChatContext {
  req: IncomingMessage;
  res: ServerResponse;
  body: Record<string, unknown>;
  /** the caller's virtual key; undefined for the master key */
  key: KeyRecord | undefined;
  masterKey: string;
  store: SpendStore;
  now: () => number;
  calls?: ChatCall[];
  /** ms between the end of a call and its row being in the table (default CHAT_FLUSH_DELAY_MS) */
  flushDelayMs?: number;
}

/** LiteLLM batches rows every 10 s ± 3 s; 2 s keeps the same "not there yet" window without slowing tests. */
export const CHAT_FLUSH_DELAY_MS = 2_000;

/** The response has been written by the handler: the router must not send a body of its own. */
export const HANDLED = Symbol("handled");

// gpt-4o-mini's list prices per token: spend comes out as the kind of raw float LiteLLM stores.
const PRICE_IN = 0.15 / 1e6;
const PRICE_OUT = 0.6 / 1e6;

/** The fixed reply: it names the key's alias, so a test can tell whose key a turn used from the text alone. */
export const replyText = (alias: string | null) => `Stand-in reply for ${alias ?? "master"}: hello from LiteLLM.`;

function promptTokensOf(body: Record<string, unknown>): number {
  // A rough 4 characters per token, as tokenizers average on English; deterministic for a given prompt.
  const messages = JSON.stringify(body["messages"] ?? []);
  const tools = JSON.stringify(body["tools"] ?? []);
  return Math.max(1, Math.ceil((messages.length + tools.length) / 4));
}

/**
 * Scripted tools: an agent call (tools offered) inside a turn whose message carries test/isolation's
 * `WB-PROBE [steps]` line gets that model's decision (one tool call per call, then every tool result
 * echoed), so an e2e can drive a real agent's tools through a real channel. Anything else: null.
 */
export function scriptedTurn(body: Record<string, unknown>): ReturnType<typeof decide> | null {
  const chat = body as ChatBody;
  if (!chat.tools?.length) return null;
  const msgs = chat.messages ?? [];
  // Not simply the last user message: a channel turn adds a user-role context block after its own.
  let at = msgs.length - 1;
  while (at >= 0 && !(msgs[at]!.role === "user" && probeSteps(messageText(msgs[at]!)) !== null)) at--;
  if (at < 0) return null;
  // A probe already answered (an assistant message without tool calls) belongs to an earlier turn.
  if (msgs.slice(at + 1).some((m) => m.role === "assistant" && !m.tool_calls?.length)) return null;
  return decide(chat);
}

export function handleChatCompletion(c: ChatContext): typeof HANDLED {
  const started = c.now();
  const model = typeof c.body["model"] === "string" ? c.body["model"] : "gpt-4o-mini";
  const stream = c.body["stream"] === true;
  const alias = c.key?.key_alias ?? null;
  const keyHash = c.key?.token ?? sha256(c.masterKey);
  const scripted = scriptedTurn(c.body);
  const text = scripted ? (scripted.kind === "text" ? scripted.text : "") : replyText(alias);
  const toolCall = scripted?.kind === "tool" ? { id: `call_${randomBytes(9).toString("hex")}`, type: "function", function: { name: scripted.name, arguments: JSON.stringify(scripted.args) } } : null;
  const promptTokens = promptTokensOf(c.body);
  const completionTokens = Math.ceil((toolCall ? toolCall.function.arguments : text).length / 4);
  const spend = promptTokens * PRICE_IN + completionTokens * PRICE_OUT;
  const id = `chatcmpl-${randomBytes(15).toString("base64url")}`;
  const created = Math.floor(started / 1000);
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  const header = c.req.headers["x-wirebot-agent"];

  if (stream) {
    const includeUsage = (c.body["stream_options"] as { include_usage?: unknown } | undefined)?.include_usage === true;
    c.res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
    c.res.write(chunk({ role: "assistant", content: "" }, null));
    if (toolCall) {
      c.res.write(chunk({ tool_calls: [{ index: 0, ...toolCall }] }, null));
      c.res.write(chunk({}, "tool_calls"));
    } else {
      // Two content pieces, so a client that concatenates deltas is exercised.
      const mid = Math.floor(text.length / 2);
      c.res.write(chunk({ content: text.slice(0, mid) }, null));
      c.res.write(chunk({ content: text.slice(mid) }, null));
      c.res.write(chunk({}, "stop"));
    }
    if (includeUsage) c.res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage })}\n\n`);
    c.res.end("data: [DONE]\n\n");
  } else {
    const json = JSON.stringify({
      id,
      object: "chat.completion",
      created,
      model,
      choices: [
        toolCall
          ? { index: 0, message: { role: "assistant", content: null, tool_calls: [toolCall] }, finish_reason: "tool_calls" }
          : { index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" },
      ],
      usage,
    });
    c.res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
    c.res.end(json);
  }

  const ended = c.now();
  const row: StoredRow = {
    request_id: id,
    api_key: keyHash,
    startMs: started,
    endMs: ended,
    visibleAtMs: ended + (c.flushDelayMs ?? CHAT_FLUSH_DELAY_MS),
    spend,
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    model: `openai/${model}`,
    model_group: model,
    custom_llm_provider: "openai",
    call_type: "acompletion",
    status: "success",
    cache_hit: "False",
    end_user: "",
    user: "",
    key_alias: alias,
    agent_label: null,
    session_id: "",
    litellm_call_id: randomBytes(16).toString("hex"),
  };
  c.store.add(row);
  c.calls?.push({ requestId: id, keyHash, keyAlias: alias, model, stream, promptTokens, completionTokens, spend, agentHeader: typeof header === "string" ? header : null, at: started });
  return HANDLED;
}

