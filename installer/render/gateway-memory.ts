/** The runtime settings that cut a shared gateway's memory per agent (measured in docs/gateway-footprint.md), applied to the rendered gateway config object. Pure. */

export interface GatewayMemoryOptions {
  /** the one gateway every shared user's agent lives in (a dedicated gateway holds one agent: nothing to gain) */
  shared: boolean;
}

/**
 * Session maintenance in `warn` mode: openclaw 2026.9.6 plans the automatic session-store maintenance that
 * follows an agent's first session write in a worker thread of its own (the SQLite reclamation worker,
 * ~45 MB each) and keeps it for a fixed 30 minutes after use, so every agent that chatted holds one; `warn`
 * skips that planning and never starts the worker. Cost: pruning, the entry cap and the disk budget are
 * reported instead of applied; `openclaw sessions cleanup --enforce` applies them on demand.
 */
export const SHARED_SESSION_MAINTENANCE = { mode: "warn" } as const;

/** Edits `doc` in place; keeps every other session setting (and the tool policy, sandbox, deny lists) as rendered. */
export function applyGatewayMemoryKnobs(doc: Record<string, unknown>, opts: GatewayMemoryOptions): void {
  if (!opts.shared) return;
  const session = asObject(doc["session"]);
  session["maintenance"] = { ...asObject(session["maintenance"]), ...SHARED_SESSION_MAINTENANCE };
  doc["session"] = session;
}

const asObject = (v: unknown): Record<string, unknown> => (typeof v === "object" && v !== null && !Array.isArray(v) ? { ...(v as Record<string, unknown>) } : {});
