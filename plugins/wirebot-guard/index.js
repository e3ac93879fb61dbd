// Wirebot tenant guard: a guarded agent's reply may attach local files from its own workspace only (docs/trust.md).
import fs from "node:fs";
import path from "node:path";

const NOTE = "[wirebot: an attachment from outside your workspace was not sent]";

/** The agent a session key belongs to: `agent:<id>:…`. */
function agentOf(sessionKey) {
  const m = /^agent:([a-z0-9_][a-z0-9_-]{0,63}):/.exec(String(sessionKey ?? ""));
  return m ? m[1] : null;
}

function realpathOrResolved(p) {
  try {
    return fs.realpathSync(p);
  } catch {
    try {
      return path.join(fs.realpathSync(path.dirname(p)), path.basename(p));
    } catch {
      return path.resolve(p);
    }
  }
}

/** True for a reference this agent may attach: a remote URL (the runtime guards those) or a file inside its workspace. */
export function allowedMedia(ref, workspace) {
  const s = String(ref ?? "").trim();
  if (/^https?:\/\//i.test(s)) return true;
  // media:// (the shared inbound store), ~/, data: and every other scheme name something outside the workspace.
  if (workspace === null || /^[a-z][a-z0-9+.-]*:/i.test(s.replace(/^file:\/\//i, "/")) || s.startsWith("~")) return false;
  const local = s.replace(/^file:\/\//i, "");
  const root = realpathOrResolved(workspace);
  const target = realpathOrResolved(path.isAbsolute(local) ? local : path.join(workspace, local));
  const rel = path.relative(root, target);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}

/** The payload without the attachments this agent may not send, or null when nothing had to go. */
export function guardPayload(payload, workspace) {
  if (!payload || typeof payload !== "object") return null;
  const urls = [...(typeof payload.mediaUrl === "string" ? [payload.mediaUrl] : []), ...(Array.isArray(payload.mediaUrls) ? payload.mediaUrls : [])];
  const kept = urls.filter((u) => allowedMedia(u, workspace));
  const attachments = Array.isArray(payload.attachments) ? payload.attachments : null;
  const keptAttachments = attachments?.filter((a) => allowedMedia(a?.media ?? a?.path ?? a?.url, workspace)) ?? null;
  if (kept.length === urls.length && keptAttachments?.length === attachments?.length) return null;
  const next = { ...payload, text: payload.text ? `${payload.text}\n\n${NOTE}` : NOTE };
  delete next.mediaUrl;
  delete next.mediaUrls;
  if (kept.length === 1) next.mediaUrl = kept[0];
  else if (kept.length > 1) next.mediaUrls = kept;
  if (keptAttachments) next.attachments = keptAttachments;
  return next;
}

/**
 * The workspace an agent may attach from: `<usersDir>/<agent>/workspace`, or none (null) for the agents
 * listed as attaching nothing and for a session that names no agent. A rule, not a list of users, so
 * adding a user never changes this plugin's config (which would reload every plugin, channels included).
 */
export function workspaceOf(config, agentId) {
  const usersDir = typeof config?.usersDir === "string" ? config.usersDir : null;
  const none = Array.isArray(config?.noLocalMedia) ? config.noLocalMedia : [];
  if (agentId === null || usersDir === null || none.includes(agentId)) return null;
  return path.join(usersDir, agentId, "workspace");
}

export default {
  id: "wirebot-guard",
  name: "Wirebot tenant guard",
  register(api) {
    const config = api.pluginConfig ?? {};
    api.on(
      "reply_payload_sending",
      (event, ctx) => {
        try {
          const next = guardPayload(event.payload, workspaceOf(config, agentOf(event?.sessionKey ?? ctx?.sessionKey)));
          return next === null ? undefined : { payload: next };
        } catch {
          // The runner skips a handler that throws (fail open): refuse the reply instead.
          return { cancel: true };
        }
      },
      { priority: 1000 },
    );
  },
};
