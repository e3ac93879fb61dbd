/** `wirebot channels login whatsapp --user ID` (QR link over SSH) and `wirebot channels status [--json]`. */
import { resolveLayout, type GatewayLayout, type Layout } from "../config/layout.ts";
import type { Config, UserConfig } from "../config/schema.ts";
import { configError, EXIT, preflightError, usageError, WirebotError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { parseChannelsStatus, type ChannelAccountStatus } from "../channels/channels-status.ts";
import { resolveRuntimeCommand, runRuntimeCli, spawnWhatsAppLogin, type RuntimeCommand } from "../channels/runtime-process.ts";
import { runWhatsAppLogin, type LoginFlow, type LoginScreen } from "../channels/whatsapp-login.ts";
import { whatsappPluginDir } from "../config/whatsapp-plugin-paths.ts";
import { loadConfig, type CommandContext } from "../pipeline/context.ts";

/** The account the rendered gateway config binds WhatsApp peers on (gateway-config.ts). */
export const WHATSAPP_ACCOUNT = "default";

export interface ChannelsDeps {
  /** production: the runtime CLI's login, as the gateway's service user */
  startLogin?: (cmd: RuntimeCommand, account: string) => LoginFlow;
  /** production: `openclaw channels status --json` through the host */
  readStatus?: (host: Host, cmd: RuntimeCommand) => Promise<{ code: number; stdout: string; stderr: string }>;
  screen?: LoginScreen;
  timeoutMs?: number;
  refreshMs?: number;
}

export interface ChannelsLoginArgs {
  channel: string;
  user: string;
  config?: string;
  /** the terminal draws dark text on a light background: draw dark modules, not light ones */
  lightTerminal?: boolean;
}

/** Which gateway serves a user (shared or the user's dedicated one). */
export function gatewayOf(l: Layout, userId: string): GatewayLayout | undefined {
  return l.gateways.find((g) => g.users.some((u) => u.id === userId));
}

function findUser(c: Config, id: string): UserConfig {
  const u = c.users.find((x) => x.id === id);
  if (!u) throw usageError("channels.unknown-user", `no user '${id}' in wirebot.yaml`, `users are: ${c.users.map((x) => x.id).join(", ")}`);
  return u;
}

function screenFor(ctx: CommandContext): LoginScreen {
  const cols = Number(ctx.env["COLUMNS"]) || process.stdout.columns || 80;
  const rows = Number(ctx.env["LINES"]) || process.stdout.rows || 24;
  return { columns: cols, rows, line: (t) => ctx.io.out(t), clear: () => ctx.io.tty && process.stdout.write("\x1b[2J\x1b[H") };
}

/** Exit: 0 linked · 64 bad arguments · 69 plugin/runtime missing · 75 not linked this time (retry) · 78 user has no such channel. */
export async function channelsLoginCommand(ctx: CommandContext, args: ChannelsLoginArgs, deps: ChannelsDeps = {}): Promise<number> {
  if (args.channel === "telegram")
    throw usageError("channels.login-telegram", "Telegram needs no login: the bot token in the vault is the link", "set TELEGRAM_BOT_TOKEN in secrets.map (or TELEGRAM_BOT_TOKEN_<ID> for a dedicated user), then `wirebot apply`");
  if (args.channel !== "whatsapp") throw usageError("channels.unknown-channel", `unknown channel '${args.channel}'`, "the channels are whatsapp and telegram");
  const { config } = await loadConfig(ctx, args.config);
  const user = findUser(config, args.user);
  if (!user.channels.whatsapp)
    throw configError("channels.no-whatsapp", `user '${user.id}' has no WhatsApp channel`, { hint: `add channels: { whatsapp: { peer: "+<number>" } } to users[${config.users.indexOf(user)}] and run \`wirebot apply\`` });
  const layout = resolveLayout(config);
  const g = gatewayOf(layout, user.id)!;
  if (!(await ctx.host.stat(`${whatsappPluginDir(layout)}/package.json`)))
    throw preflightError("channels.no-whatsapp-plugin", `the WhatsApp plugin is not installed in ${layout.runtimeDir}`, { hint: "run `wirebot apply`: it installs @openclaw/whatsapp when a user has a WhatsApp channel" });

  const cmd = await resolveRuntimeCommand(ctx.host, layout, g, ctx.live);
  const where = g.kind === "shared" ? `the shared gateway (its one WhatsApp number serves ${g.users.filter((u) => u.channels.whatsapp).map((u) => u.id).join(", ")})` : `${user.id}'s own gateway`;
  ctx.io.err(`• linking WhatsApp for ${where}, account ${WHATSAPP_ACCOUNT}; ${user.id} then writes to that number from ${user.channels.whatsapp.peer}`);
  const flow = deps.startLogin ? deps.startLogin(cmd, WHATSAPP_ACCOUNT) : spawnWhatsAppLogin(ctx.host, cmd, WHATSAPP_ACCOUNT);
  const r = await runWhatsAppLogin(flow, deps.screen ?? screenFor(ctx), {
    label: `${user.id} (${g.kind === "shared" ? "shared gateway" : "dedicated gateway"}, account ${WHATSAPP_ACCOUNT})`,
    ...(deps.timeoutMs !== undefined ? { timeoutMs: deps.timeoutMs } : {}),
    ...(deps.refreshMs !== undefined ? { refreshMs: deps.refreshMs } : {}),
    ...(args.lightTerminal ? { scheme: "dark-on-light" as const } : {}),
  });
  if (r.outcome === "linked") {
    ctx.io.out(`linked: ${r.message}`);
    ctx.io.out(`the gateway picks the session up when it restarts: systemctl restart ${g.unit}`);
    return EXIT.ok;
  }
  const what = r.outcome === "timed-out" ? "not linked: timed out" : `not linked${r.status ? ` (WhatsApp status ${r.status})` : ""}: ${r.message}`;
  throw new WirebotError("tempFail", `channels.whatsapp-${r.outcome}`, what, { hint: r.explanation });
}

export interface ChannelStatusRow {
  user: string;
  gateway: string;
  channel: "telegram" | "whatsapp";
  peer: string;
  configured: boolean;
  linked: boolean | null;
  connected: boolean | null;
  lastError: string | null;
}

/** One row per user and channel, from each gateway's `openclaw channels status --json`. Exit 0, or 75 when a gateway cannot be asked. */
export async function channelsStatusCommand(ctx: CommandContext, args: { json?: boolean; config?: string }, deps: ChannelsDeps = {}): Promise<number> {
  const { config } = await loadConfig(ctx, args.config);
  const layout = resolveLayout(config);
  const rows: ChannelStatusRow[] = [];
  let unreachable = 0;
  const read = deps.readStatus ?? ((host: Host, cmd: RuntimeCommand) => runRuntimeCli(host, cmd, ["channels", "status", "--json", "--timeout", "10000"], 60_000));
  for (const g of layout.gateways) {
    const users = g.users.filter((u) => u.channels.telegram || u.channels.whatsapp);
    if (users.length === 0) continue;
    let accounts: ChannelAccountStatus[] = [];
    let gatewayError: string | null = null;
    try {
      const r = await read(ctx.host, await resolveRuntimeCommand(ctx.host, layout, g, ctx.live));
      const parsed = parseChannelsStatus(r.stdout);
      accounts = parsed.accounts;
      gatewayError = parsed.gatewayError ?? (r.code !== 0 ? `exit ${r.code}: ${r.stderr.trim().split("\n")[0] ?? ""}` : null);
    } catch (e) {
      gatewayError = (e as Error).message;
    }
    if (gatewayError) unreachable++;
    for (const u of users)
      for (const channel of ["telegram", "whatsapp"] as const) {
        const peer = u.channels[channel]?.peer;
        if (!peer) continue;
        const a = accounts.find((x) => x.channel === channel && x.accountId === "default") ?? accounts.find((x) => x.channel === channel);
        // 2026.9.6 reports no `linked` for an unlinked WhatsApp account: the saved session is the evidence.
        const linked = a?.linked ?? (channel === "whatsapp" ? (await ctx.host.stat(`${g.stateDir}/credentials/whatsapp/default/creds.json`)) !== null : null);
        rows.push({ user: u.id, gateway: g.id, channel, peer, configured: a?.configured ?? false, linked, connected: a?.connected ?? null, lastError: a?.lastError ?? gatewayError });
      }
  }
  if (args.json) ctx.io.json({ ok: unreachable === 0, outcome: unreachable === 0 ? "ok" : "gateway-unreachable", channels: rows });
  else {
    const yn = (v: boolean | null) => (v === null ? "?" : v ? "yes" : "no");
    ctx.io.out(["USER", "GATEWAY", "CHANNEL", "PEER", "LINKED", "CONNECTED", "LAST ERROR"].join("\t"));
    for (const r of rows) ctx.io.out([r.user, r.gateway, r.channel, r.peer, yn(r.linked), yn(r.connected), r.lastError ?? "-"].join("\t"));
    if (rows.length === 0) ctx.io.out("no user has a channel (add users[].channels in wirebot.yaml)");
  }
  return unreachable === 0 ? EXIT.ok : EXIT.tempFail;
}
