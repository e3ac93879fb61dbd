/** Reads back a file a pull wrote, in either of its formats (env lines or one JSON object), as name → value. */
import type { EnvFilePlan } from "../config/secret-plan.ts";
import { parseEnvFile } from "./env-file.ts";

export function parseSecretFile(text: string, format: EnvFilePlan["format"]): Map<string, string> {
  if (format === "env") return new Map(parseEnvFile(text));
  try {
    const o = JSON.parse(text) as unknown;
    if (typeof o !== "object" || o === null || Array.isArray(o)) return new Map();
    return new Map(Object.entries(o).filter((e): e is [string, string] => typeof e[1] === "string"));
  } catch {
    return new Map();
  }
}

/**
 * Whether a consumer must restart to see `after`: always for a file read at process start; for a file the
 * consumer re-reads on its config reload, only when a value it already holds changed (added and removed
 * names come with the config change that uses them).
 */
export function needsRestart(f: Pick<EnvFilePlan, "format" | "liveReload">, before: string, after: string): boolean {
  if (before === after) return false;
  if (!f.liveReload || before === "") return true;
  const old = parseSecretFile(before, f.format);
  const now = parseSecretFile(after, f.format);
  return [...old].some(([k, v]) => now.has(k) && now.get(k) !== v);
}
