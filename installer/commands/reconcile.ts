/** `wirebot reconcile [--once|--daemon]`: meter LiteLLM spend into the ledger; --daemon is what wirebot-reconcile.service runs. */
import type { Config } from "../config/schema.ts";
import type { Io } from "../io.ts";
import { runReconcile, type ReconcileOptions } from "../meter/run.ts";

export { ledgerPathFor, type ReconcileOptions } from "../meter/run.ts";

/**
 * --once (the default): one cycle, exit 0, 75 when LiteLLM stays unavailable after retries, 78 on bad
 * credentials or config. --daemon: API + cron until SIGTERM, then drain and exit 0.
 */
export async function reconcileCommand(opts: ReconcileOptions, config: Config, io: Io): Promise<number> {
  return runReconcile(opts, config, io);
}
