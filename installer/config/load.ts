/** Loads wirebot.yaml: YAML parse, WIREBOT_* overrides, schema and layout checks, every issue with its path. */
import { parseDocument } from "yaml";
import type { z } from "zod";
import { configError, type ErrorIssue } from "../errors.ts";
import { checkLayout, resolveLayout } from "./layout.ts";
import { ConfigSchema, type Config } from "./schema.ts";

/** `users[2].id` from ["users", 2, "id"]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) out += typeof part === "number" ? `[${part}]` : out === "" ? String(part) : `.${String(part)}`;
  return out || "(top level)";
}

function zodIssues(error: z.ZodError): ErrorIssue[] {
  return error.issues.map((i) => {
    let message = i.message;
    if (i.code === "unrecognized_keys") message = `unknown key(s) ${i.keys.map((k) => `'${k}'`).join(", ")}: check the spelling against docs/configuration.md`;
    if (i.code === "invalid_type" && /received undefined/.test(i.message)) message = `is required (${i.expected})`;
    return { path: formatPath(i.path), message };
  });
}

/**
 * WIREBOT_<KEY>[__<KEY>…] overrides one key: WIREBOT_DOMAIN, WIREBOT_GATEWAY__PORT. Values are read as
 * YAML scalars, so numbers and booleans keep their types.
 */
export function applyEnvOverrides(raw: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  const doc = (raw && typeof raw === "object" ? structuredClone(raw) : {}) as Record<string, unknown>;
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("WIREBOT_") || value === undefined) continue;
    const keys = name.slice("WIREBOT_".length).split("__").map(camel);
    if (keys.some((k) => k === "") || !KNOWN_TOP.has(keys[0]!)) continue;
    let node: Record<string, unknown> = doc;
    for (const k of keys.slice(0, -1)) {
      if (!node[k] || typeof node[k] !== "object") node[k] = {};
      node = node[k] as Record<string, unknown>;
    }
    node[keys.at(-1)!] = parseScalar(value);
  }
  return doc;
}
const KNOWN_TOP = new Set(Object.keys(ConfigSchema.shape));
const camel = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_, ch: string) => ch.toUpperCase());
function parseScalar(v: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  if (v === "true" || v === "false") return v === "true";
  return v;
}

/** Parse and validate config text. Throws a ConfigError (exit 78) listing every problem. */
export function parseConfig(text: string, source: string, env: Readonly<Record<string, string | undefined>> = {}): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw configError("config.yaml", `${source} is not valid YAML`, {
      issues: doc.errors.map((e) => ({ path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "(file)", message: e.message.split("\n")[0]! })),
      hint: "fix the YAML syntax at the line shown, then run the command again",
    });
  }
  const withEnv = applyEnvOverrides(doc.toJS(), env);
  const parsed = ConfigSchema.safeParse(withEnv);
  if (!parsed.success) {
    throw configError("config.invalid", `${source} has ${parsed.error.issues.length} problem(s)`, {
      issues: zodIssues(parsed.error),
      hint: `edit ${source} (keys are described in docs/configuration.md) and run the command again; nothing was changed`,
    });
  }
  const layoutIssues = checkLayout(parsed.data, resolveLayout(parsed.data));
  if (layoutIssues.length > 0) {
    throw configError("config.ports", `${source} has ${layoutIssues.length} port problem(s)`, {
      issues: layoutIssues,
      hint: `choose ports that do not overlap in ${source}; nothing was changed`,
    });
  }
  return parsed.data;
}
