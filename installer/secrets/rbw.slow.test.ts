/** The rbw backend against a stand-in rbw on PATH (a node process per call, hence slow): values only on stdin/stdout, exact names, locked vault. */
import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { secretsPullCommand } from "../commands/secrets.ts";
import { PATHS } from "../config/layout.ts";
import type { ExecOptions } from "../host/host.ts";
import { createNodeHost } from "../host/node-host.ts";
import { captureIo } from "../io.ts";
import { parseEnvFile } from "./env-file.ts";
import { createRbwBackend } from "./rbw.ts";
import { FAST_RETRY, GENERATED_NAMES, KNOWN, testConfig, tmpfsRoot } from "../../test/bitwarden-standin/fixtures.ts";

const FAKE_DIR = path.resolve("test/fake-rbw");
let root: string;
let cleanup: () => Promise<void>;
let db: string;
let calls: { cmd: string; args: string[]; opts: ExecOptions | undefined }[];

beforeEach(async () => {
  ({ root, cleanup } = await tmpfsRoot());
  await mkdir(path.join(root, "rbw"), { recursive: true });
  db = path.join(root, "rbw", "db.json");
  calls = [];
});
afterEach(async () => cleanup());

async function seed(entries: { name: string; password: string; folder?: string; notes?: string }[]) {
  await writeFile(db, JSON.stringify(entries), { mode: 0o600 });
}

function host(env: Record<string, string> = {}) {
  const base = createNodeHost({ root });
  return createNodeHost({
    root,
    env: { PATH: `${FAKE_DIR}:${process.env["PATH"]}`, HOME: root, FAKE_RBW_DB: db, FAKE_RBW_ARGV_LOG: path.join(root, "rbw", "argv.log"), ...env },
    exec: async (cmd, args, opts) => {
      calls.push({ cmd, args, opts });
      return base.exec(cmd, args, opts);
    },
  });
}

const known = () => Object.entries(KNOWN).map(([name, password]) => ({ name, password }));

test("pulls through rbw, adds generated secrets through the editor buffer on stdin, never a value in argv", async () => {
  await seed(known());
  const io = captureIo();
  expect(await secretsPullCommand({}, testConfig({ backend: "rbw" }), host(), io, { retry: FAST_RETRY }), io.text()).toBe(0);

  const vault = JSON.parse(await readFile(db, "utf8")) as { name: string; password: string }[];
  for (const n of GENERATED_NAMES) expect(vault.find((e) => e.name === n), n).toBeDefined();
  const gw = parseEnvFile(await readFile(path.join(root, PATHS.gatewayEnv), "utf8"));
  expect(gw.get("OPENCLAW_GATEWAY_TOKEN")).toBe(vault.find((e) => e.name === "wirebot/gateway-token")!.password);
  expect(gw.get("BRAVE_API_KEY")).toBe(KNOWN["wirebot/brave-api-key"]);

  const values = vault.map((e) => e.password);
  const argvs = [...calls.map((c) => [c.cmd, ...c.args]), ...(await readFile(path.join(root, "rbw", "argv.log"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as string[])];
  for (const argv of argvs) for (const v of values) expect(argv.join(" "), "argv").not.toContain(v);
  // generated values went in on stdin
  const adds = calls.filter((c) => c.args[0] === "add");
  expect(adds).toHaveLength(GENERATED_NAMES.length);
  for (const a of adds) expect(values).toContain(a.opts?.input?.trimEnd());
  const status = await readFile(path.join(root, "/run/wirebot/pull-status.json"), "utf8");
  for (const v of values) {
    expect(io.text()).not.toContain(v);
    expect(status).not.toContain(v);
  }

  // second pull: nothing added again
  calls = [];
  expect(await secretsPullCommand({}, testConfig({ backend: "rbw" }), host(), captureIo(), { retry: FAST_RETRY })).toBe(0);
  expect(calls.filter((c) => c.args[0] === "add")).toHaveLength(0);
});

test("an rbw partial-name match is never taken for a missing secret", async () => {
  await seed([...known(), { name: "wirebot/gateway-token/eli", password: "ELI-ONLY-gateway-token-value" }]);
  expect(await secretsPullCommand({}, testConfig({ backend: "rbw" }), host(), captureIo(), { retry: FAST_RETRY })).toBe(0);
  const gw = parseEnvFile(await readFile(path.join(root, PATHS.gatewayEnv), "utf8"));
  expect(gw.get("OPENCLAW_GATEWAY_TOKEN")).not.toBe("ELI-ONLY-gateway-token-value");
  const eli = parseEnvFile(await readFile(path.join(root, PATHS.runUsersDir, "eli.env"), "utf8"));
  expect(eli.get("OPENCLAW_GATEWAY_TOKEN")).toBe("ELI-ONLY-gateway-token-value");
});

test("secrets.rbw.folder restricts reads and writes to that folder", async () => {
  await seed([...known().map((e) => ({ ...e, folder: "wirebot" })), { name: "wirebot/litellm-master-key", password: "WRONG-FOLDER-master", folder: "other" }]);
  expect(await secretsPullCommand({}, testConfig({ backend: "rbw", rbwFolder: "wirebot" }), host(), captureIo(), { retry: FAST_RETRY })).toBe(0);
  const rec = parseEnvFile(await readFile(path.join(root, PATHS.reconcileEnv), "utf8"));
  expect(rec.get("LITELLM_MASTER_KEY")).toBe(KNOWN["wirebot/litellm-master-key"]);
  const vault = JSON.parse(await readFile(db, "utf8")) as { name: string; folder?: string }[];
  expect(vault.find((e) => e.name === "wirebot/api-token")?.folder).toBe("wirebot");
});

test("a locked vault is 78 with the fix; a missing rbw is 69; a failing sync is 75", async () => {
  await seed(known());
  const locked = captureIo();
  expect(await secretsPullCommand({}, testConfig({ backend: "rbw" }), host({ FAKE_RBW_LOCKED: "1" }), locked, { retry: FAST_RETRY })).toBe(78);
  expect(locked.text()).toContain("rbw unlock");

  const missing = captureIo();
  expect(await secretsPullCommand({}, testConfig({ backend: "rbw" }), host({ PATH: "/nonexistent" }), missing, { retry: FAST_RETRY })).toBe(69);

  const sync = captureIo();
  expect(await secretsPullCommand({}, testConfig({ backend: "rbw" }), host({ FAKE_RBW_SYNC_FAIL: "1" }), sync, { retry: FAST_RETRY })).toBe(75);
  expect(await readFile(path.join(root, PATHS.gatewayEnv)).catch(() => null)).toBeNull();
  await appendFile(db, ""); // db untouched by failures
});

test("update rewrites the exact entry through `rbw edit` on stdin, keeps its note, and puts no value in argv", async () => {
  await seed([
    { name: "wirebot/tunnel-token/wirebot", password: "OLD-tunnel-token-value", folder: "wirebot", notes: "rotated by wirebot apply" },
    { name: "wirebot/tunnel-token/wirebot-2", password: "OTHER-tunnel-token-value", folder: "wirebot" },
  ]);
  const backend = createRbwBackend({ host: host(), folder: "wirebot" });
  await backend.update("wirebot/tunnel-token/wirebot", "NEW-tunnel-token-value");
  expect((await backend.get(["wirebot/tunnel-token/wirebot"])).get("wirebot/tunnel-token/wirebot")).toBe("NEW-tunnel-token-value");

  const vault = JSON.parse(await readFile(db, "utf8")) as { name: string; password: string; notes?: string }[];
  expect(vault.find((e) => e.name === "wirebot/tunnel-token/wirebot")).toMatchObject({ password: "NEW-tunnel-token-value", notes: "rotated by wirebot apply" });
  expect(vault.find((e) => e.name === "wirebot/tunnel-token/wirebot-2")?.password).toBe("OTHER-tunnel-token-value");
  const argvs = (await readFile(path.join(root, "rbw", "argv.log"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as string[]);
  expect(argvs).toContainEqual(["rbw", "edit", "--folder", "wirebot", "wirebot/tunnel-token/wirebot"]);
  for (const argv of argvs) expect(argv.join(" ")).not.toMatch(/tunnel-token-value/);

  // a name rbw does not hold is a clear error, not an `rbw edit` of some partial match
  await expect(backend.update("wirebot/tunnel-token/gone", "x-value")).rejects.toMatchObject({ code: "secrets.update-missing" });
  expect(JSON.parse(await readFile(db, "utf8"))).toHaveLength(2);
});
