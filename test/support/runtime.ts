/** Slow-test support: one cached real OpenClaw runtime per machine, and real gateways started on loopback. */
import { spawn, type ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import net from "node:net";
import path from "node:path";
import { AGENT_KEYS_PROVIDER, resolveLayout } from "../../installer/config/layout.ts";
import { ConfigSchema, type Config } from "../../installer/config/schema.ts";
import { createNodeHost } from "../../installer/host/node-host.ts";
import type { Io } from "../../installer/io.ts";
import { buildRuntimeEnv } from "../../installer/runtime/openclaw-cli.ts";
import { provisionRuntime } from "../../installer/runtime/provision.ts";

/** Real (absolute, on this machine) paths of a provisioned runtime. */
export interface TestRuntime {
  /** The host root the runtime was provisioned under; `runtimeDir` = root + /opt/wirebot/runtime/… */
  root: string;
  runtimeDir: string;
  nodeBin: string;
  gatewayEntry: string;
  version: string;
  node: string;
}

const DEFAULTS = ConfigSchema.shape.runtime.parse({});
const memo = new Map<string, Promise<TestRuntime>>();

export const testCacheDir = (env: NodeJS.ProcessEnv = process.env) => env.WIREBOT_TEST_CACHE ?? "/var/cache/wirebot-test";

/** A minimal valid Config around a runtime pin, for code that needs a whole Config. */
export function runtimeTestConfig(version = DEFAULTS.version, node = DEFAULTS.node): Config {
  return ConfigSchema.parse({
    domain: "wirebot.example.org",
    runtime: { package: "openclaw", version, node },
    litellm: { baseUrl: "http://127.0.0.1:4000", models: ["gpt-4o-mini"], defaultModel: "gpt-4o-mini" },
    secrets: { backend: "file", file: { path: "/etc/wirebot/test-secrets.env" } },
    users: [{ id: "tester", name: "Tester" }],
  });
}

/**
 * Provisions openclaw@version once per machine (about 40 s cold) into
 * `<cache>/runtime/openclaw-<version>/opt/wirebot/runtime/openclaw-<version>`, through the real
 * provisionRuntime, so every slow test also exercises the installer's code path. A lock file keeps
 * parallel test processes from installing twice; provisionRuntime's marker makes later calls instant.
 */
export function getTestRuntime(opts: { version?: string; node?: string } = {}): Promise<TestRuntime> {
  const version = opts.version ?? DEFAULTS.version;
  const node = opts.node ?? DEFAULTS.node;
  const key = `${version}/${node}`;
  let p = memo.get(key);
  if (!p) {
    p = provisionCached(version, node);
    memo.set(key, p);
    p.catch(() => memo.delete(key));
  }
  return p;
}

async function provisionCached(version: string, node: string): Promise<TestRuntime> {
  const root = path.join(testCacheDir(), "runtime", `openclaw-${version}`);
  await fs.mkdir(root, { recursive: true });
  const config = runtimeTestConfig(version, node);
  const layout = resolveLayout(config);
  const host = createNodeHost({ root });
  await withLock(path.join(root, ".provision.lock"), () => provisionRuntime(host, config, stderrIo("[test-runtime] ")));
  return {
    root,
    runtimeDir: host.resolve(layout.runtimeDir),
    nodeBin: host.resolve(layout.nodeBin),
    gatewayEntry: host.resolve(layout.gatewayEntry),
    version,
    node,
  };
}

/** O_EXCL lock file holding the owner's pid; a lock whose owner died is taken over. */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, timeoutMs = 15 * 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await fs.open(lockPath, "wx", 0o644);
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = Number((await fs.readFile(lockPath, "utf8").catch(() => "")).trim());
      if (!Number.isInteger(owner) || owner <= 0 || !isAlive(owner)) {
        // The rename makes the takeover atomic between two waiters that both saw a dead owner.
        await fs.rename(lockPath, `${lockPath}.stale-${process.pid}`).then(() => fs.rm(`${lockPath}.stale-${process.pid}`, { force: true })).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lockPath} (held by pid ${owner})`);
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lockPath, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function stderrIo(prefix = ""): Io {
  return {
    tty: false,
    out: (l) => process.stderr.write(prefix + l + "\n"),
    err: (l) => process.stderr.write(prefix + l + "\n"),
    json: (v) => process.stderr.write(prefix + JSON.stringify(v) + "\n"),
  };
}

/** A free TCP port on 127.0.0.1 (the kernel picks it; a small race with other processes remains). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export interface StartGatewayOptions {
  runtime: Pick<TestRuntime, "nodeBin" | "gatewayEntry">;
  stateDir: string;
  configPath: string;
  /** Secrets for env refs and anything else; merged over the clean runtime env. */
  env?: Record<string, string | undefined>;
  port: number;
  /** How long to wait for /health (the gateway needs about 11–17 s). */
  readyTimeoutMs?: number;
}

export interface GatewayHandle {
  pid: number;
  port: number;
  url: string;
  /** ms from spawn to the first {"ok":true} from /health */
  readyAfterMs: number;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * Spawns `<node> <entry> gateway --port <port>` with the clean runtime env and waits for
 * `GET /health` to return JSON `{"ok":true}`: the status alone proves nothing, because unknown
 * paths return 200 with the Control UI's HTML (openclaw.md §3).
 */
export async function startGateway(o: StartGatewayOptions): Promise<GatewayHandle> {
  await placeAgentKeys(o.stateDir, o.configPath, o.env ?? {});
  // NO_RESPAWN keeps the gateway one process, so the pid we signal is the one that serves.
  const env = buildRuntimeEnv(o.runtime.nodeBin, o.stateDir, o.configPath, { OPENCLAW_NO_RESPAWN: "1", ...o.env });
  const started = Date.now();
  const child = spawn(o.runtime.nodeBin, [o.runtime.gatewayEntry, "gateway", "--port", String(o.port)], {
    env,
    cwd: o.stateDir,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // own process group: stop() reaches any helper the gateway forks
  });
  const chunks: string[] = [];
  let size = 0;
  const keep = (d: Buffer) => {
    // Logs are for failure messages only; cap them so a chatty gateway cannot eat the test's memory.
    if (size < 4_000_000) chunks.push(d.toString());
    size += d.length;
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))));
  const logs = () => chunks.join("");
  const url = `http://127.0.0.1:${o.port}`;
  const stop = () => stopChild(child, exited);

  const deadline = started + (o.readyTimeoutMs ?? 90_000);
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c));
  for (;;) {
    if (exitCode !== undefined) throw new Error(`gateway exited with ${exitCode} before /health answered; logs:\n${tail(logs())}`);
    if (await healthOk(url)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`gateway on ${url} did not answer /health with {"ok":true} within ${o.readyTimeoutMs ?? 90_000} ms; logs:\n${tail(logs())}`);
    }
    await sleep(250);
  }
  return { pid: child.pid ?? -1, port: o.port, url, readyAfterMs: Date.now() - started, logs, stop };
}

/** true only for a JSON body with ok === true. */
export async function healthOk(baseUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2_000) });
    const body = (await res.json()) as { ok?: unknown };
    return body?.ok === true;
  } catch {
    return false;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, sig);
    } catch {
      /* already gone */
    }
  };
  signal("SIGTERM");
  // Shutdown can take 325 s when a channel API is unreachable (openclaw.md §12); tests do not wait that long.
  const done = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!done) {
    signal("SIGKILL");
    await exited;
  }
}

/**
 * A shared gateway's config reads its agents' keys from /run/wirebot-gateway/agent-keys.json, which the
 * secrets pull writes on the box. Tests hand keys in as LITELLM_KEY_* variables instead: this writes them
 * as that file in the test's state dir (0600, the test's user, as the pull does for the service user) and
 * points the config's file provider there. The refs themselves stay as rendered.
 */
export async function placeAgentKeys(stateDir: string, configPath: string, env: Record<string, string | undefined>): Promise<string | null> {
  const text = await fs.readFile(configPath, "utf8");
  const doc = JSON.parse(text.replace(/^(\s*\/\/[^\n]*\n)+/, "")) as { secrets?: { providers?: Record<string, { path?: string }> } };
  const provider = doc.secrets?.providers?.[AGENT_KEYS_PROVIDER];
  if (!provider) return null;
  const keysPath = path.join(stateDir, "agent-keys.json");
  const keys = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[0].startsWith("LITELLM_KEY_") && typeof e[1] === "string"));
  await fs.writeFile(keysPath, JSON.stringify(keys) + "\n", { mode: 0o600 });
  await fs.chmod(keysPath, 0o600);
  if (provider.path !== keysPath) {
    provider.path = keysPath;
    await fs.writeFile(configPath, JSON.stringify(doc, null, 2) + "\n", { mode: 0o600 });
  }
  return keysPath;
}

const tail = (s: string, n = 60) => s.split("\n").slice(-n).join("\n");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
