/** Spawns a long-running command in its own process group and yields its stdout and stderr lines as they come. */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { ExecOptions, LineProcess } from "./host.ts";
import { cleanEnv } from "./clean-env.ts";

export function spawnLines(cmd: string, args: string[], opts: Omit<ExecOptions, "input" | "timeoutMs"> = {}): LineProcess {
  // detached: the child leads its own group, so stop() also reaches whatever it spawned.
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ? cleanEnv(opts.env) : process.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const queue: string[] = [];
  let open = 2;
  let wake: (() => void) | null = null;
  const push = (l: string) => {
    queue.push(l);
    wake?.();
  };
  const close = () => {
    open--;
    wake?.();
  };
  // A command that cannot start (ENOENT) closes both streams; its reason becomes the last line.
  child.on("error", (e) => push(`${cmd}: ${e.message}`));
  createInterface({ input: child.stdout!, crlfDelay: Infinity }).on("line", push).on("close", close);
  createInterface({ input: child.stderr!, crlfDelay: Infinity }).on("line", push).on("close", close);

  const lines = (async function* () {
    for (;;) {
      if (queue.length > 0) yield queue.shift()!;
      else if (open === 0) return;
      else await new Promise<void>((r) => (wake = r));
      wake = null;
    }
  })();
  return {
    lines,
    stop: () => {
      if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        /* already gone */
      }
    },
  };
}
