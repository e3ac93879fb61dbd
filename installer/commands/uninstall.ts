/** `wirebot uninstall [--purge]`: stop and remove everything wirebot manages; keep user data, ledger and wirebot.yaml unless purging. */
import { PATHS, SHARED_UNIT } from "../config/layout.ts";
import { MANIFEST_PATH, readManifest } from "../engine/plan.ts";
import { createSystemd } from "../engine/systemd.ts";
import { EXIT, usageError } from "../errors.ts";
import { liveOf, type LifecycleDeps } from "../lifecycle/deps.ts";
import { RECONCILE_UNIT, SECRETS_UNIT, TUNNEL_UNIT } from "../render/units.ts";
import { loadConfig, type CommandContext } from "./context.ts";

export interface UninstallOptions {
  /** also delete /data/wirebot, the ledger and /etc/wirebot */
  purge?: boolean;
  /** required with --purge: there is no undo */
  yes?: boolean;
  json?: boolean;
}

export type UninstallDeps = Pick<LifecycleDeps, "live">;

const DEFAULT_DATA = "/data/wirebot";
const WANTS = "/etc/systemd/system/multi-user.target.wants/";

/** Service users from the sysusers snippet wirebot wrote (`u NAME …`), so a broken wirebot.yaml cannot hide one. */
function sysusersNames(text: string): string[] {
  return text.split("\n").flatMap((l) => /^u\s+(\S+)\s/.exec(l)?.[1] ?? []);
}

export async function uninstallCommand(ctx: CommandContext, opts: UninstallOptions, deps: UninstallDeps = {}): Promise<number> {
  if (opts.purge && !opts.yes)
    throw usageError("uninstall.confirm", "--purge deletes every user's data, the ledger and wirebot.yaml, with no undo", "run `wirebot backup FILE` first, then add --yes");
  const host = ctx.host;
  const live = liveOf(ctx, deps);
  const sd = createSystemd(host);
  const manifest = await readManifest(host);
  // The data dir is configurable; without a readable config fall back to the default.
  const dataDir = await loadConfig(ctx).then((l) => l.config.paths.data, () => DEFAULT_DATA);

  const units = [
    ...new Set([
      SECRETS_UNIT,
      SHARED_UNIT,
      RECONCILE_UNIT,
      TUNNEL_UNIT,
      ...manifest.units,
      ...manifest.paths.filter((p) => p.startsWith(WANTS)).map((p) => p.slice(WANTS.length)),
    ]),
  ];
  const users = sysusersNames((await host.readFile(PATHS.sysusers))?.toString("utf8") ?? "");
  const removed: string[] = [];
  const remove = async (p: string, recursive = false) => {
    if (!(await host.stat(p))) return;
    await host.remove(p, { recursive });
    removed.push(p);
  };

  if (live) {
    // Errors are expected for units that were never installed; stop/disable are best effort.
    await sd.stop(units);
    await host.exec("systemctl", ["disable", ...units]);
  }

  const keep = (p: string) => !opts.purge && (p === PATHS.configFile || p === dataDir || p.startsWith(`${dataDir}/`) || p.startsWith(`${PATHS.ledgerDir}/`));
  for (const p of manifest.paths.filter((x) => !keep(x) && x !== MANIFEST_PATH)) await remove(p);
  for (const p of [PATHS.sysusers, PATHS.tmpfiles, PATHS.tunnelConfig]) await remove(p);
  // Drop-in dirs and unit files the manifest may not list (an older install, a hand-made drop-in).
  for (const name of (await host.readdir(PATHS.unitDir)) ?? []) {
    const isOurs = units.includes(name) || name === "clawdbot-gateway@.service" || /^clawdbot-gateway@[a-z][a-z0-9-]*\.service(\.d)?$/.test(name) || units.some((u) => name === `${u}.d`);
    if (isOurs) await remove(`${PATHS.unitDir}/${name}`, true);
  }
  for (const name of (await host.readdir(WANTS.slice(0, -1))) ?? []) if (units.includes(name)) await remove(`${WANTS}${name}`);
  await remove(PATHS.runtimeRoot, true);
  await remove(PATHS.skillsDir, true);
  await remove(PATHS.pluginsDir, true);
  await remove(PATHS.runDir, true);
  await remove(PATHS.credstore, true);
  await remove(MANIFEST_PATH);
  for (const dir of ["/opt/wirebot", PATHS.cloudflaredDir]) if ((await host.readdir(dir))?.length === 0) await host.rmdir(dir).then(() => removed.push(dir));
  if (opts.purge) {
    await remove(dataDir, true);
    await remove(PATHS.ledgerDir, true);
    await remove(PATHS.etcDir, true);
  }

  if (live) await sd.daemonReload();
  const userdel: string[] = [];
  for (const u of users) {
    if (!live && !(await host.lookupUser(u))) continue;
    // Under --root, userdel edits that tree's /etc/passwd (shadow-utils --root).
    const r = await host.exec("userdel", live ? [u] : ["--root", host.root, u]);
    if (r.code === 0) userdel.push(u);
    else ctx.io.err(`! userdel ${u} exited ${r.code}: ${r.stderr.trim().split("\n")[0] ?? ""}`);
  }

  const kept = opts.purge ? [] : [dataDir, PATHS.ledgerDir, PATHS.configFile].filter(Boolean);
  if (opts.json) {
    ctx.io.json({ ok: true, outcome: opts.purge ? "purged" : "uninstalled", removed, units, usersRemoved: userdel, kept });
    return EXIT.ok;
  }
  ctx.io.out(`Removed ${removed.length} path(s) and ${units.length} unit(s)${userdel.length ? `; deleted service user(s) ${userdel.join(", ")}` : ""}.`);
  if (kept.length > 0) {
    ctx.io.out(`Kept: ${dataDir} (users' state and workspaces), ${PATHS.ledgerDir} (spend ledger), ${PATHS.configFile} (desired state).`);
    ctx.io.out(`Reinstall with \`wirebot install --config ${PATHS.configFile} --yes\` (the Bitwarden access token must be given again); delete the rest with \`wirebot uninstall --purge --yes\`.`);
  }
  return EXIT.ok;
}
