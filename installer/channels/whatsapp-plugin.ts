/** Installs or removes the external WhatsApp channel plugin (@openclaw/whatsapp) inside the pinned runtime. */
import path from "node:path";
import { resolveLayout, type Layout } from "../config/layout.ts";
import { WHATSAPP_PLUGIN_PACKAGE, whatsappPluginDir, whatsappWanted } from "../config/whatsapp-plugin-paths.ts";
import type { Config } from "../config/schema.ts";
import { verifyError, WirebotError, writeError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { step, type Io } from "../io.ts";
import { locateNpmCli, npmFailure } from "../runtime/provision.ts";

export const WHATSAPP_MARKER = ".wirebot-whatsapp.json";
// 60 MB with its bundled baileys; measured 5 s here, a slow mirror takes minutes.
const NPM_TIMEOUT_MS = 10 * 60_000;
// The flags openclaw's own managed plugin installs use (docs/plugins/dependency-resolution.md), plus exact pins.
const NPM_FLAGS = ["--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--save-exact", "--loglevel=error"];

export interface WhatsAppPluginMarker {
  package: string;
  version: string;
  installedAt: string;
}

export interface WhatsAppPluginResult {
  outcome: "installed" | "already-present" | "removed" | "absent";
  /** appliance path of the plugin package */
  pluginDir: string;
}

/** What the plugin in the runtime should become: the reader and planner ensureWhatsAppPlugin and `wirebot plan` share. */
export interface WhatsAppPluginPlan {
  action: "install" | "remove" | "none";
  /** the version in the runtime now (null: absent), and the one wanted (runtime.version; null: none) */
  present: string | null;
  wanted: string | null;
}

export async function planWhatsAppPlugin(host: Host, config: Config): Promise<WhatsAppPluginPlan> {
  const layout = resolveLayout(config);
  const marker = await readWhatsAppMarker(host, layout.runtimeDir);
  const present = await readPackageVersion(host, whatsappPluginDir(layout));
  if (!whatsappWanted(config)) return { action: !marker && present === null ? "none" : "remove", present, wanted: null };
  const version = config.runtime.version;
  return { action: marker?.version === version && present === version ? "none" : "install", present, wanted: version };
}

/**
 * Idempotent: installs @openclaw/whatsapp@<runtime.version> into the runtime when any user has a WhatsApp
 * channel, removes it when none has. npm runs under the runtime's Node 24, as the runtime provisioning
 * does, so engine checks see the Node that loads the plugin. Gateways must be restarted when the outcome
 * is "installed" or "removed".
 */
export async function ensureWhatsAppPlugin(host: Host, config: Config, io: Io): Promise<WhatsAppPluginResult> {
  const layout = resolveLayout(config);
  const pluginDir = whatsappPluginDir(layout);
  const version = config.runtime.version;
  const want = await planWhatsAppPlugin(host, config);
  const installedVersion = want.present;

  if (want.action === "remove" || (want.action === "none" && want.wanted === null)) {
    if (want.action === "none") return { outcome: "absent", pluginDir };
    await step(io, `removing ${WHATSAPP_PLUGIN_PACKAGE} (no user has a WhatsApp channel)`, async () => {
      if (installedVersion !== null) {
        const r = await runNpm(host, layout, ["uninstall", "--no-audit", "--no-fund", "--loglevel=error", WHATSAPP_PLUGIN_PACKAGE]);
        if (r.code !== 0) throw npmFailure(r, WHATSAPP_PLUGIN_PACKAGE, "users[].channels.whatsapp");
      }
      await host.remove(`${layout.runtimeDir}/${WHATSAPP_MARKER}`);
    });
    return { outcome: "removed", pluginDir };
  }

  if (want.action === "none") return { outcome: "already-present", pluginDir };

  const spec = `${WHATSAPP_PLUGIN_PACKAGE}@${version}`;
  if (!(await host.stat(layout.nodeBin)))
    throw new WirebotError("preflight", "whatsapp.no-runtime", `the runtime ${layout.runtimeDir} is not provisioned`, { hint: "run `wirebot apply` (it provisions the runtime first)" });
  await step(io, `installing ${spec} into the runtime`, async () => {
    const r = await runNpm(host, layout, ["install", ...NPM_FLAGS, spec]);
    if (r.code !== 0) throw npmFailure(r, spec, "runtime.version");
  });
  const got = await readPackageVersion(host, pluginDir);
  if (got !== version || !(await host.stat(`${pluginDir}/openclaw.plugin.json`)))
    throw verifyError("whatsapp.plugin-mismatch", `${pluginDir} holds version ${got ?? "(nothing)"}, expected ${version} with an openclaw.plugin.json`, {
      hint: `run \`wirebot apply\` again; if it persists, check \`npm view ${spec}\``,
    });
  const m: WhatsAppPluginMarker = { package: WHATSAPP_PLUGIN_PACKAGE, version, installedAt: host.now().toISOString() };
  try {
    await host.writeFileAtomic(`${layout.runtimeDir}/${WHATSAPP_MARKER}`, JSON.stringify(m, null, 2) + "\n", { mode: 0o644 });
  } catch (e) {
    throw writeError("whatsapp.marker", `cannot write ${layout.runtimeDir}/${WHATSAPP_MARKER}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
  return { outcome: "installed", pluginDir };
}

export async function readWhatsAppMarker(host: Host, runtimeDir: string): Promise<WhatsAppPluginMarker | null> {
  const raw = await host.readFile(`${runtimeDir}/${WHATSAPP_MARKER}`);
  if (!raw) return null;
  try {
    const m = JSON.parse(raw.toString("utf8")) as Partial<WhatsAppPluginMarker>;
    return typeof m.version === "string" ? { package: String(m.package), version: m.version, installedAt: String(m.installedAt ?? "") } : null;
  } catch {
    return null;
  }
}

async function readPackageVersion(host: Host, dir: string): Promise<string | null> {
  const raw = await host.readFile(`${dir}/package.json`);
  if (!raw) return null;
  try {
    return String((JSON.parse(raw.toString("utf8")) as { version?: unknown }).version ?? "") || null;
  } catch {
    return null;
  }
}

async function runNpm(host: Host, layout: Layout, args: string[]) {
  const nodeBin = host.resolve(layout.nodeBin);
  const npmCli = await locateNpmCli(host);
  return host.exec(nodeBin, [npmCli, ...args], {
    cwd: host.resolve(layout.runtimeDir),
    env: {
      ...host.env,
      PATH: `${path.dirname(nodeBin)}:${host.env.PATH ?? "/usr/bin:/bin"}`,
      npm_config_update_notifier: "false",
      npm_config_fund: "false",
      npm_config_audit: "false",
    },
    timeoutMs: NPM_TIMEOUT_MS,
  });
}

