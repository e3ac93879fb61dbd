/** Snapshots of the gateways' state dirs taken before an upgrade switches runtimes: 0600 archives, a manifest with checksums, the last few kept. */
import { createHash } from "node:crypto";
import { PATHS, resolveLayout } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import { WirebotError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { gunzipStream, gzipStream, readTar, writeTar, type TarStreamEntry } from "./tar.ts";

export const SNAPSHOTS_DIR = `${PATHS.ledgerDir}/snapshots`;
const MANIFEST = "manifest.json";

export interface SnapshotGateway {
  id: string;
  unit: string;
  stateDir: string;
  /** the archive's name in the snapshot dir */
  file: string;
  sha256: string;
  bytes: number;
  files: number;
}

export interface SnapshotManifest {
  format: 1;
  /** directory name under SNAPSHOTS_DIR */
  id: string;
  at: string;
  /** the runtime the state belongs to, and the one the upgrade went to */
  runtime: { package: string; version: string; node: string };
  to: string;
  gateways: SnapshotGateway[];
}

async function* walkFiles(host: Host, dir: string, base: string): AsyncGenerator<TarStreamEntry> {
  for (const name of (await host.readdir(dir)) ?? []) {
    const p = `${dir}/${name}`;
    const st = await host.stat(p);
    if (!st) continue;
    const rel = `${base}${name}`;
    if (st.kind === "dir") {
      yield { path: rel, type: "dir", mode: st.mode, size: 0 };
      yield* walkFiles(host, p, `${rel}/`);
    } else if (st.kind === "file") {
      const chunks = await host.readFileStream(p);
      if (chunks) yield { path: rel, type: "file", mode: st.mode, size: st.size, content: chunks };
    }
    // sockets and symlinks are not state the runtime migrates
  }
}

/** Bytes through, hashed and counted on the way. */
async function* hashed(src: AsyncIterable<Buffer>, into: { hash: ReturnType<typeof createHash>; bytes: number }): AsyncGenerator<Buffer> {
  for await (const chunk of src) {
    into.hash.update(chunk);
    into.bytes += chunk.length;
    yield chunk;
  }
}

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");

/**
 * Archives every gateway's state dir into SNAPSHOTS_DIR/<time>-<from>-to-<to>/ (root 0700, archives 0600),
 * the manifest written last: a directory without one is a snapshot that did not finish. The caller stops
 * the gateways first, so their SQLite files are at rest (a copy of a live WAL database is torn).
 */
export async function takeSnapshot(host: Host, current: Config, to: string): Promise<SnapshotManifest> {
  const l = resolveLayout(current);
  const at = host.now();
  let id = `${stamp(at)}-${current.runtime.version}-to-${to}`;
  let dir = `${SNAPSHOTS_DIR}/${id}`;
  try {
    await host.mkdir(SNAPSHOTS_DIR, { mode: 0o700 });
    // two upgrades within a second (a retry): never write into another snapshot
    for (let n = 2; await host.stat(dir); n++) dir = `${SNAPSHOTS_DIR}/${(id = `${stamp(at)}-${current.runtime.version}-to-${to}-${n}`)}`;
    await host.mkdir(dir, { mode: 0o700 });
    const gateways: SnapshotGateway[] = [];
    for (const g of l.gateways) {
      const file = `${g.id}.tar.gz`;
      const sum = { hash: createHash("sha256"), bytes: 0 };
      let files = 0;
      const entries = async function* () {
        for await (const e of walkFiles(host, g.stateDir, "")) {
          if (e.type === "file") files++;
          yield e;
        }
      };
      await host.writeFileStreamAtomic(`${dir}/${file}`, hashed(gzipStream(writeTar(entries(), at)), sum), { mode: 0o600 });
      gateways.push({ id: g.id, unit: g.unit, stateDir: g.stateDir, file, sha256: sum.hash.digest("hex"), bytes: sum.bytes, files });
    }
    const manifest: SnapshotManifest = { format: 1, id, at: at.toISOString(), runtime: { ...current.runtime }, to, gateways };
    await host.writeFileAtomic(`${dir}/${MANIFEST}`, JSON.stringify(manifest, null, 2) + "\n", { mode: 0o600 });
    return manifest;
  } catch (e) {
    await host.remove(dir, { recursive: true }).catch(() => undefined);
    throw new WirebotError("cantWrite", "upgrade.snapshot", `could not snapshot the gateways' state into ${host.resolve(dir)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      cause: e,
      hint: `check free space and permissions under ${host.resolve(SNAPSHOTS_DIR)}; no snapshot, no upgrade: the gateways were started again on the runtime they had`,
    });
  }
}

/** Finished snapshots, oldest first, with the space each takes; a directory without a manifest is left out. */
export async function listSnapshots(host: Host): Promise<Array<SnapshotManifest & { bytes: number }>> {
  const out: Array<SnapshotManifest & { bytes: number }> = [];
  for (const name of (await host.readdir(SNAPSHOTS_DIR)) ?? []) {
    const raw = await host.readFile(`${SNAPSHOTS_DIR}/${name}/${MANIFEST}`);
    if (!raw) continue;
    try {
      const m = JSON.parse(raw.toString("utf8")) as SnapshotManifest;
      if (m.format !== 1 || !Array.isArray(m.gateways)) continue;
      out.push({ ...m, bytes: m.gateways.reduce((n, g) => n + g.bytes, 0) });
    } catch {
      // not one of ours, or damaged: never deleted by prune either
    }
  }
  return out.sort((a, b) => a.at.localeCompare(b.at) || a.id.localeCompare(b.id, undefined, { numeric: true }));
}

/** Keeps the newest `keep` snapshots and removes the rest (and unfinished ones older than the newest kept); returns the ids removed. */
export async function pruneSnapshots(host: Host, keep: number): Promise<string[]> {
  const all = await listSnapshots(host);
  const drop = all.slice(0, Math.max(0, all.length - keep));
  for (const s of drop) await host.remove(`${SNAPSHOTS_DIR}/${s.id}`, { recursive: true });
  return drop.map((s) => s.id);
}

/** Recomputes each archive's checksum: a snapshot is only worth restoring if it is the one that was written. */
export async function verifySnapshot(host: Host, m: SnapshotManifest): Promise<string[]> {
  const bad: string[] = [];
  for (const g of m.gateways) {
    const chunks = await host.readFileStream(`${SNAPSHOTS_DIR}/${m.id}/${g.file}`);
    if (!chunks) {
      bad.push(`${g.file}: missing`);
      continue;
    }
    const h = createHash("sha256");
    for await (const c of chunks) h.update(c);
    if (h.digest("hex") !== g.sha256) bad.push(`${g.file}: checksum differs from the manifest`);
  }
  return bad;
}

/**
 * Puts every gateway's state dir back as the snapshot holds it: the dir emptied, then each archived
 * directory and file written with its mode and the gateway's service user as owner (where that user
 * exists). The gateways must be stopped. The archive's checksum is checked first: a damaged snapshot is
 * never half-restored.
 */
export async function restoreSnapshot(host: Host, m: SnapshotManifest, owners: ReadonlyMap<string, string>): Promise<void> {
  const bad = await verifySnapshot(host, m);
  if (bad.length > 0)
    throw new WirebotError("verify", "upgrade.snapshot-damaged", `snapshot ${m.id} does not match its manifest: ${bad.join("; ")}`, {
      hint: "the state was left as the failed runtime left it; restore an older snapshot by hand (`wirebot upgrade --list`)",
    });
  for (const g of m.gateways) {
    const user = owners.get(g.id);
    const owner = user ? await host.lookupUser(user) : null;
    const opts = (mode: number) => ({ mode, ...(owner ? { owner } : {}) });
    await host.remove(g.stateDir, { recursive: true });
    await host.mkdir(g.stateDir, opts(0o700));
    const chunks = await host.readFileStream(`${SNAPSHOTS_DIR}/${m.id}/${g.file}`);
    if (!chunks) continue;
    for await (const e of readTar(gunzipStream(chunks))) {
      const target = `${g.stateDir}/${e.path}`;
      if (e.path.split("/").includes("..")) continue;
      if (e.type === "dir") await host.mkdir(target, opts(e.mode));
      else if (e.content) await host.writeFileStreamAtomic(target, e.content, opts(e.mode));
    }
  }
}
