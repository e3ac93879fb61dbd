/** Post-apply probes: every unit active, every HTTP health endpoint answering the expected JSON. */
import type { ErrorIssue } from "../errors.ts";
import type { Plan } from "../engine/plan.ts";
import { createSystemd } from "../engine/systemd.ts";
import type { Host } from "../host/host.ts";
import type { Io } from "../io.ts";

export interface VerifyOptions {
  timeoutMs: number;
  intervalMs?: number;
}

/** true when every key of `expect` equals the body's value (the gateway's SPA answers 200 to unknown paths). */
export async function probeJson(url: string, expect: Record<string, unknown>, timeoutMs = 3000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json()) as Record<string, unknown>;
    return Object.entries(expect).every(([k, v]) => body[k] === v);
  } catch {
    return false;
  }
}

export function createVerifier(host: Host, io: Io, opts: VerifyOptions) {
  const sd = createSystemd(host);
  return async (plan: Plan): Promise<ErrorIssue[]> => {
    const deadline = Date.now() + opts.timeoutMs;
    const pending = new Map(plan.units.map((u) => [u.name, u]));
    io.err(`• waiting for ${pending.size} unit(s) to become healthy (up to ${Math.round(opts.timeoutMs / 1000)} s)`);
    while (pending.size > 0 && Date.now() < deadline) {
      // One systemctl call per round for every pending unit, and the health probes of the active ones side by side.
      const states = await sd.activeStates([...pending.keys()]);
      const healthy = await Promise.all(
        [...pending].map(async ([name, u]) => states.get(name) === "active" && (!u.health || (await probeJson(u.health.url, u.health.expectJson)))),
      );
      [...pending.keys()].forEach((name, i) => {
        if (!healthy[i]) return;
        io.err(`  ${name}: healthy`);
        pending.delete(name);
      });
      if (pending.size > 0) await new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000));
    }
    const issues: ErrorIssue[] = [];
    const states = await sd.activeStates([...pending.keys()]);
    for (const [name, u] of pending) {
      const state = states.get(name) ?? "";
      issues.push({ path: name, message: state !== "active" ? `unit is ${state || "unknown"}` : `no healthy answer from ${u.health?.url}` });
    }
    return issues;
  };
}
