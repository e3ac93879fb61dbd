/** The post-apply verifier: one systemctl call per polling round for all pending units, health probes on loopback, issues for what never came up. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Plan } from "../engine/plan.ts";
import { recordingExec, removeDir, tempDir, testContext } from "../testing/harness.ts";
import { createVerifier } from "./verify.ts";

let root: string;
let server: http.Server | null = null;
beforeEach(() => {
  root = tempDir();
});
afterEach(async () => {
  removeDir(root);
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = null;
});

const planOf = (units: Plan["units"]): Plan => ({ changes: [], restart: [], reload: [], stop: [], units, manifest: { version: 1, paths: [], units: [] } });

async function healthServer(body: Record<string, unknown>): Promise<string> {
  server = http.createServer((_req, res) => res.end(JSON.stringify(body)));
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
}

describe("createVerifier", () => {
  it("one `systemctl is-active` per round for every pending unit; a unit that turns active later is waited for", async () => {
    const url = await healthServer({ ok: true });
    let round = 0;
    const rec = recordingExec((c) => {
      if (c.args[0] !== "is-active") return {};
      round++;
      // the gateway is still starting in the first round
      return { stdout: c.args.slice(1).map((u) => (u === "clawdbot-gateway.service" && round === 1 ? "activating\n" : "active\n")).join("") };
    });
    const ctx = testContext(root, { exec: rec.exec });
    const units = [{ name: "wirebot-secrets.service" }, { name: "clawdbot-gateway.service", health: { url, expectJson: { ok: true } } }, { name: "wirebot-reconcile.service" }];
    const issues = await createVerifier(ctx.host, ctx.io, { timeoutMs: 10_000, intervalMs: 10 })(planOf(units));
    expect(issues).toEqual([]);
    expect(rec.systemctl()).toEqual(["is-active wirebot-secrets.service clawdbot-gateway.service wirebot-reconcile.service", "is-active clawdbot-gateway.service"]);
    expect(ctx.io.stderr.filter((l) => l.endsWith(": healthy"))).toEqual(["  wirebot-secrets.service: healthy", "  wirebot-reconcile.service: healthy", "  clawdbot-gateway.service: healthy"]);
  });

  it("reports each unit that never became healthy, with its state or the health URL that did not answer as expected", async () => {
    const url = await healthServer({ ok: false });
    const rec = recordingExec((c) => (c.args[0] === "is-active" ? { stdout: c.args.slice(1).map((u) => (u === "wirebot-secrets.service" ? "failed\n" : "active\n")).join(""), code: 3 } : {}));
    const ctx = testContext(root, { exec: rec.exec });
    const units = [{ name: "wirebot-secrets.service" }, { name: "clawdbot-gateway.service", health: { url, expectJson: { ok: true } } }, { name: "wirebot-reconcile.service" }];
    const issues = await createVerifier(ctx.host, ctx.io, { timeoutMs: 200, intervalMs: 20 })(planOf(units));
    expect(issues).toEqual([
      { path: "wirebot-secrets.service", message: "unit is failed" },
      { path: "clawdbot-gateway.service", message: `no healthy answer from ${url}` },
    ]);
    // every call named all the units still pending: never one call per unit
    const [first, ...rest] = rec.systemctl();
    expect(first).toBe("is-active wirebot-secrets.service clawdbot-gateway.service wirebot-reconcile.service");
    expect(rest.length).toBeGreaterThan(0);
    for (const c of rest) expect(c).toBe("is-active wirebot-secrets.service clawdbot-gateway.service");
  });

  describe("a unit that takes the plan live", () => {
    const reloadPlan = (): Plan => ({ ...planOf([{ name: "clawdbot-gateway.service" }]), reload: ["clawdbot-gateway.service"] });
    const journal = (text: string) => recordingExec((c) => (c.cmd === "journalctl" ? { stdout: text } : {}));

    it("passes when its journal since the apply shows the reload applied", async () => {
      const rec = journal("[reload] config change detected; evaluating reload (agents.entries.zoe)\n[reload] config hot reload applied (agents.entries.zoe)\n");
      const ctx = testContext(root, { exec: rec.exec });
      expect(await createVerifier(ctx.host, ctx.io, { timeoutMs: 1000, intervalMs: 10 })(reloadPlan())).toEqual([]);
      const call = rec.calls.find((c) => c.cmd === "journalctl")!;
      expect(call.args).toEqual(expect.arrayContaining(["-u", "clawdbot-gateway.service", "--since"]));
    });

    it("fails when the gateway refused the new config and kept the old one (apply then rolls back)", async () => {
      const ctx = testContext(root, { exec: journal("[reload] config change detected\n[reload] config reload skipped (invalid config): agents.entries.zoe.model\n").exec });
      const issues = await createVerifier(ctx.host, ctx.io, { timeoutMs: 1000, intervalMs: 10 })(reloadPlan());
      expect(issues).toEqual([{ path: "clawdbot-gateway.service", message: expect.stringMatching(/refused the new config.*reload skipped/) }]);
    });

    it("fails when nothing shows that the gateway read the change", async () => {
      const ctx = testContext(root, { exec: journal("").exec });
      const issues = await createVerifier(ctx.host, ctx.io, { timeoutMs: 1000, intervalMs: 10, reloadTimeoutMs: 100 })(reloadPlan());
      expect(issues).toEqual([{ path: "clawdbot-gateway.service", message: expect.stringMatching(/no sign within 0 s/) }]);
    });
  });
});
