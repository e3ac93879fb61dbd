/** Preflight: can this box hold the layout? OS, systemd, memory, disk, ports, sandboxes. Facts are read, then judged purely. */
import { resolveLayout, type Layout } from "../config/layout.ts";
import { layoutFit, reserveMiB } from "../config/capacity.ts";
import type { Config } from "../config/schema.ts";
import { preflightError, type ErrorIssue } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { probeJson } from "../host/http-probe.ts";
import type { WirebotCommand } from "../config/units.ts";
import { judgeCliLocation } from "./cli-location.ts";
import { judgeDataDir, readDataDirFacts } from "./data-dir.ts";
import { assertSandboxReady } from "./sandbox.ts";

/** The pinned runtime is ~835 MB unpacked; keep room for an upgrade beside it. */
export const DISK_NEEDED_BYTES = 2 * 1024 ** 3;
/**
 * The oldest systemd that loads and starts every unit wirebot renders (installer/render/systemd-directives.ts
 * computes it; min-systemd.test.ts keeps the two equal): LoadCredential= and $CREDENTIALS_DIRECTORY hand the
 * reconcile daemon its config, cloudflared its token and the secrets unit the Bitwarden token (247).
 */
export const MIN_SYSTEMD = 247;

export interface HostFacts {
  osId: string;
  osVersion: string;
  systemdVersion: number | null;
  memTotalBytes: number;
  diskFreeBytes: number;
  /** ports in use that do not answer as one of our own gateways/APIs */
  busyPorts: number[];
}

const gb = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GB`;

/** What the gateways hold steady plus the reserve (config/capacity.ts, from the measured footprint). */
export function memoryNeeded(c: Config, l: Layout): number {
  return layoutFit(c, l, 0).neededBytes;
}

/** The releases wirebot is built and tested for (the .deb's Depends:, systemd 247+, glibc of the bundled Node). */
const MIN_OS: Record<string, number> = { debian: 12, ubuntu: 22.04 };

export function supportedOs(id: string, version: string): boolean {
  const min = MIN_OS[id];
  const v = Number.parseFloat(version);
  return min !== undefined && Number.isFinite(v) && v >= min;
}

/** Pure judgement of the facts against the layout. */
export function judge(c: Config, l: Layout, f: HostFacts): ErrorIssue[] {
  const issues: ErrorIssue[] = [];
  if (!supportedOs(f.osId, f.osVersion))
    issues.push({ path: "os", message: `${f.osId || "unknown"} ${f.osVersion || "(no VERSION_ID in /etc/os-release)"} is not supported: Debian 12+ or Ubuntu 22.04+ is needed` });
  if (f.systemdVersion === null) issues.push({ path: "systemd", message: "systemd is not running as the service manager (systemctl --version failed)" });
  else if (f.systemdVersion < MIN_SYSTEMD)
    issues.push({
      path: "systemd",
      message: `systemd ${f.systemdVersion} is too old: wirebot's units need ${MIN_SYSTEMD}+ (LoadCredential=, which hands the reconcile daemon its config, cloudflared its tunnel token and the secrets unit the Bitwarden token; see docs/systemd-versions.md)`,
    });
  const fit = layoutFit(c, l, f.memTotalBytes);
  if (fit.shortBytes > 0)
    issues.push({
      path: "memory",
      message: `${l.gateways.length} gateway(s) (${l.dedicated.length} dedicated) need about ${gb(fit.neededBytes)} of RAM (1.15 GB each plus 6 MB per agent, measured, and ${(reserveMiB() / 1024).toFixed(1)} GB for the rest of the box), this host has ${gb(f.memTotalBytes)}: ${gb(fit.shortBytes)} short; move users to mode: shared or add memory`,
    });
  if (f.diskFreeBytes < DISK_NEEDED_BYTES) issues.push({ path: "disk", message: `/opt has ${gb(f.diskFreeBytes)} free; the runtime needs ${gb(DISK_NEEDED_BYTES)}` });
  for (const p of f.busyPorts) {
    const who = l.gateways.find((g) => g.port === p)?.id ?? (p === c.metering.api.port ? "metering.api" : "?");
    issues.push({ path: `port ${p}`, message: `127.0.0.1:${p} (for ${who}) is already in use by another program` });
  }
  return issues;
}

export async function readFacts(host: Host, c: Config, l: Layout): Promise<HostFacts> {
  const osRelease = (await host.readFile("/etc/os-release"))?.toString("utf8") ?? "";
  const field = (k: string) => osRelease.match(new RegExp(`^${k}="?([^"\\n]*)"?`, "m"))?.[1] ?? "";
  const sd = await host.exec("systemctl", ["--version"]);
  const systemdVersion = sd.code === 0 ? Number(sd.stdout.match(/systemd (\d+)/)?.[1] ?? NaN) : null;
  const meminfo = (await host.readFile("/proc/meminfo"))?.toString("utf8") ?? "";
  const memTotalBytes = Number(meminfo.match(/MemTotal:\s+(\d+) kB/)?.[1] ?? 0) * 1024;
  const diskFreeBytes = await host.freeBytes("/opt/wirebot");
  const busyPorts: number[] = [];
  const ours = [...l.gateways.map((g) => ({ port: g.port, url: `http://127.0.0.1:${g.port}/health` })), { port: c.metering.api.port, url: `http://127.0.0.1:${c.metering.api.port}/health` }];
  for (const { port, url } of ours) {
    // A port held by our own running gateway (a re-install) is fine.
    if ((await host.portOpen(port)) && !(await probeJson(host, url, { ok: true }))) busyPorts.push(port);
  }
  return { osId: field("ID"), osVersion: field("VERSION_ID"), systemdVersion: Number.isNaN(systemdVersion) ? null : systemdVersion, memTotalBytes, diskFreeBytes, busyPorts };
}

export async function preflight(host: Host, c: Config, wirebot?: WirebotCommand): Promise<HostFacts> {
  const l = resolveLayout(c);
  const facts = await readFacts(host, c, l);
  // Where the units will run wirebot from, and whose paths.data is: issue 14 points 4 and 1.
  const issues = [...judge(c, l, facts), ...(wirebot ? judgeCliLocation(wirebot) : []), ...judgeDataDir(await readDataDirFacts(host, c))];
  if (issues.length > 0)
    throw preflightError("preflight.failed", `this host cannot run the configured appliance (${issues.length} problem(s))`, {
      issues,
      hint: "fix the problems listed, or change wirebot.yaml; nothing was changed",
    });
  // `trust: sandboxed` without a container runtime or image is a configuration error (78), not a host one.
  await assertSandboxReady(host, c);
  return facts;
}
