/** Reads the data files shipped in the package (unit templates, templates, skills, gateway plugins): inputs to rendering. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

// installer/assets.ts and dist/assets.js both sit one level below the package root.
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** package.json's version: what `--version` prints and what the reconcile unit records. */
export const PACKAGE_VERSION: string = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;

export type Templates = Readonly<Record<string, string>>;

import { parseSkillFrontmatter, type ShippedSkill } from "./runtime/skills.ts";

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
  return { templates, skills: readSkills(path.join(root, "skills")), plugins: readPlugins(path.join(root, "plugins")) };
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

function readSkills(dir: string): ShippedSkill[] {
  return subdirs(dir)
    .map((name) => {
      const files = walk(path.join(dir, name), "");
      const skillMd = files.find((f) => f.relPath === "SKILL.md");
      return { name, description: skillMd ? (parseSkillFrontmatter(skillMd.content).description ?? "") : "", files };
    });
}

function readPlugins(dir: string): ShippedPlugin[] {
  return subdirs(dir).map((name) => ({ name, files: walk(path.join(dir, name), "") }));
}

function walk(base: string, rel: string): { relPath: string; content: string }[] {
  const out: { relPath: string; content: string }[] = [];
  for (const f of readdirSync(path.join(base, rel)).sort()) {
    const r = rel ? `${rel}/${f}` : f;
    if (statSync(path.join(base, r)).isDirectory()) out.push(...walk(base, r));
    else out.push({ relPath: r, content: readFileSync(path.join(base, r), "utf8") });
  }
  return out;
}
