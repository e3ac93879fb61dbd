/** pino logger on stderr, never stdout: JSON for the journal under systemd, short readable lines elsewhere; secrets redacted. */
import pino, { type Logger } from "pino";

/** Any field whose name looks like a credential is censored wherever it appears (two levels deep). */
export const REDACT_PATHS = [
  "token", "apiKey", "api_key", "key", "secret", "password", "accessToken", "authorization", "value", "masterKey",
  "*.token", "*.apiKey", "*.api_key", "*.key", "*.secret", "*.password", "*.accessToken", "*.authorization", "*.value", "*.masterKey",
  "headers.authorization", "*.headers.authorization", "env", "*.env",
];

export type LogFormat = "json" | "text";

/**
 * JSON when systemd runs wirebot (it sets INVOCATION_ID for a unit's processes, and JOURNAL_STREAM when stderr is
 * the journal), so the journal keeps every field; short lines for a person everywhere else.
 * WIREBOT_LOG_FORMAT=json|text overrides.
 */
export function resolveLogFormat(env: Readonly<Record<string, string | undefined>>): LogFormat {
  const forced = env["WIREBOT_LOG_FORMAT"];
  if (forced === "json" || forced === "text") return forced;
  return env["INVOCATION_ID"] || env["JOURNAL_STREAM"] ? "json" : "text";
}

const LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };
const NOT_FIELDS = new Set(["level", "time", "pid", "hostname", "name", "msg"]);
const MAX_FIELD = 160;

function fieldText(v: unknown): string {
  const err = v as { message?: unknown; type?: unknown } | null;
  let s = typeof v === "string" ? (/[\s"=]/.test(v) || v === "" ? JSON.stringify(v) : v) : err && typeof err === "object" && typeof err.message === "string" ? JSON.stringify(err.message) : JSON.stringify(v);
  if (s === undefined) s = String(v);
  return s.length > MAX_FIELD ? `${s.slice(0, MAX_FIELD)}…` : s;
}

/** One pino JSON record as `name: [level: ]message key=value …`; a line that is not JSON passes through. */
export function formatLogLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const level = typeof rec["level"] === "number" ? (LEVELS[rec["level"]] ?? String(rec["level"])) : String(rec["level"] ?? "info");
  const fields = Object.entries(rec)
    .filter(([k]) => !NOT_FIELDS.has(k))
    .map(([k, v]) => `${k}=${fieldText(v)}`);
  const head = `${rec["name"] ? `${String(rec["name"])}: ` : ""}${level === "info" ? "" : `${level}: `}${String(rec["msg"] ?? "")}`;
  return [head, ...fields].join(" ");
}

export interface LoggerOptions {
  name: string;
  level?: string;
  /** where records go instead of stderr (tests) */
  destination?: pino.DestinationStream;
  /** decides the format and the level; process.env by default */
  env?: Readonly<Record<string, string | undefined>>;
}

export function createLogger(opts: LoggerOptions = { name: "wirebot" }): Logger {
  const env = opts.env ?? process.env;
  const base = {
    name: opts.name,
    level: opts.level ?? env["WIREBOT_LOG_LEVEL"] ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
  };
  if (opts.destination) return pino(base, opts.destination);
  // stdout is the command's output (one JSON document under --json): logs never go there. Sync writes keep
  // log lines in order with the command's own stderr lines.
  if (resolveLogFormat(env) === "json") return pino(base, pino.destination({ fd: 2, sync: true }));
  return pino(base, { write: (line: string) => void process.stderr.write(`${formatLogLine(line)}\n`) });
}
