/** `wirebot plan`: show what apply would change, local and remote; --exit-code makes pending changes exit 2; --record keeps it for status. */
import { driftItems, readDriftRecord, writeDriftRecord } from "../drift/record.ts";
import { EXIT, WirebotError } from "../errors.ts";
import { formatPlan, planJson } from "../engine/format.ts";
import { isEmptyPlan, plan } from "../engine/plan.ts";
import { formatRemotePlan, remotePlanJson, type RemotePlan } from "../remote/remote-plan.ts";
import { loadConfig, readsRemote, type CommandContext } from "../pipeline/context.ts";
import { buildDesired } from "../pipeline/desired.ts";

export interface PlanOptions {
  config?: string;
  json?: boolean;
  exitCode?: boolean;
  /** files and units only */
  local?: boolean;
  /** keep what was found in the drift record `status` shows (the drift timer's run) */
  record?: boolean;
}

export async function planCommand(ctx: CommandContext, opts: PlanOptions): Promise<number> {
  const { config, text } = await loadConfig(ctx, opts.config);
  const p = await plan(ctx.host, await buildDesired(ctx, config, text));
  // The Cloudflare SDK and the vault backends load only when a remote read happens.
  let remote: RemotePlan | null = null;
  const previous = opts.record ? await readDriftRecord(ctx.host) : null;
  try {
    if (!opts.local && readsRemote(ctx)) remote = await (await import("../remote/read-remote.ts")).readRemotePlan(config, { host: ctx.host, io: ctx.io, services: ctx.services });
  } catch (e) {
    // A failed check is recorded too, so status can say the drift it shows is from the last good one.
    if (opts.record && e instanceof WirebotError)
      await writeDriftRecord(ctx.host, { checkedAt: ctx.host.now().toISOString(), drift: previous?.drift ?? [], error: { code: e.code, message: e.message } });
    throw e;
  }
  if (opts.record) await writeDriftRecord(ctx.host, { checkedAt: ctx.host.now().toISOString(), drift: driftItems(p, remote, previous, ctx.host.now()), error: null });
  const pending = !isEmptyPlan(p) || (remote?.changes.length ?? 0) > 0;
  if (opts.json) ctx.io.json({ ok: true, root: ctx.host.root, ...planJson(p), remote: remote ? remotePlanJson(remote) : null });
  else {
    ctx.io.out(formatPlan(p));
    if (remote) ctx.io.out(formatRemotePlan(remote));
    else if (!opts.local) ctx.io.out(`Remote: not read (rendering into ${ctx.host.root}, not this host's Cloudflare and LiteLLM).`);
  }
  return opts.exitCode && pending ? EXIT.pending : EXIT.ok;
}
