/** A local Bitwarden Secrets Manager stand-in: identity + API routes and crypto that the real @bitwarden/sdk-napi accepts. */
import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { decString, encString, makeAccessToken, makeJwt, splitKey, type AccessToken, type SymmetricKey, deriveAccessTokenKey } from "./crypto.ts";

export interface MachineAccount {
  token: AccessToken;
  /** projects whose secrets the account may read */
  read: Set<string>;
  /** projects the account may create or update secrets in */
  write: Set<string>;
}

/** As the real server keeps them: every text field is an EncString under the org key. */
interface StoredSecret {
  id: string;
  projectId: string | null;
  key: string;
  value: string;
  note: string;
  creationDate: string;
  revisionDate: string;
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
}

export interface Standin {
  /** base URL: the SDK gets `${url}/api` and `${url}/identity`, like bws' server URL */
  url: string;
  apiUrl: string;
  identityUrl: string;
  organizationId: string;
  projectId: string;
  orgKey: SymmetricKey;
  /** A machine account with read+write on the default project unless told otherwise. */
  addMachineAccount(opts?: { read?: string[]; write?: string[] }): AccessToken;
  addSecret(key: string, value: string, opts?: { projectId?: string | null; note?: string; creationDate?: string }): string;
  /** Decrypted view of the vault, for assertions. */
  plainSecrets(): { id: string; key: string; value: string; note: string; projectId: string | null; creationDate: string }[];
  /** method, path (no query, no bodies) and status of every request. */
  requests: RequestRecord[];
  /** the next `count` requests answer `status` with an empty body (5xx retry tests) */
  failNext(count: number, status?: number): void;
  /** forget every issued bearer token, as after a server-side revocation */
  revokeSessions(): void;
  close(): Promise<void>;
}

const NOT_FOUND = {
  message: "Resource not found.",
  validationErrors: null,
  exceptionMessage: null,
  exceptionStackTrace: null,
  innerExceptionMessage: null,
  object: "error",
};

export async function startStandin(opts: { organizationId?: string; projectId?: string; expiresIn?: number } = {}): Promise<Standin> {
  const organizationId = opts.organizationId ?? randomUUID();
  const projectId = opts.projectId ?? randomUUID();
  const orgKey64 = randomBytes(64);
  const orgKey = splitKey(orgKey64);
  const accounts = new Map<string, MachineAccount>();
  const sessions = new Map<string, MachineAccount>();
  const secrets: StoredSecret[] = [];
  const requests: RequestRecord[] = [];
  let failing = { count: 0, status: 503 };

  const secretModel = (s: StoredSecret) => ({
    id: s.id,
    organizationId,
    key: s.key,
    value: s.value,
    note: s.note,
    creationDate: s.creationDate,
    revisionDate: s.revisionDate,
    projects: s.projectId ? [{ id: s.projectId }] : [],
  });
  const readable = (a: MachineAccount, s: StoredSecret) => s.projectId !== null && (a.read.has(s.projectId) || a.write.has(s.projectId));

  async function handle(req: http.IncomingMessage, body: string): Promise<{ status: number; json?: unknown }> {
    const url = new URL(req.url ?? "/", "http://standin");
    const path = url.pathname;
    const method = req.method ?? "GET";

    if (method === "POST" && path === "/identity/connect/token") {
      const form = new URLSearchParams(body);
      const account = accounts.get(form.get("client_id") ?? "");
      if (
        !account ||
        account.token.clientSecret !== form.get("client_secret") ||
        form.get("grant_type") !== "client_credentials" ||
        form.get("scope") !== "api.secrets"
      ) {
        // The real server's whole answer to a bad or revoked token (installers.md §4.4).
        return { status: 400, json: { error: "invalid_client" } };
      }
      const expiresIn = opts.expiresIn ?? 3600;
      const jwt = makeJwt({
        exp: Math.floor(Date.now() / 1000) + expiresIn,
        sub: account.token.id,
        organization: organizationId,
        scope: ["api.secrets"],
      });
      sessions.set(jwt, account);
      const tokenKey = deriveAccessTokenKey(account.token.key16);
      return {
        status: 200,
        json: {
          access_token: jwt,
          expires_in: expiresIn,
          token_type: "Bearer",
          scope: "api.secrets",
          encrypted_payload: encString(tokenKey, JSON.stringify({ encryptionKey: orgKey64.toString("base64") })),
        },
      };
    }

    if (!path.startsWith("/api/")) return { status: 404, json: NOT_FOUND };
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const account = bearer ? sessions.get(bearer) : undefined;
    if (!account) return { status: 401 };
    const api = path.slice("/api".length);
    const orgRoute = /^\/organizations\/([^/]+)\/secrets(\/sync)?$/.exec(api);

    if (orgRoute) {
      if (orgRoute[1] !== organizationId) return { status: 404, json: NOT_FOUND };
      if (method === "GET" && !orgRoute[2]) {
        return {
          status: 200,
          json: {
            secrets: secrets
              .filter((s) => readable(account, s))
              .map((s) => ({ id: s.id, organizationId, key: s.key, creationDate: s.creationDate, revisionDate: s.revisionDate, projects: [] })),
            projects: [],
          },
        };
      }
      if (method === "GET" && orgRoute[2]) {
        return { status: 200, json: { hasChanges: true, secrets: { data: secrets.filter((s) => readable(account, s)).map(secretModel) } } };
      }
      if (method === "POST" && !orgRoute[2]) return writeSecret(account, body, null);
    }

    if (method === "POST" && api === "/secrets/get-by-ids") {
      const ids = (JSON.parse(body) as { ids: string[] }).ids;
      const found = secrets.filter((s) => ids.includes(s.id) && readable(account, s));
      if (found.length !== ids.length || new Set(ids).size !== ids.length) return { status: 404, json: NOT_FOUND };
      return { status: 200, json: { data: found.map(secretModel) } };
    }

    if (method === "POST" && api === "/secrets/delete") {
      const ids = JSON.parse(body) as string[];
      const data = ids.map((id) => {
        const i = secrets.findIndex((s) => s.id === id);
        const s = secrets[i];
        if (!s || !s.projectId || !account.write.has(s.projectId)) return { id, error: "access denied" };
        secrets.splice(i, 1);
        return { id, error: null };
      });
      return { status: 200, json: { data } };
    }

    const one = /^\/secrets\/([0-9a-f-]{36})$/.exec(api);
    if (one) {
      const s = secrets.find((x) => x.id === one[1]);
      if (!s || !readable(account, s)) return { status: 404, json: NOT_FOUND };
      if (method === "GET") return { status: 200, json: secretModel(s) };
      if (method === "PUT") return writeSecret(account, body, s);
    }
    return { status: 404, json: NOT_FOUND };
  }

  function writeSecret(account: MachineAccount, body: string, existing: StoredSecret | null): { status: number; json?: unknown } {
    const b = JSON.parse(body) as { key: string; value: string; note: string; projectIds?: string[] | null };
    const ids = b.projectIds ?? [];
    if (ids.length > 1) {
      return { status: 400, json: { message: "The model state is invalid.", validationErrors: { ProjectIds: ["Only one project assignment is supported."] }, object: "error" } };
    }
    // The server answers 404 when the account may not write into the (first) project.
    if (ids.length === 0 || !account.write.has(ids[0]!)) return { status: 404, json: NOT_FOUND };
    // Prove the client encrypted under the org key: a wrong key would fail the MAC here.
    for (const f of [b.key, b.value, b.note]) decString(orgKey, f);
    const now = new Date().toISOString();
    const s: StoredSecret = existing ?? { id: randomUUID(), projectId: ids[0]!, key: "", value: "", note: "", creationDate: now, revisionDate: now };
    Object.assign(s, { key: b.key, value: b.value, note: b.note, projectId: ids[0]!, revisionDate: now });
    if (!existing) secrets.push(s);
    return { status: 200, json: secretModel(s) };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = new URL(req.url ?? "/", "http://standin").pathname;
      const reply = (status: number, json?: unknown) => {
        requests.push({ method: req.method ?? "", path, status });
        res.writeHead(status, json === undefined ? {} : { "content-type": "application/json; charset=utf-8" });
        res.end(json === undefined ? "" : JSON.stringify(json));
      };
      if (failing.count > 0) {
        failing.count--;
        reply(failing.status);
        return;
      }
      handle(req, Buffer.concat(chunks).toString("utf8")).then(
        (r) => reply(r.status, r.json),
        () => reply(500, { message: "stand-in error", object: "error" }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    apiUrl: `${url}/api`,
    identityUrl: `${url}/identity`,
    organizationId,
    projectId,
    orgKey,
    requests,
    addMachineAccount(o = {}) {
      const token = makeAccessToken();
      accounts.set(token.id, { token, read: new Set(o.read ?? [projectId]), write: new Set(o.write ?? [projectId]) });
      return token;
    },
    addSecret(key, value, o = {}) {
      const now = o.creationDate ?? new Date().toISOString();
      const s: StoredSecret = {
        id: randomUUID(),
        projectId: o.projectId === undefined ? projectId : o.projectId,
        key: encString(orgKey, key),
        value: encString(orgKey, value),
        note: encString(orgKey, o.note ?? ""),
        creationDate: now,
        revisionDate: now,
      };
      secrets.push(s);
      return s.id;
    },
    plainSecrets: () =>
      secrets.map((s) => ({
        id: s.id,
        key: decString(orgKey, s.key),
        value: decString(orgKey, s.value),
        note: decString(orgKey, s.note),
        projectId: s.projectId,
        creationDate: s.creationDate,
      })),
    failNext(count, status = 503) {
      failing = { count, status };
    },
    revokeSessions: () => sessions.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
