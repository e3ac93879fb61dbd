/** `wirebot user add|remove|list|move`: edit wirebot.yaml in place (comments kept), validate, then converge. */
import { PATHS, dedicatedServiceUser, resolveLayout, userDir, userMode } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { createSystemd } from "../engine/systemd.ts";
import { EXIT, usageError } from "../errors.ts";
import { converge } from "../pipeline/converge.ts";
import { withApplyLock } from "../pipeline/lock.ts";
import { agentStateDir, moveAgentState, planAgentMove } from "../lifecycle/migrate.ts";
import { renderAddUser, renderMoveUser, renderRemoveUser } from "../lifecycle/yaml-edit.ts";
import { RECONCILE_UNIT } from "../config/units.ts";
import { loadConfig, type CommandContext } from "../pipeline/context.ts";

export type GatewayModeFlag = "shared" | "dedicated";

export interface UserAddOptions {
  id: string;
  mode?: string;
  telegram?: string;
  whatsapp?: string;
  /** monthly budget in USD (a number or its text from the command line) */
  budget?: number | string;
  name?: string;
  /** who Cloudflare Access lets into a dedicated user's own Control UI */
  email?: string;
}

export interface UserRemoveOptions {
  id: string;
  purge?: boolean;
}

export interface UserListOptions {
  json?: boolean;
}

export interface UserMoveOptions {
  id: string;
  mode: string;
}

/**
 * A new agent's LiteLLM key reaches tmpfs through converge's live hooks (an in-process secrets
 * refresh that restarts only the units whose env file changed), so no dedicated gateway restarts.
 */
function parseMode(mode: string | undefined): GatewayModeFlag | undefined {
  if (mode === undefined) return undefined;
  if (mode !== "shared" && mode !== "dedicated") throw usageError("user.mode", `--mode must be shared or dedicated, not '${mode}'`);
  return mode;
}

function parseBudget(b: number | string | undefined): number | undefined {
  if (b === undefined) return undefined;
  const n = typeof b === "number" ? b : Number(b);
  if (!Number.isFinite(n)) throw usageError("user.budget", `--budget must be a number of US dollars, not '${b}'`);
  return n;
}

/** Validates before anything is written: a bad id or a clash is exit 78 and the host is untouched. */
const validate = (ctx: CommandContext, text: string) => parseConfig(text, ctx.host.resolve(PATHS.configFile), ctx.env);

function where(c: Config, id: string): string {
  const l = resolveLayout(c);
  const g = l.gateways.find((x) => x.users.some((u) => u.id === id))!;
  return g.kind === "shared" ? `the shared gateway (${g.unit}, port ${g.port})` : `its own gateway (${g.unit}, port ${g.port}, user ${g.serviceUser})`;
}

// Each writing user command holds the apply lock from reading wirebot.yaml to the end: two at once would lose one's edit.
export function userAddCommand(ctx: CommandContext, opts: UserAddOptions): Promise<number> {
  return withApplyLock(ctx, () => addUser(ctx, opts));
}

async function addUser(ctx: CommandContext, opts: UserAddOptions): Promise<number> {
  const { text } = await loadConfig(ctx);
  const mode = parseMode(opts.mode);
  const budgetUsd = parseBudget(opts.budget);
  const next = renderAddUser(text, {
    id: opts.id,
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    ...(opts.email !== undefined ? { email: opts.email } : {}),
    ...(mode ? { mode } : {}),
    ...(opts.telegram !== undefined ? { telegram: opts.telegram } : {}),
    ...(opts.whatsapp !== undefined ? { whatsapp: opts.whatsapp } : {}),
    ...(budgetUsd !== undefined ? { budgetUsd } : {}),
  });
  const config = validate(ctx, next);
  await converge(ctx, config, next, {});
  ctx.io.out(`Added user '${opts.id}' on ${where(config, opts.id)}.`);
  if (opts.whatsapp) ctx.io.out(`Pair WhatsApp: see docs/operations.md ("Pair WhatsApp").`);
  return EXIT.ok;
}

export function userRemoveCommand(ctx: CommandContext, opts: UserRemoveOptions): Promise<number> {
  return withApplyLock(ctx, () => removeUser(ctx, opts));
}

async function removeUser(ctx: CommandContext, opts: UserRemoveOptions): Promise<number> {
  const { config: before, text } = await loadConfig(ctx);
  const user = before.users.find((u) => u.id === opts.id);
  if (!user) throw usageError("user.unknown", `no user '${opts.id}' in wirebot.yaml`, "see `wirebot user list`");
  const next = renderRemoveUser(text, opts.id);
  const config = validate(ctx, next);
  await converge(ctx, config, next, {});
  const dir = userDir(before, opts.id);
  const agentDir = agentStateDir(before, user);
  if (!opts.purge) {
    ctx.io.out(`Removed user '${opts.id}'. Kept its data: ${dir}${agentDir.startsWith(dir + "/") ? "" : ` and ${agentDir}`} (\`wirebot user remove ${opts.id} --purge\` deletes it; the ledger keeps its spend).`);
    return EXIT.ok;
  }
  // The gateway no longer serves the agent (converged above), so its files can go.
  await ctx.host.remove(agentDir, { recursive: true });
  await ctx.host.remove(dir, { recursive: true });
  if (userMode(before, user) === "dedicated" && ctx.live) await ctx.host.exec("userdel", [dedicatedServiceUser(opts.id)]);
  ctx.io.out(`Removed user '${opts.id}' and deleted ${dir}${agentDir.startsWith(dir + "/") ? "" : ` and ${agentDir}`} (the ledger keeps its spend).`);
  return EXIT.ok;
}

export async function userListCommand(ctx: CommandContext, opts: UserListOptions): Promise<number> {
  const { config } = await loadConfig(ctx);
  const l = resolveLayout(config);
  const rows = config.users.map((u) => {
    const g = l.gateways.find((x) => x.users.includes(u))!;
    return {
      id: u.id,
      name: u.name,
      mode: userMode(config, u),
      trust: u.trust ?? (userMode(config, u) === "dedicated" ? "trusted" : "restricted"),
      unit: g.unit,
      port: g.port,
      channels: Object.fromEntries(Object.entries(u.channels).map(([k, v]) => [k, v?.peer])),
      monthlyUsd: u.budget?.monthlyUsd ?? null,
    };
  });
  if (opts.json) {
    ctx.io.json({ ok: true, outcome: "listed", users: rows });
    return EXIT.ok;
  }
  const w = Math.max(2, ...rows.map((r) => r.id.length));
  ctx.io.out(`${"ID".padEnd(w)}  MODE       PORT   BUDGET    CHANNELS`);
  for (const r of rows) {
    const ch = Object.entries(r.channels).map(([k, v]) => `${k}:${v}`).join(" ") || "-";
    ctx.io.out(`${r.id.padEnd(w)}  ${r.mode.padEnd(9)}  ${String(r.port).padEnd(5)}  ${(r.monthlyUsd === null ? "-" : `$${r.monthlyUsd}`).padEnd(8)}  ${ch}`);
  }
  return EXIT.ok;
}

/**
 * Moves a user between the shared gateway and a dedicated one. The agent's state dir moves
 * (`<shared>/agents/<id>` ↔ `<userDir>/agents/<id>`) and the user's directory changes owner, with
 * both gateways stopped: a running gateway would keep writing into the old place.
 */
export function userMoveCommand(ctx: CommandContext, opts: UserMoveOptions): Promise<number> {
  return withApplyLock(ctx, () => moveUser(ctx, opts));
}

async function moveUser(ctx: CommandContext, opts: UserMoveOptions): Promise<number> {
  const mode = parseMode(opts.mode)!;
  const { config: before, text } = await loadConfig(ctx);
  const user = before.users.find((u) => u.id === opts.id);
  if (!user) throw usageError("user.unknown", `no user '${opts.id}' in wirebot.yaml`, "see `wirebot user list`");
  if (userMode(before, user) === mode) {
    ctx.io.out(`User '${opts.id}' is already ${mode}; nothing to do.`);
    return EXIT.ok;
  }
  const { text: next, dropped } = renderMoveUser(text, user, mode);
  const after = validate(ctx, next);
  const move = await planAgentMove(ctx.host, before, after, opts.id);
  const live = ctx.live;
  const sd = createSystemd(ctx.host);
  const lb = resolveLayout(before);
  const la = resolveLayout(after);
  const affected = [...new Set([...lb.gateways, ...la.gateways].filter((g) => g.kind === "shared" || g.id === opts.id).map((g) => g.unit))]
    .filter((u) => lb.gateways.some((g) => g.unit === u));

  if (live && affected.length > 0) await sd.stop(affected);
  try {
    // Files and service users first (the new owner may not exist yet), nothing started.
    await converge(ctx, after, next, { start: false });
    const r = await moveAgentState(ctx.host, after, move);
    ctx.io.err(`• ${r.moved ? `moved ${move.from} → ${move.to}` : `no agent state at ${move.from} yet`}; ${r.chowned} entr(ies) now owned by ${move.newUser}`);
    if (live) await sd.restart([RECONCILE_UNIT]);
    await converge(ctx, after, next, {});
  } catch (e) {
    if (live && affected.length > 0) await sd.start(affected);
    throw e;
  }
  if (dropped.length > 0) ctx.io.err(`• dropped users[].${dropped.join(", users[].")} of '${opts.id}': only a dedicated user can have them`);
  ctx.io.out(`Moved user '${opts.id}' to ${where(after, opts.id)}.`);
  return EXIT.ok;
}
