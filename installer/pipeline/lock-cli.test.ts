/** The apply lock between real processes: the CLI twice (three times) against one --root, and a holder killed with SIGKILL. */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../assets.ts";
import { examplePath, removeDir, tempDir } from "../testing/harness.ts";
import { APPLY_LOCK, parseHolder } from "./lock.ts";

let root: string;
let work: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  root = tempDir();
  work = tempDir("wirebot-lock-cli-");
  // The CLI from source, as `wirebot` would run it from dist/.
  writeFileSync(path.join(work, "wirebot.mjs"), `const m = await import(${JSON.stringify(path.join(PACKAGE_ROOT, "installer/main.ts"))});\nawait m.runMain(process.argv.slice(2));\n`);
});
afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  children.length = 0;
  removeDir(root);
  removeDir(work);
});

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(cmd: string, args: string[]): Running {
  const child = spawn(cmd, args, { cwd: PACKAGE_ROOT, env: { ...process.env, NO_COLOR: "1" }, stdio: ["pipe", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  return { child, output: () => out, exited };
}

const wirebot = (...args: string[]) => start(process.execPath, ["--import", "tsx", path.join(work, "wirebot.mjs"), ...args]);
/** On a terminal (util-linux script gives it a pty), apply shows the plan and asks before writing, holding the lock. */
const wirebotOnTerminal = (...args: string[]) => start("script", ["-qfec", [process.execPath, "--import", "tsx", path.join(work, "wirebot.mjs"), ...args].join(" "), "/dev/null"]);

async function waitFor(r: Running, pattern: RegExp): Promise<RegExpMatchArray> {
  for (;;) {
    const m = r.output().match(pattern);
    if (m) return m;
    if (r.child.exitCode !== null) throw new Error(`exited ${r.child.exitCode} before printing ${pattern}:\n${r.output()}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("the apply lock between processes", () => {
  it("a second apply exits 75 naming the first's pid; one with --wait waits, and takes over when the holder is killed with SIGKILL", { timeout: 180_000 }, async () => {
    const config = examplePath("one-user");
    const holder = wirebotOnTerminal("apply", "--root", root, "--config", config);
    await waitFor(holder, /Apply these changes/);
    const record = parseHolder(readFileSync(path.join(root, APPLY_LOCK), "utf8"));
    expect(record?.command).toBe("wirebot apply");
    const holderPid = record!.pid;
    expect(alive(holderPid)).toBe(true);

    const second = wirebot("apply", "--root", root, "--config", config, "--yes");
    expect(await second.exited).toBe(75);
    expect(second.output()).toContain(`error[lock.held]: another wirebot command is changing this host: pid ${holderPid} (wirebot apply, since `);
    expect(second.output()).not.toMatch(/\n\s+at /); // no stack trace
    // Neither the holder (still asking) nor the refused one wrote anything.
    expect(existsSync(path.join(root, "etc"))).toBe(false);

    const waiter = wirebot("apply", "--root", root, "--config", config, "--yes", "--wait", "120");
    await waitFor(waiter, new RegExp(`waiting for the apply lock, held by pid ${holderPid} \\(wirebot apply`));
    process.kill(holderPid, "SIGKILL");
    expect(await waiter.exited, waiter.output()).toBe(0);
    expect(waiter.output()).toMatch(/Applied: \d+ file\(s\) written/);
    expect(existsSync(path.join(root, "etc/wirebot/wirebot.yaml"))).toBe(true);
    // The killed holder's record did not outlive the next holder, who deleted the file as it let go.
    expect(existsSync(path.join(root, APPLY_LOCK))).toBe(false);
    await holder.exited;
  });
});
