/** Runs the runtime's CLI for a gateway as that gateway's service user, with its environment: streamed (login) or whole (status). */
import type { GatewayLayout, Layout } from "../config/layout.ts";
import { preflightError } from "../errors.ts";
import type { ExecResult, Host } from "../host/host.ts";
import { buildRuntimeEnv } from "../runtime/openclaw-cli.ts";
import { parseEnvFile } from "../secrets/env-file.ts";
import { parseCliLoginOutput, type LoginFlow } from "./whatsapp-login.ts";

/** Everything needed to run `openclaw …` the way the gateway's unit runs the gateway. */
export interface RuntimeCommand {
  /** real paths (resolved under the host root) */
  nodeBin: string;
  entry: string;
  cwd: string;
  env: Record<string, string>;
  /** uid/gid to switch to, when running as root on the live box */
  asUser: { uid: number; gid: number } | null;
}

/**
 * The gateway's own environment: the clean runtime env plus its tmpfs env file (the gateway token and
 * keys its config references). Files written by the CLI (WhatsApp credentials) must belong to the
 * service user, or the gateway cannot read them: hence the uid switch on the live box.
 */
/** `live`: the context manages this box (ctx.live), so the command runs as the gateway's service user when we are root. */
export async function resolveRuntimeCommand(host: Host, layout: Pick<Layout, "nodeBin" | "gatewayEntry">, g: GatewayLayout, live: boolean): Promise<RuntimeCommand> {
  const envText = await host.readFile(g.envFile);
  const secrets = envText ? Object.fromEntries(parseEnvFile(envText.toString("utf8"))) : {};
  const nodeBin = host.resolve(layout.nodeBin);
  const stateDir = host.resolve(g.stateDir);
  const env = buildRuntimeEnv(nodeBin, stateDir, host.resolve(g.configPath), { ...secrets, OPENCLAW_GATEWAY_PORT: String(g.port) });
  const asRoot = live && process.getuid?.() === 0;
  const asUser = asRoot ? await host.lookupUser(g.serviceUser) : null;
  if (asRoot && !asUser)
    throw preflightError("channels.no-service-user", `the service user '${g.serviceUser}' of ${g.unit} does not exist`, { hint: "run `wirebot apply` (systemd-sysusers creates it)" });
  return { nodeBin, entry: host.resolve(layout.gatewayEntry), cwd: stateDir, env, asUser };
}

function argv(c: RuntimeCommand, args: string[]): { cmd: string; args: string[] } {
  const base = [c.entry, ...args];
  // setpriv keeps the environment as given (runuser/su would reset HOME and PATH).
  if (c.asUser) return { cmd: "setpriv", args: [`--reuid=${c.asUser.uid}`, `--regid=${c.asUser.gid}`, "--clear-groups", "--", c.nodeBin, ...base] };
  return { cmd: c.nodeBin, args: base };
}

/** `openclaw <args>` to completion, through the host's exec (never throws on a non-zero exit). */
export function runRuntimeCli(host: Host, c: RuntimeCommand, args: string[], timeoutMs = 60_000): Promise<ExecResult> {
  const a = argv(c, args);
  return host.exec(a.cmd, a.args, { env: c.env, cwd: c.cwd, timeoutMs });
}

/** `openclaw channels login --channel whatsapp --account <id>`, its output streamed line by line into login events. */
export function spawnWhatsAppLogin(host: Host, c: RuntimeCommand, account: string): LoginFlow {
  const a = argv(c, ["channels", "login", "--channel", "whatsapp", "--account", account]);
  const proc = host.execLines(a.cmd, a.args, { env: c.env, cwd: c.cwd });
  return { events: parseCliLoginOutput(proc.lines), stop: proc.stop };
}
