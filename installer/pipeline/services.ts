/** The clients of the outside world (Cloudflare, LiteLLM, the vault) and the logger, built in the composition root over the host port. */
import type Cloudflare from "cloudflare";
import type { Logger } from "pino";
import type { Config } from "../config/schema.ts";
import type { Host } from "../host/host.ts";
import type { Io } from "../io.ts";
import type { LiteLlmClient } from "../meter/litellm-client.ts";
import type { SecretsBackend } from "../secrets/backend.ts";

export interface CloudflareOptions {
  apiToken: string;
  maxRetries: number;
  timeoutMs?: number;
}

export interface LiteLlmOptions {
  baseUrl: string;
  adminKey: string;
  log?: Logger;
  timeoutMs?: number;
  attempts?: number;
}

/**
 * Every factory loads its library on first use: a command that never reaches Cloudflare, LiteLLM or the
 * vault never pays for their modules (issue 16's start-up budget).
 */
export interface Services {
  logger(name: string): Promise<Logger>;
  cloudflare(o: CloudflareOptions): Promise<Cloudflare>;
  litellm(o: LiteLlmOptions): Promise<LiteLlmClient>;
  /** the configured secrets backend, opened (Bitwarden's SDK speaks HTTP from its own Rust core, to the URLs in config) */
  vault(config: Config, io: Io, log?: Logger): Promise<SecretsBackend>;
}

/** HTTP goes through host.fetch; the Cloudflare API base comes from CLOUDFLARE_BASE_URL when set (a stand-in, a proxy). */
export function createServices(host: Host, env: Readonly<Record<string, string | undefined>>): Services {
  const fetch = (input: string | URL | Request, init?: RequestInit) => host.fetch(input, init);
  return {
    logger: async (name) => (await import("../log.ts")).createLogger({ name, env }),
    async cloudflare(o) {
      const { default: Client } = await import("cloudflare");
      const baseURL = env["CLOUDFLARE_BASE_URL"];
      return new Client({ apiToken: o.apiToken, maxRetries: o.maxRetries, fetch, ...(o.timeoutMs !== undefined ? { timeout: o.timeoutMs } : {}), ...(baseURL ? { baseURL } : {}) });
    },
    async litellm(o) {
      const { LiteLlmClient: Client } = await import("../meter/litellm-client.ts");
      return new Client({ ...o, fetch });
    },
    vault: async (config, io, log) => (await import("../secrets/pull.ts")).openBackend(config, host, io, log),
  };
}
