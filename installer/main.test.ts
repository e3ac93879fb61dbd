/** The command line end to end in-process: exit codes, --json, --exit-code, and bad input leaving the root untouched. */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "./main.ts";
import { applyCommand } from "./commands/apply.ts";
import { examplePath, exampleText, removeDir, snapshotTree, tempDir, testContext } from "./testing/harness.ts";

let root: string;
let work: string;
beforeEach(() => {
  root = tempDir();
  work = tempDir("wirebot-cfg-");
});
afterEach(() => {
  removeDir(root);
  removeDir(work);
});

async function cli(args: string[]) {
  const ctx = testContext(root);
  const code = await main(args, { io: ctx.io, context: () => ctx });
  return { code, out: ctx.io.stdout.join("\n"), err: ctx.io.stderr.join("\n") };
}

describe("wirebot CLI", () => {
  it("install --root --yes renders, then plan --exit-code is 0 and plan --json lists nothing", async () => {
    expect((await cli(["install", "--config", examplePath("three-users"), "--root", root, "--yes"])).code).toBe(0);
    expect((await cli(["plan", "--root", root, "--exit-code"])).code).toBe(0);
    const json = JSON.parse((await cli(["plan", "--root", root, "--json"])).out);
    expect(json).toMatchObject({ ok: true, changes: [], restart: [], stop: [] });
  });

  it("plan --exit-code exits 2 with pending changes and --json lists them", async () => {
    const r = await cli(["plan", "--config", examplePath("one-user"), "--root", root, "--exit-code"]);
    expect(r.code).toBe(2);
    const json = JSON.parse((await cli(["plan", "--config", examplePath("one-user"), "--root", root, "--json"])).out);
    expect(json.changes.find((c: any) => c.path === "/etc/wirebot/wirebot.yaml")).toMatchObject({ action: "create", mode: "0600", owner: "root:root" });
  });

  it.each([
    ["user id ../x", (t: string) => t.replace("id: dana", 'id: "../x"')],
    ["user id Root", (t: string) => t.replace("id: dana", "id: Root")],
    ["user id a/b", (t: string) => t.replace("id: dana", 'id: "a/b"')],
    ["a 200-character id", (t: string) => t.replace("id: dana", `id: ${"d".repeat(200)}`)],
    ["duplicate ids", (t: string) => t.replace("skills:", "  - { id: dana, name: Again }\nskills:")],
    ["a port clash", (t: string) => t.replace("api: { port: 8100 }", "api: { port: 18789 }")],
    ["a malformed domain", (t: string) => t.replace("domain: wirebot.example.org", "domain: -bad-.example")],
    ["wrong YAML types", (t: string) => t.replace("monthlyUsd: 20", "monthlyUsd: twenty")],
  ])("bad input (%s): exit 78, a clear error, and the root is byte-for-byte unchanged", async (_what, mutate) => {
    await cli(["install", "--config", examplePath("one-user"), "--root", root, "--yes"]);
    const before = snapshotTree(root);
    const bad = path.join(work, "bad.yaml");
    writeFileSync(bad, mutate(exampleText("one-user")));
    for (const args of [["install", "--config", bad, "--root", root, "--yes"], ["apply", "--config", bad, "--root", root], ["plan", "--config", bad, "--root", root]]) {
      const r = await cli(args);
      expect(r.code).toBe(78);
      expect(r.err).toMatch(/^error\[config\.\w+\]: .*bad\.yaml has \d+ (port )?problem/m);
      expect(r.err).toMatch(/^  - [\w.[\]]+: /m);
      expect(r.err).toMatch(/^  fix: /m);
    }
    expect(snapshotTree(root)).toEqual(before);
  });

  it("usage errors exit 64; a missing answers file is a clear usage error", async () => {
    expect((await cli(["frobnicate"])).code).toBe(64);
    const r = await cli(["install", "--config", path.join(work, "nope.yaml"), "--root", root, "--yes"]);
    expect(r.code).toBe(64);
    expect(r.err).toContain("no answers file at");
    expect((await cli(["install", "--root", root, "--yes"])).err).toContain("no terminal for the wizard");
  });

  it("--help lists the commands", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/install/);
    expect(r.out).toMatch(/plan/);
    expect(r.out).toMatch(/apply/);
  });

  it("apply asks after showing the plan; a no writes nothing", async () => {
    const before = snapshotTree(root);
    const ctx = testContext(root);
    let asked = 0;
    const code = await applyCommand(ctx, { config: examplePath("one-user"), confirm: async () => (asked++, false) });
    expect(code).toBe(0);
    expect(asked).toBe(1);
    expect(ctx.io.stderr.join("\n")).toMatch(/^Plan: \d+ to create/m);
    expect(ctx.io.stderr.join("\n")).toContain("Cancelled; nothing was changed.");
    expect(snapshotTree(root)).toEqual(before);
  });
});
