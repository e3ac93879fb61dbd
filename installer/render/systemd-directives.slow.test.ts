/** The table against this machine's real systemd: what it says 252 knows, systemd-analyze accepts; doctor's check reads the real `systemctl --version`. */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAssets } from "../assets.ts";
import { createNodeHost } from "../host/node-host.ts";
import { systemdExposureChecks } from "../lifecycle/systemd-exposure.ts";
import { parseConfig } from "../config/load.ts";
import { exampleText, removeDir, tempDir, WIREBOT_CMD } from "../testing/harness.ts";
import { renderAll } from "./index.ts";
import { droppedBy, parseSystemdVersion } from "./systemd-directives.ts";

const analyze = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
if (analyze.status !== 0) throw new Error("systemd-analyze is missing: install the systemd package (sudo bash scripts/test-prereqs.sh)");
const here = parseSystemdVersion(analyze.stdout)!;

/** What systemd prints when it drops a line or a word of it. */
const REJECTED = /Unknown key|Unknown lvalue|Failed to parse|Unknown system call group|Failed to resolve unit specifiers|Invalid/;

let root: string;
const units: { variant: string; name: string; text: string }[] = [];
beforeAll(() => {
  root = tempDir("wirebot-sdver-");
  const assets = readAssets();
  const rbw = parseConfig(exampleText("mixed"), "mixed");
  rbw.secrets = { ...rbw.secrets, backend: "rbw" };
  const variants = [
    ["mixed", parseConfig(exampleText("mixed"), "mixed"), true],
    ["plain", parseConfig(exampleText("mixed"), "mixed"), false],
    ["sandboxed", parseConfig(exampleText("three-users"), "three-users", { WIREBOT_USERS__0__TRUST: "sandboxed" }), true],
    ["rbw", rbw, true],
  ] as const;
  for (const [variant, c, enc] of variants)
    for (const r of renderAll(c, { assets, wirebot: WIREBOT_CMD, configText: "x", encryptedCredential: enc }).resources)
      if (r.kind === "file" && r.path.startsWith("/etc/systemd/system/") && r.path.endsWith(".service")) {
        const text = r.content.toString();
        units.push({ variant, name: path.basename(r.path), text });
        const file = path.join(root, variant, "etc/systemd/system", path.basename(r.path));
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, text);
      }
});
afterAll(() => removeDir(root));

const verify = (variant: string, name: string) =>
  spawnSync("systemd-analyze", ["verify", `--root=${path.join(root, variant)}`, path.join(root, variant, "etc/systemd/system", name)], { encoding: "utf8" }).stderr;

describe(`systemd ${here.major} on this machine`, () => {
  it("is a version the table says applies every line of every unit", () => {
    expect(here.major).toBeGreaterThanOrEqual(252);
    expect(units.length).toBeGreaterThanOrEqual(8);
    for (const u of units) expect(droppedBy(here, u.text).dropped, `${u.variant} ${u.name}`).toEqual([]);
  });

  it("and systemd-analyze verify drops no line or word of any unit", () => {
    for (const u of units) {
      const err = verify(u.variant, u.name);
      expect(err.split("\n").filter((l) => REJECTED.test(l)), `${u.variant} ${u.name}:\n${err}`).toEqual([]);
    }
  });

  it("while a line it does not know is reported, and the unit still loads (what systemd 239 does with ProtectClock=)", () => {
    const dir = path.join(root, "control", "etc/systemd/system");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "control.service"), "[Service]\nExecStart=/bin/true\nProtectFrobnicate=yes\nProtectHome=sideways\n");
    const r = spawnSync("systemd-analyze", ["verify", `--root=${path.join(root, "control")}`, path.join(dir, "control.service")], { encoding: "utf8" });
    expect(r.stderr).toMatch(/control\.service:3: Unknown key( name)? 'ProtectFrobnicate' in section \[Service\], ignoring/);
    expect(r.stderr).toMatch(/control\.service:4: Failed to parse protect home value, ignoring: sideways/);
    expect(r.stderr).not.toMatch(/fatal error/);
    // an unknown specifier in ExecStart= is fatal: what systemd before 251 does with %d
    writeFileSync(path.join(dir, "control.service"), "[Service]\nExecStart=/bin/true %Z/x\n");
    const f = spawnSync("systemd-analyze", ["verify", `--root=${path.join(root, "control")}`, path.join(dir, "control.service")], { encoding: "utf8" });
    expect(f.stderr).toMatch(/Failed to resolve unit specifiers in %Z\/x/);
    expect(f.stderr).toMatch(/fatal error, unit will not be started/);
    expect(f.status).not.toBe(0);
  });

  it("doctor's check, through the real `systemctl --version`, finds the same version and passes every installed unit", async () => {
    const host = createNodeHost({ root: path.join(root, "mixed"), env: {} });
    const { checks } = await systemdExposureChecks(host, { live: true });
    expect(checks.map((c) => c.name).sort()).toEqual(["clawdbot-gateway.service", "clawdbot-gateway@.service", "cloudflared-wirebot.service", "wirebot-reconcile.service", "wirebot-secrets.service"]);
    for (const c of checks) expect(c, c.name).toMatchObject({ level: "ok", data: { systemd: here.major, dropped: [] } });
  });
});
