/** The probes only `wirebot doctor` runs: config drift, permissions, disk and memory, runtime and Node fit. */
import { PATHS, SERVICE_USER, resolveLayout, userDir, workspaceDir } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import type { CommandContext } from "../commands/context.ts";
import { buildDesired } from "../commands/desired.ts";
import { MANIFEST_PATH, plan } from "../engine/plan.ts";
import type { Host } from "../host/host.ts";
import { DISK_NEEDED_BYTES, judge, memoryNeeded, readFacts } from "../preflight/preflight.ts";
import { readRuntimeMarker } from "../runtime/provision.ts";
import type { Check } from "./report.ts";

const APPLY_FIX = "wirebot apply (hand edits are overwritten: put the change in wirebot.yaml instead)";

export async function driftChecks(ctx: CommandContext, c: Config, text: string): Promise<Check[]> {
  const p = await plan(ctx.host, await buildDesired(ctx, c, text));
  const checks: Check[] = p.changes
    .filter((ch) => ch.path !== MANIFEST_PATH)
    .map((ch) => ({
      area: "drift" as const,
      name: ch.path,
      level: "fail" as const,
      summary: ch.action === "update" ? `changed since apply: ${ch.fields.join(", ")}${ch.secret ? " (content hidden)" : ""}` : ch.action === "create" ? "missing" : "left over from an earlier wirebot.yaml",
      fix: APPLY_FIX,
      data: { action: ch.action, fields: ch.fields },
    }));
  for (const u of p.stop) checks.push({ area: "drift", name: u, level: "fail", summary: "unit no longer configured but still installed", fix: APPLY_FIX });
  return checks.length > 0 ? checks : [{ area: "drift", name: "managed files", level: "ok", summary: "every managed file matches wirebot.yaml" }];
}

interface Expect {
  path: string;
  mode: number;
  user: string;
  /** env files: any mode without group/other bits passes */
  private?: boolean;
  /** absent is fine (created later, or only on a live host) */
  optional?: boolean;
}

export async function permissionChecks(host: Host, c: Config): Promise<Check[]> {
  const l = resolveLayout(c);
  const want: Expect[] = [];
  if (l.shared) want.push({ path: l.shared.stateDir, mode: 0o700, user: l.shared.serviceUser });
  for (const g of l.gateways)
    for (const u of g.users) want.push({ path: userDir(c, u.id), mode: 0o700, user: g.serviceUser }, { path: workspaceDir(c, u.id), mode: 0o700, user: g.serviceUser });
  want.push({ path: PATHS.ledgerDir, mode: 0o700, user: SERVICE_USER }, { path: PATHS.ledger, mode: 0o600, user: SERVICE_USER, private: true, optional: true });
  want.push({ path: PATHS.runDir, mode: 0o700, user: "root", optional: true }, { path: PATHS.runUsersDir, mode: 0o700, user: "root", optional: true });
  for (const dir of [PATHS.runDir, PATHS.runUsersDir])
    for (const name of (await host.readdir(dir)) ?? []) {
      const st = await host.stat(`${dir}/${name}`);
      if (st?.kind === "file") want.push({ path: `${dir}/${name}`, mode: 0o600, user: "root", private: true });
    }

  const checks: Check[] = [];
  for (const w of want) {
    const st = await host.stat(w.path);
    const real = host.resolve(w.path);
    const modeText = w.mode.toString(8).padStart(4, "0");
    if (!st) {
      if (!w.optional) checks.push({ area: "permissions", name: w.path, level: "fail", summary: "missing", fix: "wirebot apply" });
      continue;
    }
    const owner = w.user === "root" ? { uid: 0, gid: 0 } : await host.lookupUser(w.user);
    const modeOk = w.private ? (st.mode & 0o077) === 0 : st.mode === w.mode;
    const ownerOk = !owner || (st.uid === owner.uid && st.gid === owner.gid);
    if (modeOk && ownerOk) continue;
    const problems = [...(modeOk ? [] : [`mode ${st.mode.toString(8).padStart(4, "0")}, want ${modeText}`]), ...(ownerOk ? [] : [`owner ${st.uid}:${st.gid}, want ${w.user}`])];
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
export async function resourceChecks(host: Host, c: Config): Promise<Check[]> {
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
      summary: mem?.message ?? `${gb(facts.memTotalBytes)} total; ${l.gateways.length} gateway(s) need about ${gb(memoryNeeded(l))}`,
      fix: "move dedicated users to the shared gateway (`wirebot user move ID --mode shared`) or add memory",
      data: { memTotalBytes: facts.memTotalBytes, neededBytes: memoryNeeded(l) },
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

export async function runtimeChecks(host: Host, c: Config): Promise<Check[]> {
  const l = resolveLayout(c);
  const want = `${c.runtime.package}@${c.runtime.version} (node ${c.runtime.node})`;
  const fix = `wirebot upgrade --runtime-version ${c.runtime.version} (re-provisions ${l.runtimeDir})`;
  const marker = await readRuntimeMarker(host, l.runtimeDir);
  const checks: Check[] = [];
  if (!marker) checks.push({ area: "runtime", name: "package", level: "fail", summary: `${want} is not provisioned (no ${l.runtimeDir}/.wirebot-runtime.json)`, fix });
  else if (marker.package !== c.runtime.package || marker.version !== c.runtime.version || marker.node !== c.runtime.node)
    checks.push({ area: "runtime", name: "package", level: "fail", summary: `${l.runtimeDir} holds ${marker.package}@${marker.version} (node ${marker.node}), wirebot.yaml wants ${want}`, fix });
  else checks.push({ area: "runtime", name: "package", level: "ok", summary: `${want} installed ${marker.installedAt}` });

  const r = await host.exec(host.resolve(l.nodeBin), ["--version"], { timeoutMs: 10_000 });
  const v = r.stdout.trim();
  if (r.code !== 0 || !v) checks.push({ area: "runtime", name: "node", level: "fail", summary: `${l.nodeBin} does not run (exit ${r.code})`, fix });
  else if (v.replace(/^v/, "") !== c.runtime.node) checks.push({ area: "runtime", name: "node", level: "fail", summary: `${l.nodeBin} is ${v}, wirebot.yaml pins ${c.runtime.node}`, fix });
  else if (!nodeFits(v)) checks.push({ area: "runtime", name: "node", level: "warn", summary: `${v} is outside openclaw's supported range (>=24.16 <25)`, fix: "set runtime.node to a 24.x release >= 24.16 and run `wirebot upgrade`" });
  else checks.push({ area: "runtime", name: "node", level: "ok", summary: `${v} fits openclaw (>=24.16 <25)` });
  return checks;
}
