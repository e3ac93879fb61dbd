/** A local stand-in of the Cloudflare API v4 (tunnels, DNS records, Access apps and policies) for tests with the real `cloudflare` SDK. */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface CfMessage {
  code: number;
  message: string;
}

export interface StandinTunnel {
  id: string;
  account_tag: string;
  name: string;
  config_src: "local" | "cloudflare";
  remote_config: boolean;
  status: "inactive";
  created_at: string;
  deleted_at: string | null;
  connections: never[];
  tun_type: "cfd_tunnel";
  /** kept server-side: only the token endpoint reveals it */
  secret: string;
  config: { ingress?: unknown[]; originRequest?: unknown } | null;
  configVersion: number;
}

export interface StandinRecord {
  id: string;
  zone_id: string;
  zone_name: string;
  name: string;
  type: string;
  content: string;
  proxied: boolean;
  proxiable: boolean;
  ttl: number;
  comment: string | null;
  tags: string[];
  created_on: string;
  modified_on: string;
  meta: Record<string, unknown>;
  settings: Record<string, unknown>;
}

export interface StandinApp {
  id: string;
  name: string;
  domain: string;
  /** what Access secures (public hostnames only in the stand-in) */
  destinations: { type: "public"; uri: string }[];
  type: string;
  aud: string;
  session_duration: string;
  policies: { id: string; precedence: number }[];
  created_at: string;
  updated_at: string;
  app_launcher_visible: boolean;
}

export interface StandinPolicy {
  id: string;
  name: string;
  decision: string;
  include: unknown[];
  exclude: unknown[];
  require: unknown[];
  created_at: string;
  updated_at: string;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

interface Fault {
  /** "*" matches every method */
  method: string;
  path: RegExp;
  status: number;
  errors: CfMessage[];
  times: number;
}

export interface StandinOptions {
  apiToken: string;
  accounts: string[];
  zones: { id: string; name: string }[];
  /** default per_page when the client sends none (Cloudflare: 100 for DNS, 20 for tunnels); small values exercise pagination */
  defaultPerPage?: number;
  /** the Zero Trust team: its auth domain is `<teamName>.cloudflareaccess.com` (GET /accounts/:id/access/organizations) */
  teamName?: string;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errors: CfMessage[],
  ) {
    super(errors.map((e) => e.message).join("; "));
  }
}

/** What Cloudflare answers a wrong token (401) and a token that lacks the permission for an endpoint (403). */
const AUTH_ERROR: CfMessage[] = [{ code: 10000, message: "Authentication error" }];
/** Every Access endpoint (applications, policies) of any account. */
export const ACCESS_PATHS = /^\/accounts\/[^/]+\/access\//;

const now = () => new Date().toISOString();
const hex32 = () => randomBytes(16).toString("hex");

export class CloudflareStandin {
  readonly tunnels: StandinTunnel[] = [];
  readonly records: StandinRecord[] = [];
  readonly apps: StandinApp[] = [];
  readonly policies: StandinPolicy[] = [];
  readonly requests: RequestRecord[] = [];
  private faults: Fault[] = [];
  private server: Server | null = null;
  private port = 0;

  constructor(readonly opts: StandinOptions) {}

  /** The SDK's baseURL: `new Cloudflare({ apiToken, baseURL, maxRetries: 0 })`. */
  get baseURL(): string {
    return `http://127.0.0.1:${this.port}/client/v4`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** The next `times` requests matching method and path answer with this error envelope. */
  failNext(method: string, path: RegExp, status: number, errors: CfMessage[], times = 1): void {
    this.faults.push({ method, path, status, errors, times });
  }

  /** From now on the token lacks the permission for `path`: every request to it answers 403 (e.g. `forbid(ACCESS_PATHS)`). */
  forbid(path: RegExp): void {
    this.faults.push({ method: "*", path, status: 403, errors: AUTH_ERROR, times: Infinity });
  }

  /** Requests that changed state (anything but GET). */
  mutations(): RequestRecord[] {
    return this.requests.filter((r) => r.method !== "GET");
  }

  /** Seed a record as if someone created it by hand (a "foreign" record). */
  addRecord(zoneId: string, rec: { name: string; type: string; content: string; proxied?: boolean; comment?: string }): StandinRecord {
    const zone = this.zone(zoneId);
    const r = this.newRecord(zone, { ...rec, proxied: rec.proxied ?? false, ttl: 1 });
    this.records.push(r);
    return r;
  }

  private zone(id: string): { id: string; name: string } {
    const z = this.opts.zones.find((z) => z.id === id);
    if (!z) throw new ApiError(404, [{ code: 7003, message: `Could not route to /zones/${id}/dns_records, perhaps your object identifier is invalid?` }]);
    return z;
  }

  private account(id: string): void {
    if (!this.opts.accounts.includes(id))
      throw new ApiError(404, [{ code: 7003, message: `Could not route to /accounts/${id}, perhaps your object identifier is invalid?` }]);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json", "cf-ray": `${hex32().slice(0, 16)}-AMS` });
      res.end(JSON.stringify(body));
    };
    try {
      const url = new URL(req.url ?? "/", "http://standin");
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: unknown = null;
      if (raw !== "") {
        try {
          body = JSON.parse(raw);
        } catch {
          throw new ApiError(400, [{ code: 6007, message: "Malformed JSON in request body" }]);
        }
      }
      const method = req.method ?? "GET";
      const path = url.pathname.replace(/^\/client\/v4/, "");
      const query = Object.fromEntries(url.searchParams.entries());
      this.requests.push({ method, path, query, body });

      if (req.headers.authorization !== `Bearer ${this.opts.apiToken}`)
        throw new ApiError(401, AUTH_ERROR);
      const fault = this.faults.find((f) => (f.method === method || f.method === "*") && f.path.test(path));
      if (fault) {
        fault.times -= 1;
        if (fault.times <= 0) this.faults = this.faults.filter((f) => f !== fault);
        throw new ApiError(fault.status, fault.errors);
      }
      const out = this.route(method, path, query, body);
      send(200, { success: true, errors: [], messages: [], result: out.result, ...(out.result_info ? { result_info: out.result_info } : {}) });
    } catch (e) {
      if (e instanceof ApiError) send(e.status, { success: false, errors: e.errors, messages: [], result: null });
      else send(500, { success: false, errors: [{ code: 10001, message: `stand-in failure: ${(e as Error).message}` }], messages: [], result: null });
    }
  }

  private paginate<T>(items: T[], query: Record<string, string>, defaultPerPage: number) {
    const page = Math.max(1, Number(query["page"] ?? 1) || 1);
    const perPage = Math.max(1, Math.min(5000, Number(query["per_page"] ?? this.opts.defaultPerPage ?? defaultPerPage) || defaultPerPage));
    const slice = items.slice((page - 1) * perPage, page * perPage);
    return {
      result: slice,
      result_info: { page, per_page: perPage, count: slice.length, total_count: items.length, total_pages: Math.max(1, Math.ceil(items.length / perPage)) },
    };
  }

  private route(method: string, path: string, query: Record<string, string>, body: unknown): { result: unknown; result_info?: unknown } {
    const b = (body ?? {}) as Record<string, unknown>;
    let m: RegExpExecArray | null;

    // ---- tunnels ----
    if ((m = /^\/accounts\/([^/]+)\/cfd_tunnel$/.exec(path))) {
      this.account(m[1]!);
      if (method === "POST") return { result: this.publicTunnel(this.createTunnel(m[1]!, b)) };
      if (method === "GET") {
        let list = this.tunnels.filter((t) => t.account_tag === m![1]);
        if (query["name"] !== undefined) list = list.filter((t) => t.name === query["name"]);
        if (query["uuid"] !== undefined) list = list.filter((t) => t.id === query["uuid"]);
        if (query["is_deleted"] === "false") list = list.filter((t) => t.deleted_at === null);
        if (query["is_deleted"] === "true") list = list.filter((t) => t.deleted_at !== null);
        const p = this.paginate(list.map((t) => this.publicTunnel(t)), query, 20);
        return p;
      }
    }
    if ((m = /^\/accounts\/([^/]+)\/cfd_tunnel\/([^/]+)(\/configurations|\/token)?$/.exec(path))) {
      this.account(m[1]!);
      const t = this.tunnels.find((t) => t.account_tag === m![1] && t.id === m![2] && t.deleted_at === null);
      if (!t) throw new ApiError(404, [{ code: 1003, message: "Tunnel not found" }]);
      const sub = m[3];
      if (sub === undefined && method === "GET") return { result: this.publicTunnel(t) };
      if (sub === undefined && method === "DELETE") {
        t.deleted_at = now();
        return { result: this.publicTunnel(t) };
      }
      if (sub === "/token" && method === "GET")
        return { result: Buffer.from(JSON.stringify({ a: t.account_tag, t: t.id, s: t.secret })).toString("base64") };
      if (sub === "/configurations" && method === "GET")
        return { result: { tunnel_id: t.id, version: t.configVersion, config: t.config, source: t.config_src, created_at: t.created_at } };
      if (sub === "/configurations" && method === "PUT") {
        const cfg = b["config"] as { ingress?: unknown[] } | undefined;
        if (!cfg || !Array.isArray(cfg.ingress)) throw new ApiError(400, [{ code: 1055, message: "Invalid tunnel configuration: ingress is required" }]);
        const last = cfg.ingress.at(-1) as { hostname?: string; path?: string } | undefined;
        if (!last || (last.hostname ?? "") !== "" || (last.path ?? "") !== "")
          throw new ApiError(400, [{ code: 1056, message: "Invalid tunnel configuration: The last ingress rule must match all URLs" }]);
        t.config = cfg;
        t.configVersion += 1;
        t.config_src = "cloudflare";
        t.remote_config = true;
        return { result: { tunnel_id: t.id, version: t.configVersion, config: t.config, source: "cloudflare", created_at: now() } };
      }
    }

    // ---- DNS records ----
    if ((m = /^\/zones\/([^/]+)\/dns_records$/.exec(path))) {
      const zone = this.zone(m[1]!);
      if (method === "GET") {
        let list = this.records.filter((r) => r.zone_id === zone.id);
        const eq = (field: "name" | "content" | "type", v: string | undefined) => {
          if (v !== undefined) list = list.filter((r) => r[field].toLowerCase() === v.toLowerCase());
        };
        eq("type", query["type"]);
        eq("name", query["name"] ?? query["name.exact"]);
        eq("content", query["content"] ?? query["content.exact"]);
        list.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
        return this.paginate(list, query, 100);
      }
      if (method === "POST") {
        const r = this.newRecord(zone, this.checkRecordBody(zone, b));
        this.assertNoClash(r, null);
        this.records.push(r);
        return { result: r };
      }
    }
    if ((m = /^\/zones\/([^/]+)\/dns_records\/([^/]+)$/.exec(path))) {
      const zone = this.zone(m[1]!);
      const idx = this.records.findIndex((r) => r.zone_id === zone.id && r.id === m![2]);
      if (idx < 0) throw new ApiError(404, [{ code: 81044, message: "Record does not exist." }]);
      const existing = this.records[idx]!;
      if (method === "GET") return { result: existing };
      if (method === "DELETE") {
        this.records.splice(idx, 1);
        return { result: { id: existing.id } };
      }
      if (method === "PUT" || method === "PATCH") {
        const merged = method === "PATCH" ? { ...existing, ...b } : b;
        const fields = this.checkRecordBody(zone, merged as Record<string, unknown>);
        const updated: StandinRecord = { ...this.newRecord(zone, fields), id: existing.id, created_on: existing.created_on };
        this.assertNoClash(updated, existing.id);
        this.records[idx] = updated;
        return { result: updated };
      }
    }

    // ---- Access policies (account-level, reusable) ----
    if ((m = /^\/accounts\/([^/]+)\/access\/policies$/.exec(path))) {
      this.account(m[1]!);
      if (method === "GET") return this.paginate(this.policies, query, 25);
      if (method === "POST") {
        const p: StandinPolicy = { id: randomUUID(), ...this.checkPolicy(b), created_at: now(), updated_at: now() };
        this.policies.push(p);
        return { result: p };
      }
    }
    if ((m = /^\/accounts\/([^/]+)\/access\/policies\/([^/]+)$/.exec(path))) {
      this.account(m[1]!);
      const idx = this.policies.findIndex((p) => p.id === m![2]);
      if (idx < 0) throw new ApiError(404, [{ code: 12130, message: "access.api.error.not_found" }]);
      const p = this.policies[idx]!;
      if (method === "GET") return { result: p };
      if (method === "PUT") {
        this.policies[idx] = { ...p, ...this.checkPolicy(b), updated_at: now() };
        return { result: this.policies[idx] };
      }
      if (method === "DELETE") {
        if (this.apps.some((a) => a.policies.some((l) => l.id === p.id)))
          throw new ApiError(400, [{ code: 12130, message: "access.api.error.policy_in_use" }]);
        this.policies.splice(idx, 1);
        return { result: { id: p.id } };
      }
    }

    // ---- Zero Trust organization (the team whose auth domain signs Access JWTs) ----
    if ((m = /^\/accounts\/([^/]+)\/access\/organizations$/.exec(path)) && method === "GET") {
      this.account(m[1]!);
      const team = this.opts.teamName ?? "wirebot-team";
      return { result: { name: team, auth_domain: `${team}.cloudflareaccess.com`, created_at: now(), updated_at: now(), is_ui_read_only: false } };
    }

    // ---- Access applications ----
    if ((m = /^\/accounts\/([^/]+)\/access\/apps$/.exec(path))) {
      this.account(m[1]!);
      if (method === "GET") {
        let list = this.apps;
        if (query["name"] !== undefined) list = list.filter((a) => (query["exact"] === "true" ? a.name === query["name"] : a.name.includes(query["name"]!)));
        if (query["domain"] !== undefined) list = list.filter((a) => a.domain === query["domain"]);
        return this.paginate(list, query, 25);
      }
      if (method === "POST") {
        const a: StandinApp = { ...this.checkApp(b), id: randomUUID(), aud: randomBytes(32).toString("hex"), created_at: now(), updated_at: now() };
        this.assertDestinationsFree(a, null);
        this.apps.push(a);
        return { result: a };
      }
    }
    if ((m = /^\/accounts\/([^/]+)\/access\/apps\/([^/]+)$/.exec(path))) {
      this.account(m[1]!);
      const idx = this.apps.findIndex((a) => a.id === m![2]);
      if (idx < 0) throw new ApiError(404, [{ code: 12130, message: "access.api.error.not_found" }]);
      const a = this.apps[idx]!;
      if (method === "GET") return { result: a };
      if (method === "PUT") {
        const updated: StandinApp = { ...this.checkApp(b), id: a.id, aud: a.aud, created_at: a.created_at, updated_at: now() };
        this.assertDestinationsFree(updated, a.id);
        this.apps[idx] = updated;
        return { result: this.apps[idx] };
      }
      if (method === "DELETE") {
        this.apps.splice(idx, 1);
        return { result: { id: a.id } };
      }
    }
    throw new ApiError(404, [{ code: 7000, message: `No route for that URI (${method} ${path})` }]);
  }

  private createTunnel(account: string, b: Record<string, unknown>): StandinTunnel {
    const name = b["name"];
    if (typeof name !== "string" || name === "") throw new ApiError(400, [{ code: 1001, message: "Invalid request: name is required" }]);
    if (this.tunnels.some((t) => t.account_tag === account && t.name === name && t.deleted_at === null))
      throw new ApiError(409, [{ code: 1013, message: "You already have a tunnel with this name" }]);
    const src = b["config_src"] === "cloudflare" ? "cloudflare" : "local";
    let secret = randomBytes(32).toString("base64");
    if (b["tunnel_secret"] !== undefined) {
      const s = String(b["tunnel_secret"]);
      if (Buffer.from(s, "base64").length < 32) throw new ApiError(400, [{ code: 1001, message: "Invalid request: tunnel_secret must be at least 32 bytes" }]);
      secret = s;
    }
    const t: StandinTunnel = {
      id: randomUUID(),
      account_tag: account,
      name,
      config_src: src,
      remote_config: src === "cloudflare",
      status: "inactive",
      created_at: now(),
      deleted_at: null,
      connections: [],
      tun_type: "cfd_tunnel",
      secret,
      config: null,
      configVersion: 0,
    };
    this.tunnels.push(t);
    return t;
  }

  private publicTunnel(t: StandinTunnel): Omit<StandinTunnel, "secret" | "config" | "configVersion"> {
    const { secret: _s, config: _c, configVersion: _v, ...pub } = t;
    return pub;
  }

  private checkRecordBody(zone: { name: string }, b: Record<string, unknown>) {
    const name = String(b["name"] ?? "").toLowerCase().replace(/\.$/, "");
    const type = String(b["type"] ?? "");
    const content = String(b["content"] ?? "");
    if (!["A", "AAAA", "CNAME", "TXT", "MX"].includes(type)) throw new ApiError(400, [{ code: 9101, message: "DNS record type is invalid." }]);
    if (name === "" || (name !== zone.name && !name.endsWith(`.${zone.name}`)))
      throw new ApiError(400, [{ code: 9005, message: `Content for ${type} record is invalid: the name must be within the zone ${zone.name}` }]);
    if (content === "") throw new ApiError(400, [{ code: 9021, message: "Invalid content for a record." }]);
    const ttl = Number(b["ttl"] ?? 1);
    if (ttl !== 1 && (ttl < 30 || ttl > 86400)) throw new ApiError(400, [{ code: 9141, message: "Invalid TTL. Must be between 30 and 86400 seconds, or 1 for Automatic." }]);
    return {
      name,
      type,
      content,
      ttl,
      proxied: b["proxied"] === true,
      comment: typeof b["comment"] === "string" ? b["comment"] : null,
      tags: Array.isArray(b["tags"]) ? (b["tags"] as string[]) : [],
    };
  }

  private newRecord(zone: { id: string; name: string }, f: { name: string; type: string; content: string; ttl: number; proxied: boolean; comment?: string | null; tags?: string[] }): StandinRecord {
    return {
      id: hex32(),
      zone_id: zone.id,
      zone_name: zone.name,
      name: f.name.toLowerCase(),
      type: f.type,
      content: f.content,
      proxied: f.proxied,
      proxiable: true,
      ttl: f.ttl,
      comment: f.comment ?? null,
      tags: f.tags ?? [],
      created_on: now(),
      modified_on: now(),
      meta: {},
      settings: {},
    };
  }

  /** Cloudflare refuses a CNAME next to any other record at the same name (81053) and exact duplicates (81058). */
  private assertNoClash(r: StandinRecord, selfId: string | null): void {
    const same = this.records.filter((o) => o.zone_id === r.zone_id && o.name === r.name && o.id !== selfId);
    if (same.some((o) => o.type === r.type && o.content === r.content)) throw new ApiError(400, [{ code: 81058, message: "An identical record already exists." }]);
    if (same.some((o) => o.type === "CNAME" || r.type === "CNAME"))
      throw new ApiError(400, [{ code: 81053, message: "An A, AAAA, or CNAME record with that host already exists." }]);
  }

  private checkPolicy(b: Record<string, unknown>) {
    if (typeof b["name"] !== "string" || !["allow", "deny", "non_identity", "bypass"].includes(String(b["decision"])) || !Array.isArray(b["include"]))
      throw new ApiError(400, [{ code: 12130, message: "access.api.error.invalid_request: name, decision and include are required" }]);
    return {
      name: b["name"],
      decision: String(b["decision"]),
      include: b["include"] as unknown[],
      exclude: (b["exclude"] as unknown[] | undefined) ?? [],
      require: (b["require"] as unknown[] | undefined) ?? [],
    };
  }

  private checkApp(b: Record<string, unknown>): Omit<StandinApp, "id" | "aud" | "created_at" | "updated_at"> {
    if (typeof b["domain"] !== "string" || b["type"] !== "self_hosted")
      throw new ApiError(400, [{ code: 12130, message: "access.api.error.invalid_request: domain and type self_hosted are required" }]);
    const links = (Array.isArray(b["policies"]) ? b["policies"] : []) as unknown[];
    const policies = links.map((l, i) => {
      const id = typeof l === "string" ? l : (l as { id?: string }).id;
      if (!id || !this.policies.some((p) => p.id === id)) throw new ApiError(400, [{ code: 12130, message: `access.api.error.policy_not_found: ${String(id)}` }]);
      return { id, precedence: typeof l === "object" && l !== null && "precedence" in l ? Number((l as { precedence: number }).precedence) : i + 1 };
    });
    const app: Omit<StandinApp, "id" | "aud" | "created_at" | "updated_at"> = {
      app_launcher_visible: b["app_launcher_visible"] !== false,
      name: typeof b["name"] === "string" ? b["name"] : (b["domain"] as string),
      domain: b["domain"],
      destinations: this.checkDestinations(b["destinations"], b["domain"]),
      type: "self_hosted",
      session_duration: typeof b["session_duration"] === "string" ? b["session_duration"] : "24h",
      policies,
    };
    return app;
  }

  /**
   * One hostname, one application: the stand-in refuses a public destination another application
   * already secures. Whether Cloudflare does the same is not verified; being strict here means a
   * client that passes never relies on two applications overlapping.
   */
  private assertDestinationsFree(app: StandinApp, selfId: string | null): void {
    const taken = this.apps.filter((o) => o.id !== selfId).flatMap((o) => o.destinations.map((d) => ({ uri: d.uri.toLowerCase(), name: o.name })));
    const clash = app.destinations.map((d) => taken.find((t) => t.uri === d.uri.toLowerCase())).find((t) => t !== undefined);
    if (clash) throw new ApiError(400, [{ code: 12130, message: `access.api.error.conflict: ${clash.uri} is already secured by the application '${clash.name}'` }]);
  }

  /** Only public destinations are modelled; anything else is refused the way Cloudflare refuses a malformed body. */
  private checkDestinations(d: unknown, domain: string): StandinApp["destinations"] {
    // an app given only `domain` secures just that domain
    if (d === undefined) return [{ type: "public", uri: domain }];
    if (!Array.isArray(d)) throw new ApiError(400, [{ code: 12130, message: "access.api.error.invalid_request: destinations must be an array" }]);
    return d.map((x: unknown, i) => {
      const dest = (x ?? {}) as { type?: unknown; uri?: unknown };
      if (dest.type !== "public" || typeof dest.uri !== "string" || dest.uri === "")
        throw new ApiError(400, [{ code: 12130, message: `access.api.error.invalid_request: destinations[${i}] needs type public and a uri` }]);
      return { type: "public" as const, uri: dest.uri };
    });
  }
}

export async function startCloudflareStandin(opts: StandinOptions): Promise<CloudflareStandin> {
  return new CloudflareStandin(opts).start();
}
