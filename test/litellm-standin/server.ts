/** A LiteLLM proxy stand-in over node:http that follows shared/reference/litellm.md, quirks included. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { sha256, SpendStore, type KeyRecord, type StoredRow } from "./store.ts";
import { handleChatCompletion } from "./chat.ts";

export interface StandinOptions {
  masterKey?: string;
  /** The proxy's clock: rows are in the table only once visibleAtMs <= now(). */
  now?: () => number;
  /** Randomise order among equal startTime values (LiteLLM has no tie-breaker). Default true. */
  shuffleTies?: boolean;
}

/** Faults for the next matching requests: 5xx, a reset connection, or a response that hangs. */
export interface Faults {
  failNext(count: number, status?: number, pathPrefix?: string): void;
  resetNext(count: number, pathPrefix?: string): void;
  hangNext(count: number, ms: number, pathPrefix?: string): void;
  /** probability (0..1) that any /spend request fails with a 503 or a reset */
  randomRate: number;
  /** drop every pending fault */
  clear(): void;
}

export interface Standin {
  url: string;
  masterKey: string;
  store: SpendStore;
  faults: Faults;
  /** request log (path and query only; bodies are never kept) */
  requests: string[];
  close(): Promise<void>;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");
/** Timestamps as LiteLLM serialises them: legacy rows with `Z`, v2 dict rows with `+00:00` (litellm.md §3.2). */
function isoMicro(ms: number, suffix: "Z" | "+00:00"): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}000${suffix}`;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}
const envelope = (status: number, message: string, type: string, param = "None") =>
  new HttpError(status, { error: { message, type, param, code: String(status) } });

/** `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD`, UTC; anything else (RFC 3339 `T`/`Z` included) is a 400. */
function parseV2Date(raw: string): number {
  const s = raw.trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}):(\d{2}))?$/.exec(s);
  const bad = () => envelope(400, `Invalid date format: ${s}. Expected: 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'`, "internal_server_error");
  if (!m) throw bad();
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
  if (Number.isNaN(ms) || new Date(ms).getUTCDate() !== +m[3]!) throw bad();
  return ms;
}

/** FastAPI's own 422 body (not the error envelope). */
function fastApi422(loc: string, input: string, type: string, msg: string, ctx: Record<string, number>): HttpError {
  return new HttpError(422, { detail: [{ type, loc: ["query", loc], msg, input, ctx }] });
}

function intParam(q: URLSearchParams, name: string, def: number, min: number, max: number): number {
  const raw = q.get(name);
  if (raw === null) return def;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim())) throw new HttpError(422, { detail: [{ type: "int_parsing", loc: ["query", name], msg: "Input should be a valid integer, unable to parse string as an integer", input: raw }] });
  if (n < min) throw fastApi422(name, raw, "greater_than_equal", `Input should be greater than or equal to ${min}`, { ge: min });
  if (n > max) throw fastApi422(name, raw, "less_than_equal", `Input should be less than or equal to ${max}`, { le: max });
  return n;
}

const COUNT_CAP = 10_000; // SPEND_LOGS_PAGINATION_COUNT_CAP
const LEGACY_CAP = 10_000;
const SORT_BY = ["endTime", "model", "request_duration_ms", "spend", "startTime", "total_tokens", "ttft_ms"];

export function renderRow(r: StoredRow, style: "v2" | "legacy"): Record<string, unknown> {
  const sfx = style === "v2" ? "+00:00" : "Z";
  const base: Record<string, unknown> = r.extra
    ? { ...r.extra }
    : {
        request_id: r.request_id,
        call_type: r.call_type,
        api_key: r.api_key,
        spend: r.spend,
        total_tokens: r.total_tokens,
        prompt_tokens: r.prompt_tokens,
        completion_tokens: r.completion_tokens,
        request_duration_ms: null,
        model: r.model,
        model_id: "",
        model_group: r.model_group,
        custom_llm_provider: r.custom_llm_provider,
        api_base: "",
        user: r.user,
        metadata: {
          user_api_key: r.api_key,
          user_api_key_alias: r.key_alias,
          user_api_key_team_id: null,
          user_api_key_user_id: null,
          spend_logs_metadata: r.agent_label ? { agent_id: r.agent_label } : null,
          status: r.status,
          usage_object: { prompt_tokens: r.prompt_tokens, completion_tokens: r.completion_tokens, total_tokens: r.total_tokens },
          error_information: r.status === "failure" ? { error_code: "429", error_class: "RateLimitError", llm_provider: r.custom_llm_provider, error_message: "rate limited" } : null,
        },
        cache_hit: r.cache_hit,
        cache_key: "Cache OFF",
        request_tags: r.agent_label ? [`agent:${r.agent_label}`] : [],
        team_id: "",
        organization_id: "",
        end_user: r.end_user,
        requester_ip_address: "127.0.0.1",
        messages: {},
        response: {},
        session_id: r.session_id,
        status: r.status,
        mcp_namespaced_tool_name: null,
        agent_id: null,
        proxy_server_request: {},
        litellm_call_id: r.litellm_call_id,
      };
  base["startTime"] = isoMicro(r.startMs, sfx);
  base["endTime"] = isoMicro(r.endMs, sfx);
  base["completionStartTime"] = isoMicro(r.endMs, sfx);
  if (style === "v2") {
    // _SPEND_LOG_LIST_COLUMNS omits the payload columns; duration is COALESCEd.
    delete base["messages"];
    delete base["response"];
    delete base["proxy_server_request"];
    base["request_duration_ms"] ??= r.endMs - r.startMs;
  }
  return base;
}

function shuffle<T>(a: T[], from: number, to: number): void {
  for (let i = to - 1; i > from; i--) {
    const j = from + Math.floor(Math.random() * (i - from + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

/** Random order inside every run of equal startTime: what ORDER BY without a tie-breaker may do. */
function shuffleTies(rows: StoredRow[]): void {
  let i = 0;
  while (i < rows.length) {
    let j = i + 1;
    while (j < rows.length && rows[j]!.startMs === rows[i]!.startMs) j++;
    if (j - i > 1) shuffle(rows, i, j);
    i = j;
  }
}

export async function startStandin(opts: StandinOptions = {}): Promise<Standin> {
  const masterKey = opts.masterKey ?? "sk-standin-master-0000";
  const now = opts.now ?? Date.now;
  const store = new SpendStore();
  const requests: string[] = [];
  type Pending = { kind: "fail" | "reset" | "hang"; status: number; ms: number; prefix: string };
  const pending: Pending[] = [];
  const faults: Faults = {
    randomRate: 0,
    clear: () => {
      pending.length = 0;
    },
    failNext: (count, status = 500, prefix = "/spend") => {
      for (let i = 0; i < count; i++) pending.push({ kind: "fail", status, ms: 0, prefix });
    },
    resetNext: (count, prefix = "/spend") => {
      for (let i = 0; i < count; i++) pending.push({ kind: "reset", status: 0, ms: 0, prefix });
    },
    hangNext: (count, ms, prefix = "/spend") => {
      for (let i = 0; i < count; i++) pending.push({ kind: "hang", status: 0, ms, prefix });
    },
  };

  const auth = (req: IncomingMessage): { admin: boolean; key?: KeyRecord } => {
    const h = req.headers["authorization"] ?? req.headers["x-litellm-api-key"];
    const raw = Array.isArray(h) ? h[0] : h;
    if (!raw) throw envelope(401, "Authentication Error, No api key passed in.", "auth_error");
    let token = raw;
    if (req.headers["authorization"]) {
      if (!raw.startsWith("Bearer ")) throw envelope(401, "Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.", "auth_error");
      token = raw.slice("Bearer ".length).trim();
    }
    if (token === masterKey) return { admin: true };
    const key = store.findKey(token);
    if (!key) {
      throw envelope(
        401,
        `Authentication Error, Invalid proxy server token passed. Received API Key = sk-...${token.slice(-4)}, Key Hash (Token) =${sha256(token)}. Unable to find token in cache or \`LiteLLM_VerificationTokenTable\``,
        "token_not_found_in_db",
        "key",
      );
    }
    if (key.blocked) throw envelope(401, "Authentication Error, Key is blocked. Update via `/key/unblock` if you're an admin.", "auth_error");
    return { admin: false, key };
  };
  const requireAdmin = (a: { admin: boolean }, route: string) => {
    if (!a.admin)
      throw envelope(401, `Authentication Error, Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route=${route}. Your role=unknown. Your user_id=unknown`, "auth_error");
  };

  function spendLogsV2(q: URLSearchParams): unknown {
    const sd = q.get("start_date");
    const ed = q.get("end_date");
    if (!sd || !ed) throw envelope(400, "Start date and end date are required", "bad_request");
    const startMs = parseV2Date(sd);
    const endMs = parseV2Date(ed);
    const page = intParam(q, "page", 1, 1, Number.MAX_SAFE_INTEGER);
    const pageSize = intParam(q, "page_size", 50, 1, 1000);
    const sortBy = q.get("sort_by") ?? "startTime";
    if (!SORT_BY.includes(sortBy)) throw envelope(400, `Invalid sort_by: ${sortBy}. Must be one of: ${SORT_BY.join(", ")}`, "bad_request", "sort_by");
    const sortOrder = (q.get("sort_order") ?? "desc").toLowerCase();
    if (sortOrder !== "asc" && sortOrder !== "desc") throw envelope(400, `Invalid sort_order: ${q.get("sort_order")}. Must be one of: asc, desc`, "bad_request", "sort_order");
    const t = now();
    const apiKey = q.get("api_key"); // exact hash match: an sk- value matches nothing here
    const requestId = q.get("request_id");
    const model = q.get("model");
    const endUser = q.get("end_user");
    const status = q.get("status_filter");
    const match = (r: StoredRow) =>
      r.visibleAtMs <= t &&
      (apiKey === null || r.api_key === apiKey) &&
      (requestId === null || r.request_id === requestId || r.litellm_call_id === requestId) &&
      (model === null || r.model === model) &&
      (endUser === null || r.end_user === endUser) &&
      (status === null || (status === "success" ? r.status === "success" : r.status === status));

    const lo = store.lowerBound(startMs);
    // `startTime <= end` at second precision: end=…:00 excludes …:00.500.
    const hi = store.upperBound(endMs);
    const offset = (page - 1) * pageSize;
    let total = 0;
    let picked: StoredRow[] = [];
    if (sortBy === "startTime") {
      const asc = sortOrder === "asc";
      const want = offset + pageSize;
      for (let k = 0; k < hi - lo; k++) {
        const r = store.rows[asc ? lo + k : hi - 1 - k]!;
        if (!match(r)) continue;
        // keep the whole tie run that straddles the page end, so shuffling can move rows across it
        const wanted = picked.length < want || picked[picked.length - 1]!.startMs === r.startMs;
        // the count is bounded (LIMIT 10001) but OFFSET paging still reaches past it
        if (total > COUNT_CAP && !wanted) break;
        total++;
        if (wanted) picked.push(r);
      }
    } else {
      for (let i = lo; i < hi; i++) if (match(store.rows[i]!)) picked.push(store.rows[i]!);
      total = picked.length;
      const field = (r: StoredRow): number | string =>
        sortBy === "spend" ? r.spend : sortBy === "total_tokens" ? r.total_tokens : sortBy === "endTime" ? r.endMs : sortBy === "model" ? r.model : r.endMs - r.startMs;
      picked.sort((a, b) => (field(a) < field(b) ? -1 : field(a) > field(b) ? 1 : 0) * (sortOrder === "asc" ? 1 : -1));
    }
    if (opts.shuffleTies !== false) shuffleTies(picked);
    const capped = total > COUNT_CAP;
    if (capped) total = COUNT_CAP;
    picked = picked.slice(offset, offset + pageSize);
    return {
      data: picked.map((r) => renderRow(r, "v2")),
      total,
      page,
      page_size: pageSize,
      total_pages: Math.ceil(total / pageSize),
      total_is_capped: capped,
    };
  }

  function spendLogsLegacy(q: URLSearchParams, res: ServerResponse): unknown {
    const t = now();
    let apiKey = q.get("api_key");
    if (apiKey?.startsWith("sk-")) apiKey = sha256(apiKey);
    const requestId = q.get("request_id");
    const userId = q.get("user_id");
    const sd = q.get("start_date");
    const ed = q.get("end_date");
    const match = (r: StoredRow) =>
      r.visibleAtMs <= t &&
      (apiKey === null || r.api_key === apiKey) &&
      (requestId === null || r.request_id === requestId || r.litellm_call_id === requestId) &&
      (userId === null || r.user === userId);
    const parseDay = (s: string) => {
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
      if (!m) throw envelope(500, `/spend/logs Errortime data '${s}' does not match format '%Y-%m-%d'`, "internal_error");
      return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!);
    };
    // Only both dates select the date branch; a lone one is silently ignored (§2).
    if (sd === null || ed === null) {
      const out: StoredRow[] = [];
      for (let i = store.rows.length - 1; i >= 0 && out.length <= LEGACY_CAP; i--) if (match(store.rows[i]!)) out.push(store.rows[i]!);
      if (out.length > LEGACY_CAP) {
        out.length = LEGACY_CAP;
        res.setHeader("x-litellm-spend-logs-truncated", "true");
      }
      return out.map((r) => renderRow(r, "legacy"));
    }
    const from = parseDay(sd);
    const to = parseDay(ed); // midnight: end_date excludes that day
    const rows: StoredRow[] = [];
    for (let i = store.upperBound(to) - 1; i >= store.lowerBound(from); i--) if (match(store.rows[i]!)) rows.push(store.rows[i]!);
    const summarize = (q.get("summarize") ?? "true").toLowerCase() !== "false";
    if (!summarize) {
      if (rows.length > LEGACY_CAP) {
        rows.length = LEGACY_CAP;
        res.setHeader("x-litellm-spend-logs-truncated", "true");
      }
      return rows.map((r) => renderRow(r, "legacy"));
    }
    if (rows.length === 0) return [];
    const days: Record<string, unknown>[] = [];
    for (let d = from; d <= to; d += 86_400_000) {
      const day = new Date(d).toISOString().slice(0, 10);
      const entry: Record<string, unknown> = {};
      const users: Record<string, number> = {};
      const models: Record<string, number> = {};
      let spend = 0;
      for (const r of rows) {
        if (new Date(r.startMs).toISOString().slice(0, 10) !== day) continue;
        entry[r.api_key] = ((entry[r.api_key] as number | undefined) ?? 0) + r.spend;
        users[r.user] = (users[r.user] ?? 0) + r.spend;
        models[r.model] = (models[r.model] ?? 0) + r.spend;
        spend += r.spend;
      }
      days.push({ ...entry, startTime: day, spend, users, models });
    }
    return days;
  }

  const keyResponse = (k: KeyRecord) => ({
    key_name: k.key_name,
    key_alias: k.key_alias,
    spend: k.spend,
    max_budget: k.max_budget,
    budget_duration: k.budget_duration,
    budget_reset_at: null,
    soft_budget_cooldown: false,
    model_spend: {},
    model_max_budget: {},
    metadata: k.metadata,
    blocked: k.blocked,
    expires: null,
    models: k.models,
    user_id: k.user_id,
    team_id: k.team_id,
    created_at: k.created_at,
    updated_at: k.updated_at,
    last_active: null,
    litellm_budget_table: null,
  });

  function keyGenerate(body: Record<string, unknown>): unknown {
    let key = body["key"];
    if (key !== undefined && key !== null && (typeof key !== "string" || !key.startsWith("sk-")))
      throw envelope(400, "Authentication Error, Invalid key format. LiteLLM Virtual Key must start with 'sk-'.", "auth_error");
    key ??= "sk-" + randomBytes(16).toString("base64url").slice(0, 22);
    const sk = key as string;
    const alias = (body["key_alias"] as string | undefined) ?? null;
    if (alias !== null && store.findAlias(alias))
      throw envelope(400, `Authentication Error, Key with alias '${alias}' already exists. Unique key aliases across all keys are required.`, "auth_error");
    const token = sha256(sk);
    if (store.keys.has(token)) throw envelope(400, "Authentication Error, Unique constraint failed on the fields: (`token`)", "auth_error");
    const maxBudget = body["max_budget"] as number | null | undefined;
    if (typeof maxBudget === "number" && maxBudget < 0) throw envelope(400, "Authentication Error, max_budget cannot be negative", "auth_error");
    const stamp = new Date(now()).toISOString().replace("Z", "000Z").replace(/\.(\d{3})000Z$/, ".$1000Z");
    const rec: KeyRecord = {
      token,
      key_name: `sk-...${sk.slice(-4)}`,
      key_alias: alias,
      max_budget: maxBudget ?? null,
      budget_duration: (body["budget_duration"] as string | undefined) ?? null,
      metadata: (body["metadata"] as Record<string, unknown> | undefined) ?? {},
      models: (body["models"] as string[] | undefined) ?? [],
      blocked: Boolean(body["blocked"]),
      spend: 0,
      created_at: stamp,
      updated_at: stamp,
      user_id: (body["user_id"] as string | undefined) ?? null,
      team_id: (body["team_id"] as string | undefined) ?? null,
    };
    store.registerKey(rec);
    return { ...body, ...keyResponse(rec), key: sk, token, token_id: token, created_by: "default_user_id", updated_by: "default_user_id" };
  }

  function keyUpdate(body: Record<string, unknown>): unknown {
    const k = store.findKey(String(body["key"] ?? ""));
    if (!k) throw envelope(404, "Key not found in database", "not_found_error", "key");
    if (typeof body["max_budget"] === "number" && body["max_budget"] < 0) throw envelope(400, "Authentication Error, max_budget cannot be negative", "auth_error");
    if ("key_alias" in body) {
      const other = store.findAlias(String(body["key_alias"]));
      if (other && other !== k) throw envelope(400, `Authentication Error, Key with alias '${String(body["key_alias"])}' already exists. Unique key aliases across all keys are required.`, "auth_error");
      k.key_alias = (body["key_alias"] as string | null) ?? null;
    }
    if ("max_budget" in body) k.max_budget = (body["max_budget"] as number | null) ?? null;
    if ("budget_duration" in body) k.budget_duration = (body["budget_duration"] as string | null) ?? null;
    if ("metadata" in body) k.metadata = (body["metadata"] as Record<string, unknown>) ?? {};
    if ("models" in body) k.models = (body["models"] as string[]) ?? [];
    if ("blocked" in body) k.blocked = Boolean(body["blocked"]);
    k.updated_at = new Date(now()).toISOString();
    return { key: body["key"], ...keyResponse(k), token: k.token };
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    const url = new URL(req.url ?? "/", "http://standin");
    const q = url.searchParams;
    const path = url.pathname;
    if (path === "/health/readiness") return { status: "healthy", db: "connected", cache: null, litellm_version: "1.99.0-standin", success_callbacks: [] };
    const who = auth(req);
    const method = req.method ?? "GET";
    const body = method === "POST" ? await readJson(req) : {};
    switch (`${method} ${path}`) {
      case "GET /spend/logs/v2":
        requireAdmin(who, path);
        return spendLogsV2(q);
      case "GET /spend/logs":
        requireAdmin(who, path);
        return spendLogsLegacy(q, res);
      case "POST /key/generate":
        requireAdmin(who, path);
        return keyGenerate(body);
      case "POST /key/update":
        requireAdmin(who, path);
        return keyUpdate(body);
      case "GET /key/info": {
        const asked = q.get("key");
        // A plain virtual key may ask about itself only.
        if (!who.admin && asked !== null && store.findKey(asked) !== who.key) requireAdmin(who, path);
        const k = asked === null ? who.key : store.findKey(asked);
        if (!k) throw envelope(404, "Key not found in database", "not_found_error", "key");
        return { key: asked ?? k.key_name, info: keyResponse(k) };
      }
      case "POST /key/block":
      case "POST /key/unblock": {
        requireAdmin(who, path);
        const k = store.findKey(String(body["key"] ?? ""));
        if (!k) throw envelope(404, "Key not found in database", "not_found_error", "key");
        k.blocked = path === "/key/block";
        return { token: k.token, ...keyResponse(k) };
      }
      case "POST /v1/chat/completions":
      case "POST /chat/completions":
        return handleChatCompletion({ req, res, body, key: who.key, masterKey, store, now });
      case "GET /key/list": {
        requireAdmin(who, path);
        const size = intParam(q, "size", 10, 1, 100);
        const pageN = intParam(q, "page", 1, 1, Number.MAX_SAFE_INTEGER);
        const alias = q.get("key_alias");
        const all = [...store.keys.values()].filter((k) => alias === null || k.key_alias === alias);
        const slice = all.slice((pageN - 1) * size, pageN * size);
        const full = (q.get("return_full_object") ?? "false").toLowerCase() === "true";
        return { keys: slice.map((k) => (full ? { token: k.token, ...keyResponse(k) } : k.token)), total_count: all.length, current_page: pageN, total_pages: Math.ceil(all.length / size) };
      }
      default:
        throw new HttpError(404, { detail: "Not Found" });
    }
  }

  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? "");
    const path = new URL(req.url ?? "/", "http://standin").pathname;
    const idx = pending.findIndex((p) => path.startsWith(p.prefix));
    let fault = idx >= 0 ? pending.splice(idx, 1)[0] : undefined;
    if (!fault && faults.randomRate > 0 && path.startsWith("/spend") && Math.random() < faults.randomRate)
      fault = { kind: Math.random() < 0.5 ? "fail" : "reset", status: 503, ms: 0, prefix: "/spend" };
    if (fault?.kind === "reset") {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "fail") {
      send(res, fault.status, { error: { message: "Internal Server Error (stand-in fault)", type: "internal_server_error", param: "None", code: String(fault.status) } });
      return;
    }
    const go = () =>
      route(req, res).then(
        (body) => send(res, 200, body),
        (err: unknown) => {
          if (err instanceof HttpError) send(res, err.status, err.body);
          else send(res, 500, { error: { message: String(err), type: "internal_server_error", param: "None", code: "500" } });
        },
      );
    if (fault?.kind === "hang") setTimeout(go, fault.ms);
    else void go();
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    masterKey,
    store,
    faults,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  // headersSent: the chat handler already wrote its own (streamed) response.
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  if (chunks.length === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
  } catch {
    throw new HttpError(422, { detail: [{ type: "json_invalid", loc: ["body"], msg: "JSON decode error" }] });
  }
}

/** Registers a key as /key/generate would, for seeding (sample agents, generated agents). */
export function seedKey(store: SpendStore, sk: string, alias: string, extra: Partial<KeyRecord> = {}): KeyRecord {
  const rec: KeyRecord = {
    token: sha256(sk),
    key_name: `sk-...${sk.slice(-4)}`,
    key_alias: alias,
    max_budget: null,
    budget_duration: null,
    metadata: {},
    models: [],
    blocked: false,
    spend: 0,
    created_at: new Date(0).toISOString(),
    updated_at: new Date(0).toISOString(),
    user_id: null,
    team_id: null,
    ...extra,
  };
  store.registerKey(rec);
  return rec;
}
