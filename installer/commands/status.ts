/** `wirebot status [--json]`: one screen of units, gateway health, ports, tunnel, secret freshness, ledger lag and budgets. */
import { EXIT } from "../errors.ts";
import { collectStatus, type ProbeDeps } from "../lifecycle/probes.ts";
import { checksJson, formatChecks, worst } from "../lifecycle/report.ts";
import { loadConfig, type CommandContext } from "./context.ts";

export interface StatusOptions {
  config?: string;
  json?: boolean;
}

export type StatusDeps = ProbeDeps;

/** Exit 0 when nothing failed (warnings allowed), 1 (verify) otherwise. */
export async function statusCommand(ctx: CommandContext, opts: StatusOptions, deps: StatusDeps = {}): Promise<number> {
  const { config } = await loadConfig(ctx, opts.config);
  const checks = await collectStatus(ctx.host, config, deps);
  const level = worst(checks);
  if (opts.json) ctx.io.json(checksJson(level === "fail" ? "unhealthy" : level === "warn" ? "degraded" : "healthy", checks));
  else ctx.io.out(formatChecks(`wirebot status: ${config.users.length} user(s), ${ctx.host.root === "/" ? "this host" : ctx.host.root}`, checks, false));
  return level === "fail" ? EXIT.verify : EXIT.ok;
}
