/** `wirebot plan`: show what apply would change, local and remote; --exit-code makes pending changes exit 2. */
import { EXIT } from "../errors.ts";
import { formatPlan, planJson } from "../engine/format.ts";
import { isEmptyPlan, plan } from "../engine/plan.ts";
import { formatRemotePlan, remotePlanJson, type RemotePlan } from "../remote/remote-plan.ts";
import { loadConfig, readsRemote, type CommandContext } from "./context.ts";
import { buildDesired } from "./desired.ts";

export interface PlanOptions {
  config?: string;
  json?: boolean;
  exitCode?: boolean;
  /** files and units only */
  local?: boolean;
}

export async function planCommand(ctx: CommandContext, opts: PlanOptions): Promise<number> {
  const { config, text } = await loadConfig(ctx, opts.config);
  const p = await plan(ctx.host, await buildDesired(ctx, config, text));
  // The Cloudflare SDK and undici load only when a remote read happens.
  let remote: RemotePlan | null = null;
  if (!opts.local && readsRemote(ctx)) remote = await (await import("../remote/read-remote.ts")).readRemotePlan(config, { host: ctx.host, io: ctx.io, env: ctx.env });
  const pending = !isEmptyPlan(p) || (remote?.changes.length ?? 0) > 0;
  if (opts.json) ctx.io.json({ ok: true, root: ctx.host.root, ...planJson(p), remote: remote ? remotePlanJson(remote) : null });
  else {
    ctx.io.out(formatPlan(p));
    if (remote) ctx.io.out(formatRemotePlan(remote));
    else if (!opts.local) ctx.io.out(`Remote: not read (rendering into ${ctx.host.root}, not this host's Cloudflare and LiteLLM).`);
  }
  return opts.exitCode && pending ? EXIT.pending : EXIT.ok;
}
