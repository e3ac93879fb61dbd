/** Monthly budgets per agent: thresholds from metering.warnPercent, reported once, optional /key/block at 100 %. */
import type { Logger } from "pino";
import { meteredAgents } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import type { Ledger } from "./ledger.ts";
import type { LiteLlmClient } from "./litellm-client.ts";

export interface BudgetStatus {
  agentId: string;
  /** UTC calendar month, `YYYY-MM` */
  month: string;
  monthlyUsd: number | null;
  spentNusd: number;
  /** spend as a percentage of the budget, 2 decimals; null without a budget */
  percent: number | null;
  /** the warnPercent thresholds reached this month */
  reached: number[];
  state: "no-budget" | "ok" | "warn" | "over";
}

export const monthOf = (ms: number) => new Date(ms).toISOString().slice(0, 7);

export function readBudgets(ledger: Ledger, config: Config, nowMs: number): BudgetStatus[] {
  const month = monthOf(nowMs);
  const spent = ledger.monthSpend(month);
  const thresholds = [...config.metering.warnPercent].sort((a, b) => a - b);
  return meteredAgents(config).map((u) => {
    const spentNusd = spent.get(u.id) ?? 0;
    const monthlyUsd = u.monthlyUsd;
    if (monthlyUsd === null) return { agentId: u.id, month, monthlyUsd, spentNusd, percent: null, reached: [], state: "no-budget" };
    // Integer arithmetic on nano-USD: the budget in nano-USD is exact for any cent amount.
    const budgetNusd = Math.round(monthlyUsd * 1e9);
    const percent = Math.floor((spentNusd * 10_000) / budgetNusd) / 100;
    const reached = thresholds.filter((t) => spentNusd * 100 >= t * budgetNusd);
    const state = spentNusd >= budgetNusd ? "over" : reached.length > 0 ? "warn" : "ok";
    return { agentId: u.id, month, monthlyUsd, spentNusd, percent, reached, state };
  });
}

export interface BudgetAction {
  agentId: string;
  action: "warned" | "blocked" | "unblocked";
  percent: number;
}

/**
 * Logs each threshold the first time it is reached in a month, and with metering.blockAtBudget blocks
 * the agent's keys at 100 % (unblocking them once a new month starts). LiteLLM enforces its own
 * max_budget too; the block covers keys whose LiteLLM counter was reset or lost updates (litellm.md §4.2).
 */
export async function enforceBudgets(
  ledger: Ledger,
  config: Config,
  client: LiteLlmClient | null,
  nowMs: number,
  log?: Logger,
): Promise<BudgetAction[]> {
  const actions: BudgetAction[] = [];
  for (const s of readBudgets(ledger, config, nowMs)) {
    for (const t of s.reached) {
      if (!ledger.markBudgetEvent(s.agentId, s.month, "warn", t, nowMs)) continue;
      log?.warn({ agentId: s.agentId, month: s.month, threshold: t, percent: s.percent, budgetUsd: s.monthlyUsd }, `agent ${s.agentId} reached ${t} % of its monthly budget`);
      actions.push({ agentId: s.agentId, action: "warned", percent: t });
    }
    if (!client || !config.metering.blockAtBudget) continue;
    const events = ledger.budgetEvents(s.agentId);
    const hashes = ledger.hashesOf(s.agentId);
    if (s.state === "over" && !events.some((e) => e.month === s.month && e.kind === "block")) {
      for (const h of hashes) await client.keyBlock(h, true);
      ledger.markBudgetEvent(s.agentId, s.month, "block", 100, nowMs);
      log?.warn({ agentId: s.agentId, month: s.month }, `blocked agent ${s.agentId}'s LiteLLM key: monthly budget spent`);
      actions.push({ agentId: s.agentId, action: "blocked", percent: s.percent ?? 100 });
      continue;
    }
    const lastBlock = events.filter((e) => e.kind === "block").at(-1);
    const unblocked = events.some((e) => e.kind === "unblock" && e.month === s.month);
    if (lastBlock && lastBlock.month < s.month && s.state !== "over" && !unblocked) {
      for (const h of hashes) await client.keyBlock(h, false);
      ledger.markBudgetEvent(s.agentId, s.month, "unblock", 0, nowMs);
      log?.info({ agentId: s.agentId, month: s.month }, `unblocked agent ${s.agentId}'s LiteLLM key: new budget month`);
      actions.push({ agentId: s.agentId, action: "unblocked", percent: s.percent ?? 0 });
    }
  }
  return actions;
}
