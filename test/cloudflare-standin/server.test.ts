/** The stand-in speaks Cloudflare's v4 envelope: success/errors/messages/result, result_info pagination, error codes, auth, Access destinations (one application per hostname) and a token without Access permission. */
import { afterAll, beforeAll, expect, test } from "vitest";
import { ACCESS_PATHS, startCloudflareStandin, type CloudflareStandin } from "./server.ts";

const ZONE = "fedcba9876543210fedcba9876543210";
let cf: CloudflareStandin;
beforeAll(async () => {
  cf = await startCloudflareStandin({ apiToken: "tok", accounts: ["a".repeat(32)], zones: [{ id: ZONE, name: "example.org" }] });
  for (const n of ["a", "b", "c", "d", "e"]) cf.addRecord(ZONE, { name: `${n}.example.org`, type: "A", content: "192.0.2.1" });
});
afterAll(async () => cf.stop());

const get = async (path: string, token = "tok") => {
  const res = await fetch(`${cf.baseURL}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

test("list calls page with page/per_page and report result_info", async () => {
  const p2 = await get(`/zones/${ZONE}/dns_records?per_page=2&page=2`);
  expect(p2.status).toBe(200);
  expect(p2.body).toMatchObject({ success: true, errors: [], messages: [], result_info: { page: 2, per_page: 2, count: 2, total_count: 5, total_pages: 3 } });
  expect((p2.body["result"] as { name: string }[]).map((r) => r.name)).toEqual(["c.example.org", "d.example.org"]);
  const past = await get(`/zones/${ZONE}/dns_records?per_page=2&page=4`);
  expect(past.body["result"]).toEqual([]); // the SDK stops on an empty page
});

test("filters: name.exact, type, content.exact", async () => {
  const r = await get(`/zones/${ZONE}/dns_records?name.exact=c.example.org&type=A`);
  expect((r.body["result"] as unknown[]).length).toBe(1);
});

test("errors come in the envelope with codes and success false", async () => {
  expect(await get(`/zones/${"0".repeat(32)}/dns_records`)).toMatchObject({ status: 404, body: { success: false, result: null, errors: [{ code: 7003 }] } });
  expect(await get(`/zones/${ZONE}/dns_records`, "wrong")).toMatchObject({ status: 401, body: { success: false, errors: [{ code: 10000, message: "Authentication error" }] } });
});

test("a CNAME next to another record at the same name is refused (81053)", async () => {
  const res = await fetch(`${cf.baseURL}/zones/${ZONE}/dns_records`, {
    method: "POST",
    headers: { authorization: "Bearer tok", "content-type": "application/json" },
    body: JSON.stringify({ type: "CNAME", name: "a.example.org", content: "x.cfargotunnel.com", proxied: true, ttl: 1 }),
  });
  expect(res.status).toBe(400);
  expect(((await res.json()) as { errors: { code: number }[] }).errors[0]!.code).toBe(81053);
});

const post = async (path: string, body: unknown) => {
  const res = await fetch(`${cf.baseURL}${path}`, { method: "POST", headers: { authorization: "Bearer tok", "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const APPS = `/accounts/${"a".repeat(32)}/access/apps`;

test("Access applications keep their public destinations; an app given only a domain secures that domain", async () => {
  const two = await post(APPS, { type: "self_hosted", name: "two", domain: "a.example.org", destinations: [{ type: "public", uri: "a.example.org" }, { type: "public", uri: "b.example.org" }] });
  expect(two).toMatchObject({ status: 200, body: { result: { destinations: [{ type: "public", uri: "a.example.org" }, { type: "public", uri: "b.example.org" }] } } });
  const one = await post(APPS, { type: "self_hosted", name: "one", domain: "c.example.org" });
  expect(one.body["result"]).toMatchObject({ destinations: [{ type: "public", uri: "c.example.org" }] });
});

test("one hostname, one application: a destination another application secures is refused on create and update, and moving it is fine once released", async () => {
  const first = await post(APPS, { type: "self_hosted", name: "first", domain: "x.example.org", destinations: [{ type: "public", uri: "x.example.org" }, { type: "public", uri: "y.example.org" }] });
  const clash = await post(APPS, { type: "self_hosted", name: "second", domain: "Y.example.org", destinations: [{ type: "public", uri: "Y.example.org" }] });
  expect(clash).toMatchObject({ status: 400, body: { success: false, errors: [{ code: 12130, message: "access.api.error.conflict: y.example.org is already secured by the application 'first'" }] } });
  const id = (first.body["result"] as { id: string }).id;
  const put = (body: unknown) => fetch(`${cf.baseURL}${APPS}/${id}`, { method: "PUT", headers: { authorization: "Bearer tok", "content-type": "application/json" }, body: JSON.stringify(body) });
  // updating an app with its own hostnames is no clash
  expect((await put({ type: "self_hosted", name: "first", domain: "x.example.org", destinations: [{ type: "public", uri: "x.example.org" }, { type: "public", uri: "y.example.org" }] })).status).toBe(200);
  expect((await put({ type: "self_hosted", name: "first", domain: "x.example.org", destinations: [{ type: "public", uri: "x.example.org" }] })).status).toBe(200);
  expect((await post(APPS, { type: "self_hosted", name: "second", domain: "y.example.org", destinations: [{ type: "public", uri: "y.example.org" }] })).status).toBe(200);
  expect((await put({ type: "self_hosted", name: "first", domain: "y.example.org", destinations: [{ type: "public", uri: "y.example.org" }] })).status).toBe(400);
});

test.each([
  ["a non-public destination", [{ type: "private", cidr: "10.0.0.0/8" }]],
  ["a destination without a uri", [{ type: "public" }]],
  ["destinations that are not a list", { type: "public", uri: "a.example.org" }],
])("an Access application with %s is refused in the error envelope", async (_what, destinations) => {
  const before = (await get(APPS)).body["result"] as unknown[];
  const res = await post(APPS, { type: "self_hosted", name: "bad", domain: "a.example.org", destinations });
  expect(res).toMatchObject({ status: 400, body: { success: false, result: null, errors: [{ code: 12130 }] } });
  expect((await get(APPS)).body["result"]).toEqual(before);
});

test("forbid(ACCESS_PATHS) makes every Access endpoint answer 403 and leaves the rest alone", async () => {
  const own = await startCloudflareStandin({ apiToken: "tok", accounts: ["a".repeat(32)], zones: [{ id: ZONE, name: "example.org" }] });
  try {
    own.forbid(ACCESS_PATHS);
    const auth = { authorization: "Bearer tok", "content-type": "application/json" };
    for (const [method, path] of [["GET", "/access/apps"], ["GET", "/access/policies"], ["POST", "/access/policies"], ["DELETE", "/access/apps/x"]] as const) {
      const res = await fetch(`${own.baseURL}/accounts/${"a".repeat(32)}${path}`, { method, headers: auth, ...(method === "POST" ? { body: "{}" } : {}) });
      expect([method, path, res.status, ((await res.json()) as { errors: unknown[] }).errors]).toEqual([method, path, 403, [{ code: 10000, message: "Authentication error" }]]);
    }
    expect((await fetch(`${own.baseURL}/zones/${ZONE}/dns_records`, { headers: auth })).status).toBe(200);
  } finally {
    await own.stop();
  }
});
