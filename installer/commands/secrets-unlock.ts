/** `wirebot secrets unlock`: `rbw unlock` under the environment wirebot-secrets.service uses, so the unit finds the agent it started. */
import { PATHS } from "../config/layout.ts";
import { configError, EXIT, usageError } from "../errors.ts";
import { RBW_SOCKET } from "../secrets/rbw-place.ts";
import { runRbw } from "../secrets/rbw.ts";
import { loadConfig, type CommandContext } from "../pipeline/context.ts";

export interface SecretsUnlockOptions {
  config?: string;
}

export async function secretsUnlockCommand(ctx: CommandContext, opts: SecretsUnlockOptions): Promise<number> {
  const { config } = await loadConfig(ctx, opts.config);
  const backend = config.secrets.backend;
  if (backend !== "rbw")
    throw usageError("secrets.unlock-backend", `secrets.backend is '${backend}': only the rbw backend has an agent to unlock`, backend === "bitwarden" ? "the unit reads its machine-account token itself; nothing to unlock" : undefined);
  const { host, io } = ctx;
  const rbw = (args: string[], interactive = false) => runRbw(host, "rbw", args, undefined, {}, interactive);

  if ((await rbw(["unlocked"])).code === 0) {
    io.out(`rbw-agent at ${host.resolve(RBW_SOCKET)} is already unlocked.`);
    return EXIT.ok;
  }
  // rbw creates $XDG_RUNTIME_DIR with the default umask when it is missing; /run/wirebot is root's alone.
  if (!(await host.stat(PATHS.runDir))) await host.mkdir(PATHS.runDir, { mode: 0o700 });
  io.err("• rbw unlock: rbw asks for the vault's master password (pinentry); it logs in first if it never has");
  const r = await rbw(["unlock"], true);
  const check = r.code === 0 ? await rbw(["unlocked"]) : r;
  if (check.code !== 0)
    throw configError("secrets.rbw-unlock", `rbw unlock did not leave an unlocked agent at ${host.resolve(RBW_SOCKET)} (exit ${check.code}; rbw's message is above)`, {
      hint: "check `sudo rbw config show` (email, base_url, pinentry: a terminal pinentry such as pinentry-curses over SSH), then run this again",
    });
  io.out(`Unlocked: rbw-agent at ${host.resolve(RBW_SOCKET)} holds the keys until rbw's lock_timeout (\`rbw config set lock_timeout <seconds>\`).`);
  io.out("Next: `sudo systemctl restart wirebot-secrets` pulls the secrets now (or `sudo wirebot apply`).");
  return EXIT.ok;
}
