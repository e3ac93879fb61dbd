/** The rbw stand-in itself (a node process per rbw, rbw-agent and pinentry call, hence slow): rbw 1.15's files, agent lifecycle, pinentry, texts. */
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { FAKE_RBW_DIR, rbwAgentAlive, runRbwStandin, setupRbwVault, stopAllRbwAgents, type RbwServerEntry, type RbwVault, type RbwVaultOptions } from "./setup.ts";

const EMAIL = "Ops@Example.org";
const MASTER = "m4ster pass%word";
const ENTRIES: RbwServerEntry[] = [
  { name: "app/db", password: "DB-PASSWORD-1", notes: "primary" },
  { name: "app/db-replica", password: "DB-PASSWORD-2" },
  { name: "app/cache", password: "CACHE-PASSWORD", folder: "infra" },
];

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp("/dev/shm/fake-rbw-test-");
});
afterEach(async () => {
  await stopAllRbwAgents();
  await rm(dir, { recursive: true, force: true });
});

const vaultIn = (o: Partial<RbwVaultOptions> = {}): Promise<RbwVault> =>
  setupRbwVault({ home: path.join(dir, "home"), runtimeDir: path.join(dir, "run"), serverFile: path.join(dir, "server/server.json"), email: EMAIL, master: MASTER, entries: ENTRIES, pinentryFile: path.join(dir, "pin"), kdfIterations: 5000, ...o });
const mode = (p: string) => statSync(p).mode & 0o777;

test("keeps rbw 1.15's files where it does, and nothing readable in its cache or the server's hash", async () => {
  const v = await vaultIn();
  const home = path.join(dir, "home");
  expect(v.configFile).toBe(path.join(home, ".config/rbw/config.json"));
  expect(JSON.parse(await readFile(v.configFile, "utf8"))).toMatchObject({ email: EMAIL, base_url: `file://${dir}/server/server.json`, pinentry: path.join(FAKE_RBW_DIR, "pinentry-file") });
  // <percent-encoded base_url>:<email>.json in the cache dir
  expect(path.basename(v.dbFile)).toBe(`file%3A%2F%2F${dir.replace(/\//g, "%2F")}%2Fserver%2Fserver.json:${EMAIL}.json`);
  expect(existsSync(v.dbFile)).toBe(true);
  for (const d of [".cache/rbw", ".local/share/rbw"]) expect(mode(path.join(home, d)), d).toBe(0o700);
  expect(mode(path.join(dir, "run/rbw"))).toBe(0o700);
  expect(v.socket).toBe(path.join(dir, "run/rbw/socket"));
  expect(statSync(v.socket).isSocket()).toBe(true);
  expect(rbwAgentAlive(v.pidFile)).toBe(true);
  expect(existsSync(path.join(home, ".local/share/rbw/agent.err"))).toBe(true);

  const cache = await readFile(v.dbFile, "utf8");
  expect(JSON.parse(cache).entries).toHaveLength(3);
  for (const s of [MASTER, ...ENTRIES.flatMap((e) => [e.name, e.password!, e.folder ?? "primary"])]) expect(cache).not.toContain(s);
  const server = await readFile(v.serverFile, "utf8");
  expect(server).not.toContain(MASTER);
  expect((await v.rbw(["get", "app/db"])).stdout).toBe("DB-PASSWORD-1\n");
});

test("without XDG_RUNTIME_DIR the agent lives in $TMPDIR/rbw-<uid>; RBW_PROFILE gets its own dirs and agent", async () => {
  const v = await vaultIn({ runtimeDir: undefined });
  expect(v.socket).toBe(path.join(dir, "home/tmp", `rbw-${process.getuid!()}`, "socket"));
  expect(statSync(v.socket).isSocket()).toBe(true);
  expect((await v.rbw(["unlocked"])).code).toBe(0);

  const work = { RBW_PROFILE: "work" };
  expect((await v.rbw(["config", "set", "email", "work@example.org"], undefined, work)).code).toBe(0);
  expect(JSON.parse(await readFile(path.join(dir, "home/.config/rbw-work/config.json"), "utf8")).email).toBe("work@example.org");
  expect(await v.rbw(["unlocked"], undefined, work)).toMatchObject({ code: 1, stderr: "rbw unlocked: agent not running\n" });
  expect((await v.rbw(["unlocked"])).code).toBe(0);
});

test("`rbw unlocked` never starts an agent; a vault command starts one; stop-agent ends it and leaves the socket file", async () => {
  const env = { PATH: `${FAKE_RBW_DIR}:${process.env["PATH"]}`, HOME: path.join(dir, "home"), XDG_RUNTIME_DIR: path.join(dir, "run") };
  expect(await runRbwStandin(FAKE_RBW_DIR, env, ["unlocked"])).toEqual({ code: 1, stdout: "", stderr: "rbw unlocked: agent not running\n" });
  expect(existsSync(path.join(dir, "run/rbw"))).toBe(false);

  // no config: rbw's setup help, then the error
  const none = await runRbwStandin(FAKE_RBW_DIR, env, ["sync"]);
  expect(none.code).toBe(1);
  expect(none.stderr).toContain("ERROR: Before using rbw, you must configure the email address");
  expect(none.stderr).toContain(`rbw sync: failed to load config from ${dir}/home/.config/rbw/config.json: No such file or directory (os error 2)\n`);
  expect((await runRbwStandin(FAKE_RBW_DIR, env, ["config", "set", "base_url", "file:///nowhere.json"])).code).toBe(0);
  expect((await runRbwStandin(FAKE_RBW_DIR, env, ["sync"])).stderr).toMatch(/\nrbw sync: email address not set\n$/);

  const v = await vaultIn();
  const pid = await readFile(v.pidFile, "utf8");
  // a second agent finds the pidfile locked and leaves the first one be
  const second = spawnSync(path.join(FAKE_RBW_DIR, "rbw-agent"), { env: v.env });
  expect([0, 23]).toContain(second.status);
  expect(await readFile(v.pidFile, "utf8")).toBe(pid);
  expect((await v.rbw(["unlocked"])).code).toBe(0);

  expect((await v.rbw(["stop-agent"])).code).toBe(0);
  expect(rbwAgentAlive(v.pidFile)).toBe(false);
  expect(existsSync(v.socket)).toBe(true);
  expect((await v.rbw(["unlocked"])).stderr).toBe("rbw unlocked: agent not running\n");
  // and a vault command brings it back, unlocking through pinentry
  expect((await v.rbw(["get", "--folder", "infra", "app/cache"])).stdout).toBe("CACHE-PASSWORD\n");
  expect(rbwAgentAlive(v.pidFile)).toBe(true);
});

test("pinentry: rbw's prompts over Assuan, three tries with its error, a cancel when nobody answers", async () => {
  const pinLog = path.join(dir, "pinentry.log");
  const v = await vaultIn({ env: { FAKE_PINENTRY_LOG: pinLog } });
  expect((await v.rbw(["lock"])).code).toBe(0);
  expect((await v.rbw(["unlocked"])).stderr).toBe("rbw unlocked: agent is locked\n");

  await writeFile(v.pinentryFile, "not the master password\n");
  await rm(pinLog);
  expect(await v.rbw(["unlock"])).toMatchObject({ code: 1, stderr: "rbw unlock: failed to unlock database: Password is incorrect. Try again.\n" });
  const conversation = (await readFile(pinLog, "utf8")).trim().split("\n");
  expect(conversation.filter((l) => l === "GETPIN")).toHaveLength(3);
  expect(conversation).toContain("SETPROMPT Master Password");
  expect(conversation).toContain("SETDESC Unlock the local database for 'rbw'");
  expect(conversation).toContain("SETERROR Password is incorrect. Try again. (attempt 3/3)");
  expect(conversation.join("\n")).not.toContain("not the master password");

  await rm(v.pinentryFile);
  expect(await v.rbw(["get", "app/db"])).toMatchObject({ code: 1, stderr: "rbw get: failed to read password from pinentry: pinentry cancelled\n" });
  // as real rbw: a vault command on a locked agent unlocks it through pinentry
  await writeFile(v.pinentryFile, `${MASTER}\n`);
  expect((await v.rbw(["get", "app/db"])).stdout).toBe("DB-PASSWORD-1\n");
  expect((await v.rbw(["unlocked"])).code).toBe(0);
});

test("lock_timeout locks the agent", async () => {
  const v = await vaultIn({ lockTimeout: 1 });
  expect((await v.rbw(["unlocked"])).code).toBe(0);
  await new Promise((r) => setTimeout(r, 1500));
  expect((await v.rbw(["unlocked"])).stderr).toBe("rbw unlocked: agent is locked\n");
});

test("sync works while locked and without pinentry; an unreadable server fails it like the network", async () => {
  const v = await vaultIn();
  await rm(v.pinentryFile);
  await rename(v.serverFile, `${v.serverFile}.away`);
  expect(await v.rbw(["sync"])).toMatchObject({
    code: 1,
    stderr: `rbw sync: failed to sync database from server: error making api request: error sending request for url (file://${v.serverFile}): No such file or directory (os error 2)\n`,
  });
  await rename(`${v.serverFile}.away`, v.serverFile);

  expect((await v.rbw(["lock"])).code).toBe(0);
  const doc = await v.readServer();
  doc.entries.push({ id: "0b8e4e5e-1f0c-4a52-9d43-6a3c5a4c7f10", name: "app/new", password: "NEW-PASSWORD" });
  await writeFile(v.serverFile, JSON.stringify(doc));
  expect((await v.rbw(["sync"])).code).toBe(0);
  expect(JSON.parse(await readFile(v.dbFile, "utf8")).entries).toHaveLength(4);
  expect((await v.rbw(["unlocked"])).code).toBe(1);
});

test("get: exact name first, then rbw's partial fallback, and its multiple-match error; add and edit through the buffer", async () => {
  const v = await vaultIn();
  expect((await v.rbw(["get", "app/db"])).stdout).toBe("DB-PASSWORD-1\n");
  expect((await v.rbw(["get", "replica"])).stdout).toBe("DB-PASSWORD-2\n");
  expect(await v.rbw(["get", "app/d"])).toMatchObject({ code: 1, stderr: "rbw get: couldn't find entry for 'app/d': multiple entries found: app/db, app/db-replica\n" });
  expect(await v.rbw(["get", "nope"])).toMatchObject({ code: 1, stderr: "rbw get: couldn't find entry for 'nope': no entry found\n" });
  expect((await v.rbw(["list", "--fields", "name,folder"])).stdout).toBe("app/cache\tinfra\napp/db\t\napp/db-replica\t\n");

  // a piped stdin is the buffer (rbw's edit.rs)
  expect((await v.rbw(["add", "--folder", "infra", "app/queue"], "QUEUE-1\n\nfirst note\n# dropped\n")).code).toBe(0);
  expect((await v.rbw(["edit", "--folder", "infra", "app/queue"], "QUEUE-2\n\nfirst note\n")).code).toBe(0);
  const raw = JSON.parse((await v.rbw(["get", "--raw", "--folder", "infra", "app/queue"])).stdout) as Record<string, unknown>;
  expect(raw).toMatchObject({ folder: "infra", name: "app/queue", data: { password: "QUEUE-2", username: null }, notes: "first note", history: [{ password: "QUEUE-1" }] });
  expect((await v.readServer()).entries.find((e) => e.name === "app/queue")).toMatchObject({ folder: "infra", password: "QUEUE-2", notes: "first note" });

  // a terminal gets the editor: $VISUAL with a shell metacharacter runs through /bin/sh -c "<editor> <file>"
  const script = spawnSync("script", ["-qec", `${FAKE_RBW_DIR}/rbw add app/tty`, "/dev/null"], { env: { ...v.env, VISUAL: "printf 'TTY-1\\n\\ntty note\\n' >" }, encoding: "utf8" });
  expect(script.error, "script(1) (bsdutils) runs rbw in a pty; scripts/test-prereqs.sh installs it").toBeUndefined();
  expect(script.status, script.stdout).toBe(0);
  expect((await v.rbw(["get", "--full", "app/tty"])).stdout).toBe("TTY-1\n\ntty note\n");
});

test("pinentry-file speaks Assuan: greeting, OK per command, the pin percent-encoded, a cancel when its file is missing", () => {
  const pin = path.join(dir, "pin");
  const talk = (env: Record<string, string>) => spawnSync(path.join(FAKE_RBW_DIR, "pinentry-file"), ["--timeout", "0"], { input: "SETTITLE rbw\nSETPROMPT Master Password\nGETPIN\n", env: { PATH: process.env["PATH"]!, ...env }, encoding: "utf8" }).stdout;
  expect(talk({ FAKE_PINENTRY_FILE: pin })).toBe("OK Pleased to meet you\nOK\nOK\nERR 83886179 Operation cancelled <Pinentry>\n");
  spawnSync("sh", ["-c", `printf 'p%%s\\rx\\nsecond line\\n' > ${pin}`]);
  expect(talk({ FAKE_PINENTRY_FILE: pin })).toBe("OK Pleased to meet you\nOK\nOK\nD p%25s%0Dx\nOK\n");
});

test("an agent whose socket is gone exits (nobody could reach it), so no test leaks one", async () => {
  const v = await vaultIn();
  await rm(v.socket);
  for (let i = 0; i < 50 && rbwAgentAlive(v.pidFile); i++) await new Promise((r) => setTimeout(r, 100));
  expect(rbwAgentAlive(v.pidFile)).toBe(false);
});
