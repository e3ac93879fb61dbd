/** `wirebot plan`: show what apply would change; --exit-code makes pending changes exit 2. */
import { EXIT } from "../errors.ts";
import { formatPlan, planJson } from "../engine/format.ts";
import { isEmptyPlan, plan } from "../engine/plan.ts";
import { loadConfig, type CommandContext } from "./context.ts";
import { buildDesired } from "./desired.ts";

export interface PlanOptions {
  config?: string;
  json?: boolean;
  exitCode?: boolean;
}

export async function planCommand(ctx: CommandContext, opts: PlanOptions): Promise<number> {
  const { config, text } = await loadConfig(ctx, opts.config);
  const p = await plan(ctx.host, await buildDesired(ctx, config, text));
  if (opts.json) ctx.io.json({ ok: true, root: ctx.host.root, ...planJson(p) });
  else ctx.io.out(formatPlan(p));
  return opts.exitCode && !isEmptyPlan(p) ? EXIT.pending : EXIT.ok;
}
