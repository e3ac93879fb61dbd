/** The apply lock in-process: a second writer is refused or waits, the holder's own chain re-enters, dead holders never block, and every writing command takes it. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyCommand } from "../commands/apply.ts";
import { restoreCommand } from "../commands/backup.ts";
import { installCommand } from "../commands/install.ts";
import { secretsPullCommand } from "../commands/secrets.ts";
import { upgradeCommand } from "../commands/upgrade.ts";
import { userAddCommand, userMoveCommand, userRemoveCommand } from "../commands/user.ts";
import { parseConfig } from "../config/load.ts";
import { WirebotError } from "../errors.ts";
import { main } from "../main.ts";
import { examplePath, exampleText, removeDir, snapshotTree, tempDir, testContext } from "../testing/harness.ts";
import { APPLY_LOCK, DEFAULT_WAIT_SECONDS, lockRequestOf, parseHolder, withApplyLock, type LockScope } from "./lock.ts";

let root: string;
beforeEach(() => {
  root = tempDir();
});
afterEach(() => removeDir(root));

const lockFile = () => path.join(root, APPLY_LOCK);
const scope = (command: string, waitSeconds?: number): LockScope & { io: ReturnType<typeof testContext>["io"] } => {
  const ctx = testContext(root);
  return { host: ctx.host, io: ctx.io, lock: { command, ...(waitSeconds !== undefined ? { waitSeconds } : {}) } };
};

/** Takes the lock as `command` and keeps it until release() is called; resolves `entered` once it holds it. */
function holdLock(command = "wirebot apply") {
  let release!: () => void;
  let entered!: () => void;
  const held = new Promise<void>((r) => (entered = r));
  const done = withApplyLock(scope(command), () => {
    entered();
    return new Promise<void>((r) => (release = r));
  });
  return { held, done, release: () => release() };
}

async function refusal(p: Promise<unknown>): Promise<WirebotError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e, "the second writer must be refused").toBeInstanceOf(WirebotError);
  return e as WirebotError;
}

const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
};

describe("withApplyLock", () => {
  it("refuses a second writer with exit 75 naming the holder's pid and command, and records who holds it", async () => {
    const a = holdLock("wirebot user add gina");
    await a.held;
    expect(parseHolder(readFileSync(lockFile(), "utf8"))).toMatchObject({ pid: process.pid, command: "wirebot user add gina" });
    let ran = false;
    const e = await refusal(withApplyLock(scope("wirebot apply"), async () => void (ran = true)));
    expect(ran).toBe(false);
    expect(e.exitCode).toBe(75);
    expect(e.code).toBe("lock.held");
    expect(e.message).toContain(`pid ${process.pid} (wirebot user add gina, since `);
    expect(e.message).toContain(lockFile());
    expect(e.hint).toContain("--wait");
    a.release();
    await a.done;
  });

  it("lets the holder's own call chain in again (converge inside user add)", async () => {
    const s = scope("wirebot user add gina");
    const inner = await withApplyLock(s, () => withApplyLock(s, async () => readFileSync(lockFile(), "utf8")));
    expect(parseHolder(inner)?.command).toBe("wirebot user add gina");
    expect(existsSync(lockFile())).toBe(false);
  });

  it("--wait: says on stderr who it waits for, then runs once the holder lets go, never both at once", async () => {
    const a = holdLock("wirebot upgrade");
    await a.held;
    const b = scope("wirebot apply", 60);
    const order: string[] = [];
    const waiting = withApplyLock(b, async () => {
      order.push("b runs");
      return parseHolder(readFileSync(lockFile(), "utf8"));
    });
    await until(() => b.io.stderr.length > 0);
    expect(b.io.stderr[0]).toMatch(new RegExp(`^• waiting for the apply lock, held by pid ${process.pid} \\(wirebot upgrade, since .*\\): 0 s of at most 60 s$`));
    order.push("a releases");
    a.release();
    await a.done;
    expect((await waiting)?.command).toBe("wirebot apply");
    expect(order).toEqual(["a releases", "b runs"]);
  });

  it("--wait is bounded: past the bound it exits 75 naming the holder", async () => {
    const a = holdLock("wirebot restore backup.tgz");
    await a.held;
    const e = await refusal(withApplyLock(scope("wirebot apply", 1), async () => undefined));
    expect(e.exitCode).toBe(75);
    expect(e.code).toBe("lock.wait-timeout");
    expect(e.message).toContain(`pid ${process.pid} (wirebot restore backup.tgz`);
    expect(e.hint).toContain(`ps -o pid,etime,args -p ${process.pid}`);
    a.release();
    await a.done;
  });

  it("a lock file left by a process that died (its record still in it) does not block, and is taken over", async () => {
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
    mkdirSync(path.dirname(lockFile()), { recursive: true, mode: 0o700 });
    writeFileSync(lockFile(), JSON.stringify({ pid: dead, command: "wirebot apply", since: "2026-01-01T00:00:00.000Z" }) + "\n", { mode: 0o600 });
    const seen = await withApplyLock(scope("wirebot user remove bob"), async () => parseHolder(readFileSync(lockFile(), "utf8")));
    expect(seen).toMatchObject({ pid: process.pid, command: "wirebot user remove bob" });
    expect(existsSync(lockFile())).toBe(false);
  });

  it("a waiter gets a lock that guards something when the holder deletes /run/wirebot (uninstall) before it lets go", async () => {
    let releaseA!: () => void;
    let enteredA!: () => void;
    const heldA = new Promise<void>((r) => (enteredA = r));
    const a = withApplyLock(scope("wirebot uninstall"), async () => {
      enteredA();
      await new Promise<void>((r) => (releaseA = r));
      removeDir(path.join(root, "run/wirebot"));
    });
    await heldA;
    const b = scope("wirebot install", 60);
    let releaseB!: () => void;
    let enteredB!: () => void;
    const heldB = new Promise<void>((r) => (enteredB = r));
    const waiting = withApplyLock(b, async () => {
      enteredB();
      await new Promise<void>((r) => (releaseB = r));
    });
    await until(() => b.io.stderr.length > 0);
    releaseA();
    await a;
    await heldB;
    expect(parseHolder(readFileSync(lockFile(), "utf8"))?.command).toBe("wirebot install");
    // A third writer is refused: b's lock is on the file that is there now, not on the one a deleted.
    const third = await refusal(withApplyLock(scope("wirebot apply"), async () => undefined));
    expect(third.message).toContain("(wirebot install, since ");
    releaseB();
    await waiting;
  });

  it("under --root leaves no trace, after success and after a failure", async () => {
    const before = snapshotTree(root);
    await withApplyLock(scope("wirebot apply"), async () => expect(existsSync(lockFile())).toBe(true));
    expect(snapshotTree(root)).toEqual(before);
    await expect(withApplyLock(scope("wirebot apply"), async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(snapshotTree(root)).toEqual(before);
  });

  it("a refused writer leaves the holder's lock and directories alone", async () => {
    const a = holdLock();
    await a.held;
    await refusal(withApplyLock(scope("wirebot apply"), async () => undefined));
    expect(parseHolder(readFileSync(lockFile(), "utf8"))?.command).toBe("wirebot apply");
    a.release();
    await a.done;
    expect(existsSync(path.join(root, "run"))).toBe(false);
  });
});

describe("lockRequestOf", () => {
  it("names the command with its positional arguments, and --wait with or without seconds", () => {
    const request = (argv: string[]) => {
      let seen: ReturnType<typeof lockRequestOf> | undefined;
      const program = new Command("wirebot").exitOverride();
      program.hook("preAction", (_p, action) => void (seen = lockRequestOf(action)));
      program.command("user").command("add <id>").option("--wait [seconds]", "", (v) => Number(v)).option("--mode <m>").action(() => undefined);
      program.parse(argv, { from: "user" });
      return seen;
    };
    expect(request(["user", "add", "gina", "--mode", "dedicated"])).toEqual({ command: "wirebot user add gina" });
    expect(request(["user", "add", "gina", "--wait"])).toEqual({ command: "wirebot user add gina", waitSeconds: DEFAULT_WAIT_SECONDS });
    expect(request(["user", "add", "gina", "--wait", "30"])).toEqual({ command: "wirebot user add gina", waitSeconds: 30 });
  });
});

describe("every writing command takes the apply lock", () => {
  const installed = async () => {
    const ctx = testContext(root);
    expect(await applyCommand(ctx, { config: examplePath("mixed"), yes: true })).toBe(0);
  };

  it.each<[string, (ctx: ReturnType<typeof testContext>) => Promise<number>]>([
    ["apply", (ctx) => applyCommand(ctx, { config: examplePath("one-user"), yes: true })],
    ["install (through converge)", (ctx) => installCommand(ctx, { config: examplePath("one-user"), yes: true })],
    ["user add", (ctx) => userAddCommand(ctx, { id: "frank", telegram: "456789012" })],
    ["user remove", (ctx) => userRemoveCommand(ctx, { id: "bob", purge: true })],
    ["user move", (ctx) => userMoveCommand(ctx, { id: "bob", mode: "dedicated" })],
    ["upgrade", (ctx) => upgradeCommand(ctx, { runtimeVersion: "2026.9.7" }, { provisionRuntime: async () => undefined })],
    ["restore", (ctx) => restoreCommand(ctx, { file: path.join(root, "no-such-backup.tgz"), force: true })],
  ])("%s exits 75 while another command holds it, and changes nothing", async (_name, run) => {
    await installed();
    const a = holdLock("wirebot apply");
    await a.held;
    const before = snapshotTree(root);
    const e = await refusal(run(testContext(root)));
    expect(e.exitCode).toBe(75);
    expect(snapshotTree(root)).toEqual(before);
    a.release();
    await a.done;
  });

  it("secrets pull by hand exits 75 while another command holds it; the secrets unit's own pull (INVOCATION_ID) does not wait for the apply that started it", async () => {
    await installed();
    const config = parseConfig(exampleText("one-user").replace("backend: bitwarden", "backend: file\n  file: { path: /etc/wirebot/dev-secrets.yaml }"), "t");
    const a = holdLock("wirebot apply");
    await a.held;
    const byHand = testContext(root);
    expect(await secretsPullCommand({ allowNonTmpfs: true }, config, byHand.host, byHand.io)).toBe(75);
    expect(byHand.io.stderr.join("\n")).toContain(`pid ${process.pid} (wirebot apply`);
    const unit = testContext(root, { env: { INVOCATION_ID: "0123456789abcdef0123456789abcdef" } });
    // No vault file here: it gets past the lock and fails on the vault instead, which is all this asserts.
    const code = await secretsPullCommand({ allowNonTmpfs: true }, config, unit.host, unit.io);
    expect(unit.io.stderr.join("\n")).not.toContain("apply lock");
    expect(code).not.toBe(75);
    a.release();
    await a.done;
  });

  it("uninstall (wired in main.ts) exits 75 while another command holds it", async () => {
    await installed();
    const a = holdLock("wirebot apply");
    await a.held;
    const ctx = testContext(root);
    const before = snapshotTree(root);
    expect(await main(["uninstall", "--root", root], { io: ctx.io, context: () => ctx })).toBe(75);
    expect(ctx.io.stderr.join("\n")).toContain(`pid ${process.pid} (wirebot apply`);
    expect(snapshotTree(root)).toEqual(before);
    a.release();
    await a.done;
  });

  it("--wait takes only whole seconds from 1 to 86400 (exit 64 otherwise)", async () => {
    const ctx = testContext(root);
    expect(await main(["apply", "--root", root, "--config", examplePath("one-user"), "--yes", "--wait", "soon"], { io: ctx.io, context: () => ctx })).toBe(64);
    expect(ctx.io.stderr.join("\n")).toContain("must be a whole number of seconds from 1 to 86400");
  });
});
