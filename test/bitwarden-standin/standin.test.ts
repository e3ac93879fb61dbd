/** The stand-in against the real @bitwarden/sdk-napi over real HTTP: login (with and without state), reads, create, refusals. */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { BitwardenClient } from "@bitwarden/sdk-napi";
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from "vitest";
import { decString, deriveAccessTokenKey, encString, parseAccessToken } from "./crypto.ts";
import { startStandin, type Standin } from "./server.ts";

const WARN = 3; // LogLevel is a const enum the package does not export at runtime

describe("crypto", () => {
  test("derives the access-token key of the SDK's own test vector", () => {
    const t = parseAccessToken("0.ec2c1d46-6a4b-4751-a310-af9601317f2d.C2IgxjjLF7qSshsbwe8JGcbM075YXw:X8vbvA0bduihIDe/qrzIQQ==");
    const k = deriveAccessTokenKey(t.key16);
    expect(Buffer.concat([k.enc, k.mac]).toString("base64")).toBe("H9/oIRLtL9nGCQOVDjSMoEbJsjWXSOCb3qeyDt6ckzS3FhyboEDWyTP/CQfbIszNmAVg2ExFganG1FVFGXO/Jg==");
  });

  test("EncString round-trips and a flipped MAC is refused", () => {
    const key = deriveAccessTokenKey(Buffer.alloc(16, 7));
    const s = encString(key, "héllo wörld");
    expect(decString(key, s)).toBe("héllo wörld");
    const [head, ct, mac] = s.split("|") as [string, string, string];
    const bad = Buffer.from(mac, "base64");
    bad[0] = bad[0]! ^ 1;
    expect(() => decString(key, `${head}|${ct}|${bad.toString("base64")}`)).toThrow(/MAC/);
  });
});

describe("real SDK against the stand-in", () => {
  let s: Standin;
  let dir: string;
  const client = () => new BitwardenClient({ apiUrl: s.apiUrl, identityUrl: s.identityUrl }, WARN);

  beforeAll(async () => {
    vi.stubEnv("NO_PROXY", "127.0.0.1");
    s = await startStandin();
    dir = await mkdtemp("/dev/shm/wirebot-standin-");
  });
  afterAll(async () => {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    s.requests.length = 0;
  });

  test("login without a state file, then list, get, getByIds, sync", async () => {
    const token = s.addMachineAccount();
    const a = s.addSecret("test/alpha", "value-alpha", { note: "n1" });
    const b = s.addSecret("test/beta", "value-beta");
    s.addSecret("test/elsewhere", "not-readable", { projectId: "00000000-0000-4000-8000-00000000dead" });
    const c = client();
    await c.auth().loginAccessToken(token.text);

    const list = await c.secrets().list(s.organizationId);
    expect(list.data.map((x) => x.key).sort()).toEqual(expect.arrayContaining(["test/alpha", "test/beta"]));
    expect(list.data.map((x) => x.key)).not.toContain("test/elsewhere");

    const one = await c.secrets().get(a);
    expect(one).toMatchObject({ id: a, key: "test/alpha", value: "value-alpha", note: "n1", projectId: s.projectId, organizationId: s.organizationId });

    const both = await c.secrets().getByIds([a, b]);
    expect(both.data.map((x) => x.value).sort()).toEqual(["value-alpha", "value-beta"]);

    const sync = await c.secrets().sync(s.organizationId);
    expect(sync.hasChanges).toBe(true);
    expect(sync.secrets?.map((x) => x.key)).toEqual(expect.arrayContaining(["test/alpha", "test/beta"]));
    expect(s.requests.filter((r) => r.path === "/identity/connect/token")).toHaveLength(1);
  });

  test("a state file lets a second login skip /connect/token", async () => {
    const token = s.addMachineAccount();
    const state = path.join(dir, "state");
    await client().auth().loginAccessToken(token.text, state);
    const text = await readFile(state, "utf8");
    // EncString under the access-token key: the JWT and org key are not readable in the file.
    expect(text).toMatch(/^2\./);
    expect(JSON.parse(decString(deriveAccessTokenKey(token.key16), text))).toMatchObject({ version: 1 });

    const second = client();
    await second.auth().loginAccessToken(token.text, state);
    await second.secrets().list(s.organizationId);
    expect(s.requests.filter((r) => r.path === "/identity/connect/token")).toHaveLength(1);
  });

  test("a pre-created 0600 state file keeps its mode when the SDK writes it", async () => {
    const token = s.addMachineAccount();
    const state = path.join(dir, "state-0600");
    await writeFile(state, "", { mode: 0o600 });
    await client().auth().loginAccessToken(token.text, state);
    const st = await stat(state);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.size).toBeGreaterThan(0);
  });

  test("create encrypts under the org key, into the project; without write access the server says 404", async () => {
    const token = s.addMachineAccount();
    const c = client();
    await c.auth().loginAccessToken(token.text);
    const created = await c.secrets().create(s.organizationId, "test/created", "created-value", "a note", [s.projectId]);
    expect(created).toMatchObject({ key: "test/created", value: "created-value", projectId: s.projectId });
    expect(s.plainSecrets().find((x) => x.key === "test/created")).toMatchObject({ value: "created-value", note: "a note", projectId: s.projectId });

    const readOnly = s.addMachineAccount({ write: [] });
    const r = client();
    await r.auth().loginAccessToken(readOnly.text);
    await expect(r.secrets().create(s.organizationId, "test/nope", "v", "", [s.projectId])).rejects.toThrow(/\[404 Not Found\]/);
  });

  test("a wrong client secret is refused with invalid_client and the secret is not in the error", async () => {
    const token = s.addMachineAccount();
    const wrong = token.text.replace(`.${token.clientSecret}:`, ".WrongSecretWrongSecret00:");
    const err = await client().auth().loginAccessToken(wrong).catch((e: Error) => e);
    expect(String(err)).toMatch(/400 Bad Request.*invalid_client/);
    expect(String(err)).not.toContain("WrongSecretWrongSecret00");
    expect(String(err)).not.toContain(token.clientSecret);
  });

  test("a wrong key part logs in at the server but fails the MAC locally", async () => {
    const token = s.addMachineAccount();
    const wrong = `${token.text.split(":")[0]}:${Buffer.alloc(16, 1).toString("base64")}`;
    await expect(client().auth().loginAccessToken(wrong)).rejects.toThrow(/MAC/);
  });

  test("at Debug level the SDK prints the client secret: the reason wirebot never enables it", async () => {
    const token = s.addMachineAccount();
    const script = `
      const { BitwardenClient } = require("@bitwarden/sdk-napi");
      const c = new BitwardenClient({ apiUrl: process.argv[1], identityUrl: process.argv[2] }, 1);
      c.auth().loginAccessToken(require("fs").readFileSync(0, "utf8")).then(() => process.exit(0), () => process.exit(1));`;
    // Asynchronous on purpose: the stand-in answers from this process's event loop.
    const stderr = await new Promise<string>((resolve, reject) => {
      const child = execFile(process.execPath, ["-e", script, s.apiUrl, s.identityUrl], { cwd: process.cwd(), env: { ...process.env, NO_PROXY: "127.0.0.1" } }, (err, _out, errText) =>
        err ? reject(err) : resolve(errText),
      );
      child.stdin?.end(token.text);
    });
    expect(stderr).toContain(token.clientSecret);
  });
});
