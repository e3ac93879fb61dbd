/** Post-apply probes: every unit active, every HTTP health endpoint answering the expected JSON. */
import type { ErrorIssue } from "../errors.ts";
import type { Plan } from "../engine/plan.ts";
import { createSystemd } from "../engine/systemd.ts";
import type { Host } from "../host/host.ts";
import type { Io } from "../io.ts";
import { probeJson } from "../host/http-probe.ts";

export interface VerifyOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** how long a gateway may take to report a config change it takes live (default 30 s) */
  reloadTimeoutMs?: number;
}

/** The runtime's verdicts on a config change it read from disk (its `[reload]` log lines). */
const RELOAD_APPLIED = /config hot reload applied|requires gateway restart/;
const RELOAD_REFUSED = /config reload skipped/;
const RELOAD_SEEN = /config change detected/;
/** A change the runtime only notes (nothing to reload) logs "detected" and no verdict: accepted after this long. */
const DETECTED_GRACE_MS = 5_000;

/**
 * A unit that took the plan live (plan.reload) has no new InvocationID to wait for: its journal since
 * the apply began must show that it applied the new config, not that it kept the old one.
 */
async function reloadIssues(host: Host, io: Io, units: readonly string[], sinceSec: number, timeoutMs: number, intervalMs: number): Promise<ErrorIssue[]> {
  const issues: ErrorIssue[] = [];
  for (const unit of units) {
    io.err(`• waiting for ${unit} to take the new config live`);
    const now = () => host.now().getTime();
    const deadline = now() + timeoutMs;
    let detectedAt = 0;
    let verdict: ErrorIssue | "ok" | null = null;
    while (!verdict) {
      const r = await host.exec("journalctl", ["--no-pager", "-o", "cat", "-u", unit, "--since", `@${sinceSec}`], { timeoutMs: 10_000 });
      const lines = r.stdout.split("\n").filter((l) => l.includes("[reload]") || RELOAD_REFUSED.test(l));
      const refused = lines.find((l) => RELOAD_REFUSED.test(l));
      if (refused) verdict = { path: unit, message: `the gateway refused the new config and kept the old one: ${refused.trim()}` };
      else if (lines.some((l) => RELOAD_APPLIED.test(l))) verdict = "ok";
      else {
        if (!detectedAt && lines.some((l) => RELOAD_SEEN.test(l))) detectedAt = now();
        if (detectedAt && now() - detectedAt >= DETECTED_GRACE_MS) verdict = "ok";
        else if (now() >= deadline) verdict = { path: unit, message: `no sign within ${Math.round(timeoutMs / 1000)} s that the gateway read its new config (journalctl -u ${unit})` };
        else await host.sleep(intervalMs);
      }
    }
    if (verdict === "ok") io.err(`  ${unit}: took the new config live`);
    else issues.push(verdict);
  }
  return issues;
}

export function createVerifier(host: Host, io: Io, opts: VerifyOptions) {
  const sd = createSystemd(host);
  const now = () => host.now().getTime();
  // Made before the apply that it verifies: a reload logged from here on is this apply's.
  const sinceSec = Math.floor(now() / 1000) - 1;
  return async (plan: Plan): Promise<ErrorIssue[]> => {
    const deadline = now() + opts.timeoutMs;
    const pending = new Map(plan.units.map((u) => [u.name, u]));
    const started = now();
    const label = `waiting for ${pending.size} unit(s) to become healthy`;
    io.err(`• ${label} (up to ${Math.round(opts.timeoutMs / 1000)} s)`);
    while (pending.size > 0 && now() < deadline) {
      // One systemctl call per round for every pending unit, and the health probes of the active ones side by side.
      const states = await sd.activeStates([...pending.keys()]);
      const healthy = await Promise.all(
        [...pending].map(async ([name, u]) => states.get(name) === "active" && (!u.health || (await probeJson(host, u.health.url, u.health.expectJson)))),
      );
      [...pending.keys()].forEach((name, i) => {
        if (!healthy[i]) return;
        io.err(`  ${name}: healthy`);
        pending.delete(name);
      });
      if (pending.size > 0) await host.sleep(opts.intervalMs ?? 1000);
    }
    if (pending.size === 0) io.err(`  ${label}: done (${((now() - started) / 1000).toFixed(1)} s)`);
    const issues: ErrorIssue[] = [];
    const states = await sd.activeStates([...pending.keys()]);
    for (const [name, u] of pending) {
      const state = states.get(name) ?? "";
      issues.push({ path: name, message: state !== "active" ? `unit is ${state || "unknown"}` : `no healthy answer from ${u.health?.url}` });
    }
    if (issues.length > 0 || plan.reload.length === 0) return issues;
    return reloadIssues(host, io, plan.reload, sinceSec, opts.reloadTimeoutMs ?? 30_000, Math.min(opts.intervalMs ?? 500, 500));
  };
}
