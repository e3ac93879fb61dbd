/** Preflight: paths.data is absent, empty or wirebot's own; a directory another program filled is refused before anything is written. */
import type { Config } from "../config/schema.ts";
import { readManifest } from "../engine/plan.ts";
import { preflightError, type ErrorIssue } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { OWNED_MARKER, readTreeOwnership, type TreeOwnership } from "../ownership/marker.ts";

export interface DataDirFacts {
  dir: string;
  ownership: TreeOwnership;
}

const SHOWN = 5;

/** Pure judgement: wirebot would write into, and `uninstall --purge` delete, a directory it did not make. */
export function judgeDataDir(f: DataDirFacts): ErrorIssue[] {
  const o = f.ownership;
  if (o.outcome === "not-a-directory")
    return [{ path: "paths.data", message: `${f.dir} exists and is a ${o.kind}, not a directory: set paths.data to a directory of wirebot's own (a symlink is not followed: name the real directory)` }];
  if (o.outcome !== "foreign") return [];
  const shown = o.entries.slice(0, SHOWN).join(", ") + (o.entries.length > SHOWN ? `, … (${o.entries.length} entries)` : "");
  return [
    {
      path: "paths.data",
      message: `${f.dir} already holds files wirebot did not create (${shown}) and has no ${OWNED_MARKER} marker; wirebot would write users' state there and \`uninstall --purge\` deletes paths.data whole: set paths.data to a new or empty directory, such as ${f.dir}/wirebot`,
    },
  ];
}

export async function readDataDirFacts(host: Host, c: Config): Promise<DataDirFacts> {
  const dir = c.paths.data;
  return { dir, ownership: await readTreeOwnership(host, dir, await readManifest(host)) };
}

/** Throws the preflight error (69); also under --root, where it judges that tree. */
export async function assertDataDirOwned(host: Host, c: Config): Promise<void> {
  const issues = judgeDataDir(await readDataDirFacts(host, c));
  if (issues.length > 0)
    throw preflightError("preflight.data-dir", `paths.data ${host.resolve(c.paths.data)} is not wirebot's to use`, {
      issues,
      hint: "point paths.data in wirebot.yaml at a new or empty directory, then run the command again; nothing was changed",
    });
}
