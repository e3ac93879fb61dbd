/** uninstall on a temp root: it lists before deleting, deletes only manifest files and marked trees, and the issue-14 disasters cannot happen. */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { OWNED_MARKER, OWNED_MARKER_TEXT } from "../ownership/marker.ts";
import { main } from "../main.ts";
import { seedUsers } from "../testing/lifecycle-support.ts";
import { examplePath, exampleText, removeDir, snapshotTree, tempDir, testContext } from "../testing/harness.ts";
import { converge } from "../pipeline/converge.ts";
import type { CommandContext } from "../pipeline/context.ts";
import { buildDesired } from "../pipeline/desired.ts";
import { applyPlan } from "../engine/apply.ts";
import { plan } from "../engine/plan.ts";
import { startLiveBox, type LiveBox } from "../../test/support/live-box.ts";
import { uninstallCommand } from "./uninstall.ts";

let root: string;
let scratch: string;
let box: LiveBox | null = null;
beforeEach(() => {
  root = scratch = tempDir();
  seedUsers(root);
});
afterEach(async () => {
  removeDir(scratch);
  await box?.close();
  box = null;
});

const put = (p: string, content = "x") => {
  mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
  writeFileSync(path.join(root, p), content);
};

/** An appliance on the temp root as a live install leaves it; `data` bypasses the schema, as an older wirebot's did. */
async function installed(data?: string) {
  box = await startLiveBox();
  root = box.root;
  const { ctx, rec } = box;
  const mixed = box.boxText(exampleText("mixed"));
  const text = data ? mixed.replace(/^users:/m, `paths: { data: ${data} }\nusers:`) : mixed;
  const base = parseConfig(mixed, "mixed");
  if (data) await olderInstall(ctx, { ...base, paths: { data } }, text);
  else await converge(ctx, base, text, {});
  ctx.io.stdout.length = 0;
  put("opt/wirebot/runtime/openclaw-2026.9.6/.wirebot-runtime.json", "{}");
  put("run/wirebot/gateway.env", 'OPENCLAW_GATEWAY_TOKEN="secret"\n');
  put("etc/wirebot/credstore/bws-access-token.cred", "sealed");
  put("etc/cloudflared/wirebot.yml", "ingress: []\n");
  put("var/lib/wirebot/ledger.sqlite", "ledger");
  put(`${(data ?? "/data/wirebot").slice(1)}/gateway/agents/alice/agent/openclaw-agent.sqlite`, "sessions");
  rec.calls.length = 0;
  return { ctx, rec };
}

/** What a wirebot from before issue 14 did with a paths.data today's preflight refuses: render and write, with no data-dir check (its units are not started here: today's secrets pull refuses that wirebot.yaml). */
async function olderInstall(ctx: CommandContext, config: Config, text: string) {
  await applyPlan(ctx.host, await plan(ctx.host, await buildDesired(ctx, config, text)), { io: ctx.io, live: true, start: false });
}

/** As an install by a wirebot from before markers left it: no marker files, none in the manifest. */
function stripMarkers() {
  for (const p of Object.keys(snapshotTree(root))) if (p.endsWith(`/${OWNED_MARKER}`) || p === OWNED_MARKER) rmSync(path.join(root, p));
  const file = path.join(root, "etc/wirebot/manifest.json");
  const m = JSON.parse(readFileSync(file, "utf8")) as { paths: string[] };
  writeFileSync(file, JSON.stringify({ ...m, paths: m.paths.filter((p) => !p.endsWith(`/${OWNED_MARKER}`)) }));
}

/** What a host has besides wirebot: the files the purge deleted. */
const SYSTEM = { "etc/ssh/sshd_config": "PermitRootLogin no\n", "etc/hostname": "vps1\n", "data/postgres/PG_VERSION": "16\n", "data/postgres/base/1/1259": "pg" };
const seedSystem = () => Object.entries(SYSTEM).forEach(([p, c]) => put(p, c));
const systemLeft = () => Object.fromEntries(Object.keys(SYSTEM).map((p) => [p, readFileSync(path.join(root, p), "utf8")]));

const left = () => Object.keys(snapshotTree(root)).filter((p) => !p.startsWith("etc/passwd") && !p.startsWith("etc/group"));

describe("wirebot uninstall", () => {
  it("stops and disables every unit, removes what wirebot manages, deletes service users, keeps data, ledger and wirebot.yaml", async () => {
    const { ctx, rec } = await installed();
    expect(await uninstallCommand(ctx, {})).toBe(0);
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
    await expect(uninstallCommand(ctx, { purge: true })).rejects.toMatchObject({ kind: "usage" });
    expect(await uninstallCommand(ctx, { purge: true, yes: true })).toBe(0);
    expect(left().filter((p) => /wirebot|clawdbot|cloudflared/.test(p))).toEqual([]);
  });

  it("under --root (not live) it touches no unit and only runs userdel --root for users that tree has", async () => {
    const { ctx: live, rec } = await installed();
    const ctx = { ...live, live: false };
    expect(await uninstallCommand(ctx, { json: true })).toBe(0);
    expect(rec.systemctl()).toEqual([]);
    expect(rec.calls.filter((c) => c.cmd === "userdel").map((c) => c.args.join(" "))).toEqual([`--root ${root} wirebot`, `--root ${root} wb-erin`]);
    expect(JSON.parse(ctx.io.stdout.join("\n"))).toMatchObject({ ok: true, outcome: "uninstalled", kept: ["/data/wirebot", "/var/lib/wirebot", "/etc/wirebot/wirebot.yaml"] });
  });

  it("--dry-run lists every deletion and what it keeps, and changes nothing (--purge needs no --yes for it)", async () => {
    const { ctx, rec } = await installed();
    const before = snapshotTree(root);
    expect(await uninstallCommand(ctx, { purge: true, dryRun: true })).toBe(0);
    expect(snapshotTree(root)).toEqual(before);
    expect(rec.calls).toEqual([]);
    const out = ctx.io.stdout.join("\n");
    expect(out).toMatch(/^Would delete \d+ path\(s\):$/m);
    expect(out).toMatch(/^ {2}- \/data\/wirebot\/ \(whole tree\) {2}\[marked as made by wirebot \(\.wirebot-owned\)\]$/m);
    expect(out).toMatch(/^ {2}- \/etc\/systemd\/system\/clawdbot-gateway\.service {2}\[listed in wirebot's manifest\]$/m);
    expect(out).toMatch(/^ {2}- \/opt\/wirebot\/runtime\/openclaw-2026\.9\.6\/ \(whole tree\)/m);
    expect(out).toMatch(/^Would stop and disable: wirebot-secrets\.service, /m);
    expect(out).toMatch(/^Would delete service user\(s\): wirebot, wb-erin$/m);
    expect(out).toMatch(/^Dry run: nothing was stopped or deleted\.$/m);

    const json = testContext(root);
    expect(await uninstallCommand(json, { purge: true, dryRun: true, json: true })).toBe(0);
    const doc = JSON.parse(json.io.stdout.join("\n"));
    expect(doc).toMatchObject({ ok: true, outcome: "dry-run", purge: true, users: ["wirebot", "wb-erin"] });
    expect(doc.delete).toContainEqual({ path: "/var/lib/wirebot", what: "tree", why: "marked as made by wirebot (.wirebot-owned)" });
    expect(snapshotTree(root)).toEqual(before);
  });

  it("prints the whole list before the first deletion", async () => {
    const { ctx } = await installed();
    let printedAtFirstDelete: string | null = null;
    const remove = ctx.host.remove.bind(ctx.host);
    ctx.host = {
      ...ctx.host,
      remove: async (p, o) => {
        printedAtFirstDelete ??= ctx.io.stdout.join("\n");
        return remove(p, o);
      },
    };
    expect(await uninstallCommand(ctx, { purge: true, yes: true })).toBe(0);
    expect(printedAtFirstDelete).toMatch(/^Deleting \d+ path\(s\):/m);
    expect(printedAtFirstDelete).toContain("/var/lib/wirebot/ (whole tree)");
    expect(printedAtFirstDelete).toMatch(/^Stopping and disabling: /m);
  });

  it("uninstall keeps the marks of what it keeps, so a later --purge deletes those trees whole (the e2e order)", async () => {
    const { ctx } = await installed();
    expect(await uninstallCommand(ctx, {})).toBe(0);
    expect(left()).toEqual(expect.arrayContaining([`etc/wirebot/${OWNED_MARKER}`, `data/wirebot/${OWNED_MARKER}`, `var/lib/wirebot/${OWNED_MARKER}`]));
    const again = box!.context();
    expect(await uninstallCommand(again, { purge: true, yes: true })).toBe(0);
    expect(left().filter((p) => /wirebot|clawdbot|cloudflared/.test(p))).toEqual([]);
  });

  it("issue 14, paths.data: /etc: install refuses it (78, nothing written), and a purge of an older install keeps every system file", async () => {
    const cfg = path.join(root, "..", `${path.basename(root)}-etc.yaml`);
    writeFileSync(cfg, exampleText("mixed").replace(/^users:/m, "paths: { data: /etc }\nusers:"));
    try {
      const before = snapshotTree(root);
      const ctx = testContext(root);
      expect(await main(["install", "--config", cfg, "--root", root, "--yes"], { io: ctx.io, context: () => ctx })).toBe(78);
      expect(ctx.io.stderr.join("\n")).toMatch(/paths\.data: \/etc holds the system's configuration/);
      expect(snapshotTree(root)).toEqual(before);
    } finally {
      rmSync(cfg);
    }

    const { ctx } = await installed("/etc");
    stripMarkers();
    seedSystem();
    // Even a marker planted at the top of /etc does not make it deletable whole.
    put(`etc/${OWNED_MARKER}`, OWNED_MARKER_TEXT);
    expect(await uninstallCommand(ctx, { purge: true, yes: true })).toBe(0);
    expect(systemLeft()).toEqual(SYSTEM);
    expect(readFileSync(path.join(root, "etc/passwd"), "utf8")).toMatch(/^root:x:0:0:/);
    expect(left()).toContain("etc/gateway/agents/alice/agent/openclaw-agent.sqlite");
    expect(left()).not.toContain("etc/gateway/clawdbot.json");
    // (the box's vault file is the operator's: kept, and /etc/wirebot with it)
    const vault = ["etc/wirebot", "etc/wirebot/dev-secrets.yaml"];
    expect(left().filter((p) => /^(etc\/(systemd|wirebot|sysusers|tmpfiles|cloudflared)|opt|run)\b/.test(p) && /wirebot|clawdbot/.test(p) && !vault.includes(p))).toEqual([]);
    expect(ctx.io.stdout.join("\n")).toMatch(/^ {2}- \/etc {2}\[paths\.data \/etc is not a directory wirebot may delete whole \(\/etc holds the system's configuration/m);
  });

  it("issue 14, paths.data: /data beside another program's /data/postgres: refused at install, and an older install's purge leaves postgres alone", async () => {
    seedSystem();
    const cfg = path.join(root, "..", `${path.basename(root)}-data.yaml`);
    writeFileSync(cfg, exampleText("mixed").replace(/^users:/m, "paths: { data: /data }\nusers:"));
    try {
      const before = snapshotTree(root);
      const ctx = testContext(root);
      expect(await main(["install", "--config", cfg, "--root", root, "--yes"], { io: ctx.io, context: () => ctx })).toBe(78);
      expect(ctx.io.stderr.join("\n")).toMatch(/paths\.data: \/data is a top-level directory that other software may share/);
      expect(snapshotTree(root)).toEqual(before);
    } finally {
      rmSync(cfg);
    }

    const { ctx } = await installed("/data");
    seedSystem();
    stripMarkers();
    // The wirebot.yaml on the box no longer validates; uninstall still finds its data dir and keeps it.
    expect(await uninstallCommand(ctx, {})).toBe(0);
    expect(left()).toContain("data/gateway/clawdbot.json");
    const purge = box!.context();
    expect(await uninstallCommand(purge, { purge: true, yes: true })).toBe(0);
    expect(systemLeft()).toEqual(SYSTEM);
    expect(left()).toContain("data/gateway/agents/alice/agent/openclaw-agent.sqlite");
    expect(purge.io.stdout.join("\n")).toMatch(/^ {2}- \/data {2}\[paths\.data \/data is not a directory wirebot may delete whole/m);
  });

  it("an unmarked data dir (older install): --purge deletes the manifest's files in it and keeps the rest, saying why", async () => {
    const { ctx } = await installed();
    stripMarkers();
    expect(await uninstallCommand(ctx, { purge: true, yes: true, json: true })).toBe(0);
    const doc = JSON.parse(ctx.io.stdout.join("\n"));
    expect(doc.keep).toContainEqual({ path: "/data/wirebot", why: expect.stringMatching(/^not marked as made by wirebot \(no \.wirebot-owned\)/) });
    expect(doc.removed).toContain("/data/wirebot/gateway/clawdbot.json");
    expect(left()).toContain("data/wirebot/gateway/agents/alice/agent/openclaw-agent.sqlite");
    expect(left()).not.toContain("data/wirebot/users/erin/clawdbot.json");
    // The ledger dir held a file no manifest lists: kept as well; of /etc/wirebot only the operator's vault file is left.
    expect(left()).toContain("var/lib/wirebot/ledger.sqlite");
    expect(left().filter((p) => p.startsWith("etc/wirebot"))).toEqual(["etc/wirebot", "etc/wirebot/dev-secrets.yaml"]);
  });

  it("keeps what wirebot did not write: a hand-made drop-in, a runtime dir it did not provision", async () => {
    const { ctx } = await installed();
    put("etc/systemd/system/clawdbot-gateway.service.d/override.conf", "[Service]\nNice=5\n");
    put("opt/wirebot/runtime/mine/notes.txt", "mine");
    expect(await uninstallCommand(ctx, { purge: true, yes: true })).toBe(0);
    expect(left()).toEqual(expect.arrayContaining(["etc/systemd/system/clawdbot-gateway.service.d/override.conf", "opt/wirebot/runtime/mine/notes.txt"]));
    expect(left()).not.toContain("opt/wirebot/runtime/openclaw-2026.9.6");
    expect(ctx.io.stdout.join("\n")).toMatch(/^ {2}- \/etc\/systemd\/system\/clawdbot-gateway\.service\.d {2}\[holds drop-ins wirebot did not write\]$/m);
  });

  it("wirebot uninstall --dry-run through the CLI: exit 0, the list on stdout, nothing changed", async () => {
    const ctx = testContext(root);
    expect(await main(["install", "--config", examplePath("one-user"), "--root", root, "--yes"], { io: ctx.io, context: () => ctx })).toBe(0);
    const before = snapshotTree(root);
    const run = testContext(root);
    expect(await main(["uninstall", "--purge", "--dry-run", "--root", root], { io: run.io, context: () => run })).toBe(0);
    expect(run.io.stdout.join("\n")).toMatch(/\/data\/wirebot\/ \(whole tree\)/);
    expect(snapshotTree(root)).toEqual(before);
  });

  it("a deletion that fails stops with exit 73 naming the path; a second run finishes the job", async () => {
    const { ctx } = await installed();
    const remove = ctx.host.remove.bind(ctx.host);
    ctx.host = {
      ...ctx.host,
      remove: async (p, o) => {
        if (p === "/var/lib/wirebot") throw Object.assign(new Error("busy"), { code: "EBUSY" });
        return remove(p, o);
      },
    };
    await expect(uninstallCommand(ctx, { purge: true, yes: true })).rejects.toMatchObject({
      code: "uninstall.remove",
      exitCode: 73,
      message: expect.stringMatching(/cannot delete .*\/var\/lib\/wirebot: EBUSY/),
    });
    expect(left()).toContain("var/lib/wirebot/ledger.sqlite");
    expect(await uninstallCommand(testContext(root), { purge: true, yes: true })).toBe(0);
    expect(left().filter((p) => /wirebot|clawdbot|cloudflared/.test(p))).toEqual([]);
  });
});
