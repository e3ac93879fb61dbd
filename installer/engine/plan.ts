/** Diffs the desired resources against the host: create/update/delete, and which units must restart or stop. */
import { PATHS } from "../config/layout.ts";
import type { Host, Ownership } from "../host/host.ts";
import { allUnder, changedJsonPaths } from "./json-paths.ts";
import { ROOT, type Desired, type OwnerSpec, type Resource } from "./resource.ts";

export type ChangeAction = "create" | "update" | "delete";

export interface Change {
  action: ChangeAction;
  kind: Resource["kind"];
  path: string;
  /** what differs on update */
  fields: ("content" | "mode" | "owner" | "target")[];
  secret: boolean;
  resource?: Resource;
  /** previous content, kept for the diff and for rollback */
  before?: string;
}

export interface Plan {
  changes: Change[];
  /** units whose inputs changed and that must restart */
  restart: string[];
  /** units that take this plan's changes live (config hot reload): nothing restarts them */
  reload: string[];
  /** units no longer desired: stop and disable */
  stop: string[];
  /** every desired long-running unit, started (no-op when running) after apply */
  units: Desired["units"];
  /** the managed paths after apply (the manifest) */
  manifest: Manifest;
}

export interface Manifest {
  version: 1;
  /** files and links wirebot owns; directories are never deleted by apply (they hold user data) */
  paths: string[];
  units: string[];
}

export const MANIFEST_PATH = PATHS.manifest;

export async function readManifest(host: Host): Promise<Manifest> {
  const buf = await host.readFile(MANIFEST_PATH);
  if (!buf) return { version: 1, paths: [], units: [] };
  try {
    const m = JSON.parse(buf.toString("utf8")) as Manifest;
    return { version: 1, paths: m.paths ?? [], units: m.units ?? [] };
  } catch {
    return { version: 1, paths: [], units: [] };
  }
}

export async function resolveOwner(host: Host, o: OwnerSpec): Promise<Ownership | null> {
  if (o.user === ROOT.user && o.group === ROOT.group) return { uid: 0, gid: 0 };
  const u = await host.lookupUser(o.user);
  const g = o.group === o.user ? u : await host.lookupUser(o.group);
  return u && g ? { uid: u.uid, gid: g.gid } : null;
}

export function manifestOf(desired: Desired): Manifest {
  return {
    version: 1,
    paths: desired.resources.filter((r) => r.kind !== "dir").map((r) => r.path).concat(MANIFEST_PATH).sort(),
    units: desired.units.map((u) => u.name).sort(),
  };
}

/** At most this many resources are read at once: enough to keep libuv's threads busy, few enough file descriptors. */
const READ_CONCURRENCY = 16;

/** fn over items, at most `limit` at a time; the results keep the items' order, so the plan reads the same as one made one by one. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** One lookup per owner for a whole plan: every file of a user asks the same question, and the user database does not change meanwhile. */
function ownerLookup(host: Host): (o: OwnerSpec) => Promise<Ownership | null> {
  const known = new Map<string, Promise<Ownership | null>>();
  return (o) => {
    const key = `${o.user}:${o.group}`;
    let found = known.get(key);
    if (!found) known.set(key, (found = resolveOwner(host, o)));
    return found;
  };
}

/** How one resource differs from the host: a change, or null when it matches (content compared in full, mode, owner, link target). */
async function inspect(host: Host, r: Resource, owners: (o: OwnerSpec) => Promise<Ownership | null>): Promise<Change | null> {
  const st = await host.stat(r.path);
  const base = { kind: r.kind, path: r.path, secret: r.kind === "file" && r.secret === true, resource: r };
  if (!st) return { ...base, action: "create", fields: [] };
  if (r.kind === "link") {
    const target = await host.readLink(r.path);
    return target !== r.target ? { ...base, action: "update", fields: ["target"] } : null;
  }
  const fields: Change["fields"] = [];
  let before: string | undefined;
  if (r.kind === "file") {
    if (st.kind !== "file") fields.push("content");
    else {
      before = (await host.readFile(r.path))?.toString("utf8");
      if (before !== r.content) fields.push("content");
    }
  } else if (st.kind !== "dir") fields.push("content");
  if ((st.mode & 0o7777) !== r.mode) fields.push("mode");
  const owner = await owners(r.owner);
  if (owner && (owner.uid !== st.uid || owner.gid !== st.gid)) fields.push("owner");
  return fields.length > 0 ? { ...base, action: "update", fields, ...(before !== undefined ? { before } : {}) } : null;
}

/**
 * Owners are compared only when the host can resolve the name: under a --root without the
 * service users in its /etc/passwd, ownership is left to the image's first boot (systemd-sysusers).
 */
export async function plan(host: Host, desired: Desired): Promise<Plan> {
  const manifest = manifestOf(desired);
  const manifestResource: Resource = { kind: "file", path: MANIFEST_PATH, content: JSON.stringify(manifest, null, 2) + "\n", mode: 0o600, owner: ROOT, notify: [] };
  const owners = ownerLookup(host);
  const inspected = await mapBounded([...desired.resources, manifestResource], READ_CONCURRENCY, (r) => inspect(host, r, owners));
  const changes: Change[] = inspected.filter((c): c is Change => c !== null);

  const previous = await readManifest(host);
  const desiredPaths = new Set(manifest.paths);
  const gone = previous.paths.filter((p) => !desiredPaths.has(p));
  const goneStats = await mapBounded(gone, READ_CONCURRENCY, (p) => host.stat(p));
  gone.forEach((p, i) => {
    const st = goneStats[i];
    if (st) changes.push({ action: "delete", kind: st.kind === "symlink" ? "link" : "file", path: p, fields: [], secret: false });
  });

  const desiredUnits = new Set(desired.units.map((u) => u.name));
  const restart = new Set<string>();
  const reload = new Set<string>();
  for (const ch of changes) for (const u of ch.resource?.notify ?? []) if (desiredUnits.has(u)) (takenLive(ch) ? reload : restart).add(u);
  const stop = previous.units.filter((u) => !desiredUnits.has(u));

  // A change to the manifest alone is bookkeeping, not a change of the appliance.
  const real = changes.filter((c) => c.path !== MANIFEST_PATH);
  return { changes: real.length === 0 ? [] : changes, restart: [...restart].sort(), reload: [...reload].filter((u) => !restart.has(u)).sort(), stop, units: desired.units, manifest };
}

/** A content-only update of a live-reloaded file, every changed path under its prefixes. */
function takenLive(ch: Change): boolean {
  const r = ch.resource;
  if (r?.kind !== "file" || !r.liveReload || ch.action !== "update" || ch.before === undefined) return false;
  if (ch.fields.some((f) => f !== "content")) return false;
  const paths = changedJsonPaths(ch.before, r.content);
  return paths !== null && allUnder(paths, r.liveReload.prefixes);
}

export const isEmptyPlan = (p: Plan) => p.changes.length === 0 && p.stop.length === 0;
