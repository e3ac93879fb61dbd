/** `wirebot trace [--agent ID] [--since T] [--tool NAME] [--denied] [--follow] [--json|--csv]`, and `wirebot trace token USER`: tool calls from the ledger. */
import { csvCell } from "../csv.ts";
import type { Config } from "../config/schema.ts";
import { meteredAgents, PATHS } from "../config/layout.ts";
import { API_TOKEN_VAR } from "../config/secret-plan.ts";
import { EXIT, usageError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import type { Io } from "../io.ts";
import { ApiError, parseTraceQuery, traceJson } from "../meter/api.ts";
import { ledgerPathFor, openLedgerDb } from "../meter/db.ts";
import { TraceStore, type StoredTrace } from "../meter/traces.ts";
import { requireUnitEnv } from "../secrets/unit-env.ts";
import { deriveToken, readLabel } from "../transparency/tokens.ts";
import { assertLedgerReadable } from "./usage.ts";

export interface TraceOptions {
  agent?: string;
  since?: string;
  tool?: string;
  denied?: boolean;
  follow?: boolean;
  json?: boolean;
  csv?: boolean;
  limit?: string;
  /** tests: the ledger file and how long --follow runs */
  ledgerPath?: string;
  followFor?: AbortSignal;
}

const CSV = ["at", "agent", "tool", "action", "reason", "duration_ms", "params", "result", "error", "gateway", "session", "channel", "run", "tool_call_id", "trace_id", "parent"] as const;

function line(t: StoredTrace): string {
  const at = new Date(t.atMs).toISOString().replace("T", " ").slice(0, 19);
  const nest = t.parentId ? "  └ " : "";
  const verdict = t.action === "deny" ? `DENY ${t.reason ?? ""}` : t.error ? `allow, failed: ${t.error.slice(0, 120)}` : "allow";
  const params = t.params && t.params !== "{}" ? ` ${t.params.slice(0, 160)}` : "";
  return `${at}  ${t.agentId.padEnd(12)} ${nest}${t.tool}${params}  → ${verdict}${t.durationMs !== null ? ` (${t.durationMs} ms)` : ""}`;
}

export async function traceCommand(opts: TraceOptions, config: Config, io: Io, host: Host): Promise<number> {
  if (opts.json && opts.csv) throw usageError("trace.format", "--json and --csv exclude each other");
  if (opts.follow && opts.json) throw usageError("trace.format", "--follow prints lines as they come; with --json there would be no one document", "use --follow alone, or --csv for machine-readable lines");
  const now = host.now().getTime();
  let f;
  try {
    f = parseTraceQuery({ agent: opts.agent ?? null, since: opts.since ?? null, tool: opts.tool ?? null, denied: opts.denied ? "true" : null, limit: opts.limit ?? null }, now);
  } catch (err) {
    if (err instanceof ApiError) throw usageError("trace.query", err.message, "--since takes an ISO time (2026-12-08T10:00Z) or a duration back from now (15m, 24h, 7d)");
    throw err;
  }
  const known = meteredAgents(config).map((a) => a.id);
  if (f.agent !== null && !known.includes(f.agent)) throw usageError("trace.agent", `no agent '${f.agent}' in the configuration`, `known: ${known.join(", ")}`);
  if (opts.ledgerPath === undefined) await assertLedgerReadable(host, "trace");
  const db = openLedgerDb(opts.ledgerPath ?? ledgerPathFor(host.root), { readonly: true });
  try {
    const store = new TraceStore(db);
    const filter = { ...f, ...(f.agent !== null ? { agents: [f.agent] } : {}) };
    const traces = store.list(filter);
    if (opts.json) {
      io.json({ ok: true, outcome: "traces", traces: traces.map(traceJson) });
      return EXIT.ok;
    }
    const print = (t: StoredTrace) => io.out(opts.csv ? [new Date(t.atMs).toISOString(), t.agentId, t.tool, t.action, t.reason, t.durationMs, t.params, t.result, t.error, t.gateway, t.sessionKey, t.channel, t.runId, t.toolCallId, t.traceId, t.parentId].map(csvCell).join(",") : line(t));
    if (opts.csv) io.out(CSV.join(","));
    else if (traces.length === 0 && !opts.follow) io.err("No tool calls recorded for this filter.");
    for (const t of traces) print(t);
    if (!opts.follow) return EXIT.ok;
    // --follow: poll the ledger for rows after the last one shown, until interrupted.
    let after = traces.at(-1)?.row ?? (store.list({ limit: 1 })[0]?.row ?? 0);
    while (!opts.followFor?.aborted) {
      await host.sleep(1000);
      for (const t of store.list({ ...filter, afterRow: after, limit: 1000 })) {
        print(t);
        after = t.row;
      }
    }
    return EXIT.ok;
  } finally {
    db.close();
  }
}

/** `wirebot trace token USER`: the read token that lets USER (and nobody else) read their agent's traces through the API. */
export async function traceTokenCommand(opts: { user: string; json?: boolean }, config: Config, io: Io, host: Host): Promise<number> {
  if (!config.users.some((u) => u.id === opts.user)) throw usageError("trace.user", `no user '${opts.user}' in the configuration`, `known: ${config.users.map((u) => u.id).join(", ")}`);
  const env = await requireUnitEnv(host, { file: PATHS.reconcileEnv, names: [API_TOKEN_VAR], env: host.env, command: "wirebot trace token", unit: "wirebot-reconcile.service" });
  const token = deriveToken(env[API_TOKEN_VAR]!, readLabel(opts.user));
  if (opts.json) io.json({ ok: true, user: opts.user, token, api: `http://127.0.0.1:${config.metering.api.port}/v1/traces` });
  else {
    io.out(token);
    io.err(`${opts.user}'s trace read token: \`curl -H "Authorization: Bearer <token>" http://127.0.0.1:${config.metering.api.port}/v1/traces\` returns ${opts.user}'s tool calls and nobody else's.`);
  }
  return EXIT.ok;
}
