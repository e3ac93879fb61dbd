/** Wirebot's mark on the trees it creates (a marker file at the top), so destructive commands delete only what wirebot made. */
import { PATHS } from "../config/layout.ts";
import type { Manifest } from "../engine/plan.ts";
import type { FileResource, OwnerSpec } from "../engine/resource.ts";
import type { Host } from "../host/host.ts";

export const OWNED_MARKER = ".wirebot-owned";
const SIGNATURE = "# wirebot-owned-tree";

/** The same text for every tree, so a data directory copied elsewhere on purpose stays wirebot's and plans no change. */
export const OWNED_MARKER_TEXT = [
  SIGNATURE,
  "# Created by wirebot: `wirebot uninstall --purge` deletes this directory with everything in it.",
  "# Managed by wirebot; edit /etc/wirebot/wirebot.yaml and run `wirebot apply`. Manual changes will be overwritten.",
  "",
].join("\n");

export const markerPath = (dir: string) => `${dir}/${OWNED_MARKER}`;
export const isMarkerPath = (p: string) => p.endsWith(`/${OWNED_MARKER}`);
export const treeOfMarker = (p: string) => p.slice(0, -OWNED_MARKER.length - 1);

/** Rendered with the tree itself, so apply marks it in the same run that creates it. */
export function markerResource(dir: string, owner: OwnerSpec): FileResource {
  return { kind: "file", path: markerPath(dir), content: OWNED_MARKER_TEXT, mode: 0o644, owner, notify: [] };
}

/** Restore writes a tree from an archive outside apply; it marks it the way apply would. */
export async function writeMarker(host: Host, dir: string): Promise<void> {
  await host.writeFileAtomic(markerPath(dir), OWNED_MARKER_TEXT, { mode: 0o644 });
}

export async function isMarked(host: Host, dir: string): Promise<boolean> {
  const st = await host.stat(markerPath(dir));
  if (st?.kind !== "file") return false;
  return ((await host.readFile(markerPath(dir)))?.toString("utf8") ?? "").startsWith(`${SIGNATURE}\n`);
}

/**
 * A data directory an older wirebot made before markers existed: the manifest lists a gateway config
 * directly inside it (`gateway/clawdbot.json` or `users/<id>/clawdbot.json`), which only wirebot renders there.
 */
export function manifestClaims(manifest: Manifest, dir: string): string | null {
  const prefix = `${dir}/`;
  return manifest.paths.find((p) => p.startsWith(prefix) && /^(?:gateway|users\/[a-z][a-z0-9-]*)\/clawdbot\.json$/.test(p.slice(prefix.length))) ?? null;
}

export type TreeOwnership =
  | { outcome: "absent" }
  | { outcome: "empty" }
  | { outcome: "marked" }
  /** made by a wirebot that predates markers; the next apply marks it */
  | { outcome: "claimed"; evidence: string }
  | { outcome: "foreign"; entries: string[] }
  | { outcome: "not-a-directory"; kind: string };

/** Who made the directory at `dir`: nobody yet, wirebot (marker or manifest), or someone else. */
export async function readTreeOwnership(host: Host, dir: string, manifest: Manifest): Promise<TreeOwnership> {
  const st = await host.stat(dir);
  if (!st) return { outcome: "absent" };
  if (st.kind !== "dir") return { outcome: "not-a-directory", kind: st.kind };
  const entries = (await host.readdir(dir)) ?? [];
  if (entries.length === 0) return { outcome: "empty" };
  if (await isMarked(host, dir)) return { outcome: "marked" };
  const evidence = manifestClaims(manifest, dir);
  if (evidence) return { outcome: "claimed", evidence };
  return { outcome: "foreign", entries: entries.sort() };
}

/** The fixed trees wirebot creates and marks besides paths.data: each is deleted whole only by --purge. */
export const FIXED_OWNED_TREES = [PATHS.etcDir, PATHS.ledgerDir] as const;
