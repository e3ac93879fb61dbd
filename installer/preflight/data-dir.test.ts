/** A pre-existing non-empty paths.data that wirebot did not make is refused (69) before anything is written, under --root too. */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyCommand } from "../commands/apply.ts";
import { backupCommand, restoreCommand } from "../commands/backup.ts";
import { installCommand } from "../commands/install.ts";
import { parseConfig } from "../config/load.ts";
import { readManifest } from "../engine/plan.ts";
import { main } from "../main.ts";
import { markerPath, OWNED_MARKER, OWNED_MARKER_TEXT, readTreeOwnership } from "../ownership/marker.ts";
import { examplePath, exampleText, removeDir, snapshotTree, tempDir, testContext } from "../testing/harness.ts";
import { judgeDataDir } from "./data-dir.ts";

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

const put = (rel: string, content = "x") => {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), content);
};
const configWithData = (dir: string) => {
  const file = path.join(work, "wirebot.yaml");
  writeFileSync(file, exampleText("one-user").replace(/^users:/m, `paths: { data: ${dir} }\nusers:`));
  return file;
};

async function cli(args: string[], env: Record<string, string> = {}) {
  const ctx = testContext(root, { env });
  const code = await main(args, { io: ctx.io, context: () => ctx });
  return { code, out: ctx.io.stdout.join("\n"), err: ctx.io.stderr.join("\n") };
}

describe("readTreeOwnership", () => {
  it("tells absent, empty, marked, claimed by an older manifest, foreign and not-a-directory apart", async () => {
    const host = testContext(root).host;
    const m = { version: 1 as const, paths: ["/srv/old/gateway/clawdbot.json", "/srv/other/notes/clawdbot.json"], units: [] };
    mkdirSync(path.join(root, "srv/empty"), { recursive: true });
    put("srv/mine/.wirebot-owned", OWNED_MARKER_TEXT);
    put("srv/mine/users/x", "state");
    put("srv/old/gateway/clawdbot.json", "{}");
    put("srv/other/notes/clawdbot.json", "{}");
    put("srv/fake/.wirebot-owned", "not the signature\n");
    put("srv/file", "a file");
    expect(await readTreeOwnership(host, "/srv/none", m)).toEqual({ outcome: "absent" });
    expect(await readTreeOwnership(host, "/srv/empty", m)).toEqual({ outcome: "empty" });
    expect(await readTreeOwnership(host, "/srv/mine", m)).toEqual({ outcome: "marked" });
    expect(await readTreeOwnership(host, "/srv/old", m)).toEqual({ outcome: "claimed", evidence: "/srv/old/gateway/clawdbot.json" });
    // Only a gateway config where wirebot renders one counts as wirebot's.
    expect(await readTreeOwnership(host, "/srv/other", m)).toEqual({ outcome: "foreign", entries: ["notes"] });
    expect(await readTreeOwnership(host, "/srv/fake", m)).toEqual({ outcome: "foreign", entries: [OWNED_MARKER] });
    expect(await readTreeOwnership(host, "/srv/file", m)).toEqual({ outcome: "not-a-directory", kind: "file" });
  });

  it("judges only foreign and non-directories, each with the fix", () => {
    expect(judgeDataDir({ dir: "/srv/x", ownership: { outcome: "marked" } })).toEqual([]);
    expect(judgeDataDir({ dir: "/srv/x", ownership: { outcome: "claimed", evidence: "e" } })).toEqual([]);
    const [foreign] = judgeDataDir({ dir: "/srv/x", ownership: { outcome: "foreign", entries: ["a", "b", "c", "d", "e", "f", "g"] } });
    expect(foreign).toMatchObject({ path: "paths.data" });
    expect(foreign!.message).toMatch(/already holds files wirebot did not create \(a, b, c, d, e, … \(7 entries\)\).*set paths\.data to a new or empty directory, such as \/srv\/x\/wirebot/);
    expect(judgeDataDir({ dir: "/srv/x", ownership: { outcome: "not-a-directory", kind: "symlink" } })[0]!.message).toMatch(/is a symlink, not a directory/);
  });
});

describe("paths.data that another program filled", () => {
  it("install --root: exit 69 naming the directory and its files, and the root is byte-for-byte unchanged", async () => {
    put("srv/shared/postgres/PG_VERSION", "16\n");
    put("srv/shared/www/index.html", "<html>");
    const before = snapshotTree(root);
    const r = await cli(["install", "--config", configWithData("/srv/shared"), "--root", root, "--yes"]);
    expect(r.code).toBe(69);
    expect(r.err).toMatch(/^error\[preflight\.data-dir\]: paths\.data .*\/srv\/shared is not wirebot's to use/m);
    expect(r.err).toMatch(/^  - paths\.data: \/srv\/shared already holds files wirebot did not create \(postgres, www\)/m);
    expect(r.err).toMatch(/^  fix: .*nothing was changed/m);
    expect(r.err).not.toMatch(/^\s+at /m);
    expect(snapshotTree(root)).toEqual(before);
  });

  it("install --root refuses before the access token is stored", async () => {
    put("srv/shared/postgres/PG_VERSION", "16\n");
    const ctx = testContext(root, { env: { BWS_ACCESS_TOKEN: "0.x" } });
    const stored: string[] = [];
    await expect(installCommand(ctx, { config: configWithData("/srv/shared"), yes: true }, { storeBootstrapToken: async (_c, t) => void stored.push(t) })).rejects.toMatchObject({
      code: "preflight.data-dir",
      kind: "preflight",
    });
    expect(stored).toEqual([]);
  });

  it("apply (converge) refuses it too, and a file in its place", async () => {
    put("srv/shared/postgres/PG_VERSION", "16\n");
    put("srv/afile", "x");
    const before = snapshotTree(root);
    expect((await cli(["apply", "--config", configWithData("/srv/shared"), "--root", root, "--yes"])).code).toBe(69);
    const r = await cli(["apply", "--config", configWithData("/srv/afile"), "--root", root, "--yes"]);
    expect(r.code).toBe(69);
    expect(r.err).toMatch(/\/srv\/afile exists and is a file, not a directory/);
    expect(snapshotTree(root)).toEqual(before);
  });

  it("an empty directory is taken and marked; a second apply accepts its own, now non-empty, tree", async () => {
    mkdirSync(path.join(root, "srv/wirebot"), { recursive: true });
    const cfg = configWithData("/srv/wirebot");
    expect((await cli(["install", "--config", cfg, "--root", root, "--yes"])).code).toBe(0);
    expect(snapshotTree(root)[`srv/wirebot/${OWNED_MARKER}`]).toMatch(/^644 file /);
    expect((await cli(["apply", "--config", cfg, "--root", root, "--yes"])).code).toBe(0);
    expect((await cli(["plan", "--root", root, "--exit-code"])).code).toBe(0);
  });

  it("a data dir an older wirebot made (no marker, listed in the manifest) is accepted and marked on the next apply", async () => {
    const ctx = testContext(root);
    await applyCommand(ctx, { config: examplePath("one-user"), yes: true });
    removeDir(path.join(root, "data/wirebot", OWNED_MARKER));
    put("data/wirebot/gateway/agents/dana/agent/sessions.sqlite", "state");
    const m = await readManifest(ctx.host);
    expect(m.paths).toContain("/data/wirebot/gateway/clawdbot.json");
    expect((await cli(["apply", "--config", examplePath("one-user"), "--root", root, "--yes"])).code).toBe(0);
    expect(snapshotTree(root)[`data/wirebot/${OWNED_MARKER}`]).toBeDefined();
  });

  it("moving paths.data leaves the old tree unmarked (wirebot no longer claims it) and its data in place", async () => {
    const ctx = testContext(root);
    const text = exampleText("one-user");
    await applyCommand(ctx, { config: examplePath("one-user"), yes: true });
    put("data/wirebot/users/dana/workspace/MEMORY.md", "remember");
    const moved = path.join(work, "moved.yaml");
    writeFileSync(moved, text.replace(/^users:/m, "paths: { data: /srv/wirebot }\nusers:"));
    expect(parseConfig(text, "x").paths.data).toBe("/data/wirebot");
    expect((await cli(["apply", "--config", moved, "--root", root, "--yes"])).code).toBe(0);
    const tree = snapshotTree(root);
    expect(tree[`data/wirebot/${OWNED_MARKER}`]).toBeUndefined();
    expect(tree["data/wirebot/users/dana/workspace/MEMORY.md"]).toBeDefined();
    expect(tree[`srv/wirebot/${OWNED_MARKER}`]).toBeDefined();
    expect(markerPath("/srv/wirebot")).toBe(`/srv/wirebot/${OWNED_MARKER}`);
  });

  it("restore of an archive from before markers marks the tree it writes, so the next apply accepts it", async () => {
    const src = tempDir("wirebot-src-");
    try {
      await applyCommand(testContext(src), { config: examplePath("one-user"), yes: true });
      removeDir(path.join(src, "data/wirebot", OWNED_MARKER));
      mkdirSync(path.join(src, "data/wirebot/users/dana/workspace"), { recursive: true });
      writeFileSync(path.join(src, "data/wirebot/users/dana/workspace/MEMORY.md"), "remember");
      const file = path.join(work, "old.tar.gz");
      expect(await backupCommand(testContext(src), { file })).toBe(0);
      expect(await restoreCommand(testContext(root), { file })).toBe(0);
      expect(snapshotTree(root)[`data/wirebot/${OWNED_MARKER}`]).toMatch(/^644 file /);
      expect((await cli(["apply", "--root", root, "--yes"])).code).toBe(0);
      expect(snapshotTree(root)["data/wirebot/users/dana/workspace/MEMORY.md"]).toBeDefined();
    } finally {
      removeDir(src);
    }
  });

  it("restore --force never writes into another program's directory", async () => {
    const src = tempDir("wirebot-src-");
    try {
      writeFileSync(path.join(work, "shared.yaml"), exampleText("one-user").replace(/^users:/m, "paths: { data: /srv/shared }\nusers:"));
      await applyCommand(testContext(src), { config: path.join(work, "shared.yaml"), yes: true });
      const file = path.join(work, "b.tar.gz");
      expect(await backupCommand(testContext(src), { file })).toBe(0);
      put("srv/shared/postgres/PG_VERSION", "16\n");
      const before = snapshotTree(root);
      await expect(restoreCommand(testContext(root), { file, force: true })).rejects.toMatchObject({ code: "preflight.data-dir" });
      expect(snapshotTree(root)).toEqual(before);
    } finally {
      removeDir(src);
    }
  });
});
