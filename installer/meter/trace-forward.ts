/** transparency.forward: redacted traces to an external HTTP endpoint in the Smoltbot/AAP trace shape, batched, rate-limited, retried, resumable. */
import type { Logger } from "pino";
import type { Db } from "./db.ts";
import { sql } from "./db.ts";
import type { StoredTrace, TraceStore } from "./traces.ts";

export interface ForwardOptions {
  url: string;
  /** the endpoint's bearer token (WIREBOT_FORWARD_TOKEN, from the vault through reconcile.env) */
  token: string;
  batch: number;
  perMinute: number;
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  log?: Logger;
  now?: () => number;
  /** waits between retries; tests make it instant */
  sleep?: (ms: number) => Promise<void>;
  attempts?: number;
}

/**
 * A trace in the shape Smoltbot's API serves (`@mnemom/smoltbot` 0.7.0, `Trace`: id, agent_id, timestamp,
 * action, verified, reasoning, tool_name, tool_input), with wirebot's own fields beside them. `action` is
 * the call's verdict; `reasoning` why it was denied. Params and result are the redacted, capped JSON text.
 */
export function aapTrace(t: StoredTrace) {
  const json = (s: string | null) => {
    if (s === null) return null;
    try {
      return JSON.parse(s) as unknown;
    } catch {
      return s; // cut by the size cap: no longer JSON, kept as text
    }
  };
  return {
    id: t.traceId,
    agent_id: t.agentId,
    timestamp: new Date(t.atMs).toISOString(),
    action: t.action,
    verified: true,
    ...(t.reason ? { reasoning: t.reason } : {}),
    tool_name: t.tool,
    tool_input: json(t.params),
    tool_output: json(t.result),
    error: t.error,
    duration_ms: t.durationMs,
    gateway: t.gateway,
    session_key: t.sessionKey,
    channel: t.channel,
    run_id: t.runId,
    parent_id: t.parentId,
    source: "wirebot",
  };
}

export interface ForwardResult {
  sent: number;
  /** set when the endpoint kept failing: nothing past the last accepted batch was skipped */
  error: string | null;
}

/** Forwards traces stored after the cursor, at most perMinute per call (one call per minute or more). */
export class TraceForwarder {
  private readonly getCursor;
  private readonly setCursor;

  constructor(
    private readonly db: Db,
    private readonly store: TraceStore,
    private readonly o: ForwardOptions,
  ) {
    db.prepare(sql`INSERT INTO trace_forward (url, last_row) VALUES (?, 0) ON CONFLICT (url) DO NOTHING`).run(o.url);
    this.getCursor = db.prepare(sql`SELECT last_row FROM trace_forward WHERE url = ?`).pluck();
    this.setCursor = db.prepare(sql`UPDATE trace_forward SET last_row = ?, sent = sent + ?, last_at = ?, last_error = ? WHERE url = ?`);
  }

  cursor(): number {
    return this.getCursor.get(this.o.url) as number;
  }

  async run(): Promise<ForwardResult> {
    const fetchFn = this.o.fetch ?? ((u, i) => fetch(u, i));
    const sleep = this.o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const now = this.o.now ?? Date.now;
    let budget = this.o.perMinute;
    let sent = 0;
    while (budget > 0) {
      const after = this.cursor();
      const batch = this.store.list({ afterRow: after, limit: Math.min(this.o.batch, budget), oldestFirst: true });
      if (batch.length === 0) break;
      let error: string | null = null;
      for (let attempt = 1; attempt <= (this.o.attempts ?? 4); attempt++) {
        try {
          const res = await fetchFn(this.o.url, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${this.o.token}` },
            body: JSON.stringify({ traces: batch.map(aapTrace) }),
            signal: AbortSignal.timeout(15_000),
          });
          await res.arrayBuffer().catch(() => undefined);
          if (res.ok) {
            error = null;
            break;
          }
          error = `HTTP ${res.status}`;
          // a refused token or a malformed batch will not improve by retrying now
          if (res.status < 500 && res.status !== 408 && res.status !== 429) break;
        } catch (e) {
          error = (e as Error).message;
        }
        if (attempt < (this.o.attempts ?? 4)) await sleep(500 * 2 ** (attempt - 1));
      }
      if (error !== null) {
        this.setCursor.run(after, 0, now(), error, this.o.url);
        this.o.log?.warn({ url: this.o.url, error, pending: batch.length }, "trace forwarding failed; the next cycle resumes from the last accepted trace");
        return { sent, error };
      }
      this.setCursor.run(batch.at(-1)!.row, batch.length, now(), null, this.o.url);
      sent += batch.length;
      budget -= batch.length;
    }
    return { sent, error: null };
  }
}
