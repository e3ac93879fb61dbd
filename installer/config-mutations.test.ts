/** Property: no mutation of the examples makes the CLI crash (70), print a stack trace, or write into the root. */
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { captureIo } from "./io.ts";
import { main } from "./main.ts";
import { examplePath, exampleText, removeDir, snapshotTree, tempDir } from "./testing/harness.ts";
import { mutateConfig, prng } from "./testing/mutate.ts";

const EXAMPLES = ["one-user", "three-users", "mixed"];
// Fixed, so a failure reproduces; WIREBOT_MUTATION_SEED explores other cases.
const SEED = Number(process.env["WIREBOT_MUTATION_SEED"] ?? 0x14_02);
const CASES = Number(process.env["WIREBOT_MUTATION_CASES"] ?? 200);
const STACK_FRAME = /^\s{4}at /m;

let work: string;
let installed: string;
let installedTree: Record<string, string>;

/** Runs the real CLI entry in-process and records the process's own stdout/stderr too (loggers write there). */
async function cli(args: string[]) {
  const io = captureIo();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const outSpy = vi.spyOn(process.stdout, "write").mockImplementation((c) => (stdout.push(String(c)), true));
  const errSpy = vi.spyOn(process.stderr, "write").mockImplementation((c) => (stderr.push(String(c)), true));
  try {
    const code = await main(args, { io, env: {} });
    return { code, out: [...io.stdout, ...stdout].join("\n"), err: [...io.stderr, ...stderr].join("\n"), processStdout: stdout.join("") };
  } finally {
    outSpy.mockRestore();
    errSpy.mockRestore();
  }
}

beforeAll(async () => {
  work = tempDir("wirebot-mut-");
  installed = tempDir("wirebot-mut-root-");
  expect((await cli(["install", "--config", examplePath("mixed"), "--root", installed, "--yes"])).code).toBe(0);
  installedTree = snapshotTree(installed);
});
afterAll(() => {
  removeDir(work);
  removeDir(installed);
});

describe(`${CASES} seeded mutations of examples/*.yaml (seed ${SEED})`, () => {
  it("never exit 70, never a stack trace, never a write: plan on an installed root, install/apply on an empty one", async () => {
    const rand = prng(SEED);
    const texts = EXAMPLES.map(exampleText);
    const exits = new Map<number, number>();
    for (let n = 0; n < CASES; n++) {
      const { bytes, ops } = mutateConfig(texts[n % texts.length]!, rand, texts);
      const file = path.join(work, `case-${n}.yaml`);
      writeFileSync(file, bytes);
      const empty = path.join(work, `root-${n}`);
      mkdirSync(empty);
      const json = n % 2 === 1;
      const writer = n % 3 === 0 ? ["apply", "--config", file, "--root", empty, "--yes", "--no-start"] : ["install", "--config", file, "--root", empty, "--yes"];
      const runs = [
        { args: ["plan", "--config", file, "--root", installed, ...(json ? ["--json"] : [])], root: installed },
        { args: writer, root: empty },
      ];
      for (const run of runs) {
        const r = await cli(run.args);
        const what = `case ${n} (${ops.join(", ")}): wirebot ${run.args.join(" ")}\n${r.err}\n--- input ---\n${bytes.subarray(0, 600).toString("utf8")}`;
        exits.set(r.code, (exits.get(r.code) ?? 0) + 1);
        expect(r.code, what).not.toBe(70);
        expect(r.out + r.err, what).not.toMatch(STACK_FRAME);
        expect(r.processStdout, `${what}\nsomething wrote to the process's stdout directly`).toBe("");
        if (r.code === 78) {
          expect(r.err, what).toContain(file);
          expect(r.err, what).toMatch(/^  fix: /m);
        }
        if (run.args.includes("--json")) {
          const doc = JSON.parse(r.out);
          expect(doc.ok, what).toBe(r.code === 0 || r.code === 2);
          if (!doc.ok) expect(Object.keys(doc.error).sort(), what).toEqual(["code", "hint", "issues", "message"]);
        }
        if (run.root === installed) expect(snapshotTree(installed), `${what}\nplan changed the installed root`).toEqual(installedTree);
        else if (r.code !== 0) expect(readdirSync(empty), `${what}\na refused input wrote into the root`).toEqual([]);
      }
      removeDir(empty);
    }
    // The cases must reach both sides: refusals (78, 64) and inputs still valid after mutation (0).
    expect(exits.get(78) ?? 0).toBeGreaterThan(CASES / 4);
    expect(exits.get(0) ?? 0).toBeGreaterThan(0);
  }, 600_000);
});
