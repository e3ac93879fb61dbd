/** Where the WhatsApp channel plugin lives in a runtime and when a gateway loads it: names only, no I/O. */
import { resolveLayout, type Layout } from "./layout.ts";
import type { Config } from "./schema.ts";

export const WHATSAPP_PLUGIN_PACKAGE = "@openclaw/whatsapp";

export const whatsappWanted = (c: Config) => c.users.some((u) => u.channels.whatsapp !== undefined);

/** Appliance path of the plugin inside a runtime: beside openclaw, so its `openclaw` peer import resolves. */
export const whatsappPluginDir = (l: Pick<Layout, "runtimeDir">) => `${l.runtimeDir}/node_modules/${WHATSAPP_PLUGIN_PACKAGE}`;

/**
 * What the gateway config needs for the plugin to load: openclaw does not discover packages in its own
 * node_modules, only bundled plugins, its managed npm projects and `plugins.load.paths` (verified with
 * `openclaw plugins list --json`: origin "config", status "loaded"). Pure; [] when no user has WhatsApp.
 */
export function whatsappPluginLoadPaths(c: Config, l: Pick<Layout, "runtimeDir"> = resolveLayout(c)): string[] {
  return whatsappWanted(c) ? [whatsappPluginDir(l)] : [];
}

