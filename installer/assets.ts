/** Reads the data files shipped in the package (unit templates, templates, skills, gateway plugins): inputs to rendering. */
import { lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

// installer/assets.ts and dist/assets.js both sit one level below the package root.
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** package.json's version: what `--version` prints and what the reconcile unit records. */
export const PACKAGE_VERSION: string = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;

export type Templates = Readonly<Record<string, string>>;

import { WirebotError } from "./errors.ts";

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

/** A gateway plugin shipped in the package (plugins/<name>/), installed as files under /opt/wirebot/plugins. */
export interface ShippedPlugin {
  name: string;
  files: { relPath: string; content: string }[];
}

export interface Assets {
  templates: Templates;
  skills: ShippedSkill[];
  plugins: ShippedPlugin[];
}

export function readAssets(root = PACKAGE_ROOT): Assets {
  const templates: Record<string, string> = {};
  for (const dir of ["units", "templates"]) {
    for (const f of readdirSync(path.join(root, dir))) {
      if (f.endsWith(".tmpl")) templates[f.slice(0, -".tmpl".length)] = readFileSync(path.join(root, dir, f), "utf8");
    }
  }
  return { templates, skills: readShippedSkills(path.join(root, "skills")), plugins: readPlugins(path.join(root, "plugins")) };
}

/** The subdirectories of dir, sorted; none when dir does not exist. */
function subdirs(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names.filter((n) => statSync(path.join(dir, n)).isDirectory());
}

// Deep trees, binaries or huge files have no business in a skill; these limits catch a wrong `dir`.
const MAX_DEPTH = 4;
const MAX_FILE_BYTES = 256 * 1024;

/**
 * Every `<dir>/<name>/` that holds a SKILL.md, with all its files (sorted, "/"-separated), its frontmatter
 * name equal to its directory and a description: the one reader of the package's skills.
 */
export function readShippedSkills(dir = path.join(PACKAGE_ROOT, "skills")): ShippedSkill[] {
  const skills: ShippedSkill[] = [];
  for (const name of subdirs(dir)) {
    if (name.startsWith(".")) continue;
    let skillMd: string;
    try {
      skillMd = readFileSync(path.join(dir, name, "SKILL.md"), "utf8");
    } catch {
      continue;
    }
    const front = parseSkillFrontmatter(skillMd);
    if (front.name !== name) throw new WirebotError("internal", "skills.name-mismatch", `skill ${dir}/${name}/SKILL.md declares name '${front.name ?? "(none)"}'; it must equal its directory name`);
    if (!front.description) throw new WirebotError("internal", "skills.no-description", `skill ${name}: SKILL.md has no description in its frontmatter`);
    skills.push({ name, description: front.description, files: walk(path.join(dir, name), "", { maxDepth: MAX_DEPTH, maxBytes: MAX_FILE_BYTES }) });
  }
  return skills;
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

function readPlugins(dir: string): ShippedPlugin[] {
  return subdirs(dir).map((name) => ({ name, files: walk(path.join(dir, name), "") }));
}

/** Files under base, sorted; symlinks skipped (copying one would publish whatever it points at on the build machine). */
function walk(base: string, rel: string, limits: { maxDepth: number; maxBytes: number } = { maxDepth: Infinity, maxBytes: Infinity }, depth = 0): { relPath: string; content: string }[] {
  const out: { relPath: string; content: string }[] = [];
  for (const f of readdirSync(path.join(base, rel)).sort()) {
    const r = rel ? `${rel}/${f}` : f;
    const st = lstatSync(path.join(base, r));
    if (st.isDirectory()) {
      if (depth < limits.maxDepth) out.push(...walk(base, r, limits, depth + 1));
    } else if (st.isFile()) {
      if (st.size > limits.maxBytes) throw new WirebotError("internal", "skills.file-too-large", `file ${base}/${r} is ${st.size} bytes (limit ${limits.maxBytes})`);
      out.push({ relPath: r, content: readFileSync(path.join(base, r), "utf8") });
    }
  }
  return out;
}
