/** The reconcile entry shared by `wirebot reconcile` and testing/reconcile-main.ts: env checks, --once output, --daemon signals. */
import type { Logger } from "pino";
import { litellmKeyVar, meteredAgents } from "../config/layout.ts";
import { API_TOKEN_VAR, FORWARD_TOKEN_VAR, LITELLM_MASTER_VAR } from "../config/secret-plan.ts";
import type { Config } from "../config/schema.ts";
import { configError, EXIT, usageError } from "../errors.ts";
import type { Io } from "../io.ts";
import { createLogger } from "../log.ts";
import { Meter, runDaemon } from "./daemon.ts";
import { formatUsd } from "./money.ts";
import { ledgerPathFor } from "./db.ts";

export interface ReconcileOptions {
  once?: boolean;
  daemon?: boolean;
  json?: boolean;
  /** the ledger lives at <root>/var/lib/wirebot/ledger.sqlite */
  root?: string;
  /** overrides root + PATHS.ledger (tests, the standalone entry) */
  ledgerPath?: string;
  /** agentId → key value or hash; default: LITELLM_KEY_<ID> from env, else found by key alias */
  agentKeys?: ReadonlyMap<string, string>;
  env?: Readonly<Record<string, string | undefined>>;
  /** daemon stop; default: SIGTERM or SIGINT */
  signal?: AbortSignal;
  /** ISO date: where an empty ledger starts (default: start of the previous month) */
  backfillFrom?: string;
  /** daemon API port override (0: any free port) */
  apiPort?: number;
  log?: Logger;
  now?: () => number;
}

export { ledgerPathFor } from "./db.ts";

function agentKeysFromEnv(config: Config, env: Readonly<Record<string, string | undefined>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of meteredAgents(config)) {
    const v = env[litellmKeyVar(a.id)];
    if (v) out.set(a.id, v);
  }
  return out;
}

export async function runReconcile(opts: ReconcileOptions, config: Config, io: Io): Promise<number> {
  if (opts.once && opts.daemon) throw usageError("reconcile.flags", "--once and --daemon exclude each other", "use --once for one cycle, --daemon for the service");
  const env = opts.env ?? process.env;
  const adminKey = env[LITELLM_MASTER_VAR];
  if (!adminKey)
    throw configError("reconcile.no-admin-key", `${LITELLM_MASTER_VAR} is not set`, {
      hint: "map it in secrets.map and run `wirebot secrets pull`; the unit reads /run/wirebot/reconcile.env",
    });
  let backfillFromMs: number | undefined;
  if (opts.backfillFrom !== undefined) {
    backfillFromMs = Date.parse(opts.backfillFrom);
    if (Number.isNaN(backfillFromMs)) throw usageError("reconcile.backfill", `--backfill-from '${opts.backfillFrom}' is not a date`, "use an ISO date such as 2026-10-01");
  }
  const log = opts.log ?? createLogger({ name: "wirebot-reconcile" });
  const agentKeys = opts.agentKeys ?? agentKeysFromEnv(config, env);
  const base = {
    config,
    ledgerPath: opts.ledgerPath ?? ledgerPathFor(opts.root),
    adminKey,
    agentKeys,
    log,
    ...(opts.now ? { now: opts.now } : {}),
    ...(backfillFromMs !== undefined ? { backfillFromMs } : {}),
  };

  if (opts.daemon) {
    const ac = new AbortController();
    const stop = () => ac.abort();
    let signal = ac.signal;
    if (opts.signal) signal = AbortSignal.any([opts.signal, ac.signal]);
    else {
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    }
    try {
      const forwardToken = env[FORWARD_TOKEN_VAR];
      return await runDaemon({ ...base, apiToken: env[API_TOKEN_VAR] ?? "", ...(forwardToken ? { forwardToken } : {}), signal, ...(opts.apiPort !== undefined ? { apiPort: opts.apiPort } : {}) });
    } finally {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
    }
  }

  const meter = new Meter(base);
  try {
    const r = await meter.cycle(opts.signal);
    const i = r.ingest;
    const drift = (r.drift ?? []).filter((d) => d.outcome === "drift");
    if (opts.json) {
      io.json({ ok: true, outcome: i.outcome, ingest: i, budgets: r.budgets, drift: r.drift });
    } else {
      io.out(
        `reconcile: ${i.outcome}; ${i.rowsSeen} rows read in ${i.windows} window(s), ${i.inserted} new, ${i.duplicates} already ledgered` +
          `${i.conflicts ? `, ${i.conflicts} conflicting` : ""}; watermark ${new Date(i.watermarkMs).toISOString()}${i.swept ? " (48 h re-sweep done)" : ""}`,
      );
      for (const b of r.budgets) io.out(`budget: ${b.agentId} ${b.action} at ${b.percent} %`);
      for (const d of drift) io.out(`drift: ${d.agentId} ledger ${formatUsd(d.ledgerNusd, 6)} USD vs LiteLLM ${formatUsd(d.litellmNusd, 6)} USD (${formatUsd(d.diffNusd, 6)})`);
    }
    return EXIT.ok;
  } finally {
    await meter.close();
  }
}
