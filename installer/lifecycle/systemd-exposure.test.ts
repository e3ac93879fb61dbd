/** doctor's systemd check on an installed temp root, with `systemctl --version` answered as RHEL 8, Ubuntu 22.04, Debian 11 or 12, or a broken host would. */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { doctorCommand } from "../commands/doctor.ts";
import { captureIo } from "../io.ts";
import { main } from "../main.ts";
import { examplePath, recordingExec, removeDir, tempDir, testContext, type ExecCall } from "../testing/harness.ts";
import type { Check } from "./report.ts";
import { systemdExposureChecks } from "./systemd-exposure.ts";

let root: string;
beforeEach(async () => {
  root = tempDir();
  const ctx = testContext(root, { exec: recordingExec().exec });
  const code = await main(["install", "--config", examplePath("mixed"), "--root", root, "--yes"], { io: ctx.io, context: () => ctx });
  expect(code).toBe(0);
});
afterEach(() => removeDir(root));

const put = (p: string, content: string) => {
  mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
  writeFileSync(path.join(root, p), content);
};

/** A host whose systemctl answers --version with `out` (exit `code`). */
function host(out: string, code = 0) {
  const rec = recordingExec((c: ExecCall) => (c.cmd === "systemctl" && c.args[0] === "--version" ? { code, stdout: out } : {}));
  return { host: testContext(root, { exec: rec.exec }).host, rec };
}

const byName = (checks: Check[]): Record<string, Check> => Object.fromEntries(checks.map((c) => [c.name, c]));

describe("systemdExposureChecks on a live host", () => {
  it("systemd 252 (Debian 12): every installed unit ok, nothing else judged", async () => {
    const { host: h, rec } = host("systemd 252 (252.39-1~deb12u2)\n+PAM +AUDIT\n");
    const { checks, skipped } = await systemdExposureChecks(h, { live: true });
    expect(skipped).toEqual([]);
    expect(rec.calls).toEqual([{ cmd: "systemctl", args: ["--version"] }]);
    expect(checks.map((c) => c.name).sort()).toEqual(["clawdbot-gateway.service", "clawdbot-gateway@.service", "cloudflared-wirebot.service", "wirebot-reconcile.service", "wirebot-secrets.service"]);
    for (const c of checks) {
      expect(c.level, c.name).toBe("ok");
      expect(c.summary).toBe("systemd 252 applies every line of this unit");
    }
  });

  it("systemd 239 on AlmaLinux 8.10: the gateways warn with what they lose, the credential units fail, each with the version that fixes it", async () => {
    put("etc/os-release", 'NAME="AlmaLinux"\nID="almalinux"\nVERSION_ID="8.10"\n');
    const { host: h } = host("systemd 239 (239-82.el8_10.2)\n+PAM +AUDIT\n");
    const c = byName((await systemdExposureChecks(h, { live: true })).checks);
    const gw = c["clawdbot-gateway.service"]!;
    expect(gw.level).toBe("warn");
    // Type=exec (8.1) and RestrictSUIDSGID= (8.2) are backported on 8.10: not listed
    expect(gw.summary).toBe("systemd 239 (RHEL 8.10) ignores ProtectKernelLogs= (244), ProtectClock= (245), ProtectHostname= (242), ProtectProc= (247), so it runs with less isolation than rendered; does not know OOMPolicy= (243)");
    expect(gw.fix).toMatch(/^every line of this unit needs systemd >= 247: .*docs\/systemd-versions\.md\)$/);
    expect(gw.data).toMatchObject({ systemd: 239, rhel8Minor: 10, needs: 247, unknown: [] });
    const rec = c["wirebot-reconcile.service"]!;
    expect(rec.level).toBe("fail");
    expect(rec.summary).toMatch(/^systemd 239 \(RHEL 8\.10\) cannot run it as rendered: LoadCredential= \(247\), \$\{CREDENTIALS_DIRECTORY\} \(247\); ignores ProtectKernelLogs= \(244\), .*ProtectProc= \(247\), so it runs with less isolation than rendered$/);
    expect(rec.fix).toMatch(/^every line of this unit needs systemd >= 247: /);
    expect(c["wirebot-secrets.service"]).toMatchObject({ level: "fail", summary: expect.stringContaining("LoadCredentialEncrypted= (250)") });
  });

  it("systemd 249 (Ubuntu 22.04) and 247 (Debian 11): every installed unit ok, the encrypted bootstrap credential aside (250)", async () => {
    for (const [out, v] of [["systemd 249 (249.11-0ubuntu3.12)\n", 249], ["systemd 247 (247.3-7+deb11u5)\n", 247]] as const) {
      const c = byName((await systemdExposureChecks(host(out).host, { live: true })).checks);
      for (const name of ["clawdbot-gateway.service", "clawdbot-gateway@.service", "cloudflared-wirebot.service", "wirebot-reconcile.service"]) expect(c[name], `${v} ${name}`).toMatchObject({ level: "ok" });
      // the install under --root stored no token, so the unit asks for the systemd-creds one, which needs 250
      expect(c["wirebot-secrets.service"]).toMatchObject({ level: "fail", summary: `systemd ${v} cannot run it as rendered: LoadCredentialEncrypted= (250)`, fix: expect.stringMatching(/^every line of this unit needs systemd >= 250: /) });
    }
  });

  it("a unit an earlier wirebot installed (%d, ProcSubset=pid) fails on 249 with `wirebot apply` as the fix, and passes once rendered again", async () => {
    const file = path.join(root, "etc/systemd/system/wirebot-reconcile.service");
    const current = readFileSync(file, "utf8");
    writeFileSync(file, current.replace("${CREDENTIALS_DIRECTORY}", "%d").replace(/^ProtectProc=invisible$/m, "ProtectProc=invisible\nProcSubset=pid"));
    const rec = byName((await systemdExposureChecks(host("systemd 249 (249.11-0ubuntu3.12)\n").host, { live: true })).checks)["wirebot-reconcile.service"]!;
    expect(rec.level).toBe("fail");
    expect(rec.summary).toBe("systemd 249 cannot run it as rendered: %d (251), ProcSubset=pid with ProtectKernelTunables= or ProtectKernelLogs= (250)");
    expect(rec.fix).toBe(
      "run `wirebot apply`: an earlier wirebot rendered this unit with %d, ProcSubset=pid with ProtectKernelTunables= or ProtectKernelLogs=; the current one renders ${CREDENTIALS_DIRECTORY} (247) instead of %d (251); ProcSubset= left at its default, which every supported systemd starts (docs/systemd-versions.md)",
    );
    writeFileSync(file, current);
    expect(byName((await systemdExposureChecks(host("systemd 249\n").host, { live: true })).checks)["wirebot-reconcile.service"]).toMatchObject({ level: "ok" });
  });

  it("systemd 239 without os-release: no backport is assumed, so Type=exec and RestrictSUIDSGID= are listed too", async () => {
    const { host: h } = host("systemd 239 (239-82.el8_10.2)\n");
    const c = byName((await systemdExposureChecks(h, { live: true })).checks);
    expect(c["wirebot-reconcile.service"]!.summary).toContain("RestrictSUIDSGID= (242)");
    expect(c["wirebot-reconcile.service"]!.summary).toContain("does not know Type=exec (240)");
  });

  it("a unit someone else wrote is never judged; a line hand-added to ours that the table lacks is named as not judged", async () => {
    put("etc/systemd/system/other.service", "[Service]\nExecStart=/bin/true\nProtectClock=yes\n");
    appendFileSync(path.join(root, "etc/systemd/system/clawdbot-gateway.service"), "\n[Service]\nPrivateIPC=yes\n");
    const { host: h } = host("systemd 252\n");
    const checks = (await systemdExposureChecks(h, { live: true })).checks;
    expect(checks.map((c) => c.name)).not.toContain("other.service");
    expect(checks).toHaveLength(5);
    expect(byName(checks)["clawdbot-gateway.service"]).toMatchObject({ level: "ok", summary: "systemd 252 applies every line of this unit; not judged (unknown to wirebot's table): PrivateIPC=" });
  });

  it("systemctl that fails or prints no version: one warning, no unit judged", async () => {
    for (const [out, code] of [["", 1], ["something else\n", 0]] as const) {
      const { host: h } = host(out, code);
      const { checks } = await systemdExposureChecks(h, { live: true });
      expect(checks).toMatchObject([{ area: "unit", name: "hardening", level: "warn", summary: `the systemd version is unknown (\`systemctl --version\` exit ${code}), so which unit lines it applies is unknown` }]);
    }
  });

  it("under --root (not live): skipped with the reason, nothing run", async () => {
    const { host: h, rec } = host("systemd 239\n");
    expect(await systemdExposureChecks(h, { live: false })).toEqual({ checks: [], skipped: [{ area: "unit", name: "hardening", reason: expect.stringContaining("systemctl --version") }] });
    expect(rec.calls).toEqual([]);
  });
});

describe("wirebot doctor", () => {
  it("live: the checks are in its --json", async () => {
    const rec = recordingExec((c: ExecCall) => (c.cmd === "systemctl" && c.args[0] === "--version" ? { stdout: "systemd 245 (245.4-4ubuntu3)\n" } : {}));
    // live, with nothing listening on loopback
    const ctx = testContext(root, { exec: rec.exec, live: true, fetch: async () => Promise.reject(new TypeError("fetch failed")), portOpen: async () => false });
    await doctorCommand(ctx, { json: true });
    const doc = JSON.parse(ctx.io.stdout.join("\n"));
    const gw = doc.checks.find((c: Check) => c.area === "unit" && c.name === "clawdbot-gateway.service" && c.data?.systemd === 245);
    expect(gw).toMatchObject({ level: "warn", summary: "systemd 245 ignores ProtectProc= (247), so it runs with less isolation than rendered" });
    expect(doc.issues).toContainEqual({ path: "unit:clawdbot-gateway.service", level: "warn", message: gw.summary });
  });

  it("--root: listed as skipped", async () => {
    const io = captureIo();
    const rec = recordingExec();
    const code = await main(["doctor", "--root", root, "--json"], { io, context: (mainIo) => ({ ...testContext(root, { exec: rec.exec }), io: mainIo }) });
    expect(code).toBe(0);
    const doc = JSON.parse(io.stdout.join("\n"));
    expect(doc.skipped).toContainEqual({ area: "unit", name: "hardening", reason: expect.any(String) });
    expect(doc.checks.filter((c: { area: string }) => c.area === "unit")).toEqual([]);
    expect(rec.calls).toEqual([]);
  });
});
