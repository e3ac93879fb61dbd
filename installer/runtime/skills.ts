/** Which shipped skills a config selects (the package's skills are read once, validated, by assets.ts), and the check for unknown names. */
import { fileURLToPath } from "node:url";
import type { Config } from "../config/schema.ts";
import type { ShippedSkill } from "../assets.ts";
import { configError } from "../errors.ts";

/** `<package>/skills`, both from source (installer/runtime/) and from the build (dist/runtime/). */
export const shippedSkillsDir = (): string => fileURLToPath(new URL("../../skills", import.meta.url));

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
