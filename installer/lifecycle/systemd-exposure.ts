/** doctor: which lines of each installed wirebot unit the host's systemd ignores or rejects (an older systemd runs them with less hardening, or not at all). */
import type { Host } from "../host/host.ts";
import { droppedBy, parseSystemdVersion, SUPERSEDED, type Dropped, type SystemdVersion } from "../render/systemd-directives.ts";
import { MANAGED_HEADER } from "../render/template.ts";
import type { Check, Skipped } from "./report.ts";

const UNIT_DIR = "/etc/systemd/system";
const DOC = "docs/systemd-versions.md";
// Reported beside each unit's state in the Units section: same area, the unit file's name.
const AREA = "unit";

export const skippedExposure = (): Skipped[] => [
  { area: AREA, name: "hardening", reason: "which unit lines systemd ignores depends on the host's systemd (`systemctl --version`), not on files" },
];

/** wirebot's own unit files (first line is the managed header), so a unit of someone else is never judged. */
async function installedUnits(host: Host): Promise<{ name: string; text: string }[]> {
  const out: { name: string; text: string }[] = [];
  for (const name of (await host.readdir(UNIT_DIR)) ?? []) {
    if (!name.endsWith(".service") || (await host.stat(`${UNIT_DIR}/${name}`))?.kind !== "file") continue;
    const text = (await host.readFile(`${UNIT_DIR}/${name}`))?.toString("utf8") ?? "";
    if (text.startsWith(`# ${MANAGED_HEADER}\n`)) out.push({ name, text });
  }
  return out;
}

const list = (ds: Dropped[]) => [...new Set(ds.map((d) => `${d.feature} (${d.since})`))].join(", ");

function verdict(v: SystemdVersion, name: string, text: string): Check {
  const { dropped, needs, unknown } = droppedBy(v, text);
  const sd = `systemd ${v.major}${v.rhel8Minor !== undefined ? ` (RHEL 8.${v.rhel8Minor})` : ""}`;
  const notJudged = unknown.length > 0 ? `; not judged (unknown to wirebot's table): ${unknown.join(", ")}` : "";
  const data = { systemd: v.major, ...(v.rhel8Minor !== undefined ? { rhel8Minor: v.rhel8Minor } : {}), needs, dropped, unknown };
  if (dropped.length === 0) return { area: AREA, name, level: "ok", summary: `${sd} applies every line of this unit${notJudged}`, data };
  const broken = dropped.filter((d) => d.effect === "broken");
  const hardening = dropped.filter((d) => d.effect === "hardening");
  const behaviour = dropped.filter((d) => d.effect === "behaviour");
  const parts = [
    ...(broken.length > 0 ? [`cannot run it as rendered: ${list(broken)}`] : []),
    ...(hardening.length > 0 ? [`ignores ${list(hardening)}, so it runs with less isolation than rendered`] : []),
    ...(behaviour.length > 0 ? [`does not know ${list(behaviour)}`] : []),
  ];
  // A unit installed by an earlier wirebot (before an upgrade's `wirebot apply`): rendering it again is the way out.
  const superseded = [...new Set(dropped.filter((d) => SUPERSEDED[d.feature]).map((d) => d.feature))];
  const fix =
    superseded.length > 0
      ? `run \`wirebot apply\`: an earlier wirebot rendered this unit with ${superseded.join(", ")}; the current one renders ${[...new Set(superseded.map((f) => SUPERSEDED[f]))].join("; ")} (${DOC})`
      : `every line of this unit needs systemd >= ${needs}: run it on a distribution release that ships one (the version of each line: ${DOC})`;
  return { area: AREA, name, level: broken.length > 0 ? "fail" : "warn", summary: `${sd} ${parts.join("; ")}${notJudged}`, fix, data };
}

/** Live only: under --root the host's systemd is not the target's, so the probe is listed as skipped. */
export async function systemdExposureChecks(host: Host, opts: { live: boolean }): Promise<{ checks: Check[]; skipped: Skipped[] }> {
  if (!opts.live) return { checks: [], skipped: skippedExposure() };
  const r = await host.exec("systemctl", ["--version"], { timeoutMs: 10_000 });
  const osRelease = (await host.readFile("/etc/os-release"))?.toString("utf8") ?? "";
  const v = r.code === 0 ? parseSystemdVersion(r.stdout, osRelease) : null;
  if (!v)
    return {
      checks: [{ area: AREA, name: "hardening", level: "warn", summary: `the systemd version is unknown (\`systemctl --version\` exit ${r.code}), so which unit lines it applies is unknown`, fix: "run `systemctl --version`: wirebot's units need systemd as the service manager" }],
      skipped: [],
    };
  const units = await installedUnits(host);
  if (units.length === 0) return { checks: [{ area: AREA, name: "hardening", level: "ok", summary: `systemd ${v.major}; no wirebot unit is installed in ${UNIT_DIR} to judge` }], skipped: [] };
  return { checks: units.map((u) => verdict(v, u.name, u.text)), skipped: [] };
}
