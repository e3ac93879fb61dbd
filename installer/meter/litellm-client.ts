/** A small LiteLLM admin client over an injected fetch (the host port's HTTP): spend logs v2, key routes, error envelopes, retries for temporary failures. */
import type { Logger } from "pino";
import { WirebotError } from "../errors.ts";

export interface LiteLlmClientOptions {
  baseUrl: string;
  /** the admin (or proxy_admin_viewer) key; sent only as a header, never logged */
  adminKey: string;
  log?: Logger;
  /** per-request timeout for headers and body (ms) */
  timeoutMs?: number;
  /** attempts for temporary failures (5xx, 429, resets, timeouts) */
  attempts?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  /** how long to wait between retries; tests make it instant */
  sleep?: (ms: number) => Promise<void>;
  /** the HTTP transport: the host port's fetch in the CLI, the global fetch in the reconcile daemon */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

/** A LiteLLM error with the envelope's fields; `temporary` means retrying may help. */
export class LiteLlmError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly type: string,
    readonly temporary: boolean,
  ) {
    super(message);
    this.name = "LiteLlmError";
  }
}

/** Anything that looks like a key is masked before it reaches a message (LiteLLM echoes `sk-...xxxx`). */
export const scrubKeys = (s: string) => s.replace(/sk-[A-Za-z0-9_.-]+/g, "sk-[redacted]");

export interface SpendLogsPage {
  data: Record<string, unknown>[];
  total: number;
  page: number;
  page_size: number;
  total_pages: number;
  total_is_capped?: boolean;
}

export interface KeyInfo {
  key_alias: string | null;
  spend: number;
  max_budget: number | null;
  budget_duration: string | null;
  budget_reset_at: string | null;
  blocked: boolean | null;
  metadata: Record<string, unknown> | null;
  /** the models the key may call; [] means every model the proxy serves */
  models?: string[] | null;
}

export interface GenerateKeyRequest {
  key: string;
  key_alias: string;
  max_budget: number | null;
  budget_duration: string | null;
  metadata: Record<string, unknown>;
  models?: string[];
}

const TEMPORARY_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CLOSED", "EAI_AGAIN"]);

/** `YYYY-MM-DD HH:MM:SS` in UTC: the only datetime form /spend/logs/v2 accepts (no `T`, no `Z`). */
export function formatV2Date(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

export class LiteLlmClient {
  private readonly base: string;
  private readonly fetch: (url: string, init: RequestInit) => Promise<Response>;

  constructor(private readonly o: LiteLlmClientOptions) {
    this.base = o.baseUrl.replace(/\/+$/, "");
    this.fetch = o.fetch ?? ((url, init) => fetch(url, init));
  }

  /** Nothing to release: connections belong to the transport's pool. Kept so callers need not know that. */
  async close(): Promise<void> {}

  /** One page of `/spend/logs/v2`, ascending by startTime. Both bounds are inclusive at second precision. */
  spendLogs(p: { startMs: number; endMs: number; page?: number; pageSize: number; signal?: AbortSignal }): Promise<SpendLogsPage> {
    const q = new URLSearchParams({
      start_date: formatV2Date(p.startMs),
      end_date: formatV2Date(p.endMs),
      page: String(p.page ?? 1),
      page_size: String(p.pageSize),
      sort_by: "startTime",
      sort_order: "asc",
    });
    return this.call<SpendLogsPage>("GET", `/spend/logs/v2?${q}`, undefined, { retry: true, ...(p.signal ? { signal: p.signal } : {}) });
  }

  /** `/key/info` by hash (a hash keeps the key value out of URLs and access logs); null when unknown. */
  async keyInfo(keyHash: string): Promise<KeyInfo | null> {
    try {
      const r = await this.call<{ info: KeyInfo }>("GET", `/key/info?${new URLSearchParams({ key: keyHash })}`, undefined, { retry: true });
      return r.info;
    } catch (err) {
      if (err instanceof LiteLlmError && err.status === 404) return null;
      throw err;
    }
  }

  /** Not retried: a retried generate after a lost response would fail on the alias, and apply re-runs anyway. */
  keyGenerate(body: GenerateKeyRequest): Promise<{ token: string; key_alias: string }> {
    return this.call("POST", "/key/generate", body, { retry: false });
  }

  keyUpdate(body: { key: string } & Partial<Omit<GenerateKeyRequest, "key">>): Promise<unknown> {
    return this.call("POST", "/key/update", body, { retry: true });
  }

  keyBlock(keyHash: string, blocked: boolean): Promise<unknown> {
    return this.call("POST", blocked ? "/key/block" : "/key/unblock", { key: keyHash }, { retry: true });
  }

  /** Hashes of the keys carrying an alias (key_alias is unique, so at most one is expected). */
  async keyHashesByAlias(alias: string): Promise<string[]> {
    const q = new URLSearchParams({ key_alias: alias, return_full_object: "true", size: "100" });
    const r = await this.call<{ keys: Array<{ token?: string } | string> }>("GET", `/key/list?${q}`, undefined, { retry: true });
    return r.keys.map((k) => (typeof k === "string" ? k : (k.token ?? ""))).filter((h) => /^[0-9a-f]{64}$/.test(h));
  }

  private async call<T>(method: "GET" | "POST", path: string, body: unknown, opts: { retry: boolean; signal?: AbortSignal }): Promise<T> {
    const attempts = opts.retry ? (this.o.attempts ?? 6) : 1;
    const sleep = this.o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    let delay = this.o.backoffMs ?? 250;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once<T>(method, path, body, opts.signal);
      } catch (err) {
        const e = asLiteLlmError(err);
        if (!e.temporary || attempt >= attempts || opts.signal?.aborted) throw e;
        // Full jitter keeps several daemons (or a restart storm) from retrying in step.
        const wait = Math.round(delay * (0.5 + Math.random() * 0.5));
        this.o.log?.warn({ route: path.split("?")[0], status: e.status, attempt, waitMs: wait, err: e.message }, "LiteLLM request failed; retrying");
        await sleep(wait);
        delay = Math.min(delay * 2, this.o.maxBackoffMs ?? 8_000);
      }
    }
  }

  private async once<T>(method: "GET" | "POST", path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    // One deadline for headers and body; the caller's signal still aborts (an abort is not retried, a timeout is).
    const deadline = AbortSignal.timeout(this.o.timeoutMs ?? 30_000);
    const res = await this.fetch(this.base + path, {
      method,
      headers: { authorization: `Bearer ${this.o.adminKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
    });
    const text = await res.text();
    if (res.status >= 200 && res.status < 300) {
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new LiteLlmError(`LiteLLM ${path.split("?")[0]} returned invalid JSON`, res.status, "bad_response", true);
      }
    }
    throw errorFromBody(res.status, text, path);
  }
}

function errorFromBody(status: number, text: string, path: string): LiteLlmError {
  let message = text.slice(0, 300);
  let type = "http_error";
  try {
    const j = JSON.parse(text) as { error?: { message?: unknown; type?: unknown }; detail?: unknown };
    if (j.error && typeof j.error === "object") {
      message = String(j.error.message ?? message);
      type = String(j.error.type ?? type);
    } else if (j.detail !== undefined) {
      // FastAPI validation errors (422) use {"detail": [...]}, not the error envelope.
      message = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail);
      type = "validation_error";
    }
  } catch {
    /* not JSON: keep the text */
  }
  const temporary = status >= 500 || status === 429 || status === 408;
  return new LiteLlmError(`LiteLLM ${path.split("?")[0]}: HTTP ${status}: ${scrubKeys(message)}`, status, type, temporary);
}

function asLiteLlmError(err: unknown): LiteLlmError {
  if (err instanceof LiteLlmError) return err;
  const outer = err as { code?: string; name?: string; message?: string; cause?: unknown };
  if (outer?.name === "AbortError") return new LiteLlmError("request aborted", 0, "aborted", false);
  if (outer?.name === "TimeoutError") return new LiteLlmError("LiteLLM unreachable: no answer in time (timeout)", 0, "network", true);
  // fetch reports a network failure as TypeError("fetch failed") with the socket's error as its cause.
  const cause = outer?.cause as { code?: string; name?: string; message?: string } | undefined;
  const e = cause && typeof cause === "object" ? cause : outer;
  // The fetch standard refuses some ports outright (9, 6000, 10080, …): retrying cannot help, moving LiteLLM can.
  if (e?.message === "bad port") return new LiteLlmError("LiteLLM's port is one HTTP clients refuse (a blocked port of the fetch standard)", 0, "blocked_port", false);
  const temporary = (e?.code !== undefined && TEMPORARY_CODES.has(e.code)) || e?.name === "SocketError" || e?.name === "HeadersTimeoutError" || e?.name === "BodyTimeoutError" || e?.name === "ConnectTimeoutError";
  return new LiteLlmError(`LiteLLM unreachable: ${scrubKeys(e?.message ?? String(err))}${e?.code ? ` (${e.code})` : ""}`, 0, "network", temporary);
}

/** Maps a LiteLLM error to the CLI's exit codes: bad credentials are configuration, the rest is retry-later. */
export function toWirebotError(err: unknown, what: string): WirebotError {
  if (err instanceof WirebotError) return err;
  if (err instanceof LiteLlmError && (err.status === 401 || err.status === 403))
    return new WirebotError("config", "litellm.auth", `${what}: LiteLLM refused the admin key (${err.status})`, {
      hint: "check LITELLM_MASTER_KEY in the vault (secrets.map) and run `wirebot secrets pull`",
    });
  if (err instanceof LiteLlmError && err.type === "blocked_port")
    return new WirebotError("config", "litellm.port", `${what}: ${err.message}`, { hint: "run LiteLLM on another port (4000 is its default) and set litellm.baseUrl in /etc/wirebot/wirebot.yaml" });
  if (err instanceof LiteLlmError && !err.temporary)
    return new WirebotError("internal", "litellm.rejected", `${what}: ${err.message}`, { hint: "check the LiteLLM version (needs /spend/logs/v2) and its logs" });
  return new WirebotError("tempFail", "litellm.unavailable", `${what}: ${(err as Error).message}`, { cause: err, hint: "LiteLLM is down or slow; the next run retries from the last committed window" });
}
