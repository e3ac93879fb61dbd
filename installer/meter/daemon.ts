/** The meter's run loop: one reconcile cycle (ingest, budgets, drift) and the daemon around it (cron, API, drain). */
import cron from "node-cron";
import type { Logger } from "pino";
import { configError, WirebotError } from "../errors.ts";
import { meteredAgents } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import { startApi, type ApiServer } from "./api.ts";
import { enforceBudgets, type BudgetAction } from "./budgets.ts";
import { openLedgerDb, type Db } from "./db.ts";
import { checkDrift, type DriftReport } from "./drift.ts";
import { runIngestCycle, type CycleResult } from "./ingest.ts";
import { Ledger } from "./ledger.ts";
import { LiteLlmClient, toWirebotError, type LiteLlmClientOptions } from "./litellm-client.ts";
import { resolveAgentHashes } from "./litellm-keys.ts";
import { createTraceApi } from "./trace-api.ts";
import { TraceStore } from "./traces.ts";
import { TraceForwarder } from "./trace-forward.ts";

export interface MeterOptions {
  config: Config;
  /** production: PATHS.ledger under --root; tests: a temp file */
  ledgerPath: string;
  /** LITELLM_MASTER_KEY (or a proxy_admin_viewer key) */
  adminKey: string;
  /** agentId → key value or hash; agents missing here are found by their key alias */
  agentKeys?: ReadonlyMap<string, string>;
  log: Logger;
  now?: () => number;
  backfillFromMs?: number;
  /** run the drift check every n-th cycle (default 1: every cycle) */
  driftEvery?: number;
  client?: Partial<Omit<LiteLlmClientOptions, "baseUrl" | "adminKey">>;
}

export interface CycleReport {
  ingest: CycleResult;
  budgets: BudgetAction[];
  drift: DriftReport[] | null;
}

/** An open ledger plus a LiteLLM client; `cycle()` is what `--once` runs and what cron triggers. */
export class Meter {
  readonly db: Db;
  readonly ledger: Ledger;
  readonly traces: TraceStore;
  readonly client: LiteLlmClient;
  lastDrift: DriftReport[] = [];
  private cycles = 0;

  constructor(private readonly o: MeterOptions) {
    this.db = openLedgerDb(o.ledgerPath, { log: o.log, slowMs: 250 });
    this.ledger = new Ledger(this.db, o.config.litellm.instanceId, o.log);
    this.traces = new TraceStore(this.db);
    this.client = new LiteLlmClient({ baseUrl: o.config.litellm.baseUrl, adminKey: o.adminKey, log: o.log, ...o.client });
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  async cycle(signal?: AbortSignal): Promise<CycleReport> {
    const { config, log } = this.o;
    // Local work first: a LiteLLM outage must not keep traces past their retention.
    const expired = this.traces.enforceRetention(config.transparency.retention, this.now());
    if (expired > 0) log.info({ expired }, "traces past transparency.retention deleted");
    try {
      const hashes = await resolveAgentHashes(this.client, meteredAgents(config).map((a) => a.id), this.o.agentKeys);
      for (const [agentId, hs] of hashes) if (hs.length === 0) log.warn({ agentId }, "no LiteLLM key found for agent; its spend stays unattributed until `wirebot apply` registers it");
      this.ledger.ensureAgentKeys(hashes, this.now());
      const ingest = await runIngestCycle(this.client, this.ledger, {
        overlapMs: config.metering.overlapMinutes * 60_000,
        settleMs: config.metering.settleSeconds * 1000,
        now: () => this.now(),
        log,
        ...(this.o.backfillFromMs !== undefined ? { backfillFromMs: this.o.backfillFromMs } : {}),
        ...(signal ? { signal } : {}),
      });
      if (ingest.outcome === "aborted") return { ingest, budgets: [], drift: null };
      log.info(
        { outcome: ingest.outcome, windows: ingest.windows, requests: ingest.requests, rows: ingest.rowsSeen, inserted: ingest.inserted, duplicates: ingest.duplicates, conflicts: ingest.conflicts, swept: ingest.swept, watermark: new Date(ingest.watermarkMs).toISOString() },
        "reconcile cycle done",
      );
      const budgets = await enforceBudgets(this.ledger, config, this.client, this.now(), log);
      let drift: DriftReport[] | null = null;
      if (this.cycles++ % (this.o.driftEvery ?? 1) === 0) {
        try {
          drift = await checkDrift(this.client, this.ledger, new Map(meteredAgents(config).map((a) => [a.id, this.ledger.hashesOf(a.id)])), { log });
          this.lastDrift = drift;
        } catch (err) {
          // A failed sanity check must not fail a cycle whose ledger work is committed.
          log.warn({ err: (err as Error).message }, "drift check failed");
        }
      }
      return { ingest, budgets, drift };
    } catch (err) {
      if (signal?.aborted) return { ingest: abortedResult(this.ledger), budgets: [], drift: null };
      const e = toWirebotError(err, "reconcile");
      this.ledger.recordFailure(this.now(), e.message);
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.client.close();
    this.db.close();
  }
}

function abortedResult(ledger: Ledger): CycleResult {
  const w = ledger.readState().watermarkMs ?? 0;
  return { outcome: "aborted", fromMs: 0, toMs: 0, swept: false, windows: 0, requests: 0, rowsSeen: 0, inserted: 0, duplicates: 0, conflicts: 0, badRows: 0, watermarkMs: w };
}

export interface DaemonOptions extends MeterOptions {
  /** WIREBOT_API_TOKEN */
  apiToken: string;
  /** WIREBOT_FORWARD_TOKEN, when transparency.forward is set */
  forwardToken?: string;
  /** how often traces are forwarded (default 60 s: transparency.forward.perMinute is per run) */
  forwardEveryMs?: number;
  /** default: config.metering.api.port; 0 picks a free port (tests) */
  apiPort?: number;
  /** stop: SIGTERM in production, an AbortController in tests */
  signal: AbortSignal;
  /** called once the API listens (tests read the port) */
  onReady?: (api: ApiServer) => void;
}

/**
 * Runs until `signal` aborts: the API on 127.0.0.1, a cycle at start and on metering.schedule
 * (never two at once). On stop: no new cycles, the running one is aborted between windows (nothing
 * partial is committed), the API drains, the ledger closes. Resolves to an exit code.
 */
export async function runDaemon(o: DaemonOptions): Promise<number> {
  const { config, log } = o;
  const schedule = config.metering.schedule;
  if (!cron.validate(schedule))
    throw configError("metering.schedule", `metering.schedule '${schedule}' is not a valid cron expression`, { hint: "use five fields, e.g. '*/5 * * * *'" });
  if (!o.apiToken) throw configError("api.token-missing", "WIREBOT_API_TOKEN is not set", { hint: "run `wirebot secrets pull`; the unit reads it from /run/wirebot/reconcile.env" });

  const meter = new Meter(o);
  let api: ApiServer;
  try {
    const traces = createTraceApi({ config, apiToken: o.apiToken, store: meter.traces, secrets: new Map([[o.adminKey, "LITELLM_MASTER_KEY"]]) });
    api = await startApi({ ledger: meter.ledger, config, token: o.apiToken, log, traces, lastDrift: () => meter.lastDrift, ...(o.now ? { now: o.now } : {}) }, { port: o.apiPort ?? config.metering.api.port });
  } catch (err) {
    await meter.close();
    const code = (err as { code?: string }).code;
    throw new WirebotError("preflight", "api.listen", `cannot listen on 127.0.0.1:${o.apiPort ?? config.metering.api.port}: ${(err as Error).message}`, {
      hint: code === "EADDRINUSE" ? "another process holds metering.api.port; stop it or choose another port" : "check metering.api.port",
      cause: err,
    });
  }
  o.onReady?.(api);
  log.info({ port: api.port, schedule }, "wirebot reconcile daemon started");

  // An object, not lets: the callbacks below assign these, which flow analysis cannot see.
  const st: { running: Promise<void> | null; fatal: WirebotError | null } = { running: null, fatal: null };
  const cycleAbort = new AbortController();
  const stopped = new Promise<void>((resolve) => {
    if (o.signal.aborted) resolve();
    else o.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  let wakeFatal: () => void = () => {};
  const fatalSeen = new Promise<void>((resolve) => (wakeFatal = resolve));

  const trigger = () => {
    if (st.running || o.signal.aborted || st.fatal) return;
    st.running = meter
      .cycle(cycleAbort.signal)
      .then(
        () => undefined,
        (err: unknown) => {
          const e = err as WirebotError;
          log.error({ code: e.code, err: e.message }, "reconcile cycle failed");
          // Bad credentials or config will not heal by retrying: exit 78 so systemd stops restarting.
          if (e.kind === "config") {
            st.fatal = e;
            wakeFatal();
          }
        },
      )
      .finally(() => {
        st.running = null;
      });
  };
  const task = cron.schedule(schedule, trigger, { name: "wirebot-reconcile", noOverlap: true });
  trigger();

  // transparency.forward: its own clock, so a LiteLLM outage or a long cycle never holds traces back.
  const fwd = config.transparency.forward;
  let forwarding: Promise<unknown> | null = null;
  let forwardTimer: NodeJS.Timeout | null = null;
  if (fwd) {
    if (!o.forwardToken) log.warn({ url: fwd.url }, "transparency.forward is set but WIREBOT_FORWARD_TOKEN is not: traces are not forwarded (map it in secrets.map, then `wirebot apply`)");
    else {
      const forwarder = new TraceForwarder(meter.db, meter.traces, { url: fwd.url, token: o.forwardToken, batch: fwd.batch, perMinute: fwd.perMinute, log });
      const tick = () => {
        if (forwarding || o.signal.aborted) return;
        forwarding = forwarder.run().catch((e: unknown) => log.warn({ err: (e as Error).message }, "trace forwarding failed")).finally(() => (forwarding = null));
      };
      forwardTimer = setInterval(tick, o.forwardEveryMs ?? 60_000);
      tick();
    }
  }

  await Promise.race([stopped, fatalSeen]);
  log.info("stopping: draining the running cycle and the API");
  await task.stop();
  await task.destroy();
  cycleAbort.abort();
  if (forwardTimer) clearInterval(forwardTimer);
  if (forwarding) await forwarding;
  if (st.running) await st.running;
  await api.close();
  await meter.close();
  log.info("wirebot reconcile daemon stopped");
  if (st.fatal) throw st.fatal;
  return 0;
}
