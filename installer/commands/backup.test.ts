/** backup → restore → apply across two temp roots: same data, empty plan, ledger copied online, no secret in the archive. */
import Database from "better-sqlite3";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../config/load.ts";
import { isEmptyPlan, plan } from "../engine/plan.ts";
import { gunzipTar, gzipTar } from "../lifecycle/tar.ts";
import { exampleText, removeDir, snapshotTree, tempDir, testContext } from "../testing/harness.ts";
import { converge } from "./apply.ts";
import { backupCommand, restoreCommand } from "./backup.ts";
import { buildDesired } from "./desired.ts";

let a: string;
let b: string;
let work: string;
beforeEach(() => {
  a = tempDir("wirebot-a-");
  b = tempDir("wirebot-b-");
  work = tempDir("wirebot-bk-");
});
afterEach(() => [a, b, work].forEach(removeDir));

const SECRETS = {
  gatewayToken: "gw-token-7Hq2Lx9Vb4Nm1Zp8",
  agentKey: "sk-litellm-alice-Q4w8E2r6T0y3",
  apiToken: "api-token-Jk3Lm9Nb2Vc7Xz5A",
  bws: "0.bws-access-token-Rt5Yu8Io1Pa4",
  whatsapp: "whatsapp-noise-key-Df6Gh2Jk9Lq3",
  stateEnv: "state-env-provider-key-Mn4Bv7Cx1",
};

function put(root: string, p: string, content: string | Buffer) {
  mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
  writeFileSync(path.join(root, p), content);
}

async function applyRoot(root: string) {
  const ctx = testContext(root);
  const buf = readFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), "utf8");
  await converge(ctx, parseConfig(buf, "t"), buf, {});
  return ctx;
}

/** Root A: an applied appliance with agent state, a workspace, secrets on tmpfs and a live ledger. */
async function seedA() {
  const ctx = testContext(a);
  const text = exampleText("mixed");
  await converge(ctx, parseConfig(text, "mixed"), text, {});
  put(a, "data/wirebot/gateway/agents/alice/agent/openclaw-agent.sqlite", Buffer.from([0, 1, 2, 3, 255]));
  put(a, "data/wirebot/users/alice/workspace/MEMORY.md", "# Alice\nlikes tea\n");
  put(a, "data/wirebot/users/erin/agents/erin/agent/openclaw-agent.sqlite", "erin sessions");
  put(a, "data/wirebot/gateway/credentials/whatsapp/default/creds.json", JSON.stringify({ noiseKey: SECRETS.whatsapp }));
  put(a, "data/wirebot/gateway/.env", `OPENAI_API_KEY=${SECRETS.stateEnv}\n`);
  put(a, "data/wirebot/users/alice/workspace/notes.txt", `pasted by mistake: ${SECRETS.agentKey}\n`);
  put(a, "run/wirebot/gateway.env", `OPENCLAW_GATEWAY_TOKEN="${SECRETS.gatewayToken}"\nLITELLM_KEY_ALICE="${SECRETS.agentKey}"\n`);
  put(a, "run/wirebot/reconcile.env", `WIREBOT_API_TOKEN="${SECRETS.apiToken}"\n`);
  put(a, "etc/wirebot/credstore/bws-access-token", SECRETS.bws);
  mkdirSync(path.join(a, "var/lib/wirebot"), { recursive: true });
  // The daemon's connection stays open with WAL content while the backup runs.
  const db = new Database(path.join(a, "var/lib/wirebot/ledger.sqlite"));
  db.pragma("journal_mode = WAL");
  db.exec("CREATE TABLE spend (request_id TEXT PRIMARY KEY, agent TEXT, nusd INTEGER)");
  const ins = db.prepare("INSERT INTO spend VALUES (?, ?, ?)");
  for (let i = 0; i < 50; i++) ins.run(`req-${i}`, i % 2 ? "alice" : "erin", i * 1000);
  return { ctx, db };
}

const withoutSecrets = (snap: Record<string, string>) =>
  Object.fromEntries(Object.entries(snap).filter(([p]) => !p.includes("credentials") && !p.endsWith(".env") && !p.endsWith("notes.txt")));

describe("wirebot backup and restore", () => {
  it("restore into an empty root followed by apply gives the same data, an empty plan and the same ledger", async () => {
    const { ctx, db } = await seedA();
    const file = path.join(work, "wirebot.tar.gz");
    expect(await backupCommand(ctx, { file })).toBe(0);
    db.close();

    const ctxB = testContext(b);
    expect(await restoreCommand(ctxB, { file })).toBe(0);
    expect(ctxB.io.stdout.join("\n")).toContain("Next: `wirebot apply --root");
    await applyRoot(b);

    expect(snapshotTree(path.join(b, "data"))).toEqual(withoutSecrets(snapshotTree(path.join(a, "data"))));
    expect(readFileSync(path.join(b, "etc/wirebot/wirebot.yaml"), "utf8")).toBe(exampleText("mixed"));
    const text = exampleText("mixed");
    expect(isEmptyPlan(await plan(ctxB.host, await buildDesired(ctxB, parseConfig(text, "t"), text)))).toBe(true);
    const copy = new Database(path.join(b, "var/lib/wirebot/ledger.sqlite"), { readonly: true });
    expect(copy.prepare("SELECT count(*) AS n, sum(nusd) AS s FROM spend").get()).toEqual({ n: 50, s: 1225000 });
    copy.close();
    expect(snapshotTree(b)["var/lib/wirebot/ledger.sqlite"]?.startsWith("600 file")).toBe(true);
    expect(existsSync(path.join(b, "run"))).toBe(false);
    expect(existsSync(path.join(b, "etc/wirebot/credstore/bws-access-token"))).toBe(false);
  });

  it("the archive holds no secret value: not /run/wirebot, not the credstore, not channel credentials, not a file that embeds one", async () => {
    const { ctx, db } = await seedA();
    const file = path.join(work, "wirebot.tar.gz");
    await backupCommand(ctx, { file });
    db.close();
    const raw = gunzipSync(readFileSync(file));
    for (const [name, value] of Object.entries(SECRETS)) expect(raw.includes(Buffer.from(value)), name).toBe(false);
    const paths = gunzipTar(readFileSync(file)).map((e) => e.path);
    expect(paths.some((p) => p.startsWith("run/") || p.includes("credstore") || p.includes("credentials"))).toBe(false);
    expect(snapshotTree(work)["wirebot.tar.gz"]?.startsWith("600 file")).toBe(true);
    for (const v of Object.values(SECRETS)) expect(ctx.io.text()).not.toContain(v);
  });

  it("restore refuses an occupied root unless --force, and an archive with paths outside wirebot's, writing nothing", async () => {
    const { ctx, db } = await seedA();
    const file = path.join(work, "wirebot.tar.gz");
    await backupCommand(ctx, { file });
    db.close();
    const before = snapshotTree(a);
    await expect(restoreCommand(testContext(a), { file })).rejects.toMatchObject({ code: "restore.occupied", kind: "usage" });
    expect(snapshotTree(a)).toEqual(before);

    const evil = path.join(work, "evil.tar.gz");
    const entries = gunzipTar(readFileSync(file));
    writeFileSync(evil, gzipTar([...entries, { path: "data/wirebot/../../etc/shadow", type: "file", mode: 0o600, content: Buffer.from("x") }], new Date()));
    await expect(restoreCommand(testContext(b), { file: evil })).rejects.toMatchObject({ code: "restore.paths", kind: "config" });
    expect(snapshotTree(b)).toEqual({});
  });

  it("the tar writer round-trips long names, binary content and modes", () => {
    const long = `data/wirebot/users/${"x".repeat(30)}/${"y".repeat(60)}/${"z".repeat(40)}.md`;
    const out = gunzipTar(gzipTar([{ path: "d", type: "dir", mode: 0o700 }, { path: long, type: "file", mode: 0o640, content: Buffer.from([0, 255, 10]) }], new Date()));
    expect(out).toEqual([{ path: "d", type: "dir", mode: 0o700 }, { path: long, type: "file", mode: 0o640, content: Buffer.from([0, 255, 10]) }]);
  });
});
