/** Diffs the desired resources against the host: create/update/delete, and which units must restart or stop. */
import { PATHS } from "../config/layout.ts";
import type { Host, Ownership } from "../host/host.ts";
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

/**
 * Owners are compared only when the host can resolve the name: under a --root without the
 * service users in its /etc/passwd, ownership is left to the image's first boot (systemd-sysusers).
 */
export async function plan(host: Host, desired: Desired): Promise<Plan> {
  const changes: Change[] = [];
  const manifest = manifestOf(desired);
  const manifestResource: Resource = { kind: "file", path: MANIFEST_PATH, content: JSON.stringify(manifest, null, 2) + "\n", mode: 0o600, owner: ROOT, notify: [] };

  for (const r of [...desired.resources, manifestResource]) {
    const st = await host.stat(r.path);
    const base = { kind: r.kind, path: r.path, secret: r.kind === "file" && r.secret === true, resource: r };
    if (!st) {
      changes.push({ ...base, action: "create", fields: [] });
      continue;
    }
    if (r.kind === "link") {
      const target = await host.readLink(r.path);
      if (target !== r.target) changes.push({ ...base, action: "update", fields: ["target"] });
      continue;
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
    const owner = await resolveOwner(host, r.owner);
    if (owner && (owner.uid !== st.uid || owner.gid !== st.gid)) fields.push("owner");
    if (fields.length > 0) changes.push({ ...base, action: "update", fields, ...(before !== undefined ? { before } : {}) });
  }

  const previous = await readManifest(host);
  const desiredPaths = new Set(manifest.paths);
  for (const p of previous.paths) {
    if (desiredPaths.has(p)) continue;
    const st = await host.stat(p);
    if (!st) continue;
    changes.push({ action: "delete", kind: st.kind === "symlink" ? "link" : "file", path: p, fields: [], secret: false });
  }

  const desiredUnits = new Set(desired.units.map((u) => u.name));
  const restart = new Set<string>();
  for (const ch of changes) for (const u of ch.resource?.notify ?? []) if (desiredUnits.has(u)) restart.add(u);
  const stop = previous.units.filter((u) => !desiredUnits.has(u));

  // A change to the manifest alone is bookkeeping, not a change of the appliance.
  const real = changes.filter((c) => c.path !== MANIFEST_PATH);
  return { changes: real.length === 0 ? [] : changes, restart: [...restart].sort(), stop, units: desired.units, manifest };
}

export const isEmptyPlan = (p: Plan) => p.changes.length === 0 && p.stop.length === 0;
