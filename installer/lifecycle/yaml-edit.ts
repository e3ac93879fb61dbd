/** Edits wirebot.yaml through the yaml Document API so the operator's comments, order and flow style survive. */
import { isMap, isSeq, parseDocument, type Document } from "yaml";
import { configError, usageError } from "../errors.ts";
import type { UserConfig } from "../config/schema.ts";

export interface NewUser {
  id: string;
  name?: string;
  email?: string;
  mode?: "shared" | "dedicated";
  telegram?: string;
  whatsapp?: string;
  budgetUsd?: number;
}

function parse(text: string): Document {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw configError("config.yaml", "wirebot.yaml is not valid YAML", { hint: "fix the YAML syntax, then run the command again; nothing was changed" });
  return doc;
}

/** Index of the user with this id in the document's users list, or -1. */
export function findUserIndex(doc: Document, id: string): number {
  const users = doc.get("users");
  if (!isSeq(users)) return -1;
  return users.items.findIndex((item) => isMap(item) && String(item.get("id")) === id);
}

export function renderAddUser(text: string, u: NewUser): string {
  const doc = parse(text);
  if (findUserIndex(doc, u.id) >= 0)
    throw usageError("user.exists", `user '${u.id}' already exists`, `to change its gateway use \`wirebot user move ${u.id} --mode shared|dedicated\`; to re-create it, \`wirebot user remove ${u.id}\` first`);
  const entry: Record<string, unknown> = { id: u.id, name: u.name ?? u.id };
  if (u.email !== undefined) entry["email"] = u.email;
  if (u.mode) entry["mode"] = u.mode;
  const channels: Record<string, unknown> = {};
  if (u.telegram !== undefined) channels["telegram"] = { peer: u.telegram };
  if (u.whatsapp !== undefined) channels["whatsapp"] = { peer: u.whatsapp };
  if (Object.keys(channels).length > 0) entry["channels"] = channels;
  if (u.budgetUsd !== undefined) entry["budget"] = { monthlyUsd: u.budgetUsd };
  if (!isSeq(doc.get("users"))) doc.set("users", doc.createNode([]));
  doc.addIn(["users"], doc.createNode(entry));
  return keepLines(doc);
}

export function renderRemoveUser(text: string, id: string): string {
  const doc = parse(text);
  const i = findUserIndex(doc, id);
  if (i < 0) throw usageError("user.unknown", `no user '${id}' in wirebot.yaml`, "see `wirebot user list`");
  doc.deleteIn(["users", i]);
  return keepLines(doc);
}

/**
 * Sets a user's mode. Keys that only a dedicated user may carry (port, trust: trusted) are dropped
 * when moving to shared, because the schema refuses them there; the caller reports what was dropped.
 */
export function renderMoveUser(text: string, user: UserConfig, mode: "shared" | "dedicated"): { text: string; dropped: string[] } {
  const doc = parse(text);
  const i = findUserIndex(doc, user.id);
  if (i < 0) throw usageError("user.unknown", `no user '${user.id}' in wirebot.yaml`, "see `wirebot user list`");
  const dropped: string[] = [];
  doc.setIn(["users", i, "mode"], mode);
  if (mode === "shared") {
    if (user.port !== undefined) {
      doc.deleteIn(["users", i, "port"]);
      dropped.push("port");
    }
    if (user.trust === "trusted") {
      doc.deleteIn(["users", i, "trust"]);
      dropped.push("trust");
    }
  }
  return { text: keepLines(doc), dropped };
}

export function renderRuntimeVersion(text: string, version: string): string {
  const doc = parse(text);
  doc.setIn(["runtime", "version"], version);
  return keepLines(doc);
}

/** No folding: an operator's long one-line flow maps (tunnel:, litellm:) stay one line, so an edit's diff is the edit only. */
const keepLines = (doc: Document) => doc.toString({ lineWidth: 0 });
