/** `wirebot plan` reads Cloudflare and LiteLLM (the real SDK and client over HTTP, against the stand-ins): drift made there is shown and exits 2; apply's own steps fix it; --local skips; unreachable exits 75. */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import Cloudflare from "cloudflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCloudflareStandin, type CloudflareStandin } from "../../test/cloudflare-standin/server.ts";
import { startStandin, type Standin } from "../../test/litellm-standin/server.ts";
import { planCommand } from "../commands/plan.ts";
import { resolveLayout } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import { EXIT, formatError } from "../errors.ts";
import { failureOf } from "../cli-failure.ts";
import { LiteLlmClient } from "../meter/litellm-client.ts";
import { agentKeySpecs, ensureAgentKeys } from "../meter/litellm-keys.ts";
import { readDriftRecord } from "../drift/record.ts";
import { driftRecordCheck } from "../lifecycle/drift-status.ts";
import { exampleText, removeDir, tempDir, testContext } from "../testing/harness.ts";
import { provisionTunnel } from "../tunnel/cloudflare.ts";
import { tunnelInputs } from "../tunnel/tunnel-inputs.ts";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const ZONE = "fedcba9876543210fedcba9876543210";
const CF_TOKEN = "cf-api-token-NEVER-PRINTED-0987654321";
const AGENT_KEYS: Record<string, string> = { alice: "sk-alice-NEVER-PRINTED-111", bob: "sk-bob-NEVER-PRINTED-222", carol: "sk-carol-NEVER-PRINTED-333", wirebot: "sk-wirebot-NEVER-PRINTED-444" };

let cf: CloudflareStandin;
let ll: Standin;
let root: string;
let text: string;

beforeAll(async () => {
  cf = await startCloudflareStandin({ apiToken: CF_TOKEN, accounts: [ACCOUNT], zones: [{ id: ZONE, name: "wirebot.example.org" }] });
  ll = await startStandin();
  root = tempDir("wb-remote-plan-");
  text = exampleText("three-users")
    .replace(/  backend: bitwarden\n  bitwarden:\n.*\n.*\n/, "  backend: file\n  file: { path: /etc/wirebot/dev-secrets.yaml }\n")
    .replace('baseUrl: "http://127.0.0.1:4000"', `baseUrl: "${ll.url}"`)
    .replace("zoneId: fedcba9876543210fedcba9876543210 }", "zoneId: fedcba9876543210fedcba9876543210, access: { enabled: true, emails: [ops@example.org] } }");
  mkdirSync(path.join(root, "etc/wirebot"), { recursive: true });
  writeFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), text);
  const vault = { "wirebot/cloudflare-api-token": CF_TOKEN, "wirebot/litellm-master-key": ll.masterKey, ...Object.fromEntries(Object.entries(AGENT_KEYS).map(([id, k]) => [`wirebot/litellm-key/${id}`, k])) };
  writeFileSync(path.join(root, "etc/wirebot/dev-secrets.yaml"), Object.entries(vault).map(([k, v]) => `${k}: "${v}"`).join("\n") + "\n", { mode: 0o600 });
});

afterAll(async () => {
  await cf.stop();
  await ll.close();
  removeDir(root);
});

/** What apply's tunnel and keys steps run (commands/integrations.ts), with the same inputs. */
async function applyRemote(): Promise<void> {
  const config = parseConfig(text, "t");
  await provisionTunnel({ client: new Cloudflare({ apiToken: CF_TOKEN, baseURL: cf.baseURL, maxRetries: 0 }), ...tunnelInputs(config, resolveLayout(config))! });
  const client = new LiteLlmClient({ baseUrl: ll.url, adminKey: ll.masterKey });
  await ensureAgentKeys(client, agentKeySpecs(config, AGENT_KEYS));
  await client.close();
}

async function runPlan(opts: { json?: boolean; local?: boolean; record?: boolean } = {}, now?: Date) {
  const ctx = testContext(root, { env: { CLOUDFLARE_BASE_URL: cf.baseURL } });
  if (now) ctx.host.now = () => now;
  ctx.remote = true;
  let code: number;
  try {
    code = await planCommand(ctx, { exitCode: true, ...opts });
  } catch (e) {
    const f = failureOf(e, {});
    ctx.io.err(formatError(f));
    code = f.exitCode;
  }
  const all = ctx.io.text();
  for (const secret of [CF_TOKEN, ll.masterKey, ...Object.values(AGENT_KEYS)]) expect(all).not.toContain(secret);
  return { code, out: ctx.io.stdout.join("\n"), all, json: opts.json && code !== EXIT.tempFail ? (JSON.parse(ctx.io.stdout[0]!) as any) : null };
}

describe("wirebot plan, remote part", () => {
  it("before the first apply: the tunnel, its DNS, Access and every key are to be created; exit 2", async () => {
    const r = await runPlan();
    expect(r.code).toBe(EXIT.pending);
    expect(r.out).toContain("+ Cloudflare tunnel wirebot");
    expect(r.out).toContain("+ Cloudflare dns helm.wirebot.example.org");
    expect(r.out).toContain("+ LiteLLM key wirebot/alice: not registered in LiteLLM");
  });

  it("after apply: local aside, the remote part is empty", async () => {
    await applyRemote();
    const r = await runPlan({ json: true });
    expect(r.json.remote).toEqual({ read: ["cloudflare", "litellm"], skipped: [], changes: [] });
  });

  it("a DNS record deleted, an Access policy edited and a key's budget changed by hand: exactly those, exit 2; apply fixes them; the next plan is empty", async () => {
    const i = cf.records.findIndex((rec) => rec.name === "api.wirebot.example.org");
    cf.records.splice(i, 1);
    cf.policies[0]!.include = [{ email: { email: "intruder@example.net" } }];
    ll.store.findKey(AGENT_KEYS["alice"]!)!.max_budget = 500;

    const r = await runPlan({ json: true });
    expect(r.code).toBe(EXIT.pending);
    expect(r.json.remote.changes.map((c: any) => `${c.system} ${c.action} ${c.kind} ${c.name}`).sort()).toEqual([
      "cloudflare create dns api.wirebot.example.org",
      "cloudflare update access-policy wirebot wirebot helm allowlist",
      "litellm update key wirebot/alice",
    ]);
    expect(r.json.remote.changes.find((c: any) => c.kind === "key").detail).toBe("max_budget: 500 → 20");
    const text = await runPlan();
    expect(text.out).toContain("~ LiteLLM key wirebot/alice: max_budget: 500 → 20");

    await applyRemote();
    const after = await runPlan({ json: true });
    expect(after.json.remote.changes).toEqual([]);
  });

  it("--local reads neither system; a --root tree is not read unless asked", async () => {
    const before = cf.requests.length;
    const r = await runPlan({ local: true, json: true });
    expect(r.json.remote).toBeNull();
    expect(cf.requests.length).toBe(before);
    const ctx = testContext(root);
    await planCommand(ctx, {});
    expect(ctx.io.stdout.join("\n")).toContain("Remote: not read (rendering into");
  });

  it("--record keeps the drift for status, each item since the first check that saw it; a failed check is recorded, the drift kept", async () => {
    const config = parseConfig(`${text}\ndrift: { schedule: hourly }\n`, "t");
    const t1 = new Date("2026-12-07T10:00:00Z");
    const t2 = new Date("2026-12-07T11:00:00Z");
    ll.store.findKey(AGENT_KEYS["bob"]!)!.max_budget = 77;
    expect((await runPlan({ record: true }, t1)).code).toBe(EXIT.pending);
    const first = (await readDriftRecord(testContext(root).host))!;
    const bob = first.drift.find((d) => d.where === "litellm")!;
    expect(bob).toEqual({ where: "litellm", what: "update key wirebot/bob: max_budget: 77 → 10", since: t1.toISOString() });
    expect(first.drift.filter((d) => d.where === "local").length).toBeGreaterThan(0);

    cf.records.splice(cf.records.findIndex((r) => r.name === "helm.wirebot.example.org"), 1);
    await runPlan({ record: true }, t2);
    const second = (await readDriftRecord(testContext(root).host))!;
    expect(second.checkedAt).toBe(t2.toISOString());
    expect(second.drift.find((d) => d.where === "litellm")!.since).toBe(t1.toISOString());
    expect(second.drift.find((d) => d.where === "cloudflare")).toMatchObject({ what: expect.stringMatching(/^create dns helm\.wirebot\.example\.org/), since: t2.toISOString() });

    const ctx = testContext(root);
    ctx.host.now = () => new Date("2026-12-07T11:30:00Z");
    const check = (await driftRecordCheck(ctx.host, config))!;
    expect(check.level).toBe("warn");
    expect(check.summary).toMatch(/^\d+ change\(s\) pending for 90 min \(checked 30 min ago; local \d+, cloudflare 1, litellm 1\): cloudflare: create dns helm/);
    expect(check.summary).toContain("litellm: update key wirebot/bob: max_budget: 77 → 10");

    await ll.close();
    try {
      expect((await runPlan({ record: true })).code).toBe(EXIT.tempFail);
      const failed = (await readDriftRecord(testContext(root).host))!;
      expect(failed.error?.code).toBe("remote.unreachable");
      expect(failed.drift).toEqual(second.drift);
      expect((await driftRecordCheck(ctx.host, config))!.summary).toMatch(/^last check failed \(remote\.unreachable: LiteLLM did not answer/);
    } finally {
      ll = await startStandin({ masterKey: ll.masterKey });
      await applyRemote().catch(() => undefined);
    }
  });

  it("LiteLLM unreachable: exit 75, the service named, the --local way out given", async () => {
    const dead = await startStandin();
    await dead.close();
    const saved = text;
    text = text.replace(`baseUrl: "${ll.url}"`, `baseUrl: "${dead.url}"`);
    writeFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), text);
    try {
      const r = await runPlan();
      expect(r.code).toBe(EXIT.tempFail);
      expect(r.all).toMatch(/LiteLLM did not answer/);
      expect(r.all).toMatch(/wirebot plan --local/);
      expect(r.all).not.toMatch(/\n\s+at /);
    } finally {
      text = saved;
      writeFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), text);
    }
  });
});
