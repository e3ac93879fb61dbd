/** Sandbox preflight: `trust: sandboxed` without podman, its helpers or the image is a configuration error (78) that says what to install. */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../config/load.ts";
import { formatError, WirebotError } from "../errors.ts";
import { createNodeHost } from "../host/node-host.ts";
import { exampleText, recordingExec, removeDir, tempDir, type ExecCall } from "../testing/harness.ts";
import type { ExecResult } from "../host/host.ts";
import { preflight } from "./preflight.ts";
import { assertSandboxReady, judgeSandbox, readSandboxFacts, type SandboxFacts } from "./sandbox.ts";

const roots: string[] = [];
afterAll(() => roots.forEach(removeDir));

/** three-users.yaml with alice sandboxed (the same override an operator's environment could give). */
const sandboxedConfig = (env: Record<string, string> = {}) => parseConfig(exampleText("three-users"), "three-users", { WIREBOT_USERS__0__TRUST: "sandboxed", ...env });
const ready: SandboxFacts = { podman: "podman version 4.3.1", initHelper: true, uidmap: true, image: true };

/** A root holding the given files, and a host whose processes answer like `answer`. */
function fakeHost(files: string[], answer: (c: ExecCall) => Partial<ExecResult>) {
  const root = tempDir("wirebot-sandbox-preflight-");
  roots.push(root);
  for (const f of files) {
    mkdirSync(path.join(root, path.dirname(f)), { recursive: true });
    writeFileSync(path.join(root, f), "#!/bin/sh\n");
  }
  const rec = recordingExec(answer);
  return { host: createNodeHost({ root, exec: rec.exec, env: { PATH: "/usr/bin:/bin", CONTAINER_HOST: "unix:///somewhere/else.sock" } }), calls: rec.calls };
}

const HELPERS = ["/usr/libexec/podman/catatonit", "/usr/bin/newuidmap", "/usr/bin/newgidmap"];
const podmanAnswers = (image: boolean) => (c: ExecCall): Partial<ExecResult> =>
  c.cmd !== "podman" ? {} : c.args[0] === "--version" ? { stdout: "podman version 4.3.1\n" } : { code: image ? 0 : 1 };

describe("sandbox preflight judgement", () => {
  it("asks nothing of a config without sandboxed users", async () => {
    const c = parseConfig(exampleText("three-users"), "three-users");
    const { host, calls } = fakeHost([], () => ({ code: 127 }));
    expect(await readSandboxFacts(host, c)).toBeNull();
    expect(judgeSandbox(c, null)).toEqual([]);
    expect(calls).toEqual([]);
  });

  it("passes when podman, its init helper, uidmap and the image are all there", () => {
    expect(judgeSandbox(sandboxedConfig(), ready)).toEqual([]);
  });

  it("names what to install when podman is missing, and nothing else", () => {
    const issues = judgeSandbox(sandboxedConfig(), { podman: null, initHelper: false, uidmap: false, image: null });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe("users[0].trust");
    expect(issues[0]!.message).toContain("'alice'");
    expect(issues[0]!.message).toContain("apt-get install podman runc catatonit uidmap");
  });

  it("names the init helper, uidmap and the image with the recipe to build it", () => {
    const issues = judgeSandbox(sandboxedConfig({ WIREBOT_SANDBOX__IMAGE: "localhost/other:1" }), { podman: "podman version 4.3.1", initHelper: false, uidmap: false, image: false });
    expect(issues.map((i) => i.path)).toEqual(["users[0].trust", "users[0].trust", "sandbox.image"]);
    expect(issues[0]!.message).toContain("apt-get install catatonit");
    expect(issues[1]!.message).toContain("apt-get install uidmap");
    expect(issues[2]!.message).toContain("localhost/other:1");
    expect(issues[2]!.message).toContain("scripts/sandbox-image.sh");
  });

  it("refuses 'sandboxed' for a dedicated user even on a ready host", () => {
    const c = parseConfig(exampleText("mixed"), "mixed", { WIREBOT_USERS__2__TRUST: "sandboxed" });
    expect(c.users[2]!.mode).toBe("dedicated");
    expect(judgeSandbox(c, ready).map((i) => [i.path, i.message.slice(0, 40)])).toEqual([["users[2].trust", "'sandboxed' is for users of the shared g"]]);
  });
});

describe("sandbox facts and the error", () => {
  it("finds podman on PATH, the helpers as files and the image in root's own store", async () => {
    const { host, calls } = fakeHost(HELPERS, podmanAnswers(true));
    expect(await readSandboxFacts(host, sandboxedConfig())).toEqual({ podman: "podman version 4.3.1", initHelper: true, uidmap: true, image: true });
    expect(calls.map((c) => `${c.cmd} ${c.args.join(" ")}`)).toEqual(["podman --version", "podman image exists localhost/wirebot-sandbox:bookworm"]);
  });

  it("exits 78 with every missing piece and the fix", async () => {
    const { host } = fakeHost(["/usr/bin/newuidmap"], podmanAnswers(false));
    const err = await assertSandboxReady(host, sandboxedConfig()).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WirebotError);
    const w = err as WirebotError;
    expect(w.exitCode).toBe(78);
    expect(w.code).toBe("sandbox.unavailable");
    const text = formatError(w);
    expect(text).toContain("apt-get install catatonit");
    expect(text).toContain("apt-get install uidmap");
    expect(text).toContain("sandbox.image: the sandbox image localhost/wirebot-sandbox:bookworm is not in podman's image store");
    expect(text).toContain("fix: apt-get install podman runc catatonit uidmap; then scripts/sandbox-image.sh");
  });

  it("a missing podman (exit 127 from the host) is the runtime missing, and no image lookup is tried", async () => {
    const { host, calls } = fakeHost(HELPERS, () => ({ code: 127, stderr: "spawn podman ENOENT" }));
    await expect(assertSandboxReady(host, sandboxedConfig())).rejects.toThrow(/needs a container runtime and the sandbox image/);
    expect(calls.map((c) => c.args[0])).toEqual(["--version"]);
  });

  it("install's preflight runs it: a sandboxed user on a host without podman is refused with 78", async () => {
    // Ports nobody listens on, so the host part of preflight passes and the sandbox part decides.
    const c = sandboxedConfig({ WIREBOT_GATEWAY__PORT: "1031", WIREBOT_METERING__API__PORT: "1029", WIREBOT_GATEWAY__DEDICATED_PORT_BASE: "1200" });
    const { host } = fakeHost(HELPERS, (call) => (call.cmd === "systemctl" ? { stdout: "systemd 252 (252.39-1~deb12u1)\n" } : { code: 127 }));
    mkdirSync(host.resolve("/etc"), { recursive: true });
    writeFileSync(host.resolve("/etc/os-release"), 'ID=debian\nVERSION_ID="12"\n');
    mkdirSync(host.resolve("/proc"), { recursive: true });
    writeFileSync(host.resolve("/proc/meminfo"), "MemTotal:       16000000 kB\n");
    const err = await preflight(host, c).then(
      () => null,
      (e: unknown) => e as WirebotError,
    );
    expect(err?.exitCode, err ? formatError(err) : "preflight passed").toBe(78);
    expect(err!.code).toBe("sandbox.unavailable");
  });
});
