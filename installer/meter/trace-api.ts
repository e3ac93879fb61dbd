/** The trace routes of the meter's API: gateways send tool-call events with their own token; the operator reads all, a user only their agent. */
import { createHash } from "node:crypto";
import { resolveLayout, SYSTEM_AGENT_ID } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import { agentToolPolicy, SYSTEM_AGENT_TOOLS } from "../render/gateway-config.ts";
import { createRedactor, type Redactor } from "../transparency/redact.ts";
import { toTraceRecord, type ToolCallEvent, type TraceRecord } from "../transparency/record.ts";
import { deriveToken, readLabel, traceLabel } from "../transparency/tokens.ts";
import type { ToolPolicy } from "../transparency/tool-policy.ts";
import type { TraceStore } from "./traces.ts";

/** Who a bearer token is: the operator (everything), a gateway (may send for its agents), a user (reads their agent). */
export type TracePrincipal = { kind: "operator" } | { kind: "gateway"; gateway: string; agents: ReadonlySet<string> } | { kind: "user"; agentId: string };

export interface IngestResult {
  stored: number;
  duplicates: number;
  /** events refused, each with the reason (an agent this gateway does not host, no agent at all, a malformed event) */
  rejected: string[];
}

/** One POST carries at most this many events: the plugin batches well below it. */
export const MAX_EVENTS = 500;

const hash = (s: string) => createHash("sha256").update(s).digest("hex");

export interface TraceApi {
  principal(token: string): TracePrincipal | null;
  ingest(gateway: Extract<TracePrincipal, { kind: "gateway" }>, body: unknown, nowMs: number): IngestResult;
  store: TraceStore;
}

/**
 * Every token is derived from the API token (transparency/tokens.ts), so the daemon knows them all without
 * a file per gateway or user. `secrets` are values the daemon holds (its own env): masked like the shapes.
 */
export function createTraceApi(o: { config: Config; apiToken: string; store: TraceStore; secrets?: ReadonlyMap<string, string> }): TraceApi {
  const layout = resolveLayout(o.config);
  const principals = new Map<string, TracePrincipal>([[hash(o.apiToken), { kind: "operator" }]]);
  const policies = new Map<string, ToolPolicy>([[SYSTEM_AGENT_ID, SYSTEM_AGENT_TOOLS]]);
  const secrets = new Map(o.secrets ?? []);
  secrets.set(o.apiToken, "WIREBOT_API_TOKEN");
  for (const g of layout.gateways) {
    const agents = new Set([...g.users.map((u) => u.id), ...(g.kind === "shared" ? [SYSTEM_AGENT_ID] : [])]);
    const token = deriveToken(o.apiToken, traceLabel(g.id));
    principals.set(hash(token), { kind: "gateway", gateway: g.id, agents });
    secrets.set(token, `WIREBOT_TRACE_TOKEN (${g.id})`);
    for (const u of g.users) {
      policies.set(u.id, agentToolPolicy(g, u));
      const read = deriveToken(o.apiToken, readLabel(u.id));
      principals.set(hash(read), { kind: "user", agentId: u.id });
      secrets.set(read, `trace read token (${u.id})`);
    }
  }
  const t = o.config.transparency;
  const redact: Redactor = createRedactor({ secrets: new Map([...secrets].map(([v, n]) => [v, n])), patterns: t.redact.patterns, maxFieldBytes: t.redact.maxFieldBytes });

  return {
    store: o.store,
    principal: (token) => principals.get(hash(token)) ?? null,
    ingest(gw, body, nowMs) {
      const events = (body as { events?: unknown } | null)?.events;
      if (!Array.isArray(events)) return { stored: 0, duplicates: 0, rejected: ["the body must be {\"events\": [...]}"] };
      const rejected: string[] = [];
      const records: TraceRecord[] = [];
      for (const [i, raw] of events.slice(0, MAX_EVENTS).entries()) {
        const e = raw as ToolCallEvent;
        if (!e || typeof e.toolCallId !== "string" || typeof e.toolName !== "string") {
          rejected.push(`events[${i}]: needs toolCallId and toolName`);
          continue;
        }
        const startedAt = typeof e.startedAt === "number" && Number.isFinite(e.startedAt) ? e.startedAt : nowMs;
        const r = toTraceRecord({ ...e, startedAt }, { gateway: gw.gateway, policyOf: (a) => policies.get(a) ?? {}, redact });
        if ("rejected" in r) rejected.push(`events[${i}]: ${r.rejected}`);
        // A gateway speaks for the agents it hosts only: a token taken from one cannot write another's record.
        else if (!gw.agents.has(r.agentId)) rejected.push(`events[${i}]: agent '${r.agentId}' is not on gateway '${gw.gateway}'`);
        else records.push(r);
      }
      if (events.length > MAX_EVENTS) rejected.push(`${events.length - MAX_EVENTS} event(s) past the first ${MAX_EVENTS}: send them in another batch`);
      const stored = o.store.insert(records);
      return { stored, duplicates: records.length - stored, rejected };
    },
  };
}
