/** `wirebot reconcile [--once|--daemon]`: meter LiteLLM spend into the ledger; --daemon is what wirebot-reconcile.service runs. */
import { PATHS } from "../config/layout.ts";
import { API_TOKEN_VAR, LITELLM_MASTER_VAR } from "../config/secret-plan.ts";
import type { Config } from "../config/schema.ts";
import type { Host } from "../host/host.ts";
import { createNodeHost } from "../host/node-host.ts";
import type { Io } from "../io.ts";
import { runReconcile, type ReconcileOptions } from "../meter/run.ts";
import { RECONCILE_UNIT } from "../config/units.ts";
import { requireUnitEnv } from "../secrets/unit-env.ts";

export { ledgerPathFor, type ReconcileOptions } from "../meter/run.ts";

/**
 * --once (the default): one cycle, exit 0, 75 when LiteLLM stays unavailable after retries, 78 on bad
 * credentials or config. --daemon: API + cron until SIGTERM, then drain and exit 0.
 *
 * Typed by hand as root, it reads what it lacks from /run/wirebot/reconcile.env, the file the unit's
 * EnvironmentFile= loads, so nobody has to export the master key first.
 */
export async function reconcileCommand(opts: ReconcileOptions, config: Config, io: Io, host: Host = createNodeHost({ root: opts.root ?? "/" })): Promise<number> {
  // --once with --daemon is a usage error runReconcile reports; no file is read for it.
  if (opts.once && opts.daemon) return runReconcile(opts, config, io);
  const names = opts.daemon ? [LITELLM_MASTER_VAR, API_TOKEN_VAR] : [LITELLM_MASTER_VAR];
  const env = await requireUnitEnv(host, {
    file: PATHS.reconcileEnv,
    names,
    env: opts.env ?? process.env,
    unit: RECONCILE_UNIT,
    command: `wirebot reconcile ${opts.daemon ? "--daemon" : "--once"}`,
  });
  return runReconcile({ ...opts, env }, config, io);
}
