/** `wirebot doctor [--json]`: the status probes plus drift, permissions, headroom and runtime fit, each problem with a fix. */
import { EXIT } from "../errors.ts";
import { driftChecks, permissionChecks, resourceChecks, runtimeChecks } from "../lifecycle/doctor-checks.ts";
import { collectStatus, type ProbeDeps } from "../lifecycle/probes.ts";
import { checksJson, formatChecks, worst } from "../lifecycle/report.ts";
import { loadConfig, type CommandContext } from "./context.ts";

export interface DoctorOptions {
  config?: string;
  json?: boolean;
}

export type DoctorDeps = ProbeDeps;

export async function doctorCommand(ctx: CommandContext, opts: DoctorOptions, deps: DoctorDeps = {}): Promise<number> {
  const { config, text } = await loadConfig(ctx, opts.config);
  const checks = [
    ...(await collectStatus(ctx.host, config, deps)),
    ...(await driftChecks(ctx, config, text)),
    ...(await permissionChecks(ctx.host, config)),
    ...(await resourceChecks(ctx.host, config)),
    ...(await runtimeChecks(ctx.host, config)),
  ];
  const level = worst(checks);
  if (opts.json) ctx.io.json(checksJson(level === "fail" ? "problems-found" : level === "warn" ? "warnings" : "healthy", checks));
  else ctx.io.out(formatChecks(`wirebot doctor: ${ctx.host.root === "/" ? "this host" : ctx.host.root}`, checks, true));
  return level === "fail" ? EXIT.verify : EXIT.ok;
}
