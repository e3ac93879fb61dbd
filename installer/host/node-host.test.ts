/** The node host's streaming primitives: bounded chunks that close their file, and atomic streamed writes that leave nothing behind. */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../assets.ts";
import { removeDir, tempDir } from "../testing/harness.ts";
import { createNodeHost } from "./node-host.ts";

let root: string;
beforeEach(() => {
  root = tempDir("wirebot-host-");
});
afterEach(() => removeDir(root));

const openFds = () => readdirSync("/proc/self/fd").length;
const data = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7) & 0xff));

describe("readFileStream", () => {
  it("yields the file in chunks of at most 64 KiB, null when absent, and closes the file when the loop ends or breaks", async () => {
    const host = createNodeHost({ root });
    writeFileSync(path.join(root, "f"), data(200_000));
    expect(await host.readFileStream("/nope")).toBeNull();
    const fds = openFds();
    const chunks: Buffer[] = [];
    for await (const c of (await host.readFileStream("/f"))!) chunks.push(c);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(65536);
    expect(Buffer.concat(chunks).equals(data(200_000))).toBe(true);
    for await (const _ of (await host.readFileStream("/f"))!) break;
    expect(openFds()).toBe(fds);
  });
});

describe("writeFileStreamAtomic", () => {
  it("writes the chunks through a 0600 temp next to the target, then renames it over the old file", async () => {
    const host = createNodeHost({ root });
    writeFileSync(path.join(root, "out"), "old");
    const seen: string[] = [];
    async function* chunks() {
      yield Buffer.from("one ");
      // Mid-write: the temp exists, with the final mode from creation; the old file is still whole.
      for (const name of readdirSync(root)) seen.push(`${name} ${(statSync(path.join(root, name)).mode & 0o777).toString(8)}`);
      expect(readFileSync(path.join(root, "out"), "utf8")).toBe("old");
      yield Buffer.from("two");
    }
    await host.writeFileStreamAtomic("/out", chunks(), { mode: 0o600 });
    expect(seen).toEqual([expect.stringMatching(/^\.out\.wirebot-\d+-\d+\.tmp 600$/), expect.stringMatching(/^out /)]);
    expect(readFileSync(path.join(root, "out"), "utf8")).toBe("one two");
    expect(readdirSync(root)).toEqual(["out"]);
    expect(statSync(path.join(root, "out")).mode & 0o777).toBe(0o600);
  });

  it("a source that fails part-way leaves the old file as it was and no temp file", async () => {
    const host = createNodeHost({ root });
    writeFileSync(path.join(root, "out"), "old");
    async function* failing() {
      yield data(100_000);
      throw new Error("EIO: i/o error, read");
    }
    await expect(host.writeFileStreamAtomic("/out", failing(), { mode: 0o600 })).rejects.toThrow("EIO");
    await expect(host.writeFileStreamAtomic("/new", failing(), { mode: 0o600 })).rejects.toThrow("EIO");
    expect(readdirSync(root)).toEqual(["out"]);
    expect(readFileSync(path.join(root, "out"), "utf8")).toBe("old");
    expect(process.listenerCount("SIGINT")).toBe(0);
  });

  it.each(["SIGINT", "SIGTERM"] as const)("%s during a streamed write removes the temp file and still ends the process", async (signal) => {
    const script = path.join(root, "writer.mts");
    writeFileSync(
      script,
      `import { createNodeHost } from ${JSON.stringify(path.join(PACKAGE_ROOT, "installer/host/node-host.ts"))};
const host = createNodeHost({ root: ${JSON.stringify(root)} });
async function* slow() { yield Buffer.from("partial"); console.log("writing"); await new Promise((r) => setTimeout(r, 600_000)); }
await host.writeFileStreamAtomic("/out.tar.gz", slow(), { mode: 0o600 });
`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: PACKAGE_ROOT, stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((ready) => child.stdout.on("data", (d: Buffer) => d.toString().includes("writing") && ready()));
    expect(readdirSync(root).filter((n) => n.endsWith(".tmp"))).toHaveLength(1);
    child.kill(signal);
    const exit = await new Promise<NodeJS.Signals | null>((done) => child.on("exit", (_code, sig) => done(sig)));
    expect(exit).toBe(signal);
    expect(readdirSync(root)).toEqual(["writer.mts"]);
    expect(existsSync(path.join(root, "out.tar.gz"))).toBe(false);
  });
});
