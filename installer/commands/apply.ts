/** `wirebot apply`: converge the host to wirebot.yaml (plan, confirm, apply, verify). */
import { EXIT } from "../errors.ts";
import { withApplyLock } from "../pipeline/lock.ts";
import { loadConfig, type CommandContext } from "../pipeline/context.ts";
import { converge, type ApplyOptions } from "../pipeline/converge.ts";

export function applyCommand(ctx: CommandContext, opts: ApplyOptions): Promise<number> {
  // Locked before wirebot.yaml is read: a `user add` that finishes while this waits must not be undone by it.
  return withApplyLock(ctx, () => applyLocked(ctx, opts));
}

async function applyLocked(ctx: CommandContext, opts: ApplyOptions): Promise<number> {
  const { config, text } = await loadConfig(ctx, opts.config);
  const { result, changed, cancelled } = await converge(ctx, config, text, opts);
  if (cancelled) return EXIT.ok;
  ctx.io.out(changed ? `Applied: ${result?.written ?? 0} file(s) written${result?.restarted.length ? `, restarted ${result.restarted.join(", ")}` : ""}.` : "Nothing to do.");
  return EXIT.ok;
}
