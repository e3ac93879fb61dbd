/** Drift check: the ledger's per-key totals against LiteLLM's own key spend counter (/key/info). */
import type { Logger } from "pino";
import { toNusd, type Ledger } from "./ledger.ts";
import type { LiteLlmClient } from "./litellm-client.ts";

export interface DriftReport {
  agentId: string;
  keyHash: string;
  /** start of the period LiteLLM's counter covers (null: since the key was created) */
  sinceMs: number | null;
  ledgerNusd: number;
  litellmNusd: number;
  /** ledger minus LiteLLM: negative means rows LiteLLM billed never reached the spend log (lost, §6.1) */
  diffNusd: number;
  outcome: "match" | "drift" | "key-missing";
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The start of LiteLLM's current budget period, from budget_reset_at and budget_duration (`30d`, `1mo`, …). */
export function periodStart(resetAt: string | null, duration: string | null): number | null {
  if (!resetAt || !duration) return null;
  const reset = Date.parse(resetAt.endsWith("Z") || /[+-]\d\d:\d\d$/.test(resetAt) ? resetAt : `${resetAt}Z`);
  const m = /^(\d+)(mo|s|m|h|d|w)$/.exec(duration.trim());
  if (Number.isNaN(reset) || !m) return null;
  const n = Number(m[1]);
  if (m[2] === "mo") {
    const d = new Date(reset);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - n, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds());
  }
  return reset - n * UNIT_MS[m[2]!]!;
}

/**
 * LiteLLM's key `spend` runs on a separate queue, resets with the budget period and still counts
 * requests whose spend-log row was dropped, so it is a sanity check and never a correction (§4.2).
 * A difference up to `toleranceNusd` or `tolerancePct` of the LiteLLM figure counts as a match.
 */
export async function checkDrift(
  client: LiteLlmClient,
  ledger: Ledger,
  agentHashes: ReadonlyMap<string, readonly string[]>,
  opts: { log?: Logger; toleranceNusd?: number; tolerancePct?: number } = {},
): Promise<DriftReport[]> {
  const out: DriftReport[] = [];
  for (const [agentId, hashes] of agentHashes) {
    for (const keyHash of hashes) {
      const info = await client.keyInfo(keyHash);
      if (!info) {
        out.push({ agentId, keyHash, sinceMs: null, ledgerNusd: ledger.keySpendSince(keyHash, 0), litellmNusd: 0, diffNusd: 0, outcome: "key-missing" });
        continue;
      }
      const sinceMs = periodStart(info.budget_reset_at, info.budget_duration);
      const ledgerNusd = ledger.keySpendSince(keyHash, sinceMs ?? 0);
      const litellmNusd = toNusd(info.spend ?? 0);
      const diffNusd = ledgerNusd - litellmNusd;
      const tol = Math.max(opts.toleranceNusd ?? 1_000, Math.abs(litellmNusd) * (opts.tolerancePct ?? 0.5) / 100);
      const outcome = Math.abs(diffNusd) <= tol ? "match" : "drift";
      if (outcome === "drift")
        opts.log?.warn({ agentId, ledgerUsd: ledgerNusd / 1e9, litellmUsd: litellmNusd / 1e9, diffUsd: diffNusd / 1e9 }, `ledger and LiteLLM disagree on agent ${agentId}'s spend`);
      out.push({ agentId, keyHash, sinceMs, ledgerNusd, litellmNusd, diffNusd, outcome });
    }
  }
  return out;
}
