/** Every malformed --config through the real CLI: exit 78 (64 for a wrong path), one message with file, place and fix, nothing written. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createContext } from "./pipeline/context.ts";
import type { Host } from "./host/host.ts";
import { captureIo } from "./io.ts";
import { main } from "./main.ts";
import { examplePath, exampleText, removeDir, snapshotTree, tempDir } from "./testing/harness.ts";

let work: string;
let root: string;
let before: Record<string, string>;

async function cli(args: string[], deps: Parameters<typeof main>[1] = {}) {
  const io = captureIo();
  const code = await main(args, { io, env: {}, ...deps });
  return { code, out: io.stdout.join("\n"), err: io.stderr.join("\n") };
}

function file(name: string, content: string | Buffer): string {
  const p = path.join(work, name);
  writeFileSync(p, content);
  return p;
}

const ALIAS_BOMB = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...["b", "c", "d", "e", "f", "g", "h", "i"].map((k, i) => `${k}: &${k} [${Array(9).fill(`*${"abcdefghi"[i]}`).join(",")}]`)].join("\n");

beforeAll(async () => {
  work = tempDir("wirebot-input-");
  root = tempDir();
  expect((await cli(["install", "--config", examplePath("one-user"), "--root", root, "--yes"])).code).toBe(0);
  before = snapshotTree(root);
});
afterAll(() => {
  removeDir(work);
  removeDir(root);
});

// prettier-ignore
const CASES: [what: string, make: () => string, exit: number, code: string, place: RegExp][] = [
  ["an empty file",              () => file("empty.yaml", ""),                                          78, "config.empty",      /^  - \(file\): no settings/m],
  ["only comments",              () => file("comments.yaml", "# nothing yet\n\n"),                      78, "config.empty",      /^  - \(file\): no settings/m],
  ["no users:",                  () => file("nousers.yaml", exampleText("one-user").replace(/^users:[\s\S]*?(?=^skills:)/m, "")), 78, "config.invalid", /^  - users: is required \(array\)$/m],
  ["users: not a list",          () => file("users-scalar.yaml", exampleText("one-user").replace(/^users:[\s\S]*?(?=^skills:)/m, "users: dana\n")), 78, "config.invalid", /^  - users: must be a list, not a text$/m],
  ["a list at the top",          () => file("list.yaml", "- domain: x\n- users: []\n"),                 78, "config.shape",      /^  - line 1, column 1: the top level must be key: value lines/m],
  ["a YAML alias bomb",          () => file("bomb.yaml", ALIAS_BOMB),                                   78, "config.aliases",    /^  - line 2, column \d+: more than 100 alias expansions/m],
  ["an alias with no anchor",    () => file("alias.yaml", `${exampleText("one-user")}\nextra: *nowhere\n`), 78, "config.yaml",  /^  - line \d+, column \d+: \*nowhere refers to no &nowhere anchor/m],
  ["binary garbage",             () => file("garbage.yaml", Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00, 0xff])), 78, "config.binary", /^  - line 1, column 7: a NUL byte/m],
  ["Latin-1 text",               () => file("latin1.yaml", Buffer.from("domain: caf\xe9.example.org\n", "latin1")), 78, "config.encoding", /^  - line 1, column 12: byte 0xe9 is not UTF-8/m],
  ["UTF-16 text",                () => file("utf16.yaml", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(exampleText("one-user"), "utf16le")])), 78, "config.encoding", /^  - line 1, column 1: UTF-16 byte order mark/m],
  ["a file over 1 MiB",          () => file("big.yaml", `${exampleText("one-user")}\n# ${"x".repeat(1024 * 1024)}\n`), 78, "config.too-large", /^  - \(file\): more than 1048576 bytes/m],
  ["an endless device",          () => "/dev/zero",                                                     78, "config.too-large",  /^  - \(file\): more than 1048576 bytes/m],
  ["invalid YAML",               () => file("syntax.yaml", "domain: [unclosed\nusers: x\n"),            78, "config.yaml",       /^  - line \d+, column \d+: /m],
  ["a directory",                () => (mkdirSync(path.join(work, "conf.d"), { recursive: true }), path.join(work, "conf.d")), 64, "config.directory", /give the file itself, such as --config .*conf\.d\/wirebot\.yaml/],
  ["a file that does not exist", () => path.join(work, "nope.yaml"),                                    64, "config.missing",    /check the path given to --config/],
];

describe("malformed --config through the CLI", () => {
  it.each(CASES)("%s: exit as expected, the file, the place and the fix in one message, no stack, root unchanged", async (_what, make, exit, code, place) => {
    const config = make();
    for (const cmd of [["plan"], ["apply", "--yes"], ["status"]]) {
      const r = await cli([...cmd, "--config", config, "--root", root]);
      expect(r.code, r.err).toBe(exit);
      expect(r.err).toMatch(new RegExp(`^error\\[${code.replace(".", "\\.")}\\]: .*${config.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`, "m"));
      expect(r.err.match(/^error\[/gm)).toHaveLength(1);
      if (exit === 78) expect(r.err).toMatch(place);
      expect(r.err).toMatch(/^  fix: /m);
      if (exit === 64) expect(r.err).toMatch(place);
      expect(r.out + r.err).not.toMatch(/^\s{4}at /m);
      expect(r.out).toBe("");
    }
    // install reads the answers file itself: the same refusals.
    const r = await cli(["install", "--config", config, "--root", root, "--yes"]);
    expect(r.code).toBe(exit);
    expect(r.out + r.err).not.toMatch(/^\s{4}at /m);
    expect(snapshotTree(root)).toEqual(before);
  });

  it("a UTF-8 byte order mark and CRLF line endings are valid YAML: the same plan as the plain file", async () => {
    const plain = await cli(["plan", "--config", examplePath("one-user"), "--root", root, "--json"]);
    const bom = await cli(["plan", "--config", file("bom.yaml", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(examplePath("one-user"))])), "--root", root, "--json"]);
    const crlf = await cli(["plan", "--config", file("crlf.yaml", exampleText("one-user").replace(/\n/g, "\r\n")), "--root", root, "--json"]);
    expect(plain.code).toBe(0);
    // The installed wirebot.yaml is the only difference: the file's own bytes are what gets installed.
    const changed = (r: typeof plain) => (JSON.parse(r.out).changes as { path: string }[]).map((c) => c.path);
    expect(changed(plain)).toEqual([]);
    expect(bom.code).toBe(0);
    expect(changed(bom)).toEqual([]);
    expect(crlf.code).toBe(0);
    expect(changed(crlf)).toEqual(["/etc/wirebot/wirebot.yaml"]);
  });

  it("an unreadable file: exit 64 with the fix (run as root), nothing written", async () => {
    const config = file("locked.yaml", exampleText("one-user"));
    // Root reads any file, so the refusal comes from the host port, as the kernel would give it to another user.
    const denied = (host: Host): Host => ({
      ...host,
      readFileStream: async (p) => {
        if (p === config) throw Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: "EACCES", errno: -13, syscall: "open" });
        return host.readFileStream(p);
      },
    });
    const r = await cli(["plan", "--config", config, "--root", root], {
      context: (io, r2) => {
        const ctx = createContext(io, { ...(r2 ? { root: r2 } : {}), env: {} });
        return { ...ctx, local: denied(ctx.local) };
      },
    });
    expect(r.code).toBe(64);
    expect(r.err).toBe(`error[config.unreadable]: cannot read ${config}: permission denied\n  fix: run the command as root (sudo wirebot …), or make the file readable by this user; nothing was changed`);
    expect(snapshotTree(root)).toEqual(before);
  });

  it("the installed wirebot.yaml is read the same way: a directory there is exit 78 with the fix", async () => {
    const other = tempDir();
    try {
      mkdirSync(path.join(other, "etc/wirebot/wirebot.yaml"), { recursive: true });
      const r = await cli(["plan", "--root", other]);
      expect(r.code).toBe(78);
      expect(r.err).toContain(`error[config.directory]: ${path.join(other, "etc/wirebot/wirebot.yaml")} is a directory, not a wirebot.yaml`);
      expect(r.err).toMatch(/^  fix: move the directory away/m);
    } finally {
      removeDir(other);
    }
  });
});
