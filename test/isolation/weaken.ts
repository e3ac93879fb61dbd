/** Attack-suite support: the deliberately weakened gateway config, one lowered guard per vector, to show each attack check can see a leak. */

type Doc = Record<string, any>;

/**
 * Lowers, for one tenant, exactly the guards wirebot renders against the attack vectors: the tool deny
 * list (message, exec, sessions…), workspace-only files, the cross-context send block, session
 * visibility (own agent only) and agent-to-agent access, the own-provider
 * model policy, the guard plugin's attachment check, and (by making the tenant an owner with /config on) the owner-only command gate.
 */
export function weaken(doc: Doc, agentId: string, ownerPeer: string): void {
  const agent = doc["agents"]["entries"][agentId];
  agent["tools"] = { elevated: { enabled: false }, profile: "messaging", alsoAllow: ["read", "write", "edit", "exec", "process"], fs: { workspaceOnly: false } };
  delete agent["modelPolicy"];
  delete doc["tools"]["message"];
  doc["tools"]["sessions"] = { visibility: "all" };
  doc["tools"]["agentToAgent"] = { enabled: true };
  doc["commands"] = { ...doc["commands"], config: true, ownerAllowFrom: [ownerPeer] };
  // The tenant guard plugin: without it a reply's MEDIA: line attaches from the shared inbound store.
  doc["plugins"]["entries"]["wirebot-guard"]["enabled"] = false;
}
