/** Reads a wirebot.yaml without trusting it: opened once, read up to a size cap, every failure a clear error. */
import { decodeConfigText, MAX_CONFIG_BYTES } from "../config/decode.ts";
import { configError, usageError, type WirebotError } from "../errors.ts";
import type { Host } from "../host/host.ts";

export interface ConfigFileRef {
  /** the path as the operator should read it in a message */
  source: string;
  /** named with --config: a path that is not a readable file is then a usage error (64), not a config error (78) */
  given: boolean;
}

function readFailure(e: unknown, ref: ConfigFileRef): WirebotError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const wrong = (c: string, message: string, hint: string) => (ref.given ? usageError(c, message, hint) : configError(c, message, { hint }));
  if (code === "EISDIR")
    return wrong("config.directory", `${ref.source} is a directory, not a wirebot.yaml`, ref.given ? `give the file itself, such as --config ${ref.source.replace(/\/$/, "")}/wirebot.yaml; nothing was changed` : `move the directory away and run \`wirebot install\`; nothing was changed`);
  if (code === "EACCES" || code === "EPERM")
    return usageError("config.unreadable", `cannot read ${ref.source}: permission denied`, "run the command as root (sudo wirebot …), or make the file readable by this user; nothing was changed");
  if (code === "ELOOP")
    return wrong("config.symlink-loop", `${ref.source} is a loop of symbolic links`, `point ${ref.source} at the real file; nothing was changed`);
  const reason = code ?? (e instanceof Error ? e.message : String(e));
  return wrong("config.unreadable", `cannot read ${ref.source} (${reason})`, `check the file (ls -l ${ref.source}) and run the command again; nothing was changed`);
}

/**
 * The text of the config file at path on host, or null when nothing is there. Reads at most one chunk past
 * MAX_CONFIG_BYTES, so a 50 MB file (or /dev/zero) is refused without being held in memory.
 */
export async function readConfigText(host: Host, path: string, ref: ConfigFileRef): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    const stream = await host.readFileStream(path);
    if (stream === null) return null;
    for await (const chunk of stream) {
      chunks.push(chunk);
      size += chunk.length;
      if (size > MAX_CONFIG_BYTES) break;
    }
  } catch (e) {
    throw readFailure(e, ref);
  }
  return decodeConfigText(Buffer.concat(chunks), ref.source);
}
