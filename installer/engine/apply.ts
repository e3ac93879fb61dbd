/** Applies a plan in a fixed order, atomically per file, and rolls every change back when a step or verify fails. */
import { PATHS } from "../config/layout.ts";
import { WirebotError, verifyError, writeError, type ErrorIssue } from "../errors.ts";
import type { Host } from "../host/host.ts";
import type { Io } from "../io.ts";
import { resolveOwner, type Change, type Plan } from "./plan.ts";
import { isUnitPath, type Resource } from "./resource.ts";
import { createSystemd } from "./systemd.ts";

export interface ApplyOptions {
  io: Io;
  /** manage services (daemon-reload, start, restart): true on `/`, false when rendering into a --root */
  live: boolean;
  /** start units after writing (install --no-start turns it off) */
  start: boolean;
  /** probes after start; returns problems (empty = healthy) */
  verify?: (plan: Plan) => Promise<ErrorIssue[]>;
  /** live steps that talk to the outside, around the secrets unit */
  hooks?: LiveHooks;
  /**
   * Awaited after files, secrets and hooks and before any unit is started or restarted: install's runtime
   * provisioning, which runs alongside everything that does not need the runtime. A throw rolls back.
   */
  beforeStart?: () => Promise<void>;
}

/**
 * The secrets unit comes up first: the tunnel must exist in the vault before the pull, and the
 * LiteLLM keys the pull generates must be registered before a gateway uses them.
 */
export interface LiveHooks {
  /** unit that pulls secrets; started (or refreshed) before the others */
  secretsUnit: string;
  /** returns units to restart (e.g. gateways after a plugin change) */
  beforeSecrets?: () => Promise<string[] | void>;
  /** re-pull in-process when the secrets unit is already up; returns consumers whose env changed */
  refreshSecrets?: () => Promise<string[]>;
  afterSecrets?: () => Promise<void>;
}

export interface ApplyResult {
  written: number;
  restarted: string[];
  stopped: string[];
  started: string[];
  daemonReloaded: boolean;
}

type Undo = () => Promise<void>;

const depth = (p: string) => p.split("/").length;

export async function applyPlan(host: Host, plan: Plan, opts: ApplyOptions): Promise<ApplyResult> {
  const undo: Undo[] = [];
  const sd = createSystemd(host);
  const result: ApplyResult = { written: 0, restarted: [], stopped: [], started: [], daemonReloaded: false };
  const byKind = (k: Resource["kind"]) => plan.changes.filter((c) => c.kind === k && c.action !== "delete");
  const late = opts.live && opts.start && opts.hooks ? byKind("file").filter((c) => c.resource?.kind === "file" && c.resource.afterSecrets) : [];

  try {
    // 1. The system snippets first, so service users exist before anything is chowned to them.
    const early = plan.changes.filter((c) => c.path === PATHS.sysusers || c.path === PATHS.tmpfiles || c.path === PATHS.etcDir);
    for (const ch of early.filter((c) => c.kind === "dir")) await applyDir(host, ch, opts.live, undo);
    for (const ch of early.filter((c) => c.kind === "file")) await applyFile(host, ch, opts.live, undo);
    if (opts.live && plan.changes.length > 0) {
      await must(await sd.sysusers(PATHS.sysusers), "systemd-sysusers", "service users could not be created");
      await must(await sd.tmpfiles(PATHS.tmpfiles), "systemd-tmpfiles", "/run/wirebot could not be created");
    }
    // 2. Directories, parents first.
    for (const ch of byKind("dir").filter((c) => !early.includes(c)).sort((a, b) => depth(a.path) - depth(b.path))) await applyDir(host, ch, opts.live, undo);
    // 3. Files, atomically, previous content kept for rollback (on a live start, the switches come after the secrets).
    for (const ch of byKind("file").filter((c) => !early.includes(c) && !late.includes(c))) {
      await applyFile(host, ch, opts.live, undo);
      result.written++;
    }
    // 4. Enablement links, then what no longer belongs.
    for (const ch of byKind("link")) await applyLink(host, ch, undo);
    for (const ch of plan.changes.filter((c) => c.action === "delete")) await applyDelete(host, ch, undo);
  } catch (e) {
    await rollback(undo, opts.io);
    if (e instanceof WirebotError) throw e;
    throw writeError("apply.write", `could not write under ${host.root}: ${(e as Error).message}`, {
      hint: "check free space and permissions; every change made so far was rolled back",
      cause: e,
    });
  }

  if (!opts.live) return result;

  const unitsChanged = plan.changes.some((c) => isUnitPath(c.path));
  // Once the live steps ran, Cloudflare, LiteLLM and the vault may have changed: those are not undone.
  let remoteTouched = false;
  try {
    if (unitsChanged) {
      await must(await sd.daemonReload(), "systemctl daemon-reload", "systemd could not reload the units");
      result.daemonReloaded = true;
    }
    if (plan.stop.length > 0) {
      await sd.stop(plan.stop);
      result.stopped = plan.stop;
    }
    if (opts.start) {
      let restart = plan.restart;
      const h = opts.hooks;
      if (h) {
        remoteTouched = true;
        restart = [...new Set([...restart, ...((await h.beforeSecrets?.()) ?? [])])].sort();
        const active = (await sd.isActive(h.secretsUnit)) === "active";
        if (!active || restart.includes(h.secretsUnit)) {
          // Restarting it restarts its PartOf= dependents too; that is why it is not done for every apply.
          await must(await sd.restart([h.secretsUnit]), "systemctl restart", `could not start ${h.secretsUnit} (see \`journalctl -u ${h.secretsUnit}\`)`);
          result.restarted.push(h.secretsUnit);
        } else if (h.refreshSecrets) {
          restart = [...new Set([...restart, ...(await h.refreshSecrets())])].sort();
        }
        restart = restart.filter((u) => u !== h.secretsUnit);
        await h.afterSecrets?.();
      }
      for (const ch of late) {
        await applyFile(host, ch, opts.live, undo).catch((e: unknown) => {
          throw writeError("apply.write", `could not write ${host.resolve(ch.path)}: ${(e as Error).message}`, { hint: "check free space and permissions; every change made so far was rolled back", cause: e });
        });
        result.written++;
      }
      await opts.beforeStart?.();
      if (restart.length > 0) {
        opts.io.err(`• restarting ${restart.join(", ")}`);
        await must(await sd.restart(restart), "systemctl restart", `could not restart ${restart.join(", ")}`);
        result.restarted.push(...restart);
      }
      // start is a no-op for a running unit, so an unchanged appliance restarts nothing.
      const all = plan.units.map((u) => u.name);
      await must(await sd.start(all), "systemctl start", `could not start ${all.join(", ")}`);
      result.started = all;
    }
    const problems = opts.start && opts.verify ? await opts.verify(plan) : [];
    if (problems.length > 0) throw verifyError("apply.verify", "the appliance did not come up healthy", { issues: problems, hint: "see `journalctl -u <unit>`; the previous files were restored" });
  } catch (e) {
    opts.io.err("! rolling back to the previous files");
    if (remoteTouched) opts.io.err("  not rolled back: what the live steps changed in Cloudflare (tunnel, DNS, Access), LiteLLM (keys) and the vault (generated secrets); the next apply converges them, `wirebot plan` lists them");
    await rollback(undo, opts.io);
    if (unitsChanged) await sd.daemonReload();
    if (opts.start && plan.restart.length > 0) await sd.restart(plan.restart);
    throw e;
  }
  return result;
}

async function must(r: { code: number; stderr: string }, what: string, message: string): Promise<void> {
  if (r.code !== 0)
    throw new WirebotError("verify", "apply.systemd", `${message} (${what} exited ${r.code})`, {
      issues: r.stderr.trim() ? [{ path: what, message: r.stderr.trim().split("\n").slice(-3).join(" | ") }] : [],
      hint: "see `journalctl -xe`",
    });
}

async function ownerFor(host: Host, r: Resource, live: boolean) {
  if (r.kind === "link") return undefined;
  const o = await resolveOwner(host, r.owner);
  if (!o && live) throw writeError("apply.owner", `user '${r.owner.user}' does not exist for ${r.path}`, { hint: "systemd-sysusers should have created it; check /etc/sysusers.d/wirebot.conf" });
  // Under a --root, only chown when we can (root, and the user exists in that tree).
  if (!o || (!live && process.getuid?.() !== 0)) return undefined;
  return o;
}

/** Missing ancestors are created 0755 one by one, each recorded, so a rollback leaves no empty parents behind. */
async function ensureParents(host: Host, p: string, undo: Undo[]): Promise<void> {
  const missing: string[] = [];
  for (let dir = p.replace(/\/[^/]+$/, ""); dir && dir !== "/"; dir = dir.replace(/\/[^/]+$/, "")) {
    if (await host.stat(dir)) break;
    missing.unshift(dir);
  }
  for (const dir of missing) {
    await host.mkdir(dir, { mode: 0o755 });
    undo.push(() => host.rmdir(dir).catch(() => undefined));
  }
}

async function applyDir(host: Host, ch: Change, live: boolean, undo: Undo[]): Promise<void> {
  const r = ch.resource!;
  if (r.kind !== "dir") return;
  await ensureParents(host, r.path, undo);
  const before = await host.stat(r.path);
  const owner = await ownerFor(host, r, live);
  await host.mkdir(r.path, { mode: r.mode, ...(owner ? { owner } : {}) });
  if (!before) undo.push(() => host.rmdir(r.path).catch(() => undefined));
  else undo.push(() => host.setMode(r.path, { mode: before.mode, owner: { uid: before.uid, gid: before.gid } }).catch(() => undefined));
}

async function applyFile(host: Host, ch: Change, live: boolean, undo: Undo[]): Promise<void> {
  const r = ch.resource!;
  if (r.kind !== "file") return;
  await ensureParents(host, r.path, undo);
  const st = await host.stat(r.path);
  const prev = st ? await host.readFile(r.path) : null;
  const owner = await ownerFor(host, r, live);
  await host.writeFileAtomic(r.path, r.content, { mode: r.mode, ...(owner ? { owner } : {}) });
  undo.push(async () => {
    if (prev && st) await host.writeFileAtomic(r.path, prev, { mode: st.mode, owner: { uid: st.uid, gid: st.gid } });
    else await host.remove(r.path);
  });
}

async function applyLink(host: Host, ch: Change, undo: Undo[]): Promise<void> {
  const r = ch.resource!;
  if (r.kind !== "link") return;
  const prev = await host.readLink(r.path);
  await ensureParents(host, r.path, undo);
  await host.symlink(r.target, r.path);
  undo.push(() => (prev ? host.symlink(prev, r.path) : host.remove(r.path)));
}

async function applyDelete(host: Host, ch: Change, undo: Undo[]): Promise<void> {
  const st = await host.stat(ch.path);
  if (!st) return;
  if (st.kind === "symlink") {
    const target = await host.readLink(ch.path);
    await host.remove(ch.path);
    if (target) undo.push(() => host.symlink(target, ch.path));
    return;
  }
  const prev = await host.readFile(ch.path);
  await host.remove(ch.path);
  if (prev) undo.push(() => host.writeFileAtomic(ch.path, prev, { mode: st.mode, owner: { uid: st.uid, gid: st.gid } }));
}

async function rollback(undo: Undo[], io: Io): Promise<void> {
  for (const u of undo.reverse()) {
    try {
      await u();
    } catch (e) {
      io.err(`! rollback step failed: ${(e as Error).message}`);
    }
  }
}
