/** Which agents' LiteLLM keys must be blocked or unblocked now, by the ledger: the block state wirebot owns. */
import { PATHS } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import type { Host } from "../host/host.ts";

/**
 * agentId → the blocked state wirebot wants: true for an agent over this month's budget under
 * metering.blockAtBudget (a key someone unblocked in LiteLLM would spend again), false for a key wirebot
 * blocked this month whose agent is no longer over (its budget was raised). An agent absent from the map
 * is not wirebot's business: a key blocked by hand in LiteLLM stays blocked.
 */
export async function wantedKeyBlocks(host: Host, config: Config): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  if (!config.metering.blockAtBudget || !(await host.stat(PATHS.ledger))) return out;
  // SQLite loads only for a box that meters with blocks on.
  const [{ openLedgerDb }, { Ledger }, { readBudgets }] = await Promise.all([import("./db.ts"), import("./ledger.ts"), import("./budgets.ts")]);
  const db = openLedgerDb(host.resolve(PATHS.ledger), { readonly: true });
  try {
    const ledger = new Ledger(db, config.litellm.instanceId);
    for (const s of readBudgets(ledger, config, host.now().getTime())) {
      if (s.state === "over") out.set(s.agentId, true);
      else {
        const events = ledger.budgetEvents(s.agentId).filter((e) => e.month === s.month);
        const blockedByUs = events.some((e) => e.kind === "block") && !events.some((e) => e.kind === "unblock");
        if (blockedByUs) out.set(s.agentId, false);
      }
    }
  } finally {
    db.close();
  }
  return out;
}
