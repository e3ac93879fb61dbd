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

export interface ApiDeps {
  ledger: Ledger;
  config: Config;
  /** WIREBOT_API_TOKEN; every route but /health needs `Authorization: Bearer <token>` */
  token: string;
  now?: () => number;
  /** the last drift check, if any */
  lastDrift?: () => readonly DriftReport[];
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
  return lines.join("\n") + "\n";
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
  const routes = ["/health", "/v1/agents", "/v1/usage", "/metrics"];
  if (!routes.includes(path)) throw new ApiError(404, "not_found", `no route ${path}`);
  if (req.method !== "GET" && req.method !== "HEAD") throw new ApiError(405, "method_not_allowed", `${req.method} is not allowed on ${path}; use GET`);
  if (path === "/health") return { json: readHealth(deps.ledger, now) };
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

export async function startApi(deps: ApiDeps, opts: { port: number; host?: string }): Promise<ApiServer> {
  const server = createServer((req, res) => {
    let reply: Reply;
    try {
      reply = handle(deps, req);
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
