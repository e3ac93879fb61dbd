/** `wirebot uninstall [--purge] [--dry-run]`: stop wirebot's units, list what goes, delete only what wirebot made; keep data unless purging. */
import { parse as parseYaml } from "yaml";
import { PATHS, SHARED_UNIT } from "../config/layout.ts";
import { readManifest, type Manifest } from "../engine/plan.ts";
import { createSystemd } from "../engine/systemd.ts";
import { EXIT, usageError } from "../errors.ts";
import { FIXED_OWNED_TREES, isMarkerPath, treeOfMarker } from "../ownership/marker.ts";
import { executeRemoval, planRemoval, type RemovalPlan } from "../lifecycle/removal.ts";
import { DRIFT_UNIT, RECONCILE_UNIT, SECRETS_UNIT, TUNNEL_UNIT } from "../config/units.ts";
import type { Io } from "../io.ts";
import { loadConfig, type CommandContext } from "../pipeline/context.ts";

export interface UninstallOptions {
  /** also delete the data dir, the ledger and /etc/wirebot: only trees wirebot marked as its own */
  purge?: boolean;
  /** required with --purge: there is no undo */
  yes?: boolean;
  /** list what would be stopped and deleted, and change nothing */
  dryRun?: boolean;
  json?: boolean;
}

const DEFAULT_DATA = "/data/wirebot";
const WANTS = "/etc/systemd/system/multi-user.target.wants/";

/** Service users from the sysusers snippet wirebot wrote (`u NAME …`), so a broken wirebot.yaml cannot hide one. */
function sysusersNames(text: string): string[] {
  return text.split("\n").flatMap((l) => /^u\s+(\S+)\s/.exec(l)?.[1] ?? []);
}

/**
 * Every directory that is or was paths.data: wirebot.yaml's (read loosely when it no longer validates, e.g.
 * `paths.data: /etc` written before that was refused), each marked tree the manifest lists, and the default.
 */
async function dataDirs(ctx: CommandContext, manifest: Manifest): Promise<{ configured: string; all: string[] }> {
  const configured = await loadConfig(ctx).then(
    (l) => l.config.paths.data,
    async () => {
      try {
        const raw = parseYaml((await ctx.host.readFile(PATHS.configFile))?.toString("utf8") ?? "", { maxAliasCount: 0 }) as { paths?: { data?: unknown } } | null;
        return typeof raw?.paths?.data === "string" ? raw.paths.data : DEFAULT_DATA;
      } catch {
        return DEFAULT_DATA;
      }
    },
  );
  const marked = manifest.paths.filter(isMarkerPath).map(treeOfMarker).filter((d) => !(FIXED_OWNED_TREES as readonly string[]).includes(d));
  return { configured, all: [...new Set([configured, ...marked, DEFAULT_DATA])] };
}

function printPlan(io: Io, plan: RemovalPlan, units: string[], users: string[], dryRun: boolean): void {
  io.out(`${dryRun ? "Would delete" : "Deleting"} ${plan.delete.length} path(s):`);
  for (const d of plan.delete) io.out(`  - ${d.path}${d.what === "tree" ? "/ (whole tree)" : ""}  [${d.why}]`);
  if (plan.keep.length > 0) {
    io.out(`${dryRun ? "Would keep" : "Keeping"}:`);
    for (const k of plan.keep) io.out(`  - ${k.path}  [${k.why}]`);
  }
  io.out(`${dryRun ? "Would stop and disable" : "Stopping and disabling"}: ${units.join(", ")}`);
  if (users.length > 0) io.out(`${dryRun ? "Would delete" : "Deleting"} service user(s): ${users.join(", ")}`);
}

export async function uninstallCommand(ctx: CommandContext, opts: UninstallOptions): Promise<number> {
  if (opts.purge && !opts.yes && !opts.dryRun)
    throw usageError(
      "uninstall.confirm",
      "--purge deletes every user's data, the ledger and wirebot.yaml, with no undo",
      "see what it deletes with `wirebot uninstall --purge --dry-run`; run `wirebot backup FILE` first, then add --yes",
    );
  const host = ctx.host;
  const live = ctx.live;
  const sd = createSystemd(host);
  const manifest = await readManifest(host);
  const data = await dataDirs(ctx, manifest);

  const units = [
    ...new Set([
      SECRETS_UNIT,
      SHARED_UNIT,
      RECONCILE_UNIT,
      TUNNEL_UNIT,
      ...manifest.units,
      // started by its timer (in manifest.units when drift.schedule is set), so it may be running now
      ...(manifest.units.some((u) => u.startsWith("wirebot-drift.")) ? [DRIFT_UNIT] : []),
      ...manifest.paths.filter((p) => p.startsWith(WANTS)).map((p) => p.slice(WANTS.length)),
    ]),
  ];
  const users = sysusersNames((await host.readFile(PATHS.sysusers))?.toString("utf8") ?? "");
  const plan = await planRemoval(host, { purge: Boolean(opts.purge), manifest, units, dataDirs: data.all });
  const kept = opts.purge ? [] : [data.configured, PATHS.ledgerDir, PATHS.configFile];

  // The list comes first, whole, so an operator sees it before anything is gone.
  if (!opts.json) printPlan(ctx.io, plan, units, users, Boolean(opts.dryRun));
  if (opts.dryRun) {
    if (opts.json) ctx.io.json({ ok: true, outcome: "dry-run", purge: Boolean(opts.purge), delete: plan.delete, keep: plan.keep, units, users, kept });
    else ctx.io.out("Dry run: nothing was stopped or deleted.");
    return EXIT.ok;
  }

  if (live) {
    // Errors are expected for units that were never installed; stop/disable are best effort.
    await sd.stop(units);
    await host.exec("systemctl", ["disable", ...units]);
  }
  const removed = await executeRemoval(host, plan);
  if (live) await sd.daemonReload();
  const userdel: string[] = [];
  for (const u of users) {
    if (!live && !(await host.lookupUser(u))) continue;
    // Under --root, userdel edits that tree's /etc/passwd (shadow-utils --root).
    const r = await host.exec("userdel", live ? [u] : ["--root", host.root, u]);
    if (r.code === 0) userdel.push(u);
    else ctx.io.err(`! userdel ${u} exited ${r.code}: ${r.stderr.trim().split("\n")[0] ?? ""}`);
  }

  if (opts.json) {
    ctx.io.json({ ok: true, outcome: opts.purge ? "purged" : "uninstalled", removed, delete: plan.delete, keep: plan.keep, units, usersRemoved: userdel, kept });
    return EXIT.ok;
  }
  ctx.io.out(`Removed ${removed.length} path(s) and ${units.length} unit(s)${userdel.length ? `; deleted service user(s) ${userdel.join(", ")}` : ""}.`);
  if (kept.length > 0) {
    ctx.io.out(`Kept: ${data.configured} (users' state and workspaces), ${PATHS.ledgerDir} (spend ledger), ${PATHS.configFile} (desired state).`);
    const root = host.root === "/" ? "" : ` --root ${host.root}`;
    ctx.io.out(`Reinstall with \`wirebot install --config ${host.resolve(PATHS.configFile)} --yes${root}\` (the Bitwarden access token must be given again); delete the rest with \`wirebot uninstall --purge --yes${root}\`.`);
  }
  return EXIT.ok;
}
