/** The result of status/doctor probes as data (`Check`), and its one-screen text and --json forms. */

export type Level = "ok" | "warn" | "fail";

/** How long ago, for a status line: seconds, minutes, hours or days. */
export function ageText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

export type Area = "unit" | "gateway" | "port" | "tunnel" | "secrets" | "metering" | "budget" | "drift" | "permissions" | "resources" | "runtime" | "upgrade";

export interface Check {
  area: Area;
  /** what was probed: a unit, a gateway id, a path, an agent */
  name: string;
  level: Level;
  summary: string;
  /** one line telling the operator what to do; doctor prints it */
  fix?: string;
  data?: Record<string, unknown>;
}

/** A probe not run, and why: under --root the live ones (systemd, sockets, tmpfs, this machine's RAM) say nothing about the root. */
export interface Skipped {
  area: Area;
  name: string;
  reason: string;
}

export interface ReportOptions {
  skipped?: readonly Skipped[];
  /** the doctor command the status footer points to, with the same --root/--config */
  doctor?: string;
}

export const AREA_TITLE: Record<Area, string> = {
  unit: "Units",
  gateway: "Gateways",
  port: "Ports",
  tunnel: "Tunnel",
  secrets: "Secrets",
  metering: "Metering",
  budget: "Budgets",
  drift: "Config drift",
  permissions: "Permissions",
  resources: "Disk and memory",
  runtime: "Runtime",
  upgrade: "Upgrades",
};

const MARK: Record<Level, string> = { ok: "ok  ", warn: "WARN", fail: "FAIL" };

export const worst = (checks: readonly Check[]): Level =>
  checks.some((c) => c.level === "fail") ? "fail" : checks.some((c) => c.level === "warn") ? "warn" : "ok";

export function formatChecks(title: string, checks: readonly Check[], withFixes: boolean, opts: ReportOptions = {}): string {
  const lines = [title];
  const areas = [...new Set(checks.map((c) => c.area))];
  const width = Math.min(40, Math.max(0, ...checks.map((c) => c.name.length)));
  for (const a of areas) {
    lines.push(`${AREA_TITLE[a]}:`);
    for (const c of checks.filter((x) => x.area === a)) {
      lines.push(`  [${MARK[c.level]}] ${c.name.padEnd(width)}  ${c.summary}`);
      if (withFixes && c.fix && c.level !== "ok") lines.push(`         fix: ${c.fix}`);
    }
  }
  const skipped = opts.skipped ?? [];
  if (skipped.length > 0) {
    lines.push("Skipped (live probes; under --root only the tree is checked):");
    for (const s of skipped) lines.push(`  [skip] ${AREA_TITLE[s.area]}: ${s.name}: ${s.reason}`);
  }
  const bad = checks.filter((c) => c.level === "fail").length;
  const warn = checks.filter((c) => c.level === "warn").length;
  const skipNote = skipped.length > 0 ? ` (${skipped.length} live probe(s) skipped)` : "";
  lines.push(
    bad === 0 && warn === 0 ? `All checks passed${skipNote}.` : `${bad} problem(s), ${warn} warning(s)${skipNote}.${withFixes ? "" : ` Run \`${opts.doctor ?? "wirebot doctor"}\` for fixes.`}`,
  );
  return lines.join("\n");
}

/** The house --json shape: { ok, outcome, issues, hints } plus every check, the root, and what was skipped. */
export function checksJson(outcome: string, checks: readonly Check[], opts: { root?: string; renderOnly?: boolean; skipped?: readonly Skipped[] } = {}) {
  const problems = checks.filter((c) => c.level !== "ok");
  return {
    ok: !checks.some((c) => c.level === "fail"),
    outcome,
    ...(opts.root !== undefined ? { root: opts.root } : {}),
    ...(opts.renderOnly !== undefined ? { renderOnly: opts.renderOnly } : {}),
    checks,
    skipped: opts.skipped ?? [],
    issues: problems.map((c) => ({ path: `${c.area}:${c.name}`, level: c.level, message: c.summary })),
    hints: [...new Set(problems.flatMap((c) => (c.fix ? [c.fix] : [])))],
  };
}
