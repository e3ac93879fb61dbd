/** Seeds for the stand-in: the reference sample file, and a deterministic generator of realistic spend rows. */
import { prng } from "../../installer/testing/mutate.ts";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sha256, type StoredRow } from "./store.ts";

// A copy of shared/reference/litellm-spendlogs-sample.json (invented values), so a clone tests on its own.
export const SAMPLE_PATH = fileURLToPath(new URL("./fixtures/spendlogs-sample.json", import.meta.url));

/** The keys behind the sample file (litellm.md §12); invented values. */
export const SAMPLE_AGENTS = [
  { agentId: "scout", key: "sk-Q7vYk2LmP9xRz3TbW8nA1c", nusd: 6_627_300n },
  { agentId: "builder", key: "sk-h4JdS0eUq6FwXo2KpV9gRt", nusd: 292_760_000n },
  { agentId: "reviewer", key: "sk-Zm3Nc8TyB1aLq5WvE7sHjk", nusd: 190_791_840n },
] as const;

const parseTs = (s: string) => Date.parse(s);

/**
 * Loads litellm-spendlogs-sample.json. Each row becomes visible `flushDelayMs(row)` after its endTime
 * (default 10 s), which is what makes the 6 m 48 s streaming row appear "late".
 */
export function loadSampleRows(opts: { path?: string; flushDelayMs?: (r: StoredRow) => number } = {}): StoredRow[] {
  const raw = JSON.parse(readFileSync(opts.path ?? SAMPLE_PATH, "utf8")) as Array<Record<string, unknown>>;
  const rows = raw.map((r): StoredRow => {
    const meta = (r["metadata"] ?? {}) as Record<string, unknown>;
    const slm = (meta["spend_logs_metadata"] ?? {}) as Record<string, unknown>;
    const row: StoredRow = {
      request_id: String(r["request_id"]),
      api_key: String(r["api_key"]),
      startMs: parseTs(String(r["startTime"])),
      endMs: parseTs(String(r["endTime"])),
      visibleAtMs: 0,
      spend: Number(r["spend"]),
      prompt_tokens: Number(r["prompt_tokens"]),
      completion_tokens: Number(r["completion_tokens"]),
      total_tokens: Number(r["total_tokens"]),
      model: String(r["model"]),
      model_group: String(r["model_group"] ?? ""),
      custom_llm_provider: String(r["custom_llm_provider"] ?? ""),
      call_type: String(r["call_type"]),
      status: String(r["status"] ?? "success"),
      cache_hit: String(r["cache_hit"] ?? ""),
      end_user: String(r["end_user"] ?? ""),
      user: String(r["user"] ?? ""),
      key_alias: (meta["user_api_key_alias"] as string | null) ?? null,
      agent_label: (slm["agent_id"] as string | undefined) ?? null,
      session_id: String(r["session_id"] ?? ""),
      litellm_call_id: String(r["litellm_call_id"] ?? ""),
      extra: r,
    };
    row.visibleAtMs = row.endMs + (opts.flushDelayMs ? opts.flushDelayMs(row) : 10_000);
    return row;
  });
  return rows.sort((a, b) => a.startMs - b.startMs);
}


interface ModelPrice {
  model: string;
  group: string;
  provider: string;
  input: number;
  output: number;
  embedding?: boolean;
}
// Prices follow model_prices_and_context_window.json (USD per token).
const MODELS: ModelPrice[] = [
  { model: "openai/gpt-4o-mini", group: "gpt-4o-mini", provider: "openai", input: 1.5e-7, output: 6e-7 },
  { model: "openai/gpt-4o", group: "gpt-4o", provider: "openai", input: 2.5e-6, output: 1e-5 },
  { model: "anthropic/claude-sonnet-4-20250514", group: "claude-sonnet-4", provider: "anthropic", input: 3e-6, output: 1.5e-5 },
  { model: "anthropic/claude-3-5-haiku-20241022", group: "claude-haiku-3-5", provider: "anthropic", input: 8e-7, output: 4e-6 },
  { model: "openai/text-embedding-3-small", group: "text-embedding-3-small", provider: "openai", input: 2e-8, output: 0, embedding: true },
];

export interface GenAgent {
  agentId: string;
  key: string;
}

/** Fake keys for generated agents; deterministic so another process can derive the same hashes. */
export const benchAgents = (n: number): GenAgent[] => Array.from({ length: n }, (_, i) => ({ agentId: `agent-${i + 1}`, key: `sk-bench-agent-${i + 1}-0000000000` }));

export interface GenerateOptions {
  seed: number;
  count: number;
  agents: readonly GenAgent[];
  /** startTime of the first row and the span the rows are spread over */
  fromMs: number;
  spanMs: number;
  /** share of rows from a key no agent owns (master key, health checks) */
  unknownShare?: number;
  /** share of rows that share their startTime (to the ms) with the previous row */
  tieShare?: number;
  /** share of long streaming turns (2–12 min): they surface far later than their startTime */
  longShare?: number;
  /** flush delay after endTime; LiteLLM: 0–13 s */
  maxFlushMs?: number;
}

const hex = (rand: () => number, n: number) => {
  let s = "";
  for (let i = 0; i < n; i++) s += "0123456789abcdef"[Math.floor(rand() * 16)];
  return s;
};

/**
 * Generates `count` rows sorted by startTime. Deterministic for a seed, so a benchmark can rebuild
 * the same rows locally that the stand-in serves over HTTP.
 */
export function* generateRows(o: GenerateOptions): Generator<StoredRow> {
  const rand = prng(o.seed);
  const hashes = o.agents.map((a) => ({ agentId: a.agentId, hash: sha256(a.key) }));
  const unknown = sha256("sk-litellm-master-not-an-agent");
  // Tied rows do not advance the clock, so the others step further to still fill the span.
  const gap = o.spanMs / Math.max(1, o.count) / (1 - (o.tieShare ?? 0.02));
  let t = o.fromMs;
  for (let i = 0; i < o.count; i++) {
    if (i > 0 && rand() >= (o.tieShare ?? 0.02)) t += Math.max(1, Math.round(gap * 2 * rand()));
    const start = Math.min(t, o.fromMs + o.spanMs);
    const isUnknown = rand() < (o.unknownShare ?? 0.01);
    const who = hashes[Math.floor(rand() * hashes.length)]!;
    const m = MODELS[Math.floor(rand() * MODELS.length)]!;
    const roll = rand();
    const failure = roll < 0.01;
    const cacheHit = !failure && roll < 0.02;
    const prompt = failure ? 0 : 50 + Math.floor(rand() * 20_000);
    const completion = failure || m.embedding ? 0 : Math.floor(rand() * 2_000);
    const long = rand() < (o.longShare ?? 0.001);
    const duration = long ? 120_000 + Math.floor(rand() * 600_000) : 200 + Math.floor(rand() * 30_000);
    const end = start + duration;
    const spend = failure || cacheHit ? 0 : prompt * m.input + completion * m.output;
    yield {
      request_id: m.embedding || failure ? uuid(rand) : `${m.provider === "anthropic" ? "msg_" : "chatcmpl-"}${hex(rand, 24)}${cacheHit ? `_cache_hit${(end / 1000).toFixed(7)}` : ""}`,
      api_key: isUnknown ? unknown : who.hash,
      startMs: start,
      endMs: end,
      visibleAtMs: end + Math.floor(rand() * (o.maxFlushMs ?? 13_000)),
      spend,
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      model: m.model,
      model_group: m.group,
      custom_llm_provider: m.provider,
      call_type: m.embedding ? "aembedding" : "acompletion",
      status: failure ? "failure" : "success",
      cache_hit: m.embedding ? "None" : cacheHit ? "True" : "False",
      end_user: rand() < 0.1 ? "oc-user-5521" : "",
      user: "",
      key_alias: isUnknown ? null : `wirebot/${who.agentId}`,
      agent_label: isUnknown ? null : who.agentId,
      session_id: uuid(rand),
      litellm_call_id: uuid(rand),
    };
  }
}

function uuid(rand: () => number): string {
  const h = hex(rand, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export { prng };
