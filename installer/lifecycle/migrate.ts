/** Moving a user's agent state between the shared gateway and a dedicated one, and recursive ownership. */
import { SERVICE_USER, dedicatedServiceUser, resolveLayout, userDir, userMode } from "../config/layout.ts";
import type { Config, UserConfig } from "../config/schema.ts";
import { usageError } from "../errors.ts";
import type { Host, Ownership } from "../host/host.ts";

/**
 * chown every entry below (and including) path, keeping each mode. Symlinks are skipped: chmod/chown
 * follow them, and a link planted in a state dir must not hand its target to the service user.
 */
export async function chownRecursive(host: Host, path: string, owner: Ownership): Promise<number> {
  const st = await host.stat(path);
  if (!st || st.kind === "symlink" || st.kind === "other") return 0;
  let n = 0;
  if (st.uid !== owner.uid || st.gid !== owner.gid) {
    await host.setMode(path, { mode: st.mode, owner });
    n++;
  }
  if (st.kind === "dir") for (const name of (await host.readdir(path)) ?? []) n += await chownRecursive(host, `${path}/${name}`, owner);
  return n;
}

/** Where a user's agent state lives in a given config (OpenClaw: `$STATE/agents/<id>`). */
export function agentStateDir(c: Config, u: UserConfig): string {
  const l = resolveLayout(c);
  return userMode(c, u) === "dedicated" ? `${userDir(c, u.id)}/agents/${u.id}` : `${l.shared?.stateDir ?? `${c.paths.data}/gateway`}/agents/${u.id}`;
}

export const serviceUserFor = (c: Config, u: UserConfig) => (userMode(c, u) === "dedicated" ? dedicatedServiceUser(u.id) : SERVICE_USER);

export interface MovePlan {
  id: string;
  from: string;
  to: string;
  /** the agent dir exists and must move */
  move: boolean;
  newUser: string;
}

/** Checks before anything is stopped: a destination that already holds state is never overwritten. */
export async function planAgentMove(host: Host, before: Config, after: Config, id: string): Promise<MovePlan> {
  const u0 = before.users.find((u) => u.id === id)!;
  const u1 = after.users.find((u) => u.id === id)!;
  const from = agentStateDir(before, u0);
  const to = agentStateDir(after, u1);
  const move = (await host.stat(from)) !== null;
  if (move && (await host.stat(to)) !== null)
    throw usageError("user.move-target", `both ${from} and ${to} exist`, `keep one of them (move the other aside), then run the move again; nothing was changed`);
  return { id, from, to, move, newUser: serviceUserFor(after, u1) };
}

/**
 * Renames the agent dir into the new gateway's state dir and hands the user's whole directory
 * (workspace included) and the moved agent dir to the new gateway's service user. The gateways
 * are stopped by the caller. Returns how many entries changed owner (0 when the user is unknown
 * under a --root without that account).
 */
export async function moveAgentState(host: Host, after: Config, m: MovePlan): Promise<{ moved: boolean; chowned: number }> {
  const owner = await host.lookupUser(m.newUser);
  const parent = m.to.replace(/\/[^/]+$/, "");
  if (m.move) {
    if (!(await host.stat(parent))) await host.mkdir(parent, { mode: 0o700, ...(owner ? { owner } : {}) });
    await host.rename(m.from, m.to);
  }
  if (!owner) return { moved: m.move, chowned: 0 };
  let chowned = await chownRecursive(host, userDir(after, m.id), owner);
  if (m.move && !m.to.startsWith(userDir(after, m.id) + "/")) chowned += await chownRecursive(host, m.to, owner);
  return { moved: m.move, chowned };
}
