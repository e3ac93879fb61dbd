/** `wirebot secrets pull`: flags → pullSecrets, human output through Io, an exit code back to main. */
import path from "node:path";
import type { Config } from "../config/schema.ts";
import { formatError, usageError, WirebotError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import type { Io } from "../io.ts";
import { withApplyLock, type LockRequest } from "../pipeline/lock.ts";
import { createLogger } from "../log.ts";
import { pullSecrets, type PullDeps } from "../secrets/pull.ts";

export interface SecretsPullFlags {
  /** Informational: the host was already created on this root; a different one is a wiring bug. */
  root?: string;
  /** Development only: write to a filesystem that is not tmpfs/ramfs, with a warning. */
  allowNonTmpfs?: boolean;
  /** the apply lock's holder name and --wait, when run by hand */
  lock?: LockRequest;
}

/** Returns the exit code: 0, or the WirebotError's (73 not tmpfs/cannot write, 75 temporary, 78 config, 69 no SDK/rbw). */
export async function secretsPullCommand(opts: SecretsPullFlags, config: Config, host: Host, io: Io, deps: PullDeps = {}): Promise<number> {
  try {
    if (opts.root !== undefined && path.resolve(opts.root) !== host.root) {
      throw usageError("secrets.root", `--root ${opts.root} does not match the host root ${host.root}`);
    }
    const logger = deps.logger ?? createLogger({ name: "wirebot-secrets" });
    const pull = () => pullSecrets(config, host, io, { allowNonTmpfs: opts.allowNonTmpfs ?? false }, { ...deps, logger });
    // systemd sets INVOCATION_ID for a unit's processes: wirebot-secrets.service runs this pull while the
    // apply that started it holds the lock, and waits for nobody. Run by hand, it is a writer like any other.
    const result = host.env["INVOCATION_ID"] ? await pull() : await withApplyLock({ host, io, ...(opts.lock ? { lock: opts.lock } : {}) }, pull);
    for (const name of result.generated) io.out(`generated '${name}' and stored it in the vault`);
    for (const file of result.files) io.out(`wrote ${host.resolve(file)} (0600, ${result.fsTypes.get(path.posix.dirname(file)) ?? "?"})`);
    return 0;
  } catch (e) {
    if (!(e instanceof WirebotError)) throw e;
    io.err(formatError(e));
    return e.exitCode;
  }
}
