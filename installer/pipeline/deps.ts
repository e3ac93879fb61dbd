/** What lifecycle commands let tests replace: whether services are managed, and the converge step itself. */
import { converge } from "./converge.ts";
import { isLive, type CommandContext } from "./context.ts";

export type ConvergeFn = typeof converge;

export interface LifecycleDeps {
  /** manage services (systemctl, userdel); defaults to `root === "/"` like apply */
  live?: boolean;
  /** the engine's plan → apply → verify; tests pass one with a scripted verify */
  converge?: ConvergeFn;
}

export const liveOf = (ctx: CommandContext, deps: LifecycleDeps) => deps.live ?? isLive(ctx);
export const convergeOf = (deps: LifecycleDeps): ConvergeFn => deps.converge ?? converge;
