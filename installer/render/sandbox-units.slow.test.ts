/** Real systemd: the sandbox service's units verify, its user is created in the gateway's group, and the exposure of each unit is measured. */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveLayout } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import { main } from "../main.ts";
import { exampleText, removeDir, tempDir, testContext, WIREBOT_CMD } from "../testing/harness.ts";

let root: string;
const CONFIG = exampleText("three-users").replace(/^  - id: alice\n/m, "  - id: alice\n    trust: sandboxed\n");

function requireSystemd(): void {
  for (const tool of ["systemd-analyze", "systemd-sysusers"])
    if (spawnSync(tool, ["--version"]).status !== 0) throw new Error(`${tool} is missing: apt-get install systemd`);
}

/** The executables the units name must exist under the root for verify to pass (as in units.slow.test.ts). */
function seedExecutables(dir: string, nodeBin: string) {
  for (const bin of [nodeBin, WIREBOT_CMD.node, "/usr/bin/cloudflared", "/usr/bin/podman", "/bin/sh"]) {
    mkdirSync(path.join(dir, path.dirname(bin)), { recursive: true });
    writeFileSync(path.join(dir, bin), "#!/bin/sh\nexit 0\n");
    chmodSync(path.join(dir, bin), 0o755);
  }
  mkdirSync(path.join(dir, "usr/lib/systemd"), { recursive: true });
  cpSync("/usr/lib/systemd/system", path.join(dir, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
}

const exposure = (unit: string) => {
  const out = execFileSync("systemd-analyze", ["security", "--offline=true", `--root=${root}`, unit], { encoding: "utf8" });
  return Number(out.match(/Overall exposure level for \S+: ([\d.]+)/)?.[1]);
};

describe("the rootless podman service of sandboxed agents under systemd-analyze", () => {
  beforeAll(async () => {
    requireSystemd();
    root = tempDir("wirebot-sandbox-units-");
    const answers = path.join(root, "answers.yaml");
    expect(CONFIG).toContain("trust: sandboxed");
    writeFileSync(answers, CONFIG);
    const ctx = testContext(root);
    const code = await main(["install", "--config", answers, "--root", root, "--yes"], { io: ctx.io, context: () => ctx });
    expect(code).toBe(0);
    seedExecutables(root, resolveLayout(parseConfig(CONFIG, "c")).nodeBin);
  });
  afterAll(() => removeDir(root));

  it("systemd-analyze verify is clean for the socket, the service and the gateway that uses them", () => {
    const files = ["wirebot-sandbox.socket", "wirebot-sandbox.service", "clawdbot-gateway.service"].map((u) => path.join(root, "etc/systemd/system", u));
    const r = spawnSync("systemd-analyze", ["verify", `--root=${root}`, ...files], { encoding: "utf8" });
    expect(r.stderr.trim()).toBe("");
    expect(r.status).toBe(0);
  });

  it("systemd-sysusers creates wirebot-sandbox with the gateway's group as its primary group", () => {
    const r = spawnSync("systemd-sysusers", [`--root=${root}`, path.join(root, "etc/sysusers.d/wirebot.conf")], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const passwd = readFileSync(path.join(root, "etc/passwd"), "utf8");
    const group = readFileSync(path.join(root, "etc/group"), "utf8");
    const gid = (name: string) => group.match(new RegExp(`^${name}:x:(\\d+):`, "m"))?.[1];
    const user = passwd.match(/^wirebot-sandbox:x:(\d+):(\d+):/m);
    expect(user, passwd).not.toBeNull();
    expect(user![1]).not.toBe("0");
    expect(user![2]).toBe(gid("wirebot"));
  });

  it("the gateway with sandboxed users keeps its score; the container engine's is measured", () => {
    const gateway = exposure("clawdbot-gateway.service");
    const engine = exposure("wirebot-sandbox.service");
    console.log(`[sandbox-units] clawdbot-gateway.service ${gateway}, wirebot-sandbox.service ${engine}`);
    expect(gateway).toBeLessThanOrEqual(2.0);
    // A rootless container engine needs user namespaces, setuid newuidmap and a /proc it may remount (policy
    // in unit-policy.ts): 4.2 measured; this bound catches a regression, not the design's 2.0 for daemons.
    expect(engine).toBeLessThanOrEqual(4.5);
  });
});
