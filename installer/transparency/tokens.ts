/** The trace tokens, derived from the API token: a gateway's token to send traces, a user's token to read their own. Pure. */
import { createHmac } from "node:crypto";

/** A derived token: HMAC-SHA256 of the purpose and id under the API token. Knowing one reveals neither the API token nor another. */
export const deriveToken = (apiToken: string, label: string) => createHmac("sha256", apiToken).update(label).digest("hex");

/** The label a gateway's trace token is derived with (`trace:shared`, `trace:erin`). */
export const traceLabel = (gatewayId: string) => `wirebot-trace-ingest:${gatewayId}`;

/** The label a user's read token is derived with: it reads that user's agent's traces only. */
export const readLabel = (userId: string) => `wirebot-trace-read:${userId}`;

/** The gateway env var the trace plugin takes its token from. */
export const TRACE_TOKEN_VAR = "WIREBOT_TRACE_TOKEN";
