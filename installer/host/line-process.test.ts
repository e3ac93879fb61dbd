/** spawnLines with real processes: interleaved stdout/stderr lines, stop() ending the whole group, a missing command. */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { spawnLines } from "./line-process.ts";

async function collect(lines: AsyncIterable<string>, max = Infinity): Promise<string[]> {
  const out: string[] = [];
  for await (const l of lines) {
    out.push(l);
    if (out.length >= max) break;
  }
  return out;
}

describe("spawnLines", () => {
  test("yields stdout and stderr lines and ends when the child exits", async () => {
    const p = spawnLines("sh", ["-c", 'echo one; echo two >&2; printf "three"'], { env: { PATH: process.env["PATH"], UNSET: undefined } });
    expect((await collect(p.lines)).sort()).toEqual(["one", "three", "two"]);
  });

  test("passes the given environment and cwd, and only those variables", async () => {
    const p = spawnLines("sh", ["-c", 'echo "$WB_VALUE|${HOME-none}|$(pwd)"'], { env: { PATH: process.env["PATH"], WB_VALUE: "x y" }, cwd: "/tmp" });
    expect(await collect(p.lines)).toEqual(["x y|none|/tmp"]);
  });

  test("stop() ends a long-running child and its own children", async () => {
    const p = spawnLines("sh", ["-c", "sleep 300 & echo $!; wait"], { env: { PATH: process.env["PATH"] } });
    const it = p.lines[Symbol.asyncIterator]();
    const grandchild = Number((await it.next()).value);
    expect(grandchild).toBeGreaterThan(1);
    p.stop();
    expect((await it.next()).done).toBe(true);
    // The sleep was in the same process group, so it is gone too (allow the kernel a moment to reap it).
    for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(grandchild)).toBe(false);
    p.stop(); // a second stop on an exited child is a no-op
  });

  test("a command that does not exist ends the stream with its reason as the last line", async () => {
    const p = spawnLines("/nonexistent/wirebot-cmd", []);
    const lines = await collect(p.lines);
    expect(lines.at(-1)).toMatch(/\/nonexistent\/wirebot-cmd: spawn .*ENOENT/);
  });
});

/** Running, not a zombie waiting for an init that may never reap it. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
