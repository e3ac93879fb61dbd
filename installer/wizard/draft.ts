/** Checks one wizard answer as the file path would: the answers so far plus this one, through parseConfig, keeping the problems at its key. */
import { stringify } from "yaml";
import { formatPath, parseConfig } from "../config/load.ts";
import { WirebotError, type ErrorIssue } from "../errors.ts";

/** A key of wirebot.yaml as a path: ["users", 0, "channels", "telegram", "peer"]. */
export type Key = readonly (string | number)[];
export type Draft = Record<string, unknown>;

/** Sets value at key in doc, creating the objects and arrays on the way. */
export function setAt(doc: Draft, key: Key, value: unknown): void {
  let node = doc as Record<string | number, unknown>;
  key.forEach((k, i) => {
    if (i === key.length - 1) {
      node[k] = value;
      return;
    }
    if (node[k] === undefined || node[k] === null || typeof node[k] !== "object") node[k] = typeof key[i + 1] === "number" ? [] : {};
    node = node[k] as Record<string | number, unknown>;
  });
}

// The schema's cross-field rules run only on an otherwise valid document, so what is not answered yet is
// filled with values that are valid and collide with nothing the operator can type (`placeholder` is no
// domain of theirs; its users are shared, so Access asks for admin e-mails as it will once users exist).
const PLACEHOLDER_UUID = "00000000-0000-4000-8000-000000000000";
type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : undefined);

function withPlaceholders(draft: Draft): Draft {
  const d = structuredClone(draft);
  d["domain"] ??= "placeholder.example.org";
  const litellm = obj(d["litellm"]) ?? {};
  const models = Array.isArray(litellm["models"]) ? litellm["models"] : ["placeholder-model"];
  d["litellm"] = { baseUrl: "http://127.0.0.1:4000", models, defaultModel: models[0], ...litellm };
  const secrets = obj(d["secrets"]) ?? { backend: "rbw" };
  const bitwarden = obj(secrets["bitwarden"]);
  if (bitwarden) secrets["bitwarden"] = { organizationId: PLACEHOLDER_UUID, projectId: PLACEHOLDER_UUID, ...bitwarden };
  d["secrets"] = secrets;
  const users = Array.isArray(d["users"]) ? (d["users"] as Obj[]) : [];
  d["users"] = users.length === 0 ? [{ id: "placeholder", name: "placeholder", mode: "shared" }] : users.map((u) => ({ name: u["id"] ?? "placeholder", ...u }));
  return d;
}

function issuesOf(draft: Draft): ErrorIssue[] {
  try {
    parseConfig(stringify(withPlaceholders(draft)), "the wizard");
    return [];
  } catch (e) {
    if (e instanceof WirebotError) return e.issues;
    throw e;
  }
}

/**
 * The config's own sentence(s) for value at key, or null when the file path would accept it: the problems at the key
 * or inside it, and those a cross-field rule puts on an enclosing key (`users[1].channels.telegram`) that this value
 * brings. A problem found inside a list names the entry: `"root": must be an e-mail address …`.
 */
export function problemAt(draft: Draft, key: Key, value: unknown): string | null {
  const where = formatPath(key);
  const within = (p: string) => p === where || p.startsWith(`${where}.`) || p.startsWith(`${where}[`);
  const encloses = (p: string) => where.startsWith(`${p}.`) || where.startsWith(`${p}[`);
  const probe = structuredClone(draft);
  setAt(probe, key, value);
  const before = new Set(issuesOf(draft).map((i) => `${i.path}: ${i.message}`));
  const mine = issuesOf(probe).filter((i) => within(i.path) || (encloses(i.path) && !before.has(`${i.path}: ${i.message}`)));
  if (mine.length === 0) return null;
  return mine
    .map((i) => {
      const index = /^\[(\d+)\]/.exec(i.path.slice(where.length));
      return index && within(i.path) && Array.isArray(value) ? `"${String(value[Number(index[1])])}": ${i.message}` : i.message;
    })
    .join("; ");
}
