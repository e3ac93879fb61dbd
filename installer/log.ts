/** pino logger: JSON to the journal under systemd, readable lines on a terminal; secrets redacted. */
import pino, { type Logger } from "pino";

/** Any field whose name looks like a credential is censored wherever it appears (two levels deep). */
export const REDACT_PATHS = [
  "token", "apiKey", "api_key", "key", "secret", "password", "accessToken", "authorization", "value", "masterKey",
  "*.token", "*.apiKey", "*.api_key", "*.key", "*.secret", "*.password", "*.accessToken", "*.authorization", "*.value", "*.masterKey",
  "headers.authorization", "*.headers.authorization", "env", "*.env",
];

export function createLogger(opts: { name: string; level?: string; destination?: pino.DestinationStream } = { name: "wirebot" }): Logger {
  const base = {
    name: opts.name,
    level: opts.level ?? process.env["WIREBOT_LOG_LEVEL"] ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
  };
  return opts.destination ? pino(base, opts.destination) : pino(base);
}
