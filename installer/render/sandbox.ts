/** The per-agent sandbox settings a `trust: sandboxed` agent gets in its gateway config. Pure. */
import type { Config, UserConfig } from "../config/schema.ts";

export function sandboxFor(_c: Config, _u: UserConfig): Record<string, unknown> {
  return { mode: "all", scope: "agent", workspaceAccess: "rw" };
}
