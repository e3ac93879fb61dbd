/** The live apply's tunnel step with the real SDK against the Cloudflare stand-in: the vault always holds the current tunnel token; Access per Control UI. */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { parse, stringify } from "yaml";
import { KNOWN, testConfig, tmpfsRoot } from "../../test/bitwarden-standin/fixtures.ts";
import { startCloudflareStandin, type CloudflareStandin } from "../../test/cloudflare-standin/server.ts";
import { PATHS } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import { TUNNEL_UNIT } from "../config/units.ts";
import { testContext } from "../testing/harness.ts";
import { liveHooks } from "./live-hooks.ts";
import { buildDesired } from "./desired.ts";
import { readAccessFacts } from "../tunnel/access-facts-file.ts";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const ZONE = "fedcba9876543210fedcba9876543210";
const API_TOKEN = "cf-api-token-DO-NOT-LEAK-1234567890";
const SECRETS_FILE = "/etc/wirebot/dev-secrets.yaml";
const TUNNEL_TOKEN_NAME = "wirebot/tunnel-token/wirebot";

let cf: CloudflareStandin;
let root: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  cf = await startCloudflareStandin({ apiToken: API_TOKEN, accounts: [ACCOUNT], zones: [{ id: ZONE, name: "wirebot.example.org" }] });
  ({ root, cleanup } = await tmpfsRoot());
  await mkdir(path.join(root, "etc/wirebot"), { recursive: true });
  // a vault without a tunnel token: the first apply creates the tunnel and stores its token
  const { [TUNNEL_TOKEN_NAME]: _seeded, ...known } = KNOWN;
  await writeFile(path.join(root, SECRETS_FILE), stringify({ ...known, "wirebot/cloudflare-api-token": API_TOKEN }), { mode: 0o600 });
});
afterEach(async () => {
  await cf.stop();
  await cleanup();
});

function config(): Config {
  const c = testConfig({ backend: "file", filePath: SECRETS_FILE });
  return { ...c, secrets: { ...c.secrets, map: { ...c.secrets.map, CLOUDFLARE_API_TOKEN: "wirebot/cloudflare-api-token" } } };
}

const vault = async () => new Map(Object.entries(parse(await readFile(path.join(root, SECRETS_FILE), "utf8")) as Record<string, string>));
const tokenFile = async () => (await readFile(path.join(root, PATHS.tunnelToken), "utf8")).trim();

test("a tunnel recreated in Cloudflare gets its new token written to the vault, pulled to tmpfs, and cloudflared restarted", async () => {
  const ctx = testContext(root, { env: { CLOUDFLARE_BASE_URL: cf.baseURL } });
  const hooks = (await liveHooks(ctx, config()));

  // first apply: the tunnel is created and its token stored once
  await hooks.beforeSecrets!();
  const first = (await vault()).get(TUNNEL_TOKEN_NAME);
  expect(first).toBeDefined();
  expect(JSON.parse(Buffer.from(first!, "base64").toString("utf8"))).toMatchObject({ a: ACCOUNT, t: cf.tunnels[0]!.id });
  expect(await hooks.refreshSecrets!()).toContain(TUNNEL_UNIT);
  expect(await tokenFile()).toBe(first);
  expect(ctx.io.text()).not.toContain("updated vault secret");

  // an unchanged tunnel: nothing written, nothing restarted
  await hooks.beforeSecrets!();
  expect((await vault()).get(TUNNEL_TOKEN_NAME)).toBe(first);
  expect(await hooks.refreshSecrets!()).not.toContain(TUNNEL_UNIT);
  expect(ctx.io.text()).not.toContain("updated vault secret");

  // someone deletes the tunnel in the dashboard: the next apply creates a new one with a new token
  cf.tunnels[0]!.deleted_at = new Date().toISOString();
  await hooks.beforeSecrets!();
  const second = (await vault()).get(TUNNEL_TOKEN_NAME);
  const live = cf.tunnels.filter((t) => t.deleted_at === null);
  expect(live).toHaveLength(1);
  expect(JSON.parse(Buffer.from(second!, "base64").toString("utf8"))).toMatchObject({ t: live[0]!.id, s: live[0]!.secret });
  expect(ctx.io.text()).toContain(`updated vault secret '${TUNNEL_TOKEN_NAME}'`);
  expect(await hooks.refreshSecrets!()).toContain(TUNNEL_UNIT);
  expect(await tokenFile()).toBe(second);

  // no token value and no API token in anything printed
  for (const v of [first!, second!, API_TOKEN]) expect(ctx.io.text()).not.toContain(v);
});

test("apply puts each Control UI behind its own Access application: helm admits the admin e-mails, helm-eli eli's own", async () => {
  const c = config();
  const withAccess: Config = {
    ...c,
    tunnel: { ...c.tunnel, access: { enabled: true, emails: ["ops@example.org"] } },
    // dana is shared: her e-mail must grant nothing
    users: c.users.map((u) => ({ ...u, email: `${u.id}@example.org` })),
  };
  const ctx = testContext(root, { env: { CLOUDFLARE_BASE_URL: cf.baseURL } });
  await (await liveHooks(ctx, withAccess)).beforeSecrets!();
  const admitted = Object.fromEntries(
    cf.apps.map((a) => [a.destinations.map((d) => d.uri).join(" "), a.policies.flatMap((l) => cf.policies.find((p) => p.id === l.id)!.include)]),
  );
  expect(admitted).toEqual({
    "helm.wirebot.example.org": [{ email: { email: "ops@example.org" } }],
    "helm-eli.wirebot.example.org": [{ email: { email: "eli@example.org" } }],
  });
  expect(ctx.io.text()).toContain("create access-app wirebot wirebot helm-eli");

  // The origin check: the AUD tags Cloudflare gave are kept on the host, so the next render of the tunnel
  // config carries them; a second run with nothing changed restarts nothing.
  expect(await readAccessFacts(ctx.host)).toEqual({ teamName: "wirebot-team", aud: Object.fromEntries(cf.apps.map((a) => [a.domain, a.aud])) });
  expect(await (await liveHooks(ctx, withAccess)).beforeSecrets!()).toEqual([]);
  const desired = await buildDesired(ctx, withAccess, "");
  const yaml = (desired.resources.find((r) => r.path === PATHS.tunnelConfig) as { content: string }).content;
  for (const a of cf.apps) expect(yaml).toContain(a.aud);
});
