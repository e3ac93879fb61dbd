/** Test fixtures for the meter: a config pointing at the stand-in, the sample agents' keys, a silent or capturing logger. */
import { Writable } from "node:stream";
import pino, { type Logger } from "pino";
import { ConfigSchema, type Config, type ConfigInput } from "../../installer/config/schema.ts";
import { REDACT_PATHS } from "../../installer/log.ts";
import { SAMPLE_AGENTS, loadSampleRows } from "./generate.ts";
import { seedKey, startStandin, type Standin, type StandinOptions } from "./server.ts";

export function meterConfig(baseUrl: string, over: Partial<ConfigInput> = {}, agents: readonly string[] = SAMPLE_AGENTS.map((a) => a.agentId)): Config {
  return ConfigSchema.parse({
    domain: "wirebot.example.org",
    litellm: { baseUrl, models: ["gpt-4o-mini"], defaultModel: "gpt-4o-mini" },
    secrets: { backend: "file", file: { path: "/tmp/wirebot-test-secrets" } },
    users: agents.map((id) => ({ id, name: id[0]!.toUpperCase() + id.slice(1) })),
    ...over,
  });
}

/** A logger that keeps every line (with the production redaction), so tests can assert what was and was not logged. */
export function captureLogger(): { log: Logger; lines: string[]; text(): string } {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const log = pino({ level: "debug", redact: { paths: REDACT_PATHS, censor: "[redacted]" } }, dest);
  return { log, lines, text: () => lines.join("") };
}

/** The stand-in seeded with the 20 sample rows and the three sample keys under alias wirebot/<agent>. */
export async function sampleStandin(opts: StandinOptions = {}): Promise<Standin> {
  const s = await startStandin(opts);
  for (const a of SAMPLE_AGENTS) seedKey(s.store, a.key, `wirebot/${a.agentId}`);
  for (const r of loadSampleRows()) s.store.add(r);
  return s;
}

/** 2026-10-20 12:00 UTC: every sample row has been flushed by then. */
export const SAMPLE_NOON = Date.UTC(2026, 9, 20, 12, 0, 0);
export const SAMPLE_DAY = Date.UTC(2026, 9, 20);
