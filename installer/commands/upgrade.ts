/** `wirebot upgrade [--runtime-version V] [--dry-run]`: stage the new runtime beside the old, validate, switch, verify, roll back on failure. */
import { PATHS, resolveLayout } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import { ConfigSchema, type Config } from "../config/schema.ts";
import { planSecrets } from "../config/secret-plan.ts";
import { formatPlan } from "../engine/format.ts";
import { plan } from "../engine/plan.ts";
import { EXIT, usageError, WirebotError, verifyError, type ErrorIssue } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { step, type Io } from "../io.ts";
import { converge } from "../pipeline/converge.ts";
import { withApplyLock } from "../pipeline/lock.ts";
import { renderRuntimeVersion } from "../lifecycle/yaml-edit.ts";
import { validateGatewayConfig, type ConfigValidation, type RuntimePaths } from "../runtime/openclaw-cli.ts";
import { provisionRuntime } from "../runtime/provision.ts";
import { loadConfig, type CommandContext } from "../pipeline/context.ts";
import { buildDesired } from "../pipeline/desired.ts";
import { createSystemd } from "../engine/systemd.ts";
import { listSnapshots, pruneSnapshots, restoreSnapshot, SNAPSHOTS_DIR, takeSnapshot, type SnapshotManifest } from "../lifecycle/state-snapshot.ts";

export interface UpgradeOptions {
  /** exact openclaw version; default: the version this wirebot release pins */
  runtimeVersion?: string;
  dryRun?: boolean;
  /** list the state snapshots and change nothing */
  list?: boolean;
  /** undo the last upgrade: its state snapshot back, the runtime it left, converged */
  rollback?: boolean;
  verifyTimeoutMs?: number;
}

export interface UpgradeDeps {
  provisionRuntime?: (host: Host, config: Config, io: Io) => Promise<unknown>;
  validateGatewayConfig?: (host: Host, runtime: RuntimePaths, configPath: string, stateDir: string, env: Record<string, string | undefined>) => Promise<ConfigValidation>;
}

/** The runtime version this wirebot release was tested with (the schema's default). */
export const PINNED_RUNTIME_VERSION: string = ConfigSchema.shape.runtime.parse(undefined).version;

const CHECK_DIR = `${PATHS.ledgerDir}/upgrade-check`;
// Env refs only warn when unset (openclaw-cli.ts), so stand-in values let real problems surface.
const PLACEHOLDER = "wirebot-upgrade-check";

/** Every rendered gateway config, checked by the NEW runtime in a scratch state dir, before anything stops. */
async function validateWithNewRuntime(ctx: CommandContext, next: Config, text: string, validate: NonNullable<UpgradeDeps["validateGatewayConfig"]>): Promise<ErrorIssue[]> {
  const l = resolveLayout(next);
  const desired = await buildDesired(ctx, next, text);
  const envFiles = planSecrets(next, l).envFiles;
  const issues: ErrorIssue[] = [];
  try {
    for (const g of l.gateways) {
      const res = desired.resources.find((r) => r.path === g.configPath);
      if (res?.kind !== "file") continue;
      const dir = `${CHECK_DIR}/${g.id}`;
      await ctx.host.mkdir(dir, { mode: 0o700 });
      await ctx.host.writeFileAtomic(`${dir}/clawdbot.json`, res.content, { mode: 0o600 });
      const env = Object.fromEntries((envFiles.find((f) => f.consumer === g.unit)?.vars ?? []).map((v) => [v.envVar, PLACEHOLDER]));
      const v = await validate(ctx.host, l, `${dir}/clawdbot.json`, dir, env);
      if (!v.valid) for (const e of v.errors.length ? v.errors : [{ path: "", message: "rejected without details" }]) issues.push({ path: `${g.unit} ${e.path}`.trim(), message: e.message });
    }
  } finally {
    await ctx.host.remove(CHECK_DIR, { recursive: true });
  }
  return issues;
}

export function upgradeCommand(ctx: CommandContext, opts: UpgradeOptions, deps: UpgradeDeps = {}): Promise<number> {
  if (opts.list) return listCommand(ctx);
  if (opts.rollback && (opts.runtimeVersion || opts.dryRun)) return Promise.reject(usageError("upgrade.flags", "--rollback goes back to the runtime the last snapshot belongs to: it takes no --runtime-version and has no --dry-run", "`wirebot upgrade --list` shows what it would go back to"));
  if (opts.rollback) return withApplyLock(ctx, () => rollback(ctx, opts));
  // A dry run only reads; a real one holds the apply lock from reading wirebot.yaml to the last rollback.
  return opts.dryRun ? upgrade(ctx, opts, deps) : withApplyLock(ctx, () => upgrade(ctx, opts, deps));
}

const mib = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;

async function listCommand(ctx: CommandContext): Promise<number> {
  const all = await listSnapshots(ctx.host);
  if (all.length === 0) ctx.io.out(`No state snapshots in ${ctx.host.resolve(SNAPSHOTS_DIR)} (one is taken before every upgrade).`);
  else {
    ctx.io.out(`State snapshots in ${ctx.host.resolve(SNAPSHOTS_DIR)}, oldest first (${mib(all.reduce((n, s) => n + s.bytes, 0))} in all):`);
    for (const s of all) ctx.io.out(`  ${s.id}  ${s.at}  ${s.runtime.package} ${s.runtime.version} → ${s.to}  ${s.gateways.map((g) => `${g.id} (${g.files} files)`).join(", ")}  ${mib(s.bytes)}`);
  }
  return EXIT.ok;
}

/**
 * `upgrade --rollback`: the last snapshot's state back and the runtime it belonged to, converged and verified.
 * Anything the gateways wrote since that upgrade (new sessions, memory) goes with it: the command says so first.
 */
async function rollback(ctx: CommandContext, opts: UpgradeOptions): Promise<number> {
  const last = (await listSnapshots(ctx.host)).at(-1);
  if (!last) throw usageError("upgrade.no-snapshot", `no state snapshot in ${ctx.host.resolve(SNAPSHOTS_DIR)}: nothing to roll back to`, "`wirebot upgrade --list` shows the snapshots; one is taken before every upgrade");
  const { config: current, text } = await loadConfig(ctx);
  const back = last.runtime.version;
  const backText = current.runtime.version === back ? text : renderRuntimeVersion(text, back);
  const previous = parseConfig(backText, `${ctx.host.resolve(PATHS.configFile)} (runtime.version ${back})`, ctx.env);
  const gone = last.gateways.filter((g) => !resolveLayout(previous).gateways.some((x) => x.id === g.id));
  if (gone.length > 0) throw usageError("upgrade.rollback-layout", `snapshot ${last.id} holds gateway(s) ${gone.map((g) => g.id).join(", ")} that wirebot.yaml no longer has`, "restore that snapshot by hand, or add the users back first");
  ctx.io.err(`• rolling back to snapshot ${last.id} (${last.at}): ${last.runtime.package} ${back}, and the gateways' state as it was then; what they wrote since is replaced`);
  await restoreState(ctx, previous, last);
  await converge(ctx, previous, backText, opts.verifyTimeoutMs !== undefined ? { verifyTimeoutMs: opts.verifyTimeoutMs } : {});
  ctx.io.out(`Rolled back to ${last.runtime.package} ${back} and the state of ${last.at} (snapshot ${last.id}).`);
  return EXIT.ok;
}

/** Stops the gateways and puts their state dirs back as the snapshot holds them. */
async function restoreState(ctx: CommandContext, current: Config, snap: SnapshotManifest): Promise<void> {
  const l = resolveLayout(current);
  if (ctx.live) await createSystemd(ctx.host).stop(l.gateways.map((g) => g.unit));
  await step(ctx.io, `restoring the gateways' state from snapshot ${snap.id}`, () => restoreSnapshot(ctx.host, snap, new Map(l.gateways.map((g) => [g.id, g.serviceUser]))));
}

/**
 * Stops every gateway (a running one keeps writing its SQLite state), archives their state dirs, prunes
 * to runtime.keepSnapshots. No snapshot, no upgrade: a failure starts the gateways again on the runtime
 * they had and stops here.
 */
async function snapshotState(ctx: CommandContext, current: Config, next: Config, to: string): Promise<SnapshotManifest> {
  const units = resolveLayout(current).gateways.map((g) => g.unit);
  const sd = createSystemd(ctx.host);
  if (ctx.live) await step(ctx.io, `stopping ${units.length} gateway(s) so their state is at rest`, () => sd.stop(units));
  let snap: SnapshotManifest;
  try {
    snap = await step(ctx.io, "snapshotting the gateways' state", () => takeSnapshot(ctx.host, current, to));
  } catch (e) {
    if (ctx.live) await sd.start(units);
    throw e;
  }
  ctx.io.err(`  snapshot ${snap.id}: ${snap.gateways.map((g) => `${g.id} ${g.files} file(s), ${mib(g.bytes)}`).join("; ")}`);
  const pruned = await pruneSnapshots(ctx.host, next.runtime.keepSnapshots);
  if (pruned.length > 0) ctx.io.err(`  removed ${pruned.length} older snapshot(s) (runtime.keepSnapshots: ${next.runtime.keepSnapshots})`);
  return snap;
}

async function upgrade(ctx: CommandContext, opts: UpgradeOptions, deps: UpgradeDeps): Promise<number> {
  const { config: current, text } = await loadConfig(ctx);
  const from = current.runtime.version;
  const to = opts.runtimeVersion ?? PINNED_RUNTIME_VERSION;
  const nextText = from === to ? text : renderRuntimeVersion(text, to);
  const next = parseConfig(nextText, `${ctx.host.resolve(PATHS.configFile)} (runtime.version ${to})`, ctx.env);
  const oldDir = resolveLayout(current).runtimeDir;
  const newDir = resolveLayout(next).runtimeDir;

  if (opts.dryRun) {
    const p = await plan(ctx.host, await buildDesired(ctx, next, nextText));
    ctx.io.out(
      [
        `Upgrade plan: ${next.runtime.package} ${from} → ${to} (node ${next.runtime.node})`,
        `  1. provision ${newDir}${from === to ? " (re-provision; idempotent)" : ` beside ${oldDir}`}`,
        `  2. validate ${resolveLayout(next).gateways.length} gateway config(s) with the new runtime; stop here if any is rejected`,
        `  3. stop the gateways and snapshot their state into ${SNAPSHOTS_DIR} (keeping ${next.runtime.keepSnapshots}); no snapshot, no upgrade`,
        `  4. write runtime.version: ${to} into wirebot.yaml and converge:`,
        ...formatPlan(p).split("\n").map((l) => `     ${l}`),
        `  5. verify health; on failure restore the state snapshot, ${from} and its files, and converge again`,
        "Dry run: nothing was changed.",
      ].join("\n"),
    );
    return EXIT.ok;
  }

  const provision = deps.provisionRuntime ?? provisionRuntime;
  const validate = deps.validateGatewayConfig ?? validateGatewayConfig;

  await step(ctx.io, `provisioning ${next.runtime.package} ${to} into ${newDir}`, () => provision(ctx.host, next, ctx.io));
  const issues = await step(ctx.io, "validating every gateway config with the new runtime", () => validateWithNewRuntime(ctx, next, nextText, validate));
  if (issues.length > 0)
    throw verifyError("upgrade.validate", `${next.runtime.package} ${to} rejects ${issues.length} rendered gateway config problem(s); nothing was stopped`, {
      issues,
      hint: `stay on ${from} (still running), or check the release notes of ${to} for renamed keys; ${newDir} can be removed`,
    });

  const snap = await snapshotState(ctx, current, next, to);
  try {
    await converge(ctx, next, nextText, opts.verifyTimeoutMs !== undefined ? { verifyTimeoutMs: opts.verifyTimeoutMs } : {});
  } catch (e) {
    ctx.io.err(`! ${to} did not come up healthy: rolling back to ${from}, the gateways' state included`);
    // The engine restored the files it changed (wirebot.yaml included); converging the old text again
    // makes sure the previous runtime's units run, whatever step failed.
    let rollbackFailed: unknown = null;
    try {
      // A new runtime may have migrated the state on its first start: the old one must get its own back.
      await restoreState(ctx, current, snap);
    } catch (e2) {
      rollbackFailed = e2;
    }
    try {
      await converge(ctx, current, text, opts.verifyTimeoutMs !== undefined ? { verifyTimeoutMs: opts.verifyTimeoutMs } : {});
    } catch (e2) {
      rollbackFailed = e2;
    }
    const cause = e instanceof WirebotError ? e.issues : [{ path: "upgrade", message: (e as Error).message }];
    throw verifyError(
      "upgrade.rolled-back",
      rollbackFailed ? `${to} failed and the rollback to ${from} did not come up healthy either` : `${to} did not come up healthy; rolled back to ${from}`,
      {
        issues: [...cause, ...(rollbackFailed instanceof WirebotError ? rollbackFailed.issues.map((i) => ({ ...i, path: `rollback ${i.path}` })) : [])],
        hint: rollbackFailed ? "run `wirebot doctor`, then `journalctl -u clawdbot-gateway*`" : `see \`journalctl -u <unit>\` for why ${to} failed; ${from} is running again`,
      },
    );
  }
  ctx.io.out(from === to ? `Runtime ${next.runtime.package} ${to} re-provisioned and verified.` : `Upgraded ${next.runtime.package} ${from} → ${to}. The previous runtime stays in ${oldDir} (\`wirebot upgrade --runtime-version ${from}\` goes back).`);
  return EXIT.ok;
}
