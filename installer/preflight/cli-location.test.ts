/** A CLI the hardened units cannot see (/root, /home, /tmp, …) is refused live (69, before the host is touched) and a warning under --root. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { converge } from "../pipeline/converge.ts";
import type { CommandContext } from "../pipeline/context.ts";
import { parseConfig } from "../config/load.ts";
import { captureIo } from "../io.ts";
import { exampleText, recordingExec, removeDir, snapshotTree, tempDir, testContext, WIREBOT_CMD } from "../testing/harness.ts";
import { checkCliLocation, judgeCliLocation } from "./cli-location.ts";
import { preflight } from "./preflight.ts";

const at = (entry: string, node = "/usr/bin/node") => ({ node, entry, version: "0.1.0" });

describe("judgeCliLocation", () => {
  it.each([
    ["/root/wirebot/bin/wirebot.js", "ProtectHome=yes"],
    ["/home/dana/src/wirebot/bin/wirebot.js", "ProtectHome=yes"],
    ["/run/user/0/wirebot/bin/wirebot.js", "ProtectHome=yes"],
    ["/tmp/wirebot/bin/wirebot.js", "PrivateTmp=yes"],
    ["/var/tmp/wirebot/bin/wirebot.js", "PrivateTmp=yes"],
  ])("refuses an entry at %s (%s)", (entry, by) => {
    const [issue, ...rest] = judgeCliLocation(at(entry));
    expect(rest).toEqual([]);
    expect(issue).toMatchObject({ path: "wirebot entry" });
    expect(issue!.message).toContain(`${entry} is under`);
    expect(issue!.message).toContain(`(${by})`);
    expect(issue!.message).toMatch(/packaged wirebot \(\/opt\/wirebot\/lib\).*npm install/);
  });

  it("refuses a Node under a home directory (nvm), and names both when both are hidden", () => {
    const issues = judgeCliLocation(at("/root/wirebot/bin/wirebot.js", "/root/.nvm/versions/node/v20.19.0/bin/node"));
    expect(issues.map((i) => i.path)).toEqual(["wirebot node", "wirebot entry"]);
    expect(issues[0]!.message).toMatch(/system Node/);
  });

  it.each(["/usr/lib/node_modules/wirebot/bin/wirebot.js", "/usr/local/lib/node_modules/wirebot/bin/wirebot.js", "/opt/wirebot/lib/bin/wirebot.js", "/srv/wirebot/bin/wirebot.js", "/rootless/wirebot.js", "/tmpx/wirebot.js"])(
    "accepts %s",
    (entry) => expect(judgeCliLocation(at(entry))).toEqual([]),
  );
});

describe("checkCliLocation", () => {
  it("live: throws the preflight error (69) with the reason and the fix", () => {
    const io = captureIo();
    let err: unknown;
    try {
      checkCliLocation(at("/root/wirebot/bin/wirebot.js"), true, io);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ kind: "preflight", code: "preflight.cli-location", exitCode: 69, issues: [{ path: "wirebot entry" }] });
    expect((err as { hint: string }).hint).toMatch(/apt install \.\/wirebot_<version>_amd64\.deb.*\/opt\/wirebot.*npm install -g .*\/usr\/lib or \/usr\/local\/lib.*nothing was changed/);
    expect(io.stderr).toEqual([]);
  });

  it("--root: a warning on stderr, no error", () => {
    const io = captureIo();
    checkCliLocation(at("/tmp/x/bin/wirebot.js"), false, io);
    expect(io.stdout).toEqual([]);
    expect(io.stderr.join("\n")).toMatch(/^! warning: the rendered units run wirebot from a place their sandbox hides/);
    expect(io.stderr.join("\n")).toMatch(/\/tmp\/x\/bin\/wirebot\.js is under \/tmp.*PrivateTmp=yes/);
    expect(io.stderr.join("\n")).toMatch(/fix: install the wirebot package/);
  });
});

describe("wired into install and apply", () => {
  let root: string;
  beforeEach(() => (root = tempDir()));
  afterEach(() => removeDir(root));
  const config = () => parseConfig(exampleText("one-user"), "one-user");

  it("a live converge (apply, user add, upgrade, restore) from /root is refused, and nothing is written", async () => {
    const rec = recordingExec();
    const base = testContext(root, { exec: rec.exec });
    // Live as far as converge can tell, while every path still lands in the temp dir.
    const ctx: CommandContext = { ...base, live: true, wirebot: at("/root/wirebot/bin/wirebot.js") };
    await expect(converge(ctx, config(), exampleText("one-user"), { yes: true })).rejects.toMatchObject({ code: "preflight.cli-location", exitCode: 69 });
    // Only the apply lock's tmpfs directory (lifecycle/lock.ts), which a live host has anyway.
    expect(Object.keys(snapshotTree(root)).filter((p) => !/^run(\/wirebot)?$/.test(p))).toEqual([]);
    expect(rec.calls).toEqual([]);
  });

  it("converge under --root warns and renders", async () => {
    const ctx = { ...testContext(root), wirebot: at("/home/dana/wirebot/bin/wirebot.js") };
    const r = await converge(ctx, config(), exampleText("one-user"), { yes: true });
    expect(r.changed).toBe(true);
    expect(ctx.io.stderr.join("\n")).toMatch(/! warning: the rendered units run wirebot from a place their sandbox hides/);
    expect(snapshotTree(root)["etc/systemd/system/wirebot-secrets.service"]).toBeDefined();
  });

  it("install's preflight lists it with the host's other problems", async () => {
    const ctx = testContext(root);
    await expect(preflight(ctx.host, config(), at("/root/wirebot/bin/wirebot.js"))).rejects.toMatchObject({
      code: "preflight.failed",
      issues: expect.arrayContaining([expect.objectContaining({ path: "wirebot entry" })]),
    });
    // The harness's CLI lives under /usr/lib: nothing to say about it.
    const err = await preflight(ctx.host, config(), WIREBOT_CMD).then(
      () => null,
      (e: { issues: { path: string }[] }) => e,
    );
    expect(err?.issues.map((i) => i.path)).not.toContain("wirebot entry");
  });
});
