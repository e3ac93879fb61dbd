/** The probes only `wirebot doctor` runs: config drift, permissions, disk and memory, runtime and Node fit. */
import { PATHS, SERVICE_USER, resolveLayout, userDir, workspaceDir } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import type { CommandContext } from "../pipeline/context.ts";
import { buildDesired } from "../pipeline/desired.ts";
import { MANIFEST_PATH, plan, type Change } from "../engine/plan.ts";
import type { Host } from "../host/host.ts";
import { DISK_NEEDED_BYTES, judge, memoryNeeded, readFacts } from "../preflight/preflight.ts";
import { readRuntimeMarker } from "../runtime/provision.ts";
import { wirebotFix, type FixScope } from "../fix-scope.ts";
import type { Check, Skipped } from "./report.ts";

const WHY_APPLY: Record<Change["action"] | "stop", string> = {
  create: "writes it again",
  update: "hand edits are overwritten: put the change in wirebot.yaml instead",
  delete: "removes it",
  stop: "stops and removes it",
};
const applyFix = (scope: FixScope, action: keyof typeof WHY_APPLY) => `${wirebotFix(scope, "apply")} (${WHY_APPLY[action]})`;
const octal = (m: number) => m.toString(8).padStart(4, "0");

/** "mode 0755, want 0700" rather than just "mode": the operator sees what changed without a stat of their own. */
async function whatChanged(host: Host, ch: Change): Promise<string> {
  const r = ch.resource;
  const st = await host.stat(ch.path);
  const parts = ch.fields.map((f) => {
    if (f === "mode" && st && r && r.kind !== "link") return `mode ${octal(st.mode)}, want ${octal(r.mode)}`;
    if (f === "owner" && st && r && r.kind !== "link") return `owner ${st.uid}:${st.gid}, want ${r.owner.user}:${r.owner.group}`;
    return f;
  });
  return `changed since apply: ${parts.join("; ")}${ch.secret ? " (content hidden)" : ""}`;
}

/** The plan against the host: empty when the tree is exactly what apply would write. */
export async function driftChecks(ctx: CommandContext, c: Config, text: string, scope: FixScope = { root: ctx.host.root }): Promise<Check[]> {
  const p = await plan(ctx.host, await buildDesired(ctx, c, text));
  const checks: Check[] = [];
  for (const ch of p.changes.filter((x) => x.path !== MANIFEST_PATH))
    checks.push({
      area: "drift",
      name: ch.path,
      level: "fail",
      summary: ch.action === "update" ? await whatChanged(ctx.host, ch) : ch.action === "create" ? "missing" : "left over from an earlier wirebot.yaml",
      fix: applyFix(scope, ch.action),
      data: { action: ch.action, fields: ch.fields },
    });
  for (const u of p.stop) checks.push({ area: "drift", name: u, level: "fail", summary: "unit no longer configured but still installed", fix: applyFix(scope, "stop") });
  return checks.length > 0 ? checks : [{ area: "drift", name: "managed files", level: "ok", summary: "every managed file matches wirebot.yaml (the plan is empty)" }];
}

/** Paths a failing drift check already names, so permissions do not report the same chmod twice. */
export const driftPaths = (checks: readonly Check[]): Set<string> => new Set(checks.filter((c) => c.area === "drift" && c.level !== "ok").map((c) => c.name));

interface Expect {
  path: string;
  mode: number;
  user: string;
  /** env files: any mode without group/other bits passes */
  private?: boolean;
  /** absent is fine (created later, or only on a live host) */
  optional?: boolean;
}

export async function permissionChecks(host: Host, c: Config, opts: { reported?: ReadonlySet<string>; scope?: FixScope } = {}): Promise<Check[]> {
  const l = resolveLayout(c);
  let want: Expect[] = [];
  if (l.shared) want.push({ path: l.shared.stateDir, mode: 0o700, user: l.shared.serviceUser });
  for (const g of l.gateways)
    for (const u of g.users) want.push({ path: userDir(c, u.id), mode: 0o700, user: g.serviceUser }, { path: workspaceDir(c, u.id), mode: 0o700, user: g.serviceUser });
  want.push({ path: PATHS.ledgerDir, mode: 0o700, user: SERVICE_USER }, { path: PATHS.ledger, mode: 0o600, user: SERVICE_USER, private: true, optional: true });
  want.push({ path: PATHS.runDir, mode: 0o700, user: "root", optional: true }, { path: PATHS.runUsersDir, mode: 0o700, user: "root", optional: true });
  if (l.shared?.keysFile)
    want.push({ path: PATHS.gatewayKeysDir, mode: 0o750, user: "root", optional: true }, { path: l.shared.keysFile, mode: 0o600, user: SERVICE_USER, private: true, optional: true });
  for (const dir of [PATHS.runDir, PATHS.runUsersDir])
    for (const name of (await host.readdir(dir)) ?? []) {
      const st = await host.stat(`${dir}/${name}`);
      if (st?.kind === "file") want.push({ path: `${dir}/${name}`, mode: 0o600, user: "root", private: true });
    }
  want = want.filter((w) => !opts.reported?.has(w.path));

  const checks: Check[] = [];
  for (const w of want) {
    const st = await host.stat(w.path);
    const real = host.resolve(w.path);
    const modeText = octal(w.mode);
    if (!st) {
      if (!w.optional) checks.push({ area: "permissions", name: w.path, level: "fail", summary: "missing", fix: wirebotFix(opts.scope ?? { root: host.root }, "apply") });
      continue;
    }
    const owner = w.user === "root" ? { uid: 0, gid: 0 } : await host.lookupUser(w.user);
    const modeOk = w.private ? (st.mode & 0o077) === 0 : st.mode === w.mode;
    const ownerOk = !owner || (st.uid === owner.uid && st.gid === owner.gid);
    if (modeOk && ownerOk) continue;
    const problems = [...(modeOk ? [] : [`mode ${octal(st.mode)}, want ${modeText}`]), ...(ownerOk ? [] : [`owner ${st.uid}:${st.gid}, want ${w.user}`])];
    checks.push({
      area: "permissions",
      name: w.path,
      level: "fail",
      summary: problems.join("; "),
      fix: [modeOk ? null : `chmod ${modeText} ${real}`, ownerOk ? null : `chown ${w.user}:${w.user} ${real}`].filter(Boolean).join(" && "),
    });
  }
  return checks.length > 0 ? checks : [{ area: "permissions", name: "state, ledger, secrets", level: "ok", summary: `${want.length} path(s) have the right mode and owner` }];
}

const gb = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GB`;

/** Reuses preflight's facts and judgement, keeping only memory and disk (the OS and ports are covered elsewhere). */
export async function resourceChecks(host: Host, c: Config, scope: FixScope = { root: host.root }): Promise<Check[]> {
  const l = resolveLayout(c);
  const facts = await readFacts(host, c, l);
  const issues = judge(c, l, facts).filter((i) => i.path === "memory" || i.path === "disk");
  const mem = issues.find((i) => i.path === "memory");
  const disk = issues.find((i) => i.path === "disk");
  return [
    {
      area: "resources",
      name: "memory",
      level: mem ? "fail" : "ok",
      summary: mem?.message ?? `${gb(facts.memTotalBytes)} total; ${l.gateways.length} gateway(s) need about ${gb(memoryNeeded(c, l))}`,
      fix: `move dedicated users to the shared gateway (\`${wirebotFix(scope, "user move ID --mode shared", { config: false })}\`) or add memory`,
      data: { memTotalBytes: facts.memTotalBytes, neededBytes: memoryNeeded(c, l) },
    },
    {
      area: "resources",
      name: "disk",
      level: disk ? "fail" : "ok",
      summary: disk?.message ?? `${gb(facts.diskFreeBytes)} free under /opt/wirebot (an upgrade needs ${gb(DISK_NEEDED_BYTES)})`,
      fix: "free space under /opt (old runtimes: ls /opt/wirebot/runtime) or grow the disk",
      data: { diskFreeBytes: facts.diskFreeBytes },
    },
  ];
}

/** openclaw's Node range (openclaw.md: >=24.16 <25). */
export function nodeFits(v: string): boolean {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(v.trim());
  return m !== null && Number(m[1]) === 24 && Number(m[2]) >= 16;
}

/**
 * Under --root (not live) the marker file is checked when present, but node is not run and a runtime
 * not provisioned is no failure: a render-only install leaves that to --provision-runtime or the live apply.
 */
export async function runtimeChecks(host: Host, c: Config, opts: { live: boolean; scope?: FixScope }): Promise<{ checks: Check[]; skipped: Skipped[] }> {
  const l = resolveLayout(c);
  const live = opts.live;
  const want = `${c.runtime.package}@${c.runtime.version} (node ${c.runtime.node})`;
  const fix = `${wirebotFix(opts.scope ?? { root: host.root }, `upgrade --runtime-version ${c.runtime.version}`, { config: false })} (re-provisions ${l.runtimeDir})`;
  const marker = await readRuntimeMarker(host, l.runtimeDir);
  const checks: Check[] = [];
  const skipped: Skipped[] = [];
  if (!live) {
    skipped.push({ area: "runtime", name: "node", reason: `running ${l.nodeBin} --version would run a program from the root on this machine` });
    if (!marker) {
      skipped.push({ area: "runtime", name: "package", reason: `${want} is not provisioned under the root (a render-only install leaves it to \`install --provision-runtime\` or the live host's apply)` });
      return { checks, skipped };
    }
  }
  if (!marker) checks.push({ area: "runtime", name: "package", level: "fail", summary: `${want} is not provisioned (no ${l.runtimeDir}/.wirebot-runtime.json)`, fix });
  else if (marker.package !== c.runtime.package || marker.version !== c.runtime.version || marker.node !== c.runtime.node)
    checks.push({ area: "runtime", name: "package", level: "fail", summary: `${l.runtimeDir} holds ${marker.package}@${marker.version} (node ${marker.node}), wirebot.yaml wants ${want}`, fix });
  else checks.push({ area: "runtime", name: "package", level: "ok", summary: `${want} installed ${marker.installedAt}` });
  if (!live) return { checks, skipped };

  const r = await host.exec(host.resolve(l.nodeBin), ["--version"], { timeoutMs: 10_000 });
  const v = r.stdout.trim();
  if (r.code !== 0 || !v) checks.push({ area: "runtime", name: "node", level: "fail", summary: `${l.nodeBin} does not run (exit ${r.code})`, fix });
  else if (v.replace(/^v/, "") !== c.runtime.node) checks.push({ area: "runtime", name: "node", level: "fail", summary: `${l.nodeBin} is ${v}, wirebot.yaml pins ${c.runtime.node}`, fix });
  else if (!nodeFits(v)) checks.push({ area: "runtime", name: "node", level: "warn", summary: `${v} is outside openclaw's supported range (>=24.16 <25)`, fix: "set runtime.node to a 24.x release >= 24.16 and run `wirebot upgrade`" });
  else checks.push({ area: "runtime", name: "node", level: "ok", summary: `${v} fits openclaw (>=24.16 <25)` });
  return { checks, skipped };
}
