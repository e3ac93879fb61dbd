/** `wirebot doctor [--json]`: the status probes plus drift, permissions, headroom, runtime fit and what the host's systemd drops of the units, each problem with a fix. */
import { EXIT } from "../errors.ts";
import { resourceChecks, runtimeChecks } from "../lifecycle/doctor-checks.ts";
import type { FixScope } from "../fix-scope.ts";
import { collectStatus } from "../lifecycle/probes.ts";
import { skippedResourceProbes, skippedStatusProbes, treeChecks } from "../lifecycle/render-only.ts";
import { checksJson, formatChecks, worst } from "../lifecycle/report.ts";
import { systemdExposureChecks } from "../lifecycle/systemd-exposure.ts";
import { loadConfig, type CommandContext } from "../pipeline/context.ts";
import { targetText } from "./status.ts";

export interface DoctorOptions {
  config?: string;
  json?: boolean;
}

/** Under --root, as status: the tree (plan, modes, owners, the runtime marker) is checked and the live probes are listed as skipped. */
export async function doctorCommand(ctx: CommandContext, opts: DoctorOptions): Promise<number> {
  const { config, text, source } = await loadConfig(ctx, opts.config);
  const scope: FixScope = { root: ctx.host.root, ...(opts.config ? { config: source } : {}) };
  const live = ctx.live;
  const runtime = await runtimeChecks(ctx.host, config, { live, scope });
  const exposure = await systemdExposureChecks(ctx.host, { live });
  const checks = [
    ...(live ? await collectStatus(ctx.host, config, scope) : []),
    ...(await treeChecks(ctx, config, text, scope)),
    ...(live ? await resourceChecks(ctx.host, config, scope) : []),
    ...runtime.checks,
    ...exposure.checks,
  ];
  const skipped = live ? [] : [...skippedStatusProbes(config), ...skippedResourceProbes(), ...runtime.skipped, ...exposure.skipped];
  const level = worst(checks);
  if (opts.json) ctx.io.json(checksJson(level === "fail" ? "problems-found" : level === "warn" ? "warnings" : "healthy", checks, { root: ctx.host.root, renderOnly: !live, skipped }));
  else ctx.io.out(formatChecks(`wirebot doctor: ${targetText(ctx.host.root, live)}`, checks, true, { skipped }));
  return level === "fail" ? EXIT.verify : EXIT.ok;
}
