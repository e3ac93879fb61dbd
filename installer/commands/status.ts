/** `wirebot status [--json]`: one screen of units, gateway health, ports, tunnel, secret freshness, ledger lag and budgets. */
import { EXIT } from "../errors.ts";
import { wirebotFix, type FixScope } from "../fix-scope.ts";
import { collectStatus } from "../lifecycle/probes.ts";
import { skippedStatusProbes, treeChecks } from "../lifecycle/render-only.ts";
import { checksJson, formatChecks, worst } from "../lifecycle/report.ts";
import { loadConfig, type CommandContext } from "../pipeline/context.ts";

export interface StatusOptions {
  config?: string;
  json?: boolean;
}

/** How the title names the target: a --root tree says plainly that only its files were looked at. */
export const targetText = (root: string, live: boolean): string =>
  root === "/" && live ? "this host" : live ? root : `${root} (render-only: files, modes, owners and the plan; live probes skipped)`;

/**
 * Exit 0 when nothing failed (warnings allowed), 1 (verify) otherwise. Under --root nothing live is probed:
 * the tree is checked against the plan and the modes, and the probes that would read this machine are listed as skipped.
 */
export async function statusCommand(ctx: CommandContext, opts: StatusOptions): Promise<number> {
  const { config, text, source } = await loadConfig(ctx, opts.config);
  const scope: FixScope = { root: ctx.host.root, ...(opts.config ? { config: source } : {}) };
  const live = ctx.live;
  const checks = live ? await collectStatus(ctx.host, config, scope) : await treeChecks(ctx, config, text, scope);
  const skipped = live ? [] : skippedStatusProbes(config);
  const level = worst(checks);
  if (opts.json) ctx.io.json(checksJson(level === "fail" ? "unhealthy" : level === "warn" ? "degraded" : "healthy", checks, { root: ctx.host.root, renderOnly: !live, skipped }));
  else ctx.io.out(formatChecks(`wirebot status: ${config.users.length} user(s), ${targetText(ctx.host.root, live)}`, checks, false, { skipped, doctor: wirebotFix(scope, "doctor") }));
  return level === "fail" ? EXIT.verify : EXIT.ok;
}
