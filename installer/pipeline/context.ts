/** What every command gets from the edge: console, host, env, package assets, and how to run wirebot itself. */
import path from "node:path";
import { PACKAGE_ROOT, PACKAGE_VERSION, readAssets, type Assets } from "../assets.ts";
import { PATHS } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { configError, usageError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { createNodeHost } from "../host/node-host.ts";
import type { Io } from "../io.ts";
import type { LockRequest } from "./lock.ts";
import type { WirebotCommand } from "../config/units.ts";
import { readConfigText } from "./config-file.ts";
import { createServices, type Services } from "./services.ts";

export interface CommandContext {
  io: Io;
  /** the target: `/` or --root */
  host: Host;
  /** the operator's own filesystem, for --config and answers files */
  local: Host;
  env: Readonly<Record<string, string | undefined>>;
  assets: Assets;
  wirebot: WirebotCommand;
  /** how a writing command names itself in the apply lock, and its --wait (lifecycle/lock.ts) */
  lock?: LockRequest;
  /**
   * This context manages the box: services start and stop, hooks reach Cloudflare, LiteLLM and the vault, the
   * verifier probes. The composition root sets it for `/`; a test sets it on a temp root with stand-ins behind the host port.
   */
  live: boolean;
  /** Cloudflare, LiteLLM, the vault and the logger: built here, over the host port, and injected everywhere */
  services: Services;
  /** plan reads the remote systems (Cloudflare, LiteLLM); unset: on the live host only, never for a --root tree */
  remote?: boolean;
}

export function defaultWirebotCommand(): WirebotCommand {
  return { node: process.execPath, entry: path.join(PACKAGE_ROOT, "bin", "wirebot.js"), version: PACKAGE_VERSION };
}

export function createContext(io: Io, opts: { root?: string; env?: Record<string, string | undefined> } = {}): CommandContext {
  const env = opts.env ?? process.env;
  const host = createNodeHost({ root: opts.root ?? "/", env });
  return {
    io,
    host,
    live: host.root === "/",
    services: createServices(host, env),
    local: createNodeHost({ env }),
    env,
    assets: readAssets(),
    wirebot: defaultWirebotCommand(),
  };
}

export const readsRemote = (ctx: CommandContext) => ctx.remote ?? ctx.live;

export interface LoadedConfig {
  config: Config;
  text: string;
  source: string;
}

/** --config F from the operator's filesystem, else the installed /etc/wirebot/wirebot.yaml under the root. */
export async function loadConfig(ctx: CommandContext, configPath?: string): Promise<LoadedConfig> {
  const source = configPath ? path.resolve(configPath) : ctx.host.resolve(PATHS.configFile);
  const text = configPath ? await readConfigText(ctx.local, source, { source, given: true }) : await readConfigText(ctx.host, PATHS.configFile, { source, given: false });
  if (text === null) {
    if (configPath) throw usageError("config.missing", `no file at ${source}`, "check the path given to --config");
    throw configError("config.missing", `no configuration at ${source}`, { hint: "run `wirebot install` first, or pass --config FILE" });
  }
  return { config: parseConfig(text, source, ctx.env), text, source };
}
