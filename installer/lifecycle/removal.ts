/**
 * What `wirebot uninstall` deletes, decided before anything is deleted: manifest files, files that carry
 * wirebot's header at wirebot's own names, marked trees, and the directories that leaves empty. Nothing else.
 */
import path from "node:path";
import { PATHS } from "../config/layout.ts";
import { dataPathProblem } from "../config/data-path.ts";
import { MANIFEST_PATH, type Manifest } from "../engine/plan.ts";
import { writeError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { AUDIT_DIR } from "../audit/trail.ts";
import { GATEWAY_TEMPLATE_UNIT } from "../config/units.ts";
import { RUNTIME_MARKER } from "../runtime/provision.ts";
import { BWS_CRED_ENCRYPTED, BWS_CRED_PLAIN } from "../secrets/bootstrap-token.ts";
import { FIXED_OWNED_TREES, isMarked, markerPath, OWNED_MARKER } from "../ownership/marker.ts";

export interface Deletion {
  path: string;
  /** a file or link; a whole tree; a directory wirebot's deletions leave empty */
  what: "file" | "tree" | "empty-dir";
  why: string;
}

export interface Keeping {
  path: string;
  why: string;
}

export interface RemovalPlan {
  delete: Deletion[];
  keep: Keeping[];
}

export interface RemovalInput {
  purge: boolean;
  manifest: Manifest;
  /** wirebot's unit names: their unit files, drop-ins and enablement links */
  units: string[];
  /** every directory that is or was paths.data (config, manifest, default); only valid ones are ever deleted whole */
  dataDirs: string[];
}

const WANTS = `${PATHS.unitDir}/multi-user.target.wants`;
const within = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

async function hasHeader(host: Host, p: string): Promise<boolean> {
  const st = await host.stat(p);
  if (st?.kind !== "file") return false;
  return ((await host.readFile(p))?.subarray(0, 512).toString("utf8") ?? "").includes("Managed by wirebot");
}

/** A runtime dir wirebot provisioned (its marker), or one it was staging or moving aside (its package.json). */
async function isWirebotRuntime(host: Host, dir: string): Promise<boolean> {
  if ((await host.stat(`${dir}/${RUNTIME_MARKER}`))?.kind === "file") return true;
  const pkg = (await host.readFile(`${dir}/package.json`))?.toString("utf8");
  return pkg !== undefined && /"name":\s*"wirebot-runtime"/.test(pkg);
}

export async function planRemoval(host: Host, input: RemovalInput): Promise<RemovalPlan> {
  const { purge, manifest } = input;
  const dataDirs = [...new Set(input.dataDirs)];
  const validData = dataDirs.filter((d) => dataPathProblem(d) === null);
  const del: Deletion[] = [];
  const keep: Keeping[] = [];
  const planned = new Set<string>();
  const add = (d: Deletion) => {
    if (planned.has(d.path)) return;
    planned.add(d.path);
    del.push(d);
  };

  // Which trees may go whole (purge only): marked ones, and for paths.data only a valid data path, so
  // a marker planted in /etc or / deletes nothing.
  const trees: string[] = [];
  if (purge) {
    for (const dir of [...validData, ...FIXED_OWNED_TREES]) {
      if (!(await host.stat(dir))) continue;
      if (await isMarked(host, dir)) trees.push(dir);
      else keep.push({ path: dir, why: `not marked as made by wirebot (no ${OWNED_MARKER}): only the files wirebot's manifest lists in it are deleted; remove the rest by hand if it is yours` });
    }
    for (const dir of dataDirs.filter((d) => !validData.includes(d)))
      if (await host.stat(dir)) keep.push({ path: dir, why: `paths.data ${dir} is not a directory wirebot may delete whole (${dataPathProblem(dir)}); only the files wirebot's manifest lists in it are deleted` });
  }
  const inTree = (p: string) => trees.some((t) => within(p, t));

  // Without --purge, users' state stays: what wirebot puts in a data dir is gateway/, users/ and its marker.
  const isData = (p: string) => dataDirs.some((d) => within(p, `${d}/gateway`) || within(p, `${d}/users`) || p === markerPath(d));
  const kept = (p: string) => !purge && (p === PATHS.configFile || p === markerPath(PATHS.etcDir) || within(p, PATHS.ledgerDir) || isData(p));
  for (const p of manifest.paths) {
    if (p === MANIFEST_PATH || kept(p) || inTree(p) || !(await host.stat(p))) continue;
    add({ path: p, what: "file", why: "listed in wirebot's manifest" });
  }
  // Older installs and hand edits: wirebot's own snippets and units, recognised by name and header.
  for (const p of [PATHS.sysusers, PATHS.tmpfiles, PATHS.tunnelConfig, ...[...input.units, GATEWAY_TEMPLATE_UNIT].map((u) => `${PATHS.unitDir}/${u}`)])
    if (!planned.has(p) && (await hasHeader(host, p))) add({ path: p, what: "file", why: "wirebot's header, at wirebot's name" });
  for (const name of (await host.readdir(WANTS)) ?? []) {
    const p = `${WANTS}/${name}`;
    const target = await host.readLink(p);
    if (input.units.includes(name) && target?.startsWith(`${PATHS.unitDir}/`)) add({ path: p, what: "file", why: "enables a wirebot unit" });
  }
  const dropIns: string[] = [];
  for (const name of (await host.readdir(PATHS.unitDir)) ?? []) {
    if (!name.endsWith(".service.d") || !isOurUnit(name.slice(0, -2), input.units)) continue;
    dropIns.push(`${PATHS.unitDir}/${name}`);
    for (const f of (await host.readdir(`${PATHS.unitDir}/${name}`)) ?? []) {
      const p = `${PATHS.unitDir}/${name}/${f}`;
      if (!planned.has(p) && (await hasHeader(host, p))) add({ path: p, what: "file", why: "wirebot's header, in a wirebot unit's drop-in directory" });
    }
  }
  if (!purge || !inTree(PATHS.credstore))
    for (const p of [BWS_CRED_ENCRYPTED, BWS_CRED_PLAIN]) if (await host.stat(p)) add({ path: p, what: "file", why: "the Bitwarden access token wirebot stored" });
  for (const name of (await host.readdir(PATHS.runtimeRoot)) ?? []) {
    const dir = `${PATHS.runtimeRoot}/${name}`;
    if (await isWirebotRuntime(host, dir)) add({ path: dir, what: "tree", why: `a runtime wirebot provisioned (${RUNTIME_MARKER})` });
    else keep.push({ path: dir, why: "not a runtime wirebot provisioned" });
  }
  // tmpfs: wirebot's tmpfiles.d snippet makes it at every boot and only wirebot writes there (pulled secrets, the lock).
  if (await host.stat(PATHS.runDir)) add({ path: PATHS.runDir, what: "tree", why: "wirebot's tmpfs directory, recreated at every boot" });
  if (await host.stat(PATHS.gatewayKeysDir)) add({ path: PATHS.gatewayKeysDir, what: "tree", why: "wirebot's tmpfs directory for the shared gateway's keys, recreated at every boot" });
  if (!inTree(PATHS.tunnelAccess) && (await host.stat(PATHS.tunnelAccess))) add({ path: PATHS.tunnelAccess, what: "file", why: "the Access AUD tags the tunnel step kept (re-read from Cloudflare by the next apply)" });
  if (await host.stat(AUDIT_DIR)) {
    if (purge) add({ path: AUDIT_DIR, what: "tree", why: "the audit trail (--purge deletes it; without it, it is kept)" });
    else keep.push({ path: AUDIT_DIR, why: "the audit trail of what was done to this box: kept (uninstall --purge deletes it)" });
  }
  if (await host.stat(PATHS.driftDir)) add({ path: PATHS.driftDir, what: "tree", why: "the drift check's record (the state directory of wirebot-drift.service)" });
  for (const t of trees) add({ path: t, what: "tree", why: `marked as made by wirebot (${OWNED_MARKER})` });
  if (await host.stat(MANIFEST_PATH)) {
    if (!inTree(MANIFEST_PATH)) add({ path: MANIFEST_PATH, what: "file", why: "wirebot's manifest" });
  }

  // Directories the deletions leave empty, deepest first, inside wirebot's own directories only. The
  // manifest's paths (and wirebot's fixed directories) count even when already gone, so a run after a
  // failed one still tidies up.
  const pruneRoots = ["/opt/wirebot", PATHS.etcDir, PATHS.ledgerDir, PATHS.cloudflaredDir, ...dropIns, ...validData];
  const fixedDirs = [PATHS.runtimeRoot, PATHS.skillsDir, PATHS.pluginsDir, PATHS.credstore];
  const emptied = (await emptiedDirs(host, { deleted: [...planned], listed: manifest.paths, dirs: fixedDirs }, pruneRoots)).map((dir): Deletion => ({ path: dir, what: "empty-dir", why: "left empty by the deletions above" }));
  for (const d of emptied) planned.add(d.path);
  for (const d of dropIns) if (!planned.has(d)) keep.push({ path: d, why: "holds drop-ins wirebot did not write" });
  // The manifest goes last (with /etc/wirebot when that is marked), so a run that fails half-way leaves
  // the list a second run needs.
  const holdsManifest = (d: Deletion) => within(MANIFEST_PATH, d.path);
  const ordered = [...del.filter((d) => !holdsManifest(d)), ...emptied.filter((d) => !holdsManifest(d)), ...del.filter(holdsManifest), ...emptied.filter(holdsManifest)];
  // An unmarked tree that held nothing but wirebot's files goes as an empty directory after all.
  return { delete: ordered, keep: keep.filter((k) => !planned.has(k.path)) };
}

function isOurUnit(unit: string, units: string[]): boolean {
  return units.includes(unit) || unit === GATEWAY_TEMPLATE_UNIT || /^clawdbot-gateway@[a-z][a-z0-9-]*\.service$/.test(unit);
}

/** The given dirs and the ancestors of deleted or listed paths, inside a prune root, that will hold nothing but deleted paths; deepest first. */
async function emptiedDirs(host: Host, from: { deleted: string[]; listed: string[]; dirs: string[] }, roots: string[]): Promise<string[]> {
  const gone = new Set(from.deleted);
  const candidates = new Set<string>();
  const inRoots = (d: string) => d !== "/" && roots.some((r) => within(d, r));
  for (const start of [...from.deleted, ...from.listed].map((p) => path.posix.dirname(p)).concat(from.dirs))
    for (let d = start; inRoots(d); d = path.posix.dirname(d)) if (!gone.has(d)) candidates.add(d);
  const out: string[] = [];
  for (const dir of [...candidates].sort((a, b) => b.split("/").length - a.split("/").length || a.localeCompare(b))) {
    const st = await host.stat(dir);
    if (st?.kind !== "dir") continue;
    const entries = (await host.readdir(dir)) ?? [];
    if (entries.every((e) => gone.has(`${dir}/${e}`))) {
      gone.add(dir);
      out.push(dir);
    }
  }
  return out;
}

/**
 * Deletes in plan order and returns what was deleted; an empty-dir that filled up meanwhile is left. The
 * first failure stops it (exit 73) naming the path: a second run plans again from what is left.
 */
export async function executeRemoval(host: Host, plan: RemovalPlan): Promise<string[]> {
  const removed: string[] = [];
  for (const d of plan.delete) {
    try {
      if (!(await host.stat(d.path))) continue;
      if (d.what === "empty-dir") {
        if (((await host.readdir(d.path)) ?? []).length > 0) continue;
        await host.rmdir(d.path);
      } else await host.remove(d.path, { recursive: d.what === "tree" });
    } catch (e) {
      throw writeError("uninstall.remove", `cannot delete ${host.resolve(d.path)}: ${(e as NodeJS.ErrnoException).code ?? String(e)} (${removed.length} of ${plan.delete.length} path(s) deleted before it)`, {
        hint: "fix what stops the deletion (a mount, a busy file, permissions), then run the same uninstall again: it lists and deletes what is left",
        cause: e,
      });
    }
    removed.push(d.path);
  }
  return removed;
}
