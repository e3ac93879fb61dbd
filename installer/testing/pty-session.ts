/** Runs a command in a real pty (a private tmux server) and types into it like an operator, for the wizard's pty test. */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface PtySession {
  /** everything printed so far, scrollback included, wrapped lines joined */
  history(): string;
  /** literal text, no Enter */
  type(text: string): void;
  /** tmux key names: Enter, C-c, C-u, Down */
  keys(...names: string[]): void;
  /** resolves with the history once re matches it; fails with the screen after timeoutMs */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** waits for the inquirer prompt that starts with message to be the one asking (not an answered one) */
  waitForPrompt(message: string, timeoutMs?: number): Promise<void>;
  /** waits for the command to end; its exit status */
  exitStatus(timeoutMs?: number): Promise<number>;
  close(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fails loudly, rather than skipping, where tmux is missing. */
export function assertTmux(): void {
  const r = spawnSync("tmux", ["-V"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error("the pty test needs tmux (Debian: apt-get install tmux); it drives the wizard in a real terminal");
}

/**
 * The exit status of a process that has ended but is not reaped yet (a zombie): tmux 3.3a sometimes leaves its pane's
 * child so, its pane "dead" without a status, for good. Linux keeps the waitpid status in /proc/<pid>/stat, field 52.
 */
function zombieStatus(pid: string | undefined): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields[0] is field 3, the state
  if (fields[0] !== "Z") return undefined;
  const wait = Number(fields[52 - 3]);
  return (wait & 0x7f) === 0 ? (wait >> 8) & 0xff : 128 + (wait & 0x7f);
}

export function startPty(argv: string[], opts: { cwd: string; width?: number; height?: number }): PtySession {
  const dir = mkdtempSync(path.join(os.tmpdir(), "wirebot-pty-"));
  const socket = path.join(dir, "tmux.sock");
  // Our own server (own socket, no user config): nothing of another tmux user is touched, and the pane stays
  // after the command ends so its exit status can be read.
  writeFileSync(path.join(dir, "tmux.conf"), "set -g remain-on-exit on\nset -g history-limit 20000\n");
  const env = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? dir, LANG: "C.UTF-8", TERM: "xterm-256color" };
  const tmux = (...args: string[]) => execFileSync("tmux", ["-S", socket, ...args], { encoding: "utf8", env });
  tmux("-f", path.join(dir, "tmux.conf"), "new-session", "-d", "-s", "w", "-x", String(opts.width ?? 220), "-y", String(opts.height ?? 50), "-c", opts.cwd, ...argv);

  const history = () => tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "w").replace(/\s+$/, "");
  const until = async <T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`pty: timed out waiting for ${what}; the terminal shows:\n${history()}`);
      await sleep(100);
    }
  };
  return {
    history,
    type: (text) => void tmux("send-keys", "-t", "w", "-l", text),
    keys: (...names) => void tmux("send-keys", "-t", "w", ...names),
    waitFor: (re, timeoutMs = 60_000) => until(String(re), () => (re.test(history()) ? history() : undefined), timeoutMs),
    async waitForPrompt(message, timeoutMs = 60_000) {
      // inquirer draws the asking prompt as "? <message>" and rewrites it as "✔ <message> <answer>" once answered.
      await until(`the prompt "${message}"`, () => (history().split("\n").filter((l) => /^[?✔] /.test(l)).at(-1)?.startsWith(`? ${message}`) ? true : undefined), timeoutMs);
    },
    async exitStatus(timeoutMs = 60_000) {
      const pane = () => tmux("display-message", "-p", "-t", "w", "#{pane_dead} #{pane_dead_status} #{pane_dead_signal} #{pane_pid}").trim().split(" ");
      try {
        // Killed by a signal, a shell would say 128 + its number.
        return await until("the command to end", () => {
          const [dead, status, signal, pid] = pane();
          if (dead === "1" && status) return Number(status);
          if (dead === "1" && signal) return 128 + Number(signal);
          return zombieStatus(pid);
        }, timeoutMs);
      } catch (e) {
        const ps = spawnSync("ps", ["-o", "pid,stat,etime,wchan:20,cmd", "--pid", pane()[3] ?? "0", "--ppid", pane()[3] ?? "0"], { encoding: "utf8" }).stdout;
        throw new Error(`${(e as Error).message}\nprocesses still running:\n${ps}`);
      }
    },
    close() {
      spawnSync("tmux", ["-S", socket, "kill-server"], { env });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
