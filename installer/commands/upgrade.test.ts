/** upgrade on a temp root: stage + validate before any stop, switch the version, and roll back on a failed verify. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../config/load.ts";
import { isEmptyPlan, plan } from "../engine/plan.ts";
import { liveConverge, seedUsers } from "../testing/lifecycle-support.ts";
import { exampleText, recordingExec, removeDir, snapshotTree, tempDir, testContext } from "../testing/harness.ts";
import { buildDesired } from "../pipeline/desired.ts";
import { PINNED_RUNTIME_VERSION, upgradeCommand } from "./upgrade.ts";

let root: string;
beforeEach(() => {
  root = tempDir();
  seedUsers(root);
});
afterEach(() => removeDir(root));

const NEW = "2026.10.2";
const unit = () => readFileSync(path.join(root, "etc/systemd/system/clawdbot-gateway.service"), "utf8");
const yaml = () => readFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), "utf8");

async function installed() {
  const rec = recordingExec();
  const ctx = testContext(root, { exec: rec.exec });
  const text = exampleText("mixed");
  await liveConverge()(ctx, parseConfig(text, "mixed"), text, {});
  rec.calls.length = 0;
  const events: string[] = [];
  const deps = {
    live: true,
    provisionRuntime: async (_h: unknown, c: { runtime: { version: string } }) => void events.push(`provision ${c.runtime.version}`),
    validateGatewayConfig: async (_h: unknown, rt: { nodeBin: string }, configPath: string) => {
      events.push(`validate ${configPath} with ${rt.nodeBin.split("/")[4]}`);
      events.push(`systemctl so far: ${rec.systemctl().length}`);
      return { valid: true, warnings: [], errors: [] };
    },
  };
  return { ctx, rec, events, deps };
}

describe("wirebot upgrade", () => {
  it("provisions and validates every gateway config with the new runtime before stopping anything, then switches", async () => {
    const { ctx, rec, events, deps } = await installed();
    expect(await upgradeCommand(ctx, { runtimeVersion: NEW }, { ...deps, converge: liveConverge() })).toBe(0);
    expect(events).toEqual([
      `provision ${NEW}`,
      `validate /var/lib/wirebot/upgrade-check/shared/clawdbot.json with openclaw-${NEW}`,
      "systemctl so far: 0",
      `validate /var/lib/wirebot/upgrade-check/erin/clawdbot.json with openclaw-${NEW}`,
      "systemctl so far: 0",
    ]);
    expect(yaml()).toContain(`runtime: { package: openclaw, version: "${NEW}", node: "24.21.0" }`);
    expect(yaml()).toContain("# Two users share a gateway");
    expect(unit()).toContain(`/opt/wirebot/runtime/openclaw-${NEW}/`);
    expect(rec.systemctl()).toContain("daemon-reload");
    expect(rec.systemctl().some((c) => c.startsWith("restart ") && c.includes("clawdbot-gateway@erin.service"))).toBe(true);
    expect(snapshotTree(root)["var/lib/wirebot/upgrade-check"]).toBeUndefined();
  });

  it("a config the new runtime rejects stops the upgrade before any unit is touched", async () => {
    const { ctx, rec, deps } = await installed();
    const before = snapshotTree(root);
    const err = await upgradeCommand(ctx, { runtimeVersion: NEW }, {
      ...deps,
      converge: liveConverge(),
      validateGatewayConfig: async () => ({ valid: false, warnings: [], errors: [{ path: "agents.entries", message: "unknown key" }] }),
    }).catch((e) => e);
    expect(err).toMatchObject({ code: "upgrade.validate", kind: "verify" });
    expect(err.exitCode).toBe(1);
    expect(rec.systemctl()).toEqual([]);
    expect(snapshotTree(root)).toEqual(before);
  });

  it("a failed verify rolls back to the previous version, its files and units, and converges again", async () => {
    const { ctx, rec, deps } = await installed();
    const before = snapshotTree(root);
    const conv = liveConverge(async (_p, c) => (c.runtime.version === NEW ? [{ path: "clawdbot-gateway.service", message: "no healthy answer" }] : []));
    const err = await upgradeCommand(ctx, { runtimeVersion: NEW }, { ...deps, converge: conv }).catch((e) => e);
    expect(err).toMatchObject({ code: "upgrade.rolled-back", kind: "verify" });
    expect(err.message).toContain("rolled back to 2026.9.6");
    expect(conv.configs.map((c) => c.runtime.version)).toEqual([NEW, "2026.9.6"]);
    expect(yaml()).toContain('version: "2026.9.6"');
    expect(unit()).toContain("/opt/wirebot/runtime/openclaw-2026.9.6/");
    expect(snapshotTree(root)).toEqual(before);
    const text = yaml();
    expect(isEmptyPlan(await plan(ctx.host, await buildDesired(ctx, parseConfig(text, "t"), text)))).toBe(true);
    // the previous set was restarted after the failed start, and started again by the second converge
    expect(rec.systemctl().at(-1)).toMatch(/^start .*clawdbot-gateway\.service/);
  });

  it("--dry-run shows the plan and changes nothing", async () => {
    const { ctx, rec, events, deps } = await installed();
    const before = snapshotTree(root);
    expect(await upgradeCommand(ctx, { runtimeVersion: NEW, dryRun: true }, { ...deps, converge: liveConverge() })).toBe(0);
    const out = ctx.io.stdout.join("\n");
    expect(out).toContain(`2026.9.6 → ${NEW}`);
    expect(out).toContain("/etc/systemd/system/clawdbot-gateway.service");
    expect(events).toEqual([]);
    expect(rec.calls).toEqual([]);
    expect(snapshotTree(root)).toEqual(before);
  });

  it("a malformed version is a config error (78) and nothing is provisioned", async () => {
    const { ctx, events, deps } = await installed();
    await expect(upgradeCommand(ctx, { runtimeVersion: "latest" }, { ...deps, converge: liveConverge() })).rejects.toMatchObject({ kind: "config" });
    expect(events).toEqual([]);
  });

  it("without --runtime-version it targets the version this release pins", () => {
    expect(PINNED_RUNTIME_VERSION).toMatch(/^\d{4}\.\d+\.\d+$/);
  });
});
