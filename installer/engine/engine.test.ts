/** plan → apply → plan on a temp root through the real node host; systemctl calls recorded at the exec boundary. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../config/load.ts";
import { buildDesired } from "../pipeline/desired.ts";
import { WirebotError } from "../errors.ts";
import { exampleText, readAllFiles, recordingExec, removeDir, snapshotTree, tempDir, testContext } from "../testing/harness.ts";
import { applyPlan } from "./apply.ts";
import { isUnitPath } from "./resource.ts";
import { isEmptyPlan, plan } from "./plan.ts";

let root: string;
beforeEach(() => {
  root = tempDir();
});
afterEach(() => removeDir(root));

/** A root whose /etc/passwd knows the service users (as systemd-sysusers would have made them). */
function seedUsers(dir: string) {
  mkdirSync(path.join(dir, "etc"), { recursive: true });
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  writeFileSync(path.join(dir, "etc/passwd"), `root:x:0:0::/root:/bin/sh\nwirebot:x:${uid}:${gid}::/var/lib/wirebot:/usr/sbin/nologin\nwb-erin:x:${uid}:${gid}::/data:/usr/sbin/nologin\n`);
  writeFileSync(path.join(dir, "etc/group"), `root:x:0:\nwirebot:x:${gid}:\nwb-erin:x:${gid}:\n`);
}

async function converge(name: string, text = exampleText(name), live = false, env: Record<string, string> = {}) {
  const rec = recordingExec();
  const ctx = testContext(root, { exec: rec.exec });
  const config = parseConfig(text, name, env);
  const p = await plan(ctx.host, await buildDesired(ctx, config, text));
  const result = await applyPlan(ctx.host, p, { io: ctx.io, live, start: true, verify: async () => [] });
  return { p, result, rec, ctx };
}

async function planOnly(name: string, text = exampleText(name)) {
  const ctx = testContext(root);
  return plan(ctx.host, await buildDesired(ctx, parseConfig(text, name), text));
}

describe("plan and apply", () => {
  it.each(["one-user", "three-users", "mixed"])("%s: a second plan after apply is empty", async (name) => {
    const { p } = await converge(name);
    expect(p.changes.length).toBeGreaterThan(20);
    const again = await planOnly(name);
    expect(again.changes).toEqual([]);
    expect(isEmptyPlan(again)).toBe(true);
  });

  it("writes modes as declared (state dirs 0700, config 0600, units 0644)", async () => {
    await converge("mixed");
    const snap = snapshotTree(root);
    expect(snap["data/wirebot/gateway"]).toBe("700 dir");
    expect(snap["data/wirebot/users/erin/workspace"]).toBe("700 dir");
    expect(snap["etc/wirebot/wirebot.yaml"]?.startsWith("600 file")).toBe(true);
    expect(snap["data/wirebot/gateway/clawdbot.json"]?.startsWith("600 file")).toBe(true);
    expect(snap["etc/systemd/system/clawdbot-gateway.service"]?.startsWith("644 file")).toBe(true);
    expect(snap["etc/systemd/system/multi-user.target.wants/clawdbot-gateway@erin.service"]).toBe("777 link /etc/systemd/system/clawdbot-gateway@.service");
  });

  it("live: sysusers, tmpfiles, one daemon-reload, then restart and start", async () => {
    seedUsers(root);
    const { rec } = await converge("mixed", exampleText("mixed"), true);
    expect(rec.calls.map((c) => c.cmd)).toEqual(["systemd-sysusers", "systemd-tmpfiles", "systemctl", "systemctl", "systemctl"]);
    const sc = rec.systemctl();
    expect(sc.filter((c) => c === "daemon-reload")).toHaveLength(1);
    expect(sc[1]).toMatch(/^restart /);
    expect(sc[2]).toBe("start wirebot-secrets.service clawdbot-gateway.service clawdbot-gateway@erin.service wirebot-reconcile.service cloudflared-wirebot.service");
  });

  it("live re-run with no change restarts nothing and does not reload", async () => {
    seedUsers(root);
    await converge("mixed", exampleText("mixed"), true);
    const { rec, p } = await converge("mixed", exampleText("mixed"), true);
    expect(p.changes).toEqual([]);
    expect(rec.systemctl().filter((c) => c.startsWith("restart") || c === "daemon-reload")).toEqual([]);
  });

  it("a change to one shared user's peer rewrites only the shared config, which the gateway takes live: no gateway restarts", async () => {
    seedUsers(root);
    await converge("mixed", exampleText("mixed"), true);
    const changed = exampleText("mixed").replace('peer: "123456789"', 'peer: "123456700"');
    const { p, rec } = await converge("mixed", changed, true);
    expect(p.changes.map((c) => c.path).sort()).toEqual(["/data/wirebot/gateway/clawdbot.json", "/etc/wirebot/wirebot.yaml"]);
    expect(p.reload).toEqual(["clawdbot-gateway.service"]);
    expect(p.restart).toEqual(["wirebot-reconcile.service"]);
    expect(rec.systemctl()).toContain("restart wirebot-reconcile.service");
    expect(rec.systemctl().some((c) => c.includes("restart") && c.includes("clawdbot-gateway"))).toBe(false);
    expect(rec.systemctl()).not.toContain("daemon-reload");
  });

  it("a shared user added changes no unit: the gateway takes its new agent live", async () => {
    seedUsers(root);
    await converge("mixed", exampleText("mixed"), true);
    const added = exampleText("mixed").replace(/(\nusers:\n)/, "$1  - id: zoe\n    name: Zoe\n");
    const { p, rec } = await converge("mixed", added, true);
    expect(p.changes.filter((c) => isUnitPath(c.path))).toEqual([]);
    expect(p.reload).toEqual(["clawdbot-gateway.service"]);
    expect(p.restart).not.toContain("clawdbot-gateway.service");
    expect(rec.systemctl().some((c) => c.includes("restart") && c.includes("clawdbot-gateway"))).toBe(false);
  });

  it("a shared-config change outside what the runtime takes live (the gateway's port) still restarts the shared gateway", async () => {
    seedUsers(root);
    await converge("mixed", exampleText("mixed"), true);
    const { p, rec } = await converge("mixed", exampleText("mixed"), true, { WIREBOT_GATEWAY__PORT: "18801" });
    expect(p.restart).toContain("clawdbot-gateway.service");
    expect(p.reload).toEqual([]);
    expect(rec.systemctl().some((c) => c.startsWith("restart") && c.includes("clawdbot-gateway.service"))).toBe(true);
  });

  it("a change to the dedicated user restarts only that instance", async () => {
    seedUsers(root);
    await converge("mixed", exampleText("mixed"), true);
    const { p, rec } = await converge("mixed", exampleText("mixed").replace("name: Erin", "name: Erin E."), true);
    expect(p.changes.map((c) => c.path).sort()).toEqual(["/data/wirebot/users/erin/clawdbot.json", "/etc/wirebot/wirebot.yaml"]);
    expect(rec.systemctl()).toContain("restart clawdbot-gateway@erin.service wirebot-reconcile.service");
  });

  it("removing the dedicated user deletes its unit files and link, keeps its data, stops its gateway", async () => {
    seedUsers(root);
    await converge("mixed", exampleText("mixed"), true);
    const without = exampleText("mixed").replace(/  - id: erin[\s\S]*$/, "");
    const { p, rec } = await converge("mixed", without, true);
    const deleted = p.changes.filter((c) => c.action === "delete").map((c) => c.path).sort();
    expect(deleted).toEqual([
      "/data/wirebot/users/erin/clawdbot.json",
      "/etc/systemd/system/clawdbot-gateway@.service",
      "/etc/systemd/system/clawdbot-gateway@erin.service.d/10-wirebot.conf",
      "/etc/systemd/system/multi-user.target.wants/clawdbot-gateway@erin.service",
    ]);
    expect(p.stop).toEqual(["clawdbot-gateway@erin.service"]);
    expect(rec.systemctl()).toContain("stop clawdbot-gateway@erin.service");
    expect(snapshotTree(root)["data/wirebot/users/erin/workspace"]).toBe("700 dir");
  });

  it("a failed write rolls everything back: the tree is byte-for-byte as before", async () => {
    mkdirSync(path.join(root, "etc/tmpfiles.d/wirebot.conf"), { recursive: true }); // a dir where a file must go
    const before = snapshotTree(root);
    await expect(converge("mixed")).rejects.toMatchObject({ code: "apply.write", kind: "cantWrite" });
    expect(snapshotTree(root)).toEqual(before);
  });

  it("a failed verify restores the previous files and restarts the previous set", async () => {
    seedUsers(root);
    await converge("mixed", exampleText("mixed"), true);
    const before = snapshotTree(root);
    const rec = recordingExec();
    const ctx = testContext(root, { exec: rec.exec });
    const text = exampleText("mixed").replace("name: Erin", "name: Broken");
    const p = await plan(ctx.host, await buildDesired(ctx, parseConfig(text, "m"), text));
    const err = await applyPlan(ctx.host, p, { io: ctx.io, live: true, start: true, verify: async () => [{ path: "clawdbot-gateway@erin.service", message: "no healthy answer" }] }).catch((e) => e);
    expect(err).toBeInstanceOf(WirebotError);
    expect(err.exitCode).toBe(1);
    expect(snapshotTree(root)).toEqual(before);
    expect(rec.systemctl().filter((c) => c.startsWith("restart"))).toHaveLength(2);
  });

  it("no secret value reaches any rendered file", async () => {
    const secrets = ["0.bws-token-Zq9rT2vX8mK4pL7nW3", "sk-alice-SECRET-1234567890", "123456:telegram-secret-AAaaBBbb"];
    const rec = recordingExec();
    const ctx = testContext(root, { exec: rec.exec, env: { BWS_ACCESS_TOKEN: secrets[0]!, LITELLM_KEY_ALICE: secrets[1]!, TELEGRAM_BOT_TOKEN: secrets[2]! } });
    const text = exampleText("mixed");
    const p = await plan(ctx.host, await buildDesired(ctx, parseConfig(text, "m", ctx.env), text));
    await applyPlan(ctx.host, p, { io: ctx.io, live: false, start: false });
    const files = readAllFiles(root);
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) for (const s of secrets) expect(f.text.includes(s), `${s} in ${f.path}`).toBe(false);
    for (const s of secrets) expect(ctx.io.text()).not.toContain(s);
  });

  /** A first live apply of mixed.yaml with the secrets unit inactive; `order` records every command and hook step. */
  async function liveFirstApply() {
    seedUsers(root);
    const order: string[] = [];
    const rec = recordingExec((c) => (c.args[0] === "is-active" ? { stdout: "inactive\n", code: 3 } : {}));
    const ctx = testContext(root, { exec: async (cmd, args, o) => (order.push(`${cmd} ${args.join(" ")}`), rec.exec(cmd, args, o)) });
    const text = exampleText("mixed");
    const p = await plan(ctx.host, await buildDesired(ctx, parseConfig(text, "m"), text));
    return { order, rec, ctx, text, p };
  }

  it("live hooks: tunnel before the secrets unit, keys after it; an inactive secrets unit is started first", async () => {
    const { order, rec, ctx, text, p } = await liveFirstApply();
    await applyPlan(ctx.host, p, {
      io: ctx.io,
      live: true,
      start: true,
      verify: async () => [],
      hooks: {
        secretsUnit: "wirebot-secrets.service",
        beforeSecrets: async () => void order.push("tunnel"),
        refreshSecrets: async () => (order.push("refresh"), []),
        afterSecrets: async () => void order.push("keys"),
      },
    });
    const i = (s: string) => order.findIndex((o) => o.startsWith(s));
    expect(i("tunnel")).toBeLessThan(i("systemctl restart wirebot-secrets.service"));
    expect(i("systemctl restart wirebot-secrets.service")).toBeLessThan(i("keys"));
    expect(i("keys")).toBeLessThan(i("systemctl restart clawdbot-gateway.service"));
    expect(order).not.toContain("refresh");
  });

  it("live: beforeStart (install's runtime provisioning) is awaited after files, secrets and keys, before any unit starts; a failure there rolls back", async () => {
    const { order, rec, ctx, text, p } = await liveFirstApply();
    const hooks = { secretsUnit: "wirebot-secrets.service", afterSecrets: async () => void order.push("keys") };
    await applyPlan(ctx.host, p, { io: ctx.io, live: true, start: true, verify: async () => [], hooks, beforeStart: async () => void order.push("runtime ready") });
    const i = (s: string) => order.findIndex((o) => o.startsWith(s));
    expect(i("keys")).toBeLessThan(i("runtime ready"));
    expect(i("runtime ready")).toBeGreaterThan(-1);
    expect(order.slice(0, i("runtime ready")).filter((o) => /^systemctl (start|restart) clawdbot/.test(o))).toEqual([]);
    expect(i("systemctl start")).toBeGreaterThan(i("runtime ready"));

    removeDir(root);
    mkdirSync(root, { recursive: true });
    seedUsers(root);
    const before = snapshotTree(root);
    const fresh = testContext(root, { exec: rec.exec });
    const p2 = await plan(fresh.host, await buildDesired(fresh, parseConfig(text, "m"), text));
    const err = await applyPlan(fresh.host, p2, { io: fresh.io, live: true, start: true, verify: async () => [], hooks, beforeStart: async () => Promise.reject(new Error("npm install failed")) }).catch((e: unknown) => e);
    expect((err as Error).message).toBe("npm install failed");
    expect(snapshotTree(root)).toEqual(before);
    // the live steps had run: the operator is told what a file rollback cannot take back
    expect(fresh.io.text()).toMatch(/not rolled back: what the live steps changed in Cloudflare/);
  });

  it("live hooks: with the secrets unit up, a refresh adds the consumers whose env changed to the restarts", async () => {
    seedUsers(root);
    await converge("mixed", exampleText("mixed"), true);
    const rec = recordingExec();
    const ctx = testContext(root, { exec: rec.exec });
    const text = exampleText("mixed");
    const p = await plan(ctx.host, await buildDesired(ctx, parseConfig(text, "m"), text));
    expect(p.changes).toEqual([]);
    await applyPlan(ctx.host, p, { io: ctx.io, live: true, start: true, verify: async () => [], hooks: { secretsUnit: "wirebot-secrets.service", refreshSecrets: async () => ["clawdbot-gateway@erin.service"] } });
    expect(rec.systemctl().filter((c) => c.startsWith("restart"))).toEqual(["restart clawdbot-gateway@erin.service"]);
  });

  it("live: the shared gateway's config, which switches a new agent on, is written only after the secrets and keys steps", async () => {
    seedUsers(root);
    await converge("mixed", exampleText("mixed"), true);
    const ctx = testContext(root, { exec: recordingExec().exec });
    const text = exampleText("mixed").replace(/(\nusers:\n)/, "$1  - id: zoe\n    name: Zoe\n");
    const p = await plan(ctx.host, await buildDesired(ctx, parseConfig(text, "m"), text));
    const cfg = path.join(root, "data/wirebot/gateway/clawdbot.json");
    const seen: Record<string, boolean> = {};
    const hasZoe = () => readFileSync(cfg, "utf8").includes('"zoe"');
    await applyPlan(ctx.host, p, {
      io: ctx.io,
      live: true,
      start: true,
      verify: async () => [],
      hooks: {
        secretsUnit: "wirebot-secrets.service",
        refreshSecrets: async () => ((seen["refresh"] = hasZoe()), []),
        afterSecrets: async () => void (seen["keys"] = hasZoe()),
      },
    });
    expect(seen).toEqual({ refresh: false, keys: false });
    expect(hasZoe()).toBe(true);
  });
});
