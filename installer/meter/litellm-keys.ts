/** Per-agent LiteLLM virtual keys: register idempotently (called by apply), and map key hashes to agents. */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { WirebotError } from "../errors.ts";
import { meteredAgents } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import { LiteLlmError, type KeyInfo, type LiteLlmClient } from "./litellm-client.ts";

export const keyAlias = (agentId: string) => `wirebot/${agentId}`;
/** LiteLLM's duration parser reads `mo` as calendar months (litellm_core_utils/duration_parser.py). */
export const BUDGET_DURATION = "1mo";

export const sha256Hex = (s: string) => createHash("sha256").update(s).digest("hex");
const HASH_RE = /^[0-9a-f]{64}$/;

/** The hash LiteLLM stores in SpendLogs.api_key: sha256 of an `sk-` key; a 64-hex value is taken as a hash already. */
export function keyHashOf(keyOrHash: string): string {
  return HASH_RE.test(keyOrHash) ? keyOrHash : sha256Hex(keyOrHash);
}

export interface AgentKeySpec {
  agentId: string;
  /** the `sk-` key value from the vault; goes only into the /key/generate body */
  key: string;
  /** monthly budget in USD; null for none */
  monthlyUsd: number | null;
  models?: string[];
  /** the blocked state wirebot wants (meter/key-blocks.ts); undefined leaves LiteLLM's as it is */
  blocked?: boolean;
}

export interface AgentKeyResult {
  agentId: string;
  keyHash: string;
  outcome: "created" | "updated" | "unchanged";
}

/** Agent specs from the config plus key values the caller took from the vault (agentId → sk-…). */
export function agentKeySpecs(config: Config, keys: ReadonlyMap<string, string> | Record<string, string>, blocks: ReadonlyMap<string, boolean> = new Map()): AgentKeySpec[] {
  const get = (id: string) => (keys instanceof Map ? keys.get(id) : (keys as Record<string, string>)[id]);
  return meteredAgents(config).map((u) => {
    const key = get(u.id);
    if (key === undefined || !key.startsWith("sk-"))
      throw new WirebotError("config", "litellm.key-missing", `no LiteLLM virtual key for agent ${u.id}`, { hint: "run `wirebot apply` so the key is generated and stored in the vault" });
    const blocked = blocks.get(u.id);
    return { agentId: u.id, key, monthlyUsd: u.monthlyUsd, models: config.litellm.models, ...(blocked !== undefined ? { blocked } : {}) };
  });
}

const metadataFor = (agentId: string) => ({ agent_id: agentId, managed_by: "wirebot", spend_logs_metadata: { agent_id: agentId }, tags: [`agent:${agentId}`] });

/** What differs between a key's settings in LiteLLM and the ones wirebot wants, as `field: now → wanted`. */
export function keyDrift(info: KeyInfo, spec: AgentKeySpec): string[] {
  const meta = info.metadata ?? {};
  const show = (v: unknown) => (v === null || v === undefined ? "none" : JSON.stringify(v));
  const out: string[] = [];
  const check = (field: string, now: unknown, want: unknown) => {
    if ((now ?? null) !== want) out.push(`${field}: ${show(now)} → ${show(want)}`);
  };
  check("key_alias", info.key_alias, keyAlias(spec.agentId));
  check("max_budget", info.max_budget, spec.monthlyUsd);
  check("budget_duration", info.budget_duration, spec.monthlyUsd === null ? null : BUDGET_DURATION);
  check("metadata.agent_id", meta["agent_id"], spec.agentId);
  // as sets: LiteLLM keeps the list in the order it was given
  if (spec.models !== undefined) {
    const now = [...(info.models ?? [])].sort();
    const want = [...spec.models].sort();
    if (now.join("\n") !== want.join("\n")) out.push(`models: ${now.length ? now.join(", ") : "all"} → ${want.length ? want.join(", ") : "all"}`);
  }
  if (spec.blocked !== undefined && Boolean(info.blocked) !== spec.blocked) out.push(`blocked: ${Boolean(info.blocked)} → ${spec.blocked}${spec.blocked ? " (monthly budget spent)" : " (no longer over its budget)"}`);
  return out;
}

export interface AgentKeyPlan {
  agentId: string;
  keyHash: string;
  action: "create" | "update" | "unchanged";
  /** for an update: each differing field as `field: now → wanted` */
  drift: string[];
  info: KeyInfo | null;
}

/** Reads each agent's key from LiteLLM (by hash) and says what ensureAgentKeys would do; changes nothing. */
export async function planAgentKeys(client: LiteLlmClient, specs: readonly AgentKeySpec[]): Promise<AgentKeyPlan[]> {
  const out: AgentKeyPlan[] = [];
  for (const spec of specs) {
    const keyHash = sha256Hex(spec.key);
    const info = await client.keyInfo(keyHash);
    const drift = info === null ? [] : keyDrift(info, spec);
    out.push({ agentId: spec.agentId, keyHash, action: info === null ? "create" : drift.length > 0 ? "update" : "unchanged", drift, info });
  }
  return out;
}

/**
 * Makes sure every agent has its LiteLLM key: created with the vault's value when absent, its alias,
 * budget and metadata corrected when they differ, left alone otherwise, so a second run creates nothing.
 * Keys are looked up by hash so the key value never appears in a URL.
 */
export async function ensureAgentKeys(client: LiteLlmClient, specs: readonly AgentKeySpec[], log?: Logger): Promise<AgentKeyResult[]> {
  const out: AgentKeyResult[] = [];
  const plans = await planAgentKeys(client, specs);
  for (const [i, spec] of specs.entries()) {
    const { keyHash, action, info } = plans[i]!;
    const budget = { max_budget: spec.monthlyUsd, budget_duration: spec.monthlyUsd === null ? null : BUDGET_DURATION };
    if (action === "create") {
      try {
        await client.keyGenerate({ key: spec.key, key_alias: keyAlias(spec.agentId), ...budget, metadata: metadataFor(spec.agentId), ...(spec.models ? { models: spec.models } : {}) });
      } catch (err) {
        if (err instanceof LiteLlmError && /alias/i.test(err.message))
          throw new WirebotError("config", "litellm.alias-taken", `LiteLLM already has a key with alias ${keyAlias(spec.agentId)} that is not the vault's key for ${spec.agentId}`, {
            hint: `delete the stale key in LiteLLM (POST /key/delete {"key_aliases":["${keyAlias(spec.agentId)}"]}) or restore the vault's key, then run apply again`,
          });
        throw err;
      }
      log?.info({ agentId: spec.agentId, alias: keyAlias(spec.agentId) }, "registered LiteLLM key");
      out.push({ agentId: spec.agentId, keyHash, outcome: "created" });
    } else if (action === "update") {
      await client.keyUpdate({ key: keyHash, key_alias: keyAlias(spec.agentId), ...budget, metadata: { ...(info?.metadata ?? {}), ...metadataFor(spec.agentId) }, ...(spec.models ? { models: spec.models } : {}) });
      if (spec.blocked !== undefined && Boolean(info?.blocked) !== spec.blocked) await client.keyBlock(keyHash, spec.blocked);
      log?.info({ agentId: spec.agentId, alias: keyAlias(spec.agentId) }, "updated LiteLLM key settings");
      out.push({ agentId: spec.agentId, keyHash, outcome: "updated" });
    } else {
      out.push({ agentId: spec.agentId, keyHash, outcome: "unchanged" });
    }
  }
  return out;
}

/**
 * Agent → key hashes for attribution. Explicit values (keys or hashes from the caller) win; otherwise
 * the hash is found by the key's alias, which LiteLLM keeps unique and only an admin can set.
 */
export async function resolveAgentHashes(
  client: LiteLlmClient,
  agentIds: readonly string[],
  explicit: ReadonlyMap<string, string> = new Map(),
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const id of agentIds) {
    const given = explicit.get(id);
    if (given !== undefined) out.set(id, [keyHashOf(given)]);
    else out.set(id, await client.keyHashesByAlias(keyAlias(id)));
  }
  return out;
}
