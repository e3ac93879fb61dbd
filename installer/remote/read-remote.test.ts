/**
 * `wirebot plan` reads Cloudflare, LiteLLM and the runtime's plugins (the real SDK and client over HTTP,
 * against the stand-ins, on a live box): drift made there is shown and exits 2; the real apply fixes it and
 * the next plan is empty; --local skips; unreachable exits 75.
 */
import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { BOX_SECRETS, startLiveBox, type LiveBox } from "../../test/support/live-box.ts";
import { startStandin, type Standin } from "../../test/litellm-standin/server.ts";
import type { CloudflareStandin } from "../../test/cloudflare-standin/server.ts";
import { planCommand } from "../commands/plan.ts";
import { parseConfig } from "../config/load.ts";
import { EXIT, formatError } from "../errors.ts";
import { failureOf } from "../cli-failure.ts";
import { readDriftRecord } from "../drift/record.ts";
import { driftRecordCheck } from "../lifecycle/drift-status.ts";
import { converge } from "../pipeline/converge.ts";
import { exampleText, testContext } from "../testing/harness.ts";

let box: LiveBox;
let cf: CloudflareStandin;
let ll: Standin;
let root: string;
let text: string;

beforeAll(async () => {
  box = await startLiveBox();
  ({ cf, litellm: ll, root } = box);
  text = box
    .boxText(exampleText("three-users"))
    .replace("zoneId: fedcba9876543210fedcba9876543210 }", "zoneId: fedcba9876543210fedcba9876543210, access: { enabled: true, emails: [ops@example.org] } }");
  writeFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), text);
});

afterAll(async () => {
  if (ll !== box.litellm) await ll.close();
  await box.close();
});

/** The real apply on the box: the converge `wirebot apply` runs (tunnel, Access, keys, plugin, secrets, units, verify). */
async function apply(): Promise<void> {
  await converge(box.context(), parseConfig(text, "t"), text, {});
}

/** Every secret value the box holds: the admin credentials, and every key the vault has (apply generates the agents'). */
const secretValues = () => [...Object.values(BOX_SECRETS), ...Object.values(parse(readFileSync(path.join(root, "etc/wirebot/dev-secrets.yaml"), "utf8")) as Record<string, string>)];
const agentKey = (id: string) => (parse(readFileSync(path.join(root, "etc/wirebot/dev-secrets.yaml"), "utf8")) as Record<string, string>)[`wirebot/litellm-key/${id}`]!;

async function runPlan(opts: { json?: boolean; local?: boolean; record?: boolean } = {}, now?: Date) {
  const ctx = box.context();
  if (now) ctx.host.now = () => now;
  let code: number;
  try {
    code = await planCommand(ctx, { exitCode: true, ...opts });
  } catch (e) {
    const f = failureOf(e, {});
    ctx.io.err(formatError(f));
    code = f.exitCode;
  }
  const all = ctx.io.text();
  for (const secret of secretValues()) expect(all).not.toContain(secret);
  return { code, out: ctx.io.stdout.join("\n"), all, json: opts.json && code !== EXIT.tempFail ? (JSON.parse(ctx.io.stdout[0]!) as any) : null };
}

describe("wirebot plan, remote part", () => {
  it("before the first apply: the tunnel, its DNS, Access, every key and the WhatsApp plugin are to be created; exit 2", async () => {
    const r = await runPlan();
    expect(r.code).toBe(EXIT.pending);
    expect(r.out).toContain("+ Cloudflare tunnel wirebot");
    expect(r.out).toContain("+ Cloudflare dns helm.wirebot.example.org");
    expect(r.out).toContain("+ LiteLLM key wirebot/alice: new key (generated into the vault by apply)");
    expect(r.out).toContain("+ runtime plugin @openclaw/whatsapp: absent → 2026.9.6 (a user has a WhatsApp channel)");
  });

  it("after apply: local and remote, nothing left to do", async () => {
    await apply();
    const r = await runPlan({ json: true });
    expect(r.json.remote).toEqual({ read: ["runtime", "cloudflare", "litellm"], skipped: [], changes: [] });
    expect(r.json.changes).toEqual([]);
    expect(r.code).toBe(EXIT.ok);
  });

  it("a DNS record deleted, an Access policy edited, a key's budget and models changed by hand, the WhatsApp plugin deleted: exactly those, exit 2; the real apply fixes them; the next plan is empty", async () => {
    const i = cf.records.findIndex((rec) => rec.name === "api.wirebot.example.org");
    cf.records.splice(i, 1);
    cf.policies[0]!.include = [{ email: { email: "intruder@example.net" } }];
    ll.store.findKey(agentKey("alice"))!.max_budget = 500;
    ll.store.findKey(agentKey("bob"))!.models = ["o3"];
    // someone "cleans up" the runtime's node_modules
    rmSync(path.join(root, "opt/wirebot/runtime/openclaw-2026.9.6/node_modules/@openclaw/whatsapp"), { recursive: true });

    const r = await runPlan({ json: true });
    expect(r.code).toBe(EXIT.pending);
    expect(r.json.remote.changes.map((c: any) => `${c.system} ${c.action} ${c.kind} ${c.name}`).sort()).toEqual([
      "cloudflare create dns api.wirebot.example.org",
      "cloudflare update access-policy wirebot wirebot helm allowlist",
      "litellm update key wirebot/alice",
      "litellm update key wirebot/bob",
      "runtime create plugin @openclaw/whatsapp",
    ]);
    expect(r.json.remote.changes.find((c: any) => c.name === "wirebot/alice").detail).toBe("max_budget: 500 → 20");
    expect(r.json.remote.changes.find((c: any) => c.name === "wirebot/bob").detail).toBe("models: o3 → claude-haiku-3-5, gpt-4o-mini");
    const shown = await runPlan();
    expect(shown.out).toContain("~ LiteLLM key wirebot/alice: max_budget: 500 → 20");

    await apply();
    const after = await runPlan({ json: true });
    expect(after.json.remote.changes).toEqual([]);
    expect(after.code).toBe(EXIT.ok);
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
    ll.store.findKey(agentKey("bob"))!.max_budget = 77;
    // and a local change: a user's directory opened up by hand
    chmodSync(path.join(root, "data/wirebot/users/alice"), 0o755);
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
      // LiteLLM back (on a new port, as after a redeploy): the box's config follows it
      const back = await startStandin({ masterKey: ll.masterKey });
      text = text.replace(`baseUrl: "${ll.url}"`, `baseUrl: "${back.url}"`);
      ll = back;
      writeFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), text);
      await apply().catch(() => undefined);
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
