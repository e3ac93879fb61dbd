/**
 * The rbw backend against the rbw stand-in (client, agent, pinentry; a node process each, hence slow): the agent lives
 * where wirebot-secrets.service looks for it (<root>/run/wirebot/rbw/socket), values travel only on stdin/stdout,
 * exact names only, locked or absent agent, failing sync.
 */
import { readdir, readFile, rename, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
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
import { FAKE_RBW_DIR, rbwAgentAlive, setupRbwVault, stopAllRbwAgents, type RbwServerEntry, type RbwVault } from "../../test/fake-rbw/setup.ts";

const EMAIL = "ops@wirebot.example.org";
const MASTER = "correct horse battery staple, the vault's master password";

let root: string;
let cleanup: () => Promise<void>;
let home: string;
let argvLog: string;
let vault: RbwVault;
let calls: { cmd: string; args: string[]; opts: ExecOptions | undefined }[];

beforeEach(async () => {
  ({ root, cleanup } = await tmpfsRoot());
  // root's HOME inside the test root; the agent where the unit finds it, /run/wirebot/rbw
  home = path.join(root, "root");
  argvLog = path.join(root, "argv.log");
  calls = [];
});
afterEach(async () => {
  await stopAllRbwAgents();
  await cleanup();
});

/** What `wirebot secrets unlock` leaves behind: an agent at <root>/run/wirebot/rbw/socket, unlocked, and no pinentry answer left. */
async function seed(entries: RbwServerEntry[]) {
  vault = await setupRbwVault({
    home,
    runtimeDir: path.join(root, PATHS.runDir),
    serverFile: path.join(root, "srv/bitwarden/server.json"),
    email: EMAIL,
    master: MASTER,
    entries,
    pinentryFile: path.join(root, "srv/master-password"),
    argvLog,
  });
  // a boot-time unit has nobody to answer pinentry: any prompt from here on fails
  await rm(vault.pinentryFile);
}

function host(env: Record<string, string> = {}) {
  const base = createNodeHost({ root });
  return createNodeHost({
    root,
    // XDG_RUNTIME_DIR as a login shell has it: the backend must send rbw to /run/wirebot's agent instead
    env: { PATH: `${FAKE_RBW_DIR}:${process.env["PATH"]}`, HOME: home, XDG_RUNTIME_DIR: path.join(root, "run/user/0"), FAKE_RBW_ARGV_LOG: argvLog, ...env },
    exec: async (cmd, args, opts) => {
      calls.push({ cmd, args, opts });
      return base.exec(cmd, args, opts);
    },
  });
}

const known = () => Object.entries(KNOWN).map(([name, password]) => ({ name, password }));
const argvs = async () => (await readFile(argvLog, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as string[]);

test("pulls through rbw, adds generated secrets through the buffer on stdin, never a value in argv or in rbw's cache", async () => {
  await seed(known());
  const io = captureIo();
  expect(await secretsPullCommand({}, testConfig({ backend: "rbw" }), host(), io, { retry: FAST_RETRY }), io.text()).toBe(0);

  const server = (await vault.readServer()).entries;
  for (const n of GENERATED_NAMES) expect(server.find((e) => e.name === n), n).toBeDefined();
  const gw = parseEnvFile(await readFile(path.join(root, PATHS.gatewayEnv), "utf8"));
  expect(gw.get("OPENCLAW_GATEWAY_TOKEN")).toBe(server.find((e) => e.name === "wirebot/gateway-token")!.password);
  expect(gw.get("BRAVE_API_KEY")).toBe(KNOWN["wirebot/brave-api-key"]);

  // every rbw call went to the agent under /run/wirebot, none to the login's runtime dir
  expect(existsSync(path.join(root, "run/user/0/rbw"))).toBe(false);
  expect(rbwAgentAlive(vault.pidFile)).toBe(true);
  const values = server.map((e) => e.password!);
  for (const argv of [...calls.map((c) => [c.cmd, ...c.args]), ...(await argvs())]) for (const v of [...values, MASTER]) expect(argv.join(" "), "argv").not.toContain(v);
  // no pinentry after the unlock: the pull needed no one to type anything
  expect((await argvs()).filter((a) => a[0] === "pinentry-file")).toHaveLength(1);
  const adds = calls.filter((c) => c.args[0] === "add");
  expect(adds).toHaveLength(GENERATED_NAMES.length);
  for (const a of adds) expect(values).toContain(a.opts?.input?.trimEnd());
  // rbw's on-disk cache holds the new secrets too, encrypted
  const cache = await readFile(vault.dbFile, "utf8");
  expect(JSON.parse(cache).entries).toHaveLength(server.length);
  const status = await readFile(path.join(root, "/run/wirebot/pull-status.json"), "utf8");
  for (const v of [...values, ...server.map((e) => e.name)]) expect(cache).not.toContain(v);
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
  // what rbw itself would hand out for the missing name: the partial match
  expect((await vault.rbw(["get", "wirebot/gateway-token"])).stdout).toBe("ELI-ONLY-gateway-token-value\n");
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
  const server = (await vault.readServer()).entries;
  expect(server.find((e) => e.name === "wirebot/api-token")?.folder).toBe("wirebot");
  expect(server.find((e) => e.name === "wirebot/litellm-master-key" && e.folder === "other")?.password).toBe("WRONG-FOLDER-master");
});

test("a missing rbw is 69; a failing sync is 75; a locked, stopped or never started agent is 78 with the fix", async () => {
  await seed(known());
  const pull = async (env: Record<string, string> = {}) => {
    const io = captureIo();
    const code = await secretsPullCommand({}, testConfig({ backend: "rbw" }), host(env), io, { retry: FAST_RETRY });
    expect(await readFile(path.join(root, PATHS.gatewayEnv)).catch(() => null), io.text()).toBeNull();
    return { code, text: io.text() };
  };

  expect((await pull({ PATH: "/nonexistent" })).code).toBe(69);

  // the server unreachable: rbw sync fails as on a network error
  const away = `${vault.serverFile}.away`;
  await rename(vault.serverFile, away);
  const sync = await pull();
  expect(sync.code, sync.text).toBe(75);
  expect(sync.text).toContain("failed to sync database from server");
  await rename(away, vault.serverFile);

  expect((await vault.rbw(["lock"])).code).toBe(0);
  const locked = await pull();
  expect(locked.code, locked.text).toBe(78);
  expect(locked.text).toContain("wirebot secrets unlock");
  // nobody answers pinentry: the pull left the agent locked, and asked no pinentry
  expect((await vault.rbw(["unlocked"])).stderr).toBe("rbw unlocked: agent is locked\n");

  // a stopped agent leaves its socket file behind, as real rbw-agent does; the pull does not start one
  expect((await vault.rbw(["stop-agent"])).code).toBe(0);
  expect(existsSync(vault.socket)).toBe(true);
  const stopped = await pull();
  expect(stopped.code, stopped.text).toBe(78);
  expect(stopped.text).toContain("wirebot secrets unlock");
  expect(rbwAgentAlive(vault.pidFile)).toBe(false);

  // after a reboot /run is empty: no socket at all
  await rm(path.dirname(vault.socket), { recursive: true });
  const fresh = await pull();
  expect(fresh.code, fresh.text).toBe(78);
  expect(fresh.text).toContain("wirebot secrets unlock");
  expect(await readdir(path.join(root, PATHS.runDir))).not.toContain("rbw");
});

test("update rewrites the exact entry through `rbw edit` on stdin, keeps its note, and puts no value in argv", async () => {
  await seed([
    { name: "wirebot/tunnel-token/wirebot", password: "OLD-tunnel-token-value", folder: "wirebot", notes: "rotated by wirebot apply" },
    { name: "wirebot/tunnel-token/wirebot-2", password: "OTHER-tunnel-token-value", folder: "wirebot" },
  ]);
  const backend = createRbwBackend({ host: host(), folder: "wirebot" });
  await backend.update("wirebot/tunnel-token/wirebot", "NEW-tunnel-token-value");
  expect((await backend.get(["wirebot/tunnel-token/wirebot"])).get("wirebot/tunnel-token/wirebot")).toBe("NEW-tunnel-token-value");

  const server = (await vault.readServer()).entries;
  expect(server.find((e) => e.name === "wirebot/tunnel-token/wirebot")).toMatchObject({ password: "NEW-tunnel-token-value", notes: "rotated by wirebot apply", history: [{ password: "OLD-tunnel-token-value" }] });
  expect(server.find((e) => e.name === "wirebot/tunnel-token/wirebot-2")?.password).toBe("OTHER-tunnel-token-value");
  const all = await argvs();
  expect(all).toContainEqual(["rbw", "edit", "--folder", "wirebot", "wirebot/tunnel-token/wirebot"]);
  for (const argv of all) expect(argv.join(" ")).not.toMatch(/tunnel-token-value/);

  // a name rbw does not hold is a clear error, not an `rbw edit` of some partial match
  await expect(backend.update("wirebot/tunnel-token/gone", "x-value")).rejects.toMatchObject({ code: "secrets.update-missing" });
  expect((await vault.readServer()).entries).toHaveLength(2);
});
