/** One tool call as the trace plugin reports it → one trace record: its action and reason, its place under a wrapper call, redacted. Pure. */
import { createHash } from "node:crypto";
import type { Redactor } from "./redact.ts";
import { policyRule, type ToolPolicy } from "./tool-policy.ts";

/** What plugins/wirebot-trace sends per tool call (its after_tool_call event and context, unchanged). */
export interface ToolCallEvent {
  toolCallId: string;
  toolName: string;
  /** ms since the epoch, from the before hook (or the after hook less durationMs) */
  startedAt: number;
  runId?: string | null;
  agentId?: string | null;
  sessionKey?: string | null;
  channelId?: string | null;
  requester?: unknown;
  params?: unknown;
  result?: unknown;
  error?: string | null;
  durationMs?: number | null;
  /** only the before hook fired: POST /tools/invoke never runs the after hook */
  beforeOnly?: boolean;
}

export type TraceAction = "allow" | "deny";

export interface TraceRecord {
  traceId: string;
  atMs: number;
  gateway: string;
  agentId: string;
  sessionKey: string | null;
  channel: string | null;
  requester: string | null;
  runId: string | null;
  toolCallId: string;
  /** the trace id of the wrapper call (tool_call, tool_search_code) this call ran inside */
  parentId: string | null;
  tool: string;
  action: TraceAction;
  /** why a call was denied (`runtime-policy: tools.deny group:runtime`, `blocked: …`, `not-found`, `validation: …`), or a note */
  reason: string | null;
  params: string | null;
  result: string | null;
  error: string | null;
  durationMs: number | null;
}

export const traceIdOf = (gateway: string, runId: string | null, toolCallId: string) =>
  createHash("sha256").update(`${gateway}\0${runId ?? ""}\0${toolCallId}`).digest("hex").slice(0, 32);

/** The agent a session key belongs to: `agent:<id>:…`. */
export function agentOfSession(sessionKey: string | null | undefined): string | null {
  return /^agent:([a-z0-9_][a-z0-9_-]{0,63}):/.exec(String(sessionKey ?? ""))?.[1] ?? null;
}

/** A call reached through a wrapper has an id like `tool_search_code:<wrapper call id>:<tool>:<n>`. */
function parentCallId(toolCallId: string): string | null {
  const m = /^tool_[a-z_]+:([^:]+):[^:]+:\d+$/.exec(toolCallId);
  return m ? m[1]! : null;
}

const NOT_FOUND = /(?:^|\b)(?:Tool ([\w.-]+) not found|Unknown tool id: ([\w.-]+))/;
const VALIDATION = /^Validation failed/i;
/** The runtime's own refusals of an offered tool (tools.fs.workspaceOnly, media roots, crossContext): a denial, not a failure. */
const SANDBOX = /Path escapes sandbox root|Symlink escapes sandbox root|not under an allowed directory|Cross-context messaging denied/;

/** The runtime marks a call a plugin's before hook blocked in the tool result it gives the model. */
function blockedBy(result: unknown): string | null {
  const d = (result as { details?: { status?: unknown; reason?: unknown; deniedReason?: unknown } } | null)?.details;
  if (!d || d.status !== "blocked") return null;
  return String(d.reason ?? d.deniedReason ?? "blocked by a plugin");
}

export interface Classified {
  action: TraceAction;
  reason: string | null;
}

/** allow / deny and why, judged against the policy wirebot rendered for the agent (the runtime does not mark its own denials). */
export function classify(e: ToolCallEvent, policy: ToolPolicy): Classified {
  const blocked = blockedBy(e.result);
  if (blocked !== null) return { action: "deny", reason: /^wirebot[-:]/.test(blocked) ? `wirebot-policy: ${blocked}` : `blocked: ${blocked}` };
  const error = e.error ?? "";
  const missing = NOT_FOUND.exec(error);
  if (missing) {
    // "Unknown tool id: sessions_list. Did you mean: …": the sentence's full stop is not the name's
    const tool = (missing[1] ?? missing[2]!).replace(/\.+$/, "");
    const rule = policyRule(policy, tool);
    return { action: "deny", reason: rule ? `runtime-policy: ${tool}: ${rule}` : `not-found: ${tool}` };
  }
  if (VALIDATION.test(error)) return { action: "deny", reason: `validation: ${error.slice(0, 200)}` };
  const sandbox = SANDBOX.exec(error);
  if (sandbox) return { action: "deny", reason: `runtime-policy: ${sandbox[0]}` };
  if (e.beforeOnly) return { action: "allow", reason: "no result reported (POST /tools/invoke runs no after hook)" };
  return { action: "allow", reason: null };
}

export interface RecordContext {
  gateway: string;
  policyOf(agentId: string): ToolPolicy;
  redact: Redactor;
}

/** The record stored for an event, or a reason it cannot be one (no agent to charge it to). */
export function toTraceRecord(e: ToolCallEvent, ctx: RecordContext): TraceRecord | { rejected: string } {
  const agentId = e.agentId ?? agentOfSession(e.sessionKey);
  if (!agentId) return { rejected: `tool call ${e.toolCallId} names no agent` };
  const runId = e.runId ?? null;
  const parent = parentCallId(e.toolCallId);
  const { action, reason } = classify(e, ctx.policyOf(agentId));
  return {
    traceId: traceIdOf(ctx.gateway, runId, e.toolCallId),
    atMs: Math.round(e.startedAt),
    gateway: ctx.gateway,
    agentId,
    sessionKey: e.sessionKey ?? null,
    channel: e.channelId ?? null,
    requester: e.requester === undefined || e.requester === null ? null : ctx.redact(e.requester),
    runId,
    toolCallId: e.toolCallId,
    parentId: parent ? traceIdOf(ctx.gateway, runId, parent) : null,
    tool: e.toolName,
    action,
    reason,
    params: ctx.redact(e.params),
    result: ctx.redact(e.result),
    error: e.error ? ctx.redact(e.error) : null,
    durationMs: typeof e.durationMs === "number" && Number.isFinite(e.durationMs) ? Math.round(e.durationMs) : null,
  };
}
