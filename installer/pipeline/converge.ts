/** The pipeline every writing command ends in: checks, plan, print, write, start, verify, under the apply lock. */
import { resolveLayout } from "../config/layout.ts";
import { preflightError } from "../errors.ts";
import { runtimeReady } from "../runtime/provision.ts";
import { applyPlan, type ApplyResult } from "../engine/apply.ts";
import { formatPlan } from "../engine/format.ts";
import { isEmptyPlan, plan } from "../engine/plan.ts";
import type { Config } from "../config/schema.ts";
import type { CommandContext } from "./context.ts";
import { checkCliLocation } from "../preflight/cli-location.ts";
import { assertDataDirOwned } from "../preflight/data-dir.ts";
import { assertSandboxReady } from "../preflight/sandbox.ts";
import { assertRbwReady } from "../secrets/rbw.ts";
import { buildDesired } from "./desired.ts";
import { createVerifier } from "./verify.ts";
import { sincePreview } from "../wizard/plan-preview.ts";
import { withApplyLock } from "./lock.ts";

export interface ApplyOptions {
  config?: string;
  yes?: boolean;
  start?: boolean;
  verifyTimeoutMs?: number;
  /** asked after the plan is shown, when changes are pending; false cancels with nothing written */
  confirm?: () => Promise<boolean>;
  /** the plan text already shown before a confirmation (install): only what is new since is printed */
  previewed?: string;
  /**
   * Install's runtime provisioning, under way: files, secrets, tunnel and keys go ahead, and no unit starts
   * before it has finished and the runtime checks ready.
   */
  runtime?: Promise<unknown>;
}

// The live steps bring the Cloudflare SDK and the secrets backends: a --root apply never loads them.
const liveHooksOf = async (ctx: CommandContext, config: Config) => await (await import("./live-hooks.ts")).liveHooks(ctx, config);

/** The shared core of apply and install: plan, print, write, start, verify; under the apply lock (its caller's, when it holds it). */
export function converge(ctx: CommandContext, config: Config, text: string, opts: ApplyOptions): Promise<{ result: ApplyResult | null; changed: boolean; cancelled?: boolean }> {
  return withApplyLock(ctx, () => convergeLocked(ctx, config, text, opts));
}

async function convergeLocked(ctx: CommandContext, config: Config, text: string, opts: ApplyOptions): Promise<{ result: ApplyResult | null; changed: boolean; cancelled?: boolean }> {
  // Before anything is written: the units must see the CLI they run, and paths.data must be wirebot's (issue 14).
  checkCliLocation(ctx.wirebot, ctx.live, ctx.io);
  await assertDataDirOwned(ctx.host, config);
  const starts = ctx.live && opts.start !== false;
  // The WhatsApp plugin is installed into the runtime before the secrets step: that needs the runtime now.
  const runtimeNow = opts.runtime === undefined || config.users.some((u) => u.channels?.whatsapp);
  if (runtimeNow) await opts.runtime;
  if (starts && runtimeNow) await assertRuntimeReady(ctx, config);
  const beforeStart = starts && !runtimeNow ? { beforeStart: async () => {
    await opts.runtime;
    await assertRuntimeReady(ctx, config);
  } } : {};
  // An edited wirebot.yaml reaches here without install's preflight: a sandboxed user is refused before anything is written.
  if (ctx.live) await assertSandboxReady(ctx.host, config);
  if (ctx.live && opts.start !== false) await assertRbwReady(ctx.host, config.secrets);
  const p = await plan(ctx.host, await buildDesired(ctx, config, text));
  const shown = formatPlan(p);
  ctx.io.err(opts.previewed === undefined ? shown : sincePreview(opts.previewed, shown));
  if (isEmptyPlan(p)) {
    // Nothing to write, but a stopped unit is still brought up (start is a no-op for running ones).
    if (ctx.live && opts.start !== false) {
      await applyPlan(ctx.host, p, { io: ctx.io, live: true, start: true, ...beforeStart, hooks: await liveHooksOf(ctx, config), verify: createVerifier(ctx.host, ctx.io, { timeoutMs: opts.verifyTimeoutMs ?? 180_000 }) });
    }
    return { result: null, changed: false };
  }
  if (opts.confirm && !(await opts.confirm())) {
    ctx.io.err("Cancelled; nothing was changed.");
    return { result: null, changed: false, cancelled: true };
  }
  const live = ctx.live;
  if (!live) ctx.io.err(`• rendering into ${ctx.host.root}: files only, no services are started`);
  const result = await applyPlan(ctx.host, p, {
    io: ctx.io,
    live,
    start: opts.start !== false,
    ...beforeStart,
    ...(live ? { hooks: await liveHooksOf(ctx, config) } : {}),
    verify: createVerifier(ctx.host, ctx.io, { timeoutMs: opts.verifyTimeoutMs ?? 180_000 }),
  });
  return { result, changed: true };
}

/**
 * The units point at the runtime wirebot.yaml pins. Apply does not provision one (upgrade does, and checks
 * the configs with it first), so a missing runtime stops here, before any file changes, instead of as
 * gateways that never come up and a rollback.
 */
export async function assertRuntimeReady(ctx: CommandContext, config: Config): Promise<void> {
  if (await runtimeReady(ctx.host, config)) return;
  const r = config.runtime;
  throw preflightError("apply.runtime-missing", `the runtime ${r.package}@${r.version} (node ${r.node}) is not installed whole in ${resolveLayout(config).runtimeDir}, or its Node does not run`, {
    hint: `run \`wirebot upgrade --runtime-version ${r.version}\`: it installs the runtime, validates every gateway config with it, then applies; nothing was changed`,
  });
}

