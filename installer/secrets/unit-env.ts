/** A unit's secrets for the same command typed by hand: the environment first, then the unit's EnvironmentFile= on tmpfs. */
import { configError, preflightError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { shellWord } from "../fix-scope.ts";
import { SECRETS_UNIT } from "../config/units.ts";
import { parseEnvFile } from "./env-file.ts";

export type Env = Readonly<Record<string, string | undefined>>;

export interface UnitEnvRequest {
  /** the EnvironmentFile= of the unit that normally runs the command, e.g. PATHS.reconcileEnv */
  file: string;
  /** variables the command needs; only these are taken from the file */
  names: readonly string[];
  env: Env;
}

export type UnitEnvResult =
  | { outcome: "complete"; env: Env; fromFile: string[] }
  /** the file was read (or nothing was missing) but some names are in neither place */
  | { outcome: "incomplete"; env: Env; fromFile: string[]; missing: string[] }
  | { outcome: "not-root"; env: Env; missing: string[] }
  | { outcome: "not-pulled"; env: Env; missing: string[] };

/** How to get the tmpfs files back, for the root the command ran against. */
export function pullHint(host: Host): string {
  if (host.root !== "/") return `run \`wirebot secrets pull --root ${shellWord(host.root)}\``;
  return `run \`sudo wirebot secrets pull\`, or \`sudo systemctl start ${SECRETS_UNIT}\` (it pulls them at boot)`;
}

/**
 * Only the names asked for are taken, never the whole file: a stray line in it cannot reach this process's
 * environment. A value already in the environment wins, as an operator's export should. The file is read
 * only when something is missing, and "root only" is the file's own mode (root 0600 under /run/wirebot 0700,
 * as `secrets pull` writes it): anyone else gets EACCES, reported as the outcome "not-root", never a stack.
 */
export async function readUnitEnv(host: Host, req: UnitEnvRequest): Promise<UnitEnvResult> {
  const missing = req.names.filter((n) => !req.env[n]);
  if (missing.length === 0) return { outcome: "complete", env: req.env, fromFile: [] };
  let buf: Buffer | null;
  try {
    buf = await host.readFile(req.file);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM") return { outcome: "not-root", env: req.env, missing };
    throw preflightError("secrets.env-unreadable", `cannot read ${host.resolve(req.file)} (${(cause as NodeJS.ErrnoException).code ?? "error"})`, {
      hint: pullHint(host),
    });
  }
  if (!buf) return { outcome: "not-pulled", env: req.env, missing };
  const file = parseEnvFile(buf.toString("utf8"));
  const env: Record<string, string | undefined> = { ...req.env };
  const fromFile: string[] = [];
  for (const n of missing) {
    const v = file.get(n);
    if (v) {
      env[n] = v;
      fromFile.push(n);
    }
  }
  const still = missing.filter((n) => !env[n]);
  return still.length === 0 ? { outcome: "complete", env, fromFile } : { outcome: "incomplete", env, fromFile, missing: still };
}

/** readUnitEnv for a command that cannot run without the names: a clear error instead of a half-filled environment. */
export async function requireUnitEnv(host: Host, req: UnitEnvRequest & { command: string; unit: string }): Promise<Env> {
  const r = await readUnitEnv(host, req);
  const where = host.resolve(req.file);
  const names = (m: string[]) => m.join(", ");
  switch (r.outcome) {
    case "complete":
      return r.env;
    case "not-root":
      // 78, not 69: under the unit itself (not root) a missing name means it is not mapped, and 78 stops the restart loop.
      throw configError("secrets.env-needs-root", `${names(r.missing)} is not set; ${req.unit} gets it from ${where}, which only root can read`, {
        hint: `by hand, run it as root: \`sudo ${req.command}\` reads that file as the unit does; in the unit, map ${names(r.missing)} in secrets.map and run \`wirebot apply\``,
      });
    case "not-pulled":
      throw preflightError("secrets.not-pulled", `${names(r.missing)} is not set, and ${where} does not exist: the secrets have not been pulled into tmpfs since boot`, {
        hint: pullHint(host),
      });
    case "incomplete":
      throw configError("secrets.env-missing", `${names(r.missing)} is in neither the environment nor ${where}`, {
        hint: `map ${names(r.missing)} in secrets.map of wirebot.yaml, run \`wirebot apply\`, then ${pullHint(host)}`,
      });
  }
}
