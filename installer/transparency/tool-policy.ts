/** Whether the tool policy wirebot renders removes a tool from an agent, and by which rule: the runtime does not say. Pure. */

/** The runtime's tool groups and profiles (openclaw 2026.9.6, docs/gateway/config-tools/tool-policy.md). */
// prettier-ignore
const GROUPS: Readonly<Record<string, readonly string[]>> = {
  "group:runtime":    ["exec", "process", "code_execution", "bash"],
  "group:fs":         ["read", "write", "edit", "apply_patch"],
  "group:sessions":   ["sessions", "sessions_list", "sessions_history", "sessions_search", "conversations_list", "conversations_send", "conversations_turn", "sessions_send", "sessions_spawn", "sessions_yield", "subagents", "session_status", "suggest_task", "dismiss_task"],
  "group:memory":     ["memory_search", "memory_get"],
  "group:web":        ["web_search", "x_search", "web_fetch"],
  "group:ui":         ["browser", "screen", "theme", "dashboard", "terminal", "portal", "canvas", "show_widget"],
  "group:automation": ["heartbeat_respond", "automations", "cron", "gateway", "plugins", "openclaw"],
  "group:messaging":  ["message"],
  "group:nodes":      ["nodes", "computer"],
  "group:agents":     ["agents_list", "get_goal", "create_goal", "update_goal", "progress_card", "ask_user", "skill_workshop"],
  "group:media":      ["view_image", "image_generate", "music_generate", "video_generate", "tts", "pdf"],
};

// prettier-ignore
const PROFILES: Readonly<Record<string, readonly string[]>> = {
  minimal:   ["session_status", "gateway"],
  coding:    ["group:fs", "group:runtime", "group:web", "group:sessions", "group:memory", "cron", "gateway", "get_goal", "create_goal", "update_goal", "progress_card", "ask_user", "skill_workshop", "view_image", "image_generate", "music_generate", "video_generate", "theme"],
  messaging: ["group:messaging", "sessions", "sessions_list", "sessions_history", "sessions_search", "conversations_list", "conversations_send", "conversations_turn", "sessions_send", "sessions_spawn", "sessions_yield", "subagents", "session_status", "gateway", "ask_user", "theme"],
};

/** Tools every agent has whatever its profile: the wrappers that reach deferred tools. */
const ALWAYS = new Set(["tool_search", "tool_call", "tool_describe", "tool_search_code"]);

export const KNOWN_TOOLS: ReadonlySet<string> = new Set(Object.values(GROUPS).flat());

export interface ToolPolicy {
  profile?: string;
  alsoAllow?: readonly string[];
  deny?: readonly string[];
}

const expand = (entry: string): readonly string[] => GROUPS[entry] ?? [entry];
const canonical = (tool: string) => (tool === "bash" ? "exec" : tool);

/**
 * The rule of `policy` that keeps `tool` from the agent (`tools.deny group:runtime`, `not in profile
 * messaging`), or null when the policy offers it (or the tool is not one the runtime knows: then the
 * call was to a tool that does not exist, not a denial).
 */
export function policyRule(policy: ToolPolicy, tool: string): string | null {
  const t = canonical(tool);
  if (!KNOWN_TOOLS.has(t)) return null;
  for (const d of policy.deny ?? []) if (expand(d).map(canonical).includes(t)) return `tools.deny ${d}`;
  if (policy.profile === undefined || policy.profile === "full" || ALWAYS.has(t)) return null;
  const offered = [...(PROFILES[policy.profile] ?? []), ...(policy.alsoAllow ?? [])].flatMap(expand).map(canonical);
  return offered.includes(t) ? null : `not in tools.profile ${policy.profile}`;
}
