/** upgrade on a live box (the real converge): stage + validate before any stop, switch the version, and roll back on a failed verify. */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../config/load.ts";
import { isEmptyPlan, plan } from "../engine/plan.ts";
import { exampleText, snapshotTree, type ExecCall } from "../testing/harness.ts";
import { buildDesired } from "../pipeline/desired.ts";
import { converge } from "../pipeline/converge.ts";
import { startLiveBox, type LiveBox } from "../../test/support/live-box.ts";
import { PINNED_RUNTIME_VERSION, upgradeCommand } from "./upgrade.ts";
import { statusCommand } from "./status.ts";
import { listSnapshots, SNAPSHOTS_DIR, verifySnapshot } from "../lifecycle/state-snapshot.ts";
import { gunzipStream, readTar } from "../lifecycle/tar.ts";

let root: string;
let box: LiveBox | null = null;
afterEach(async () => {
  await box?.close();
  box = null;
});

const NEW = "2026.10.2";
const UNIT = "etc/systemd/system/clawdbot-gateway.service";
const unit = () => readFileSync(path.join(root, UNIT), "utf8");
const yaml = () => readFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), "utf8");
// What a snapshot compares: the secrets the unit re-pulls (tmpfs, with its time) are not the upgrade's state.
const withoutRuntime = (v: string) => (t: Record<string, string>) => Object.fromEntries(Object.entries(t).filter(([p]) => !p.startsWith(`opt/wirebot/runtime/openclaw-${v}`)));
const state = () => Object.fromEntries(Object.entries(snapshotTree(root)).filter(([p]) => !p.startsWith("run/")));

/**
 * An appliance the real converge installed. `brokenOn`: the runtime version whose shared gateway never
 * comes up (systemd reports it failed while its unit runs that runtime); `seen` lists the runtime each
 * verify round found in that unit.
 */
async function installed(brokenOn?: string, migratesOn: string | undefined = brokenOn) {
  const seen: string[] = [];
  const answer = (c: ExecCall) => {
    // The broken runtime migrates the shared gateway's state on its first start, as openclaw#153191 describes.
    if (c.cmd === "systemctl" && /^(re)?start$/.test(c.args[0] ?? "") && c.args.includes("clawdbot-gateway.service") && existsSync(path.join(root, UNIT)) && unit().includes(`openclaw-${migratesOn}/`)) {
      const state = path.join(root, "data/wirebot/gateway");
      writeFileSync(path.join(state, "openclaw.sqlite"), `migrated to ${migratesOn}'s schema`);
      writeFileSync(path.join(state, "MIGRATED"), migratesOn!);
      return undefined;
    }
    if (c.cmd !== "systemctl" || c.args[0] !== "is-active" || !existsSync(path.join(root, UNIT))) return undefined;
    const running = unit().match(/openclaw-([0-9.]+)\//)?.[1] ?? "?";
    if (c.args.includes("clawdbot-gateway.service")) seen.push(running);
    return { stdout: c.args.slice(1).map((u) => (u === "clawdbot-gateway.service" && running === brokenOn ? "failed\n" : "active\n")).join("") };
  };
  box = await startLiveBox({ answer });
  root = box.root;
  const text = box.boxText(exampleText("mixed"));
  await converge(box.ctx, parseConfig(text, "mixed"), text, {});
  const { rec } = box;
  const ctx = box.context();
  rec.calls.length = 0;
  seen.length = 0;
  const events: string[] = [];
  const deps = {
    // what npm would leave: the new runtime, whole, in its own dir
    provisionRuntime: async (_h: unknown, c: { runtime: { version: string } }) => {
      events.push(`provision ${c.runtime.version}`);
      box!.seedRuntime(c.runtime.version);
    },
    validateGatewayConfig: async (_h: unknown, rt: { nodeBin: string }, configPath: string) => {
      events.push(`validate ${configPath} with ${rt.nodeBin.split("/")[4]}`);
      events.push(`systemctl so far: ${rec.systemctl().length}`);
      return { valid: true, warnings: [], errors: [] };
    },
  };
  return { ctx, rec, events, deps, seen };
}

describe("wirebot upgrade", () => {
  it("provisions and validates every gateway config with the new runtime before stopping anything, then switches", async () => {
    const { ctx, rec, events, deps } = await installed();
    expect(await upgradeCommand(ctx, { runtimeVersion: NEW }, deps)).toBe(0);
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
      validateGatewayConfig: async () => ({ valid: false, warnings: [], errors: [{ path: "agents.entries", message: "unknown key" }] }),
    }).catch((e) => e);
    expect(err).toMatchObject({ code: "upgrade.validate", kind: "verify" });
    expect(err.exitCode).toBe(1);
    expect(rec.systemctl()).toEqual([]);
    // nothing changed but the staged runtime, kept for the next attempt
    expect(withoutRuntime(NEW)(snapshotTree(root))).toEqual(before);
  });

  it("a failed verify rolls back to the previous version, its files, units and the gateways' state (a migration undone), and converges again", async () => {
    const { ctx, rec, deps, seen } = await installed(NEW);
    writeFileSync(path.join(root, "data/wirebot/gateway/openclaw.sqlite"), "the old runtime's schema");
    const before = state();
    const err = await upgradeCommand(ctx, { runtimeVersion: NEW }, deps).catch((e) => e);
    expect(err).toMatchObject({ code: "upgrade.rolled-back", kind: "verify" });
    expect(err.message).toContain("rolled back to 2026.9.6");
    // the verifier saw the gateway failed on the new runtime, then healthy on the old one again
    expect(seen[0]).toBe(NEW);
    expect(seen.at(-1)).toBe("2026.9.6");
    expect(yaml()).toContain('version: "2026.9.6"');
    expect(unit()).toContain("/opt/wirebot/runtime/openclaw-2026.9.6/");
    // the new runtime had migrated the state: it is back as the old runtime left it, byte for byte
    expect(ctx.io.text()).toContain("restoring the gateways' state from snapshot");
    expect(existsSync(path.join(root, "data/wirebot/gateway/MIGRATED"))).toBe(false);
    expect(readFileSync(path.join(root, "data/wirebot/gateway/openclaw.sqlite"), "utf8")).toBe("the old runtime's schema");
    // every file as before, but the new runtime upgrade provisioned (kept for the next attempt)
    expect(Object.keys(state()).filter((p) => !(p in before))).toEqual(expect.arrayContaining([`opt/wirebot/runtime/openclaw-${NEW}`]));
    for (const [p, v] of Object.entries(before)) expect(state()[p], p).toBe(v);
    const text = yaml();
    expect(isEmptyPlan(await plan(ctx.host, await buildDesired(ctx, parseConfig(text, "t"), text)))).toBe(true);
    // the previous set was restarted after the failed start, and started again by the second converge
    expect(rec.systemctl().filter((c) => !c.startsWith("is-active ")).at(-1)).toMatch(/^start .*clawdbot-gateway\.service/);
    // and the verifier found it active again
    expect(rec.systemctl().at(-1)).toMatch(/^is-active .*clawdbot-gateway\.service/);
  });

  it("stops the gateways and snapshots their state before switching: 0600 archives, a manifest with checksums, --list shows it", async () => {
    const { ctx, rec, deps } = await installed();
    const sessions = path.join(root, "data/wirebot/gateway/agents/alice/agent/openclaw-agent.sqlite");
    mkdirSync(path.dirname(sessions), { recursive: true });
    writeFileSync(sessions, "alice's sessions, schema 1");
    expect(await upgradeCommand(ctx, { runtimeVersion: NEW }, deps)).toBe(0);
    // both gateways were stopped before anything started on the new runtime
    const sc = rec.systemctl();
    const stopAt = sc.indexOf("stop clawdbot-gateway.service clawdbot-gateway@erin.service");
    expect(stopAt).toBeGreaterThanOrEqual(0);
    expect(stopAt).toBeLessThan(sc.findIndex((c) => /^(start|restart) /.test(c)));
    const [snap, ...more] = await listSnapshots(ctx.host);
    expect(more).toEqual([]);
    expect(snap).toMatchObject({ runtime: { version: "2026.9.6" }, to: NEW, gateways: [{ id: "shared" }, { id: "erin" }] });
    expect(await verifySnapshot(ctx.host, snap!)).toEqual([]);
    const dir = path.join(root, SNAPSHOTS_DIR.slice(1), snap!.id);
    for (const f of ["manifest.json", "shared.tar.gz", "erin.tar.gz"]) expect(statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    // the archive holds the state as it was at rest
    const entries: Record<string, string> = {};
    for await (const e of readTar(gunzipStream([readFileSync(path.join(dir, "shared.tar.gz"))]))) {
      if (e.type !== "file" || !e.content) continue;
      const chunks: Buffer[] = [];
      for await (const c of e.content) chunks.push(c);
      entries[e.path] = Buffer.concat(chunks).toString("utf8");
    }
    expect(entries["agents/alice/agent/openclaw-agent.sqlite"]).toBe("alice's sessions, schema 1");
    const list = box!.context();
    expect(await upgradeCommand(list, { list: true })).toBe(0);
    // status says what the snapshots take
    const st = box!.context();
    await statusCommand(st, {});
    expect(st.io.stdout.join("\n")).toMatch(/snapshots\s+1 state snapshot\(s\) of runtime\.keepSnapshots 3, [\d.]+ MiB in \/var\/lib\/wirebot\/snapshots/);
    expect(list.io.stdout.join("\n")).toMatch(new RegExp(`${snap!.id} .* openclaw 2026\\.9\\.6 → ${NEW.replace(/\./g, "\\.")} +shared \\(\\d+ files\\), erin`));
  });

  it("keeps runtime.keepSnapshots (3) snapshots: the oldest go", async () => {
    const { ctx, deps } = await installed();
    for (const [i, v] of [NEW, "2026.9.6", NEW, "2026.9.6"].entries()) {
      // upgrades a minute apart
      const c = box!.context();
      const at = new Date(Date.UTC(2026, 11, 8, 12, i));
      c.host.now = () => at;
      expect(await upgradeCommand(c, { runtimeVersion: v }, deps)).toBe(0);
    }
    const all = await listSnapshots(ctx.host);
    expect(all.map((s) => `${s.runtime.version}→${s.to}`)).toEqual([`${NEW}→2026.9.6`, `2026.9.6→${NEW}`, `${NEW}→2026.9.6`]);
  });

  it("no snapshot, no upgrade: the gateways start again on the runtime they had, wirebot.yaml is as it was", async () => {
    const { ctx, rec, deps } = await installed();
    // something in the way of the snapshots dir
    writeFileSync(path.join(root, SNAPSHOTS_DIR.slice(1)), "not a directory");
    const before = yaml();
    const err = await upgradeCommand(ctx, { runtimeVersion: NEW }, deps).catch((e) => e);
    expect(err).toMatchObject({ code: "upgrade.snapshot", exitCode: 73 });
    expect(err.hint).toMatch(/no snapshot, no upgrade/);
    expect(yaml()).toBe(before);
    expect(rec.systemctl().slice(-1)[0]).toBe("start clawdbot-gateway.service clawdbot-gateway@erin.service");
  });

  it("--rollback undoes the last upgrade on demand: the snapshot's state back (a migration undone), the runtime it left, converged", async () => {
    const { ctx, deps } = await installed(undefined, NEW);
    const sqlite = path.join(root, "data/wirebot/gateway/openclaw.sqlite");
    writeFileSync(sqlite, "the old runtime's schema");
    expect(await upgradeCommand(ctx, { runtimeVersion: NEW }, deps)).toBe(0);
    expect(readFileSync(sqlite, "utf8")).toBe(`migrated to ${NEW}'s schema`);
    const back = box!.context();
    expect(await upgradeCommand(back, { rollback: true })).toBe(0);
    expect(yaml()).toContain('version: "2026.9.6"');
    expect(unit()).toContain("/opt/wirebot/runtime/openclaw-2026.9.6/");
    expect(readFileSync(sqlite, "utf8")).toBe("the old runtime's schema");
    expect(existsSync(path.join(root, "data/wirebot/gateway/MIGRATED"))).toBe(false);
    expect(back.io.stdout.join("\n")).toMatch(/^Rolled back to openclaw 2026\.9\.6 and the state of /m);
    // with flags it cannot honour, or nothing to go back to: a usage error, nothing changed
    await expect(upgradeCommand(box!.context(), { rollback: true, runtimeVersion: NEW })).rejects.toMatchObject({ code: "upgrade.flags", exitCode: 64 });
  });

  it("--rollback without any snapshot says so (64) and changes nothing", async () => {
    const { ctx } = await installed();
    const before = state();
    await expect(upgradeCommand(ctx, { rollback: true })).rejects.toMatchObject({ code: "upgrade.no-snapshot", exitCode: 64 });
    expect(state()).toEqual(before);
  });

  it("--dry-run shows the plan and changes nothing", async () => {
    const { ctx, rec, events, deps } = await installed();
    const before = snapshotTree(root);
    expect(await upgradeCommand(ctx, { runtimeVersion: NEW, dryRun: true }, deps)).toBe(0);
    const out = ctx.io.stdout.join("\n");
    expect(out).toContain(`2026.9.6 → ${NEW}`);
    expect(out).toContain("/etc/systemd/system/clawdbot-gateway.service");
    expect(events).toEqual([]);
    expect(rec.calls).toEqual([]);
    expect(snapshotTree(root)).toEqual(before);
  });

  it("a malformed version is a config error (78) and nothing is provisioned", async () => {
    const { ctx, events, deps } = await installed();
    await expect(upgradeCommand(ctx, { runtimeVersion: "latest" }, deps)).rejects.toMatchObject({ kind: "config" });
    expect(events).toEqual([]);
  });

  it("without --runtime-version it targets the version this release pins", () => {
    expect(PINNED_RUNTIME_VERSION).toMatch(/^\d{4}\.\d+\.\d+$/);
  });
});
