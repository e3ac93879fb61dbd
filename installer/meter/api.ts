/** The meter's local HTTP API on 127.0.0.1: health, agents, usage (JSON) and Prometheus metrics; Bearer-token protected. */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { USER_ID_RE, type Config } from "../config/schema.ts";
import { meteredAgents } from "../config/layout.ts";
import { readBudgets } from "./budgets.ts";
import type { DriftReport } from "./drift.ts";
import { UNATTRIBUTED, type Ledger, type UsageRow } from "./ledger.ts";
import { formatUsd } from "./money.ts";
import type { TraceApi } from "./trace-api.ts";
import type { StoredTrace, TraceFilter } from "./traces.ts";

export interface ApiDeps {
  ledger: Ledger;
  config: Config;
  /** WIREBOT_API_TOKEN; every route but /health needs `Authorization: Bearer <token>` */
  token: string;
  now?: () => number;
  /** the last drift check, if any */
  lastDrift?: () => readonly DriftReport[];
  /** the trace routes (POST and GET /v1/traces); absent: 404 */
  traces?: TraceApi;
  log?: Logger;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Reply = { status?: number; json?: unknown; text?: string; contentType?: string };

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function validDay(s: string): boolean {
  if (!DAY_RE.test(s)) return false;
  const t = Date.parse(`${s}T00:00:00Z`);
  return !Number.isNaN(t) && dayOf(t) === s;
}

/** Usage query shared by the API and `wirebot usage`: days inclusive, default the current UTC month. */
export function parseUsageQuery(q: { agent?: string | null; from?: string | null; to?: string | null; group?: string | null }, nowMs: number) {
  const today = dayOf(nowMs);
  const from = q.from || `${today.slice(0, 7)}-01`;
  const to = q.to || today;
  if (!validDay(from)) throw new ApiError(400, "bad_request", `from must be a date YYYY-MM-DD, got '${from}'`);
  if (!validDay(to)) throw new ApiError(400, "bad_request", `to must be a date YYYY-MM-DD, got '${to}'`);
  if (from > to) throw new ApiError(400, "bad_request", `from (${from}) is after to (${to})`);
  const group = q.group || "day";
  if (group !== "day" && group !== "month") throw new ApiError(400, "bad_request", `group must be day or month, got '${group}'`);
  const agent = q.agent || null;
  if (agent !== null && agent !== UNATTRIBUTED && !USER_ID_RE.test(agent)) throw new ApiError(400, "bad_request", `agent must be an agent id, got '${agent}'`);
  return { from, to, group: group as "day" | "month", agent };
}

const usageJson = (r: UsageRow) => ({
  agent: r.agent,
  period: r.period,
  requests: r.requests,
  spendUsd: formatUsd(r.spendNusd),
  spendNusd: r.spendNusd,
  promptTokens: r.promptTokens,
  completionTokens: r.completionTokens,
  totalTokens: r.totalTokens,
});

export function readUsage(ledger: Ledger, q: ReturnType<typeof parseUsageQuery>) {
  const rows = ledger.usage(q.from, q.to, q.group).filter((r) => q.agent === null || r.agent === q.agent);
  const totals = new Map<string, UsageRow>();
  for (const r of rows) {
    const t = totals.get(r.agent) ?? { agent: r.agent, period: `${q.from}..${q.to}`, requests: 0, spendNusd: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0 };
    t.requests += r.requests;
    t.spendNusd += r.spendNusd;
    t.promptTokens += r.promptTokens;
    t.completionTokens += r.completionTokens;
    t.totalTokens += r.totalTokens;
    totals.set(r.agent, t);
  }
  return { rows, totals: [...totals.values()] };
}

/** Sync health from the ledger alone, so it survives a restart. */
export function readHealth(ledger: Ledger, nowMs: number) {
  const s = ledger.readState();
  const lagSeconds = s.watermarkMs ? Math.max(0, Math.round((nowMs - s.watermarkMs) / 1000)) : null;
  const failing = s.lastErrorAt !== null && (s.lastSuccessAt === null || s.lastErrorAt > s.lastSuccessAt);
  return {
    // The API answers: the daemon is alive. `status` says how the sync is doing.
    ok: true,
    status: s.lastSuccessAt === null ? (failing ? "failing" : "never-synced") : failing ? "failing" : "ok",
    lastSuccessAt: iso(s.lastSuccessAt),
    watermark: iso(s.watermarkMs || null),
    lagSeconds,
    lastError: failing ? s.lastError : null,
  };
}

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

/** Prometheus text exposition (format 0.0.4). Money is in USD as a float here: Prometheus has no integers. */
export function renderMetrics(deps: ApiDeps, nowMs: number): string {
  const { ledger, config } = deps;
  const lines: string[] = [];
  const family = (name: string, type: "counter" | "gauge", help: string, samples: Array<[Record<string, string>, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(",");
      lines.push(`${name}${l ? `{${l}}` : ""} ${Number.isFinite(v) ? v : "NaN"}`);
    }
  };
  const totals = ledger.modelTotals();
  family("wirebot_spend_usd_total", "counter", "LiteLLM spend metered into the ledger, USD.", totals.map((t) => [{ agent: t.agent, model: t.model }, t.spendNusd / 1e9]));
  family("wirebot_requests_total", "counter", "Spend-log rows metered (successes, failures and cache hits).", totals.map((t) => [{ agent: t.agent, model: t.model }, t.requests]));
  family(
    "wirebot_tokens_total",
    "counter",
    "Tokens metered, by kind.",
    totals.flatMap((t): Array<[Record<string, string>, number]> => [
      [{ agent: t.agent, model: t.model, kind: "prompt" }, t.promptTokens],
      [{ agent: t.agent, model: t.model, kind: "completion" }, t.completionTokens],
    ]),
  );
  const budgets = readBudgets(ledger, config, nowMs);
  family("wirebot_month_spend_usd", "gauge", "Spend in the current UTC month, USD.", budgets.map((b) => [{ agent: b.agentId }, b.spentNusd / 1e9]));
  family("wirebot_budget_usd", "gauge", "Monthly budget, USD.", budgets.filter((b) => b.monthlyUsd !== null).map((b) => [{ agent: b.agentId }, b.monthlyUsd!]));
  family("wirebot_budget_used_ratio", "gauge", "Month-to-date spend divided by the monthly budget.", budgets.filter((b) => b.percent !== null).map((b) => [{ agent: b.agentId }, b.percent! / 100]));
  const s = ledger.readState();
  family("wirebot_last_successful_sync_timestamp_seconds", "gauge", "When the last reconcile cycle committed (Unix time).", s.lastSuccessAt === null ? [] : [[{}, Math.floor(s.lastSuccessAt / 1000)]]);
  family("wirebot_sync_lag_seconds", "gauge", "How far the watermark is behind now (includes the settle delay).", s.watermarkMs ? [[{}, Math.round((nowMs - s.watermarkMs) / 1000)]] : []);
  family("wirebot_spend_anomalies_total", "counter", "request_ids reused with different content (kept apart, never merged).", [[{}, ledger.anomalyCount()]]);
  const drift = deps.lastDrift?.() ?? [];
  family("wirebot_drift_usd", "gauge", "Ledger minus LiteLLM key spend for the key's budget period, USD.", drift.map((d) => [{ agent: d.agentId }, d.diffNusd / 1e9]));
  if (deps.traces)
    family("wirebot_tool_calls_total", "counter", "Tool calls traced, by agent, tool and action (allow or deny).", deps.traces.store.counters().map((c) => [{ agent: c.agentId, tool: c.tool, action: c.action }, c.n]));
  return lines.join("\n") + "\n";
}

const bearer = (req: IncomingMessage): string | null => {
  const h = req.headers["authorization"];
  return typeof h === "string" && h.startsWith("Bearer ") ? h.slice(7).trim() : null;
};

/** A trace as the API and `wirebot trace --json` give it. */
export const traceJson = (t: StoredTrace) => ({
  id: t.traceId, at: new Date(t.atMs).toISOString(), row: t.row, gateway: t.gateway, agent: t.agentId, tool: t.tool, action: t.action, reason: t.reason,
  durationMs: t.durationMs, params: t.params, result: t.result, error: t.error, session: t.sessionKey, channel: t.channel, requester: t.requester,
  run: t.runId, toolCallId: t.toolCallId, parent: t.parentId,
});

/** Query → filter, shared with `wirebot trace`: since is an ISO time or a duration back from now (15m, 24h, 7d). */
export function parseTraceQuery(q: { agent?: string | null; since?: string | null; tool?: string | null; denied?: string | null; after?: string | null; limit?: string | null }, nowMs: number): TraceFilter & { agent: string | null } {
  const agent = q.agent || null;
  if (agent !== null && !USER_ID_RE.test(agent)) throw new ApiError(400, "bad_request", `agent must be an agent id, got '${agent}'`);
  const f: TraceFilter & { agent: string | null } = { agent };
  if (q.since) {
    const d = /^(\d+)([smhd])$/.exec(q.since);
    const t = d ? nowMs - Number(d[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[d[2] as "s" | "m" | "h" | "d"] : Date.parse(q.since);
    if (Number.isNaN(t)) throw new ApiError(400, "bad_request", `since must be an ISO time or a duration such as 15m, 24h, 7d; got '${q.since}'`);
    f.sinceMs = t;
  }
  if (q.tool) f.tool = q.tool;
  if (q.denied === "true" || q.denied === "1") f.action = "deny";
  if (q.after) {
    if (!/^\d+$/.test(q.after)) throw new ApiError(400, "bad_request", `after must be a row number, got '${q.after}'`);
    f.afterRow = Number(q.after);
  }
  if (q.limit) {
    if (!/^\d+$/.test(q.limit) || Number(q.limit) < 1 || Number(q.limit) > 10_000) throw new ApiError(400, "bad_request", `limit must be 1 to 10000, got '${q.limit}'`);
    f.limit = Number(q.limit);
  }
  return f;
}

function readTraces(deps: ApiDeps, req: IncomingMessage, url: URL, now: number): Reply {
  const api = deps.traces!;
  const token = bearer(req);
  const who = token === null ? null : api.principal(token);
  if (who === null) throw new ApiError(401, "unauthorized", "missing or wrong bearer token (the operator's WIREBOT_API_TOKEN, or a user's trace read token)");
  if (who.kind === "gateway") throw new ApiError(403, "forbidden", "a gateway's trace token may send traces, not read them");
  const p = url.searchParams;
  const f = parseTraceQuery({ agent: p.get("agent"), since: p.get("since"), tool: p.get("tool"), denied: p.get("denied"), after: p.get("after"), limit: p.get("limit") }, now);
  if (who.kind === "user" && f.agent !== null && f.agent !== who.agentId) throw new ApiError(403, "forbidden", `this read token is ${who.agentId}'s: it reads that agent's traces only`);
  const agents = who.kind === "user" ? [who.agentId] : f.agent !== null ? [f.agent] : undefined;
  const traces = api.store.list({ ...f, ...(agents ? { agents } : {}) });
  return { json: { traces: traces.map(traceJson), next: traces.at(-1)?.row ?? f.afterRow ?? 0 } };
}

function authorized(req: IncomingMessage, token: string): boolean {
  const h = req.headers["authorization"];
  if (!token || typeof h !== "string" || !h.startsWith("Bearer ")) return false;
  // Hashing first gives equal lengths, so the comparison leaks neither content nor length.
  const a = createHash("sha256").update(h.slice(7).trim()).digest();
  const b = createHash("sha256").update(token).digest();
  return timingSafeEqual(a, b);
}

export function handle(deps: ApiDeps, req: IncomingMessage): Reply {
  const now = (deps.now ?? Date.now)();
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const path = url.pathname.replace(/\/+$/, "") || "/";
  const routes = ["/health", "/v1/agents", "/v1/usage", "/metrics", ...(deps.traces ? ["/v1/traces"] : [])];
  if (!routes.includes(path)) throw new ApiError(404, "not_found", `no route ${path}`);
  if (req.method !== "GET" && req.method !== "HEAD") throw new ApiError(405, "method_not_allowed", `${req.method} is not allowed on ${path}; use GET${path === "/v1/traces" ? " (or POST with a gateway's trace token)" : ""}`);
  if (path === "/health") return { json: readHealth(deps.ledger, now) };
  if (path === "/v1/traces") return readTraces(deps, req, url, now);
  if (!authorized(req, deps.token)) throw new ApiError(401, "unauthorized", "missing or wrong bearer token (WIREBOT_API_TOKEN)");
  switch (path) {
    case "/v1/agents": {
      const budgets = new Map(readBudgets(deps.ledger, deps.config, now).map((b) => [b.agentId, b]));
      const keys = deps.ledger.agentKeys();
      return {
        json: {
          month: dayOf(now).slice(0, 7),
          agents: meteredAgents(deps.config).map((u) => {
            const b = budgets.get(u.id)!;
            return {
              id: u.id,
              name: u.name,
              mode: u.system ? "system" : u.gateway.kind,
              keys: keys.filter((k) => k.agentId === u.id).length,
              monthSpendUsd: formatUsd(b.spentNusd),
              monthSpendNusd: b.spentNusd,
              budget: b.monthlyUsd === null ? null : { monthlyUsd: b.monthlyUsd, percent: b.percent, reached: b.reached, state: b.state },
            };
          }),
        },
      };
    }
    case "/v1/usage": {
      const q = parseUsageQuery({ agent: url.searchParams.get("agent"), from: url.searchParams.get("from"), to: url.searchParams.get("to"), group: url.searchParams.get("group") }, now);
      const { rows, totals } = readUsage(deps.ledger, q);
      return { json: { from: q.from, to: q.to, group: q.group, agent: q.agent, currency: "USD", rows: rows.map(usageJson), totals: totals.map(usageJson) } };
    }
    default:
      return { text: renderMetrics(deps, now), contentType: "text/plain; version=0.0.4; charset=utf-8" };
  }
}

export interface ApiServer {
  url: string;
  port: number;
  /** stop accepting, let in-flight requests finish (up to `graceMs`), then close */
  close(graceMs?: number): Promise<void>;
}

/** A POST body, at most `limit` bytes (the plugin's batches are far smaller). */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new ApiError(413, "too_large", `the body is over ${limit} bytes: send fewer events per batch`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** POST /v1/traces: a gateway's batch of tool-call events, with that gateway's trace token. */
async function ingestTraces(deps: ApiDeps, req: IncomingMessage): Promise<Reply> {
  const api = deps.traces!;
  const token = bearer(req);
  const who = token === null ? null : api.principal(token);
  if (who === null) throw new ApiError(401, "unauthorized", "missing or wrong bearer token (a gateway's WIREBOT_TRACE_TOKEN)");
  if (who.kind !== "gateway") throw new ApiError(403, "forbidden", "only a gateway's trace token may send traces");
  let body: unknown;
  try {
    body = JSON.parse(await readBody(req, 8 * 1024 * 1024));
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(400, "bad_request", "the body is not JSON");
  }
  if (!Array.isArray((body as { events?: unknown } | null)?.events)) throw new ApiError(400, "bad_request", 'the body must be {"events": [...]}');
  const r = api.ingest(who, body, (deps.now ?? Date.now)());
  if (r.rejected.length > 0) deps.log?.warn({ gateway: who.gateway, rejected: r.rejected.slice(0, 5), count: r.rejected.length }, "trace events refused");
  return { status: 200, json: r };
}

export async function startApi(deps: ApiDeps, opts: { port: number; host?: string }): Promise<ApiServer> {
  const server = createServer(async (req, res) => {
    let reply: Reply;
    try {
      const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname.replace(/\/+$/, "");
      reply = deps.traces && req.method === "POST" && path === "/v1/traces" ? await ingestTraces(deps, req) : handle(deps, req);
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(500, "internal", "internal error");
      if (!(err instanceof ApiError)) deps.log?.error({ err: (err as Error).message, path: req.url?.split("?")[0] }, "API request failed");
      reply = { status: e.status, json: { error: { code: e.code, message: e.message } } };
    }
    send(res, req.method === "HEAD", reply);
  });
  // Loopback only: the tunnel publishes it; nothing else may reach it.
  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    close: (graceMs = 5_000) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

function send(res: ServerResponse, head: boolean, r: Reply): void {
  const body = r.text ?? JSON.stringify(r.json) + "\n";
  res.writeHead(r.status ?? 200, {
    "content-type": r.contentType ?? "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...(r.status === 401 ? { "www-authenticate": 'Bearer realm="wirebot"' } : {}),
  });
  res.end(head ? undefined : body);
}

export { ApiError };
