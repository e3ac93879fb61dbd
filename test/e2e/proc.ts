// Child-process helpers for the e2e harness: bounded in time, output captured, never through a shell by accident.
import { spawn, type SpawnOptions } from "node:child_process";

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  /** Killed (SIGKILL) after this long: a wedged debootstrap or nsenter must not hang CI for 90 minutes. */
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Stream output to our stderr as well, for the long steps a person watches (debootstrap, npm). */
  echo?: boolean;
}

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const so: SpawnOptions = { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env, cwd: opts.cwd };
    const child = spawn(cmd, args, so);
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (opts.echo) process.stderr.write(d);
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      if (opts.echo) process.stderr.write(d);
    });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
    // A child that never reads stdin may close it first; that is not our failure.
    child.stdin!.on("error", () => {});
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

/** Like run(), but a non-zero exit is an error that carries the command's own words. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const tail = (s: string) => s.trim().split("\n").slice(-30).join("\n");
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.code ?? r.signal}\n--- stdout\n${tail(r.stdout)}\n--- stderr\n${tail(r.stderr)}`);
  }
  return r;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Single-quotes a word for /bin/sh, so test code can build command lines from paths and values. */
export const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
