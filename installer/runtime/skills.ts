/** Reads the Wirebot skills shipped in the package (skills/<name>/SKILL.md + files) and checks config.skills against them. */
import { fileURLToPath } from "node:url";
import type { Config } from "../config/schema.ts";
import { configError, WirebotError } from "../errors.ts";
import type { Host } from "../host/host.ts";

export interface ShippedSkillFile {
  /** path inside the skill's directory, "/"-separated: "SKILL.md", "references/x.md" */
  relPath: string;
  content: string;
}

export interface ShippedSkill {
  name: string;
  /** the frontmatter description, for listings */
  description: string;
  files: ShippedSkillFile[];
}

/** `<package>/skills`, both from source (installer/runtime/) and from the build (dist/runtime/). */
export const shippedSkillsDir = (): string => fileURLToPath(new URL("../../skills", import.meta.url));

// Deep trees, binaries or huge files have no business in a skill; these limits catch a wrong `dir`.
const MAX_DEPTH = 4;
const MAX_FILE_BYTES = 256 * 1024;

/**
 * Every `<dir>/<name>/` that holds a SKILL.md, with all its files, sorted by name and path.
 * The skills ship with wirebot rather than living on the target, so pass a host rooted at "/"
 * (even when installing with --root) and a real `dir`.
 */
export async function readShippedSkills(host: Host, dir: string = shippedSkillsDir()): Promise<ShippedSkill[]> {
  const names = await host.readdir(dir);
  if (names === null) throw new WirebotError("internal", "skills.missing-dir", `the shipped skills directory ${dir} does not exist`, { hint: "reinstall wirebot; its package must contain skills/" });
  const skills: ShippedSkill[] = [];
  for (const name of names) {
    if (name.startsWith(".") || (await host.stat(`${dir}/${name}`))?.kind !== "dir") continue;
    const skillMd = await host.readFile(`${dir}/${name}/SKILL.md`);
    if (skillMd === null) continue;
    const front = parseSkillFrontmatter(skillMd.toString("utf8"));
    if (front.name !== name) {
      throw new WirebotError("internal", "skills.name-mismatch", `skill ${dir}/${name}/SKILL.md declares name '${front.name ?? "(none)"}'; it must equal its directory name`);
    }
    if (!front.description) throw new WirebotError("internal", "skills.no-description", `skill ${name}: SKILL.md has no description in its frontmatter`);
    const files = await readTree(host, `${dir}/${name}`, "", 0);
    skills.push({ name, description: front.description, files });
  }
  return skills;
}

async function readTree(host: Host, base: string, rel: string, depth: number): Promise<ShippedSkillFile[]> {
  const here = rel === "" ? base : `${base}/${rel}`;
  const out: ShippedSkillFile[] = [];
  for (const entry of (await host.readdir(here)) ?? []) {
    const relPath = rel === "" ? entry : `${rel}/${entry}`;
    const st = await host.stat(`${base}/${relPath}`);
    if (st?.kind === "dir" && depth < MAX_DEPTH) out.push(...(await readTree(host, base, relPath, depth + 1)));
    else if (st?.kind === "file") {
      if (st.size > MAX_FILE_BYTES) throw new WirebotError("internal", "skills.file-too-large", `skill file ${base}/${relPath} is ${st.size} bytes (limit ${MAX_FILE_BYTES})`);
      out.push({ relPath, content: ((await host.readFile(`${base}/${relPath}`)) ?? Buffer.alloc(0)).toString("utf8") });
    }
    // Symlinks are skipped: copying one would publish whatever it points at on the build machine.
  }
  return out.sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));
}

/** `name` and `description` from a SKILL.md's YAML frontmatter (single-line values, optionally quoted). */
export function parseSkillFrontmatter(text: string): { name?: string; description?: string } {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n/.exec(text);
  if (!m) return {};
  const out: { name?: string; description?: string } = {};
  for (const line of m[1]!.split(/\r?\n/)) {
    const kv = /^(name|description):\s*(.*)$/.exec(line);
    if (!kv) continue;
    let v = kv[2]!.trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[kv[1] as "name" | "description"] = v;
  }
  return out;
}

/** Throws a ConfigError (78) naming every `skills[i]` that wirebot does not ship. */
export function assertSkillsShipped(config: Config, shipped: readonly ShippedSkill[]): void {
  const known = new Set(shipped.map((s) => s.name));
  const issues = config.skills.flatMap((name, i) => (known.has(name) ? [] : [{ path: `skills[${i}]`, message: `no skill '${name}' ships with wirebot (available: ${[...known].join(", ") || "none"})` }]));
  if (issues.length > 0) {
    throw configError("config.skills", `${issues.length} unknown skill(s) in skills`, { issues, hint: "remove them from skills: in /etc/wirebot/wirebot.yaml or fix the spelling; nothing was changed" });
  }
}

/** The shipped skills that config.skills selects, in config order. Throws like assertSkillsShipped. */
export function selectSkills(config: Config, shipped: readonly ShippedSkill[]): ShippedSkill[] {
  assertSkillsShipped(config, shipped);
  return config.skills.map((name) => shipped.find((s) => s.name === name)!);
}
