/** The one reader of the package's skills (assets.ts readShippedSkills) over the repo's skills/ and a temp tree, and the config check for unknown skill names. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, expect, test } from "vitest";
import { ConfigSchema } from "../config/schema.ts";
import { parseSkillFrontmatter, readShippedSkills } from "../assets.ts";
import { runtimeTestConfig } from "../../test/support/runtime.ts";
import { assertSkillsShipped, selectSkills } from "./skills.ts";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

test("the repo ships the four default skills, each with a name and description matching its directory", async () => {
  const skills = readShippedSkills();
  const defaults = ConfigSchema.shape.skills.parse(undefined);
  expect(skills.map((s) => s.name).sort()).toEqual([...defaults].sort());
  for (const s of skills) {
    const md = s.files.find((f) => f.relPath === "SKILL.md")!;
    expect(md.content.startsWith("---\n")).toBe(true);
    expect(s.description.length).toBeGreaterThan(40);
    // real instructions, not a stub
    expect(md.content.length).toBeGreaterThan(2000);
  }
});

test("nested files are read with /-separated relative paths; dot dirs and non-skill dirs are skipped", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "wb-skills-"));
  dirs.push(dir);
  mkdirSync(path.join(dir, "alpha/references"), { recursive: true });
  writeFileSync(path.join(dir, "alpha/SKILL.md"), '---\nname: alpha\ndescription: "Alpha: does things"\n---\nbody\n');
  writeFileSync(path.join(dir, "alpha/references/a.md"), "ref");
  mkdirSync(path.join(dir, "notes"));
  mkdirSync(path.join(dir, ".git"));
  const skills = readShippedSkills(dir);
  expect(skills).toEqual([
    { name: "alpha", description: "Alpha: does things", files: [{ relPath: "SKILL.md", content: expect.stringContaining("name: alpha") }, { relPath: "references/a.md", content: "ref" }] },
  ]);
});

test("a SKILL.md whose name differs from its directory is refused", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "wb-skills-"));
  dirs.push(dir);
  mkdirSync(path.join(dir, "beta"));
  writeFileSync(path.join(dir, "beta/SKILL.md"), "---\nname: gamma\ndescription: x\n---\n");
  expect(() => readShippedSkills(dir)).toThrow(expect.objectContaining({ code: "skills.name-mismatch" }));
});

test("unknown skill names in config are a config error listing each one", async () => {
  const shipped = readShippedSkills();
  const config = { ...runtimeTestConfig(), skills: ["wirebot-core", "wirebot-cooking", "wirebot-memory", "nope"] };
  let err: unknown;
  try {
    assertSkillsShipped(config, shipped);
  } catch (e) {
    err = e;
  }
  expect(err).toMatchObject({ code: "config.skills", exitCode: 78 });
  expect((err as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual(["skills[1]", "skills[3]"]);
  expect(selectSkills(runtimeTestConfig(), shipped).map((s) => s.name)).toEqual(runtimeTestConfig().skills);
});

test("parseSkillFrontmatter reads quoted and unquoted values", () => {
  expect(parseSkillFrontmatter("---\nname: x\ndescription: 'a: b'\nmetadata: {}\n---\n")).toEqual({ name: "x", description: "a: b" });
  expect(parseSkillFrontmatter("no frontmatter")).toEqual({});
});
