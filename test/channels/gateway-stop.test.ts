/** The gateway units' stop timeout gives the runtime a shutdown of at most 5 s and no drain (docs/runtime.md#stopping-a-gateway). */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";

const TEMPLATES = ["clawdbot-gateway.service.tmpl", "clawdbot-gateway@.service.tmpl"];

const stopSec = (name: string) => {
  const text = readFileSync(new URL(`../../units/${name}`, import.meta.url), "utf8");
  const m = /^TimeoutStopSec=(\d+)s?$/m.exec(text);
  if (!m) throw new Error(`units/${name} has no TimeoutStopSec=<n>s line`);
  return Number(m[1]) * 1000;
};

/** openclaw 2026.9.6 run-loop-shutdown-budget.ts: forced exit 5 s before systemd's kill, turns drained for all but a 10 s reserve. */
const runtimeBudget = (timeoutStopMs: number) => {
  const shutdownMs = Math.min(325_000, timeoutStopMs - 5_000);
  return { shutdownMs, drainMs: Math.max(0, shutdownMs - 10_000) };
};

describe("gateway stop timeout", () => {
  test("both gateway units carry the same TimeoutStopSec", () => {
    expect(new Set(TEMPLATES.map(stopSec)).size).toBe(1);
  });

  test.each(TEMPLATES)("%s: the runtime exits on its own within 5 s, before systemd's SIGKILL, and drains nothing", (name) => {
    const { shutdownMs, drainMs } = runtimeBudget(stopSec(name));
    expect(shutdownMs).toBeGreaterThan(0);
    expect(shutdownMs).toBeLessThanOrEqual(5_000);
    // No drain: a turn is cut at once and resumed after the restart (gateway-stop.slow.test.ts); a drain
    // holds the stop for as long as the turn runs.
    expect(drainMs).toBe(0);
  });
});
