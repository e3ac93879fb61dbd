/** Builds the desired state for a command: render everything, plus the capabilities that add their own files. */
import type { Config } from "../config/schema.ts";
import type { Desired } from "../engine/resource.ts";
import { renderAll } from "../render/index.ts";
import { BWS_CRED_PLAIN } from "../secrets/bootstrap-token.ts";
import { readAccessFacts } from "../tunnel/access-facts-file.ts";
import type { CommandContext } from "./context.ts";

/** Encrypted credential (systemd-creds) unless the plain-file fallback is what install stored. */
export async function usesEncryptedCredential(ctx: CommandContext): Promise<boolean> {
  return (await ctx.host.stat(BWS_CRED_PLAIN)) === null;
}

export async function buildDesired(ctx: CommandContext, config: Config, configText: string): Promise<Desired> {
  return renderAll(config, {
    assets: ctx.assets,
    wirebot: ctx.wirebot,
    configText,
    encryptedCredential: await usesEncryptedCredential(ctx),
    tunnelAccess: config.tunnel.enabled && config.tunnel.access.enabled ? await readAccessFacts(ctx.host) : null,
  });
}
