/** The batched unit-state query: one `systemctl is-active` for many units, matched line by line, and what happens when it cannot be. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { recordingExec, removeDir, tempDir, testContext } from "../testing/harness.ts";
import { createSystemd } from "./systemd.ts";

let root: string;
beforeEach(() => {
  root = tempDir();
});
afterEach(() => removeDir(root));

const units = ["wirebot-secrets.service", "clawdbot-gateway.service", "clawdbot-gateway@erin.service", "wirebot-reconcile.service"];

describe("activeStates", () => {
  it("asks systemctl once for every unit and maps its lines in order", async () => {
    const answers: Record<string, string> = { "wirebot-secrets.service": "active", "clawdbot-gateway.service": "activating", "clawdbot-gateway@erin.service": "failed", "wirebot-reconcile.service": "inactive" };
    const rec = recordingExec((c) => (c.args[0] === "is-active" ? { stdout: c.args.slice(1).map((u) => `${answers[u]}\n`).join(""), code: 3 } : {}));
    const states = await createSystemd(testContext(root, { exec: rec.exec }).host).activeStates(units);
    expect(rec.systemctl()).toEqual([`is-active ${units.join(" ")}`]);
    expect(Object.fromEntries(states)).toEqual(answers);
  });

  it("asks nothing for no units", async () => {
    const rec = recordingExec();
    expect((await createSystemd(testContext(root, { exec: rec.exec }).host).activeStates([])).size).toBe(0);
    expect(rec.calls).toEqual([]);
  });

  it("an answer without one line per unit is not guessed at: each unit is asked on its own", async () => {
    // e.g. a systemctl that could not talk to systemd prints nothing on stdout
    const rec = recordingExec((c) => (c.args[0] === "is-active" ? { stdout: c.args.length === 2 ? `${c.args[1] === "wirebot-secrets.service" ? "active" : "unknown"}\n` : "", code: 1 } : {}));
    const states = await createSystemd(testContext(root, { exec: rec.exec }).host).activeStates(units);
    expect(rec.systemctl()).toEqual([`is-active ${units.join(" ")}`, ...units.map((u) => `is-active ${u}`)]);
    expect(states.get("wirebot-secrets.service")).toBe("active");
    expect(states.get("clawdbot-gateway.service")).toBe("unknown");
  });
});
