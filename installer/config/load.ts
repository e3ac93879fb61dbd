/** Loads wirebot.yaml: YAML parse, WIREBOT_* overrides, schema and layout checks, every issue with its path. */
import { isAlias, isNode, isScalar, LineCounter, parseDocument, visit, type Document } from "yaml";
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

// The words of the YAML a sysadmin wrote, not JavaScript's.
const TYPE_WORDS: Record<string, string> = { array: "a list", object: "a mapping (key: value lines)", string: "a text", number: "a number", boolean: "true or false", null: "empty", bigint: "a number" };

function zodIssues(error: z.ZodError): ErrorIssue[] {
  return error.issues.map((i) => {
    let message = i.message;
    if (i.code === "unrecognized_keys") message = `unknown key(s) ${i.keys.map((k) => `'${k}'`).join(", ")}: check the spelling against docs/configuration.md`;
    if (i.code === "invalid_type") {
      const received = /received (\w+)/.exec(i.message)?.[1];
      message = received === "undefined" ? `is required (${i.expected})` : `must be ${TYPE_WORDS[i.expected] ?? i.expected}, not ${TYPE_WORDS[received ?? ""] ?? received ?? "this"}`;
    }
    if (i.code === "invalid_value" && i.values.length > 0) message = `must be one of ${i.values.map(String).join(", ")}`;
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

/** "line 4, column 3" of a character offset. */
const placeAt = (lines: LineCounter, offset: number) => {
  const p = lines.linePos(offset);
  return `line ${p.line}, column ${p.col}`;
};

/**
 * The document's plain data, or a ConfigError for what is not a mapping of keys: an empty file, a list, a bare text,
 * and alias bombs (the yaml library stops expanding after 100 aliases and throws; that must not become exit 70).
 */
function plainData(doc: Document, text: string, lines: LineCounter, source: string): Record<string, unknown> {
  const start = `start from examples/one-user.yaml (every key is in docs/configuration.md); nothing was changed`;
  if (doc.contents === null || (isScalar(doc.contents) && (doc.contents.value === null || doc.contents.value === "")))
    throw configError("config.empty", `${source} is empty`, { issues: [{ path: "(file)", message: "no settings in it (only blank lines or comments)" }], hint: start });
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    const message = e instanceof Error ? e.message.split("\n")[0]! : String(e);
    if (!/alias/i.test(message))
      throw configError("config.yaml", `${source} could not be read as YAML data`, { issues: [{ path: "(file)", message }], hint: `fix the YAML in ${source}, then run the command again; nothing was changed` });
    if (/excessive alias/i.test(message)) {
      let first = 0;
      visit(doc, { Alias: (_k, node) => ((first = node.range?.[0] ?? 0), visit.BREAK) });
      throw configError("config.aliases", `${source} expands its YAML aliases (*name) too many times`, {
        issues: [{ path: placeAt(lines, first), message: "more than 100 alias expansions in all" }],
        hint: `write the repeated values out instead of referring to them with *aliases in ${source}; nothing was changed`,
      });
    }
    // An alias to an anchor defined only later in the file: the parser accepts it, building the data does not.
    const anchors = new Set<string>();
    let dangling: { at: number; name: string } | null = null;
    visit(doc, (_k, node) => {
      if (isAlias(node)) {
        if (!anchors.has(node.source)) return ((dangling = { at: node.range?.[0] ?? 0, name: node.source }), visit.BREAK);
      } else if (isNode(node) && node.anchor) anchors.add(node.anchor);
      return undefined;
    });
    const d = dangling as { at: number; name: string } | null;
    const later = d !== null && text.includes(`&${d.name}`);
    throw configError("config.yaml", `${source} refers to a YAML alias that has no anchor before it`, {
      issues: [{ path: placeAt(lines, d?.at ?? 0), message: d ? (later ? `*${d.name} comes before &${d.name}` : `*${d.name} refers to no &${d.name} anchor`) : message }],
      hint: `define &name before any *name that refers to it in ${source}; nothing was changed`,
    });
  }
  if (data === null || typeof data !== "object" || Object.getPrototypeOf(data) !== Object.prototype) {
    const what = Array.isArray(data) ? "a list" : typeof data === "string" ? "a single text" : `a single ${typeof data === "object" ? "value" : typeof data}`;
    throw configError("config.shape", `${source} is ${what}, not a mapping of settings`, {
      issues: [{ path: placeAt(lines, doc.contents?.range?.[0] ?? 0), message: "the top level must be key: value lines such as domain: and users:" }],
      hint: start,
    });
  }
  return data as Record<string, unknown>;
}

/** Parse and validate config text. Throws a ConfigError (exit 78) listing every problem; never anything else for any text. */
export function parseConfig(text: string, source: string, env: Readonly<Record<string, string | undefined>> = {}): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw configError("config.yaml", `${source} is not valid YAML`, {
      issues: doc.errors.map((e) => ({ path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "(file)", message: e.message.split("\n")[0]! })),
      hint: "fix the YAML syntax at the line shown, then run the command again",
    });
  }
  const withEnv = applyEnvOverrides(plainData(doc, text, lines, source), env);
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
