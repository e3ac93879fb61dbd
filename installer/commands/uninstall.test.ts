/** uninstall on a temp root: every managed unit, file and dir goes, service users are deleted, data is kept unless --purge. */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../config/load.ts";
import { liveConverge, seedUsers } from "../lifecycle/test-support.ts";
import { exampleText, recordingExec, removeDir, snapshotTree, tempDir, testContext } from "../testing/harness.ts";
import { uninstallCommand } from "./uninstall.ts";

let root: string;
beforeEach(() => {
  root = tempDir();
  seedUsers(root);
});
afterEach(() => removeDir(root));

async function installed() {
  const rec = recordingExec();
  const ctx = testContext(root, { exec: rec.exec });
  const text = exampleText("mixed");
  await liveConverge()(ctx, parseConfig(text, "mixed"), text, {});
  const put = (p: string, content = "x") => {
    mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    writeFileSync(path.join(root, p), content);
  };
  put("opt/wirebot/runtime/openclaw-2026.9.6/.wirebot-runtime.json", "{}");
  put("run/wirebot/gateway.env", 'OPENCLAW_GATEWAY_TOKEN="secret"\n');
  put("etc/wirebot/credstore/bws-access-token.cred", "sealed");
  put("etc/cloudflared/wirebot.yml", "ingress: []\n");
  put("var/lib/wirebot/ledger.sqlite", "ledger");
  put("data/wirebot/gateway/agents/alice/agent/openclaw-agent.sqlite", "sessions");
  rec.calls.length = 0;
  return { ctx, rec };
}

const left = () => Object.keys(snapshotTree(root)).filter((p) => !p.startsWith("etc/passwd") && !p.startsWith("etc/group"));

describe("wirebot uninstall", () => {
  it("stops and disables every unit, removes what wirebot manages, deletes service users, keeps data, ledger and wirebot.yaml", async () => {
    const { ctx, rec } = await installed();
    expect(await uninstallCommand(ctx, {}, { live: true })).toBe(0);
    const sc = rec.systemctl();
    const all = "wirebot-secrets.service clawdbot-gateway.service wirebot-reconcile.service cloudflared-wirebot.service clawdbot-gateway@erin.service";
    expect(sc[0]).toBe(`stop ${all}`);
    expect(sc[1]).toBe(`disable ${all}`);
    expect(sc.at(-1)).toBe("daemon-reload");
    expect(rec.calls.filter((c) => c.cmd === "userdel").map((c) => c.args.join(" "))).toEqual(["wirebot", "wb-erin"]);
    const rest = left();
    for (const gone of ["etc/systemd/system/clawdbot-gateway.service", "etc/systemd/system/clawdbot-gateway@erin.service.d", "etc/systemd/system/multi-user.target.wants/wirebot-secrets.service", "etc/sysusers.d/wirebot.conf", "etc/tmpfiles.d/wirebot.conf", "opt/wirebot", "run/wirebot", "etc/wirebot/credstore", "etc/cloudflared/wirebot.yml", "etc/wirebot/manifest.json"])
      expect(rest, gone).not.toContain(gone);
    expect(rest).toContain("etc/wirebot/wirebot.yaml");
    expect(rest).toContain("var/lib/wirebot/ledger.sqlite");
    expect(rest).toContain("data/wirebot/gateway/agents/alice/agent/openclaw-agent.sqlite");
    expect(rest).toContain("data/wirebot/users/erin/workspace");
    expect(rest.filter((p) => p.startsWith("etc/systemd"))).toEqual(["etc/systemd", "etc/systemd/system", "etc/systemd/system/multi-user.target.wants"]);
    expect(ctx.io.stdout.join("\n")).toMatch(/Kept: \/data\/wirebot .*\/var\/lib\/wirebot .*\/etc\/wirebot\/wirebot\.yaml/);
  });

  it("--purge needs --yes, then leaves nothing of wirebot behind", async () => {
    const { ctx } = await installed();
    await expect(uninstallCommand(ctx, { purge: true }, { live: true })).rejects.toMatchObject({ kind: "usage" });
    expect(await uninstallCommand(ctx, { purge: true, yes: true }, { live: true })).toBe(0);
    expect(left().filter((p) => /wirebot|clawdbot|cloudflared/.test(p))).toEqual([]);
  });

  it("under --root (not live) it touches no unit and only runs userdel --root for users that tree has", async () => {
    const { ctx, rec } = await installed();
    expect(await uninstallCommand(ctx, { json: true })).toBe(0);
    expect(rec.systemctl()).toEqual([]);
    expect(rec.calls.filter((c) => c.cmd === "userdel").map((c) => c.args.join(" "))).toEqual([`--root ${root} wirebot`, `--root ${root} wb-erin`]);
    expect(JSON.parse(ctx.io.stdout.join("\n"))).toMatchObject({ ok: true, outcome: "uninstalled", kept: ["/data/wirebot", "/var/lib/wirebot", "/etc/wirebot/wirebot.yaml"] });
  });
});
