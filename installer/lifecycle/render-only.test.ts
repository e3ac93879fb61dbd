/** status and doctor under --root through the CLI: only the tree is checked, the live probes are named as skipped, every fix carries --root. */
import { chmodSync, rmSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { captureIo } from "../io.ts";
import { main } from "../main.ts";
import { examplePath, recordingExec, removeDir, tempDir, testContext } from "../testing/harness.ts";
import { shellWord } from "../fix-scope.ts";

let root: string;
let rec: ReturnType<typeof recordingExec>;
beforeEach(() => {
  root = tempDir();
  rec = recordingExec();
});
afterEach(() => removeDir(root));

/** main() as the `wirebot` binary runs it, on a temp root whose processes are recorded instead of started. */
async function cli(args: string[]) {
  const io = captureIo();
  const code = await main(args, { io, context: (mainIo) => ({ ...testContext(root, { exec: rec.exec }), io: mainIo }) });
  return { code, out: io.stdout.join("\n"), err: io.stderr.join("\n") };
}

async function rendered() {
  const r = await cli(["install", "--config", examplePath("mixed"), "--root", root, "--yes"]);
  expect(r.code, r.err).toBe(0);
  rec.calls.length = 0;
}

/** the damage of the issue: one mode changed, one file deleted */
function damage() {
  chmodSync(path.join(root, "data/wirebot/users/alice"), 0o755);
  rmSync(path.join(root, "etc/systemd/system/wirebot-reconcile.service"));
}

const SKIPPED_STATUS = ["unit", "gateway", "port", "tunnel", "secrets", "metering", "budget"];

describe("status --root and doctor --root: render-only", () => {
  it("a fresh render is healthy: plan and modes checked, every live probe listed as skipped, nothing run on this machine", async () => {
    await rendered();
    const status = await cli(["status", "--root", root]);
    expect(status.code, status.out).toBe(0);
    expect(status.out).toContain(`${root} (render-only: files, modes, owners and the plan; live probes skipped)`);
    expect(status.out).toMatch(/Config drift:\n {2}\[ok {2}\] managed files\s+every managed file matches wirebot\.yaml \(the plan is empty\)/);
    expect(status.out).toMatch(/Permissions:\n {2}\[ok {2}\] state, ledger, secrets\s+\d+ path\(s\) have the right mode and owner/);
    expect(status.out).toMatch(/\[skip\] Units: wirebot-secrets\.service, clawdbot-gateway\.service, clawdbot-gateway@erin\.service, wirebot-reconcile\.service, cloudflared-wirebot\.service: /);
    expect(status.out).toMatch(/\[skip\] Ports: 18789, 18920, 8100: /);
    expect(status.out).toContain("All checks passed (7 live probe(s) skipped).");
    expect(status.out).not.toMatch(/FAIL|no answer|nothing listening|this host has/);

    const doctor = await cli(["doctor", "--root", root, "--json"]);
    expect(doctor.code).toBe(0);
    const doc = JSON.parse(doctor.out);
    expect(doc).toMatchObject({ ok: true, outcome: "healthy", root, renderOnly: true, issues: [], hints: [] });
    expect(doc.checks.map((c: { area: string }) => c.area)).toEqual(["drift", "permissions"]);
    const skipped = doc.skipped.map((s: { area: string; name: string }) => `${s.area}:${s.name}`);
    expect(skipped).toEqual([...SKIPPED_STATUS.map((a) => expect.stringMatching(new RegExp(`^${a}:`))), "resources:memory", "resources:disk", "runtime:node", "runtime:package", "unit:hardening"]);
    // no systemctl, no node --version: nothing of this machine was asked
    expect(rec.calls).toEqual([]);
  });

  it("a damaged root: exactly the changed mode and the deleted file, each fix with --root, and that fix works", async () => {
    await rendered();
    damage();
    const status = await cli(["status", "--root", root, "--json"]);
    expect(status.code).toBe(1);
    const doc = JSON.parse(status.out);
    expect(doc.issues).toEqual([
      { path: "drift:/data/wirebot/users/alice", level: "fail", message: "changed since apply: mode 0755, want 0700" },
      { path: "drift:/etc/systemd/system/wirebot-reconcile.service", level: "fail", message: "missing" },
    ]);
    expect(doc.hints.length).toBeGreaterThan(0);
    for (const h of doc.hints) expect(h).toContain(`wirebot apply --root ${root}`);
    expect((await cli(["status", "--root", root])).out).toContain(`Run \`wirebot doctor --root ${root}\` for fixes.`);

    const doctor = await cli(["doctor", "--root", root]);
    expect(doctor.code).toBe(1);
    expect(doctor.out).toMatch(/\[FAIL\] \/data\/wirebot\/users\/alice\s+changed since apply: mode 0755, want 0700\n\s+fix: wirebot apply --root \S+ \(hand edits/);
    expect(doctor.out).toMatch(/\[FAIL\] \/etc\/systemd\/system\/wirebot-reconcile\.service\s+missing\n\s+fix: wirebot apply --root \S+ \(writes it again\)/);
    expect(doctor.out).toContain("2 problem(s), 0 warning(s) (12 live probe(s) skipped).");
    const fixes = doctor.out.split("\n").filter((l) => l.trim().startsWith("fix:"));
    expect(fixes).toHaveLength(2);
    for (const f of fixes) expect(f).toContain(`--root ${root}`);
    expect(rec.calls).toEqual([]);

    expect((await cli(["apply", "--root", root, "--yes"])).code).toBe(0);
    expect((await cli(["status", "--root", root])).code).toBe(0);
  });

  it("a root with a space and a --config: fixes quote the root and carry the same --config", async () => {
    removeDir(root);
    root = tempDir("wirebot render only-");
    await rendered();
    damage();
    const cfg = examplePath("mixed");
    const doctor = await cli(["doctor", "--root", root, "--config", cfg, "--json"]);
    expect(doctor.code).toBe(1);
    const { hints } = JSON.parse(doctor.out) as { hints: string[] };
    expect(shellWord(root)).toBe(`'${root}'`);
    expect(hints).toEqual([
      `wirebot apply --root '${root}' --config ${cfg} (hand edits are overwritten: put the change in wirebot.yaml instead)`,
      `wirebot apply --root '${root}' --config ${cfg} (writes it again)`,
    ]);
  });
});
