// Boots a throwaway copy of the cached rootfs with `systemd-nspawn -b`, runs commands in it, reboots it, and always tears it down.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, copyFileSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { CACHE_DIR } from "./rootfs.ts";
import { run, runOk, shq, sleep, type RunOptions, type RunResult } from "./proc.ts";

/** Per-run machine dirs live beside the cache: same filesystem, so a fallback copy can reflink where supported. */
export const MACHINES_DIR = join(CACHE_DIR, "machines");
/**
 * An overlay (cache below, per-run dir above) boots in no time and keeps every write across reboots;
 * WIREBOT_E2E_COPY=1, or a kernel without overlayfs, falls back to a full copy.
 */
const USE_OVERLAY = process.env.WIREBOT_E2E_COPY !== "1";
const BOOT_TIMEOUT_MS = 180_000;
// Gateways get TimeoutStopSec=10s and force their own exit 5 s after SIGTERM (docs/runtime.md#stopping-a-gateway);
// the margin covers systemd's own stop jobs on a loaded machine.
const STOP_TIMEOUT_MS = 120_000;
const CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface ContainerOptions {
  rootfs: string;
  name?: string;
  log?: (s: string) => void;
}

export interface ExecOptions extends Pick<RunOptions, "timeoutMs" | "input" | "echo"> {
  env?: Record<string, string>;
}

const live = new Set<Container>();
let hooked = false;

/**
 * Signals and a dying worker must not leave a booted Debian behind holding host loopback ports:
 * a synchronous kill of everything we started, then the dirs.
 */
function hookProcessExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const c of live) c.destroySync();
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.once(sig, () => {
      for (const c of live) c.destroySync();
      process.kill(process.pid, sig);
    });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Lazily unmounts whatever the host sees mounted at or under dir, deepest first. */
function unmountUnder(dir: string): void {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(dir + "/")))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync("umount", ["-l", m]);
}

/** The container's PID 1 seen from the host: the child of systemd-nspawn that became systemd. */
function findLeader(nspawnPid: number): number | null {
  for (const ent of readdirSync("/proc")) {
    if (!/^\d+$/.test(ent)) continue;
    try {
      const stat = readFileSync(`/proc/${ent}/stat`, "utf8");
      // The comm field may hold spaces and parens; the fields after the last ')' are fixed.
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(rest[1]) !== nspawnPid) continue;
      const comm = readFileSync(`/proc/${ent}/comm`, "utf8").trim();
      if (comm === "systemd" || comm === "init") return Number(ent);
    } catch {
      // raced with an exiting process
    }
  }
  return null;
}

/**
 * Kills machines a previous run left behind (its worker was SIGKILLed, say): each one's pid file names
 * its nspawn process, and we only kill a pid whose command line still names that machine dir.
 */
export function reapStale(log: (s: string) => void = () => {}): void {
  if (!existsSync(MACHINES_DIR)) return;
  for (const n of readdirSync(MACHINES_DIR)) {
    const p = join(MACHINES_DIR, n);
    if (n.endsWith(".pid")) {
      const base = p.slice(0, -4);
      const pid = Number(readFileSync(p, "utf8").trim());
      if (pid > 0 && pidAlive(pid)) {
        let cmdline = "";
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        } catch {}
        if (cmdline.includes("systemd-nspawn") && cmdline.includes(base)) {
          log(`[e2e] killing stale container ${basename(base)} (nspawn pid ${pid})`);
          const leader = findLeader(pid);
          if (leader) spawnSync("kill", ["-KILL", String(leader)]);
          spawnSync("kill", ["-KILL", String(pid)]);
        }
      }
      rmSync(p, { force: true });
    }
  }
  // With their processes gone, every machine dir left is garbage: unmount its overlay, then remove it.
  for (const n of readdirSync(MACHINES_DIR)) {
    if (n.endsWith(".pid") || n.endsWith(".log")) continue;
    const base = join(MACHINES_DIR, n);
    unmountUnder(base);
    spawnSync("rm", ["-rf", "--one-file-system", base]);
  }
}

export class Container {
  readonly name: string;
  /** Everything of this machine on the host: the overlay's upper and work dirs and the mount point. */
  readonly base: string;
  /** The container's root as the host sees it. */
  readonly dir: string;
  readonly logFile: string;
  private readonly pidFile: string;
  private nspawn: ChildProcess | null = null;
  private exited: Promise<number | null> | null = null;
  private leaderPid: number | null = null;
  private readonly log: (s: string) => void;
  private destroyed = false;

  private constructor(name: string, private readonly opts: ContainerOptions) {
    this.name = name;
    this.base = join(MACHINES_DIR, name);
    this.dir = join(this.base, "root");
    this.pidFile = `${this.base}.pid`;
    this.logFile = `${this.base}.log`;
    this.log = opts.log ?? ((s) => process.stderr.write(s + "\n"));
  }

  /** Copies the rootfs (a bare box: no Node, npm, compiler or Python), gives it the host's TLS roots, and boots it. */
  static async create(opts: ContainerOptions): Promise<{ container: Container; copyMs: number; bootMs: number }> {
    hookProcessExit();
    mkdirSync(MACHINES_DIR, { recursive: true });
    reapStale(opts.log);
    const c = new Container(opts.name ?? `wirebot-e2e-${randomBytes(3).toString("hex")}`, opts);
    live.add(c);
    try {
      const t0 = performance.now();
      await c.materialise(opts.rootfs);
      c.prepare();
      const copyMs = performance.now() - t0;
      const bootMs = await c.boot();
      return { container: c, copyMs, bootMs };
    } catch (e) {
      await c.destroy();
      throw e;
    }
  }

  private async materialise(rootfs: string): Promise<void> {
    mkdirSync(this.base);
    if (USE_OVERLAY) {
      for (const d of ["upper", "work", "root"]) mkdirSync(join(this.base, d));
      const r = await run("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${rootfs},upperdir=${this.base}/upper,workdir=${this.base}/work`, this.dir]);
      if (r.code === 0) return;
      this.log(`[e2e] overlay mount failed (${r.stderr.trim()}); copying the rootfs instead`);
      spawnSync("rm", ["-rf", join(this.base, "upper"), join(this.base, "work"), this.dir]);
    }
    await runOk("cp", ["-a", "--reflink=auto", rootfs, this.dir], { timeoutMs: 10 * 60_000 });
  }

  private prepare(): void {
    const r = (p: string) => join(this.dir, p);
    // A VPS has a stable machine id across reboots; the cache ships none.
    writeFileSync(r("etc/machine-id"), randomBytes(16).toString("hex") + "\n");
    // The only way out of this machine is through an egress proxy with its own CA: trust what the host trusts.
    copyFileSync("/etc/ssl/certs/ca-certificates.crt", r("etc/ssl/certs/ca-certificates.crt"));
    const extra = "/usr/local/share/ca-certificates";
    if (existsSync(extra)) cpSync(extra, r("usr/local/share/ca-certificates"), { recursive: true });
  }

  /** Starts systemd-nspawn and waits until systemd inside reports running (or degraded). Returns ms. */
  async boot(): Promise<number> {
    const t0 = performance.now();
    // Output to a file, not a pipe: nspawn must never block on a reader that died with the test worker.
    const fd = openSync(this.logFile, "a");
    const args = [
      "--boot",
      `--directory=${this.dir}`,
      `--machine=${this.name}`,
      // No systemd on the host: nothing to register with, no scope to create.
      "--register=no",
      "--keep-unit",
      // Host network namespace: stand-ins on the host's loopback are the container's loopback too.
      "--resolv-conf=copy-host",
      "--timezone=off",
      "--console=pipe",
      // Arguments for PID 1: status lines ("A stop job is running for …") land in the log file.
      "systemd.show_status=1",
    ];
    const child = spawn("systemd-nspawn", args, { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    this.nspawn = child;
    this.leaderPid = null;
    this.exited = new Promise((res) => child.on("exit", (code) => res(code)));
    writeFileSync(this.pidFile, `${child.pid}\n`);

    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`systemd-nspawn exited ${child.exitCode ?? child.signalCode} during boot; see ${this.logFile}:\n${this.logTail()}`);
      this.leaderPid ??= findLeader(child.pid!);
      if (this.leaderPid) {
        const r = await this.exec("systemctl is-system-running", { timeoutMs: 10_000 }).catch(() => null);
        const state = r?.stdout.trim();
        if (state === "running" || state === "degraded") {
          if (state === "degraded") {
            const failed = await this.exec("systemctl --failed --plain --no-legend --no-pager");
            this.log(`[e2e] container booted degraded; failed units:\n${failed.stdout}`);
          }
          return performance.now() - t0;
        }
      }
      await sleep(250);
    }
    throw new Error(`container ${this.name} did not finish booting in ${BOOT_TIMEOUT_MS / 1000} s; see ${this.logFile}:\n${this.logTail()}`);
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  get leader(): number {
    if (!this.leaderPid) throw new Error(`container ${this.name} is not running`);
    return this.leaderPid;
  }

  get nspawnPid(): number | undefined {
    return this.nspawn?.pid;
  }

  /**
   * Runs a /bin/bash command line inside every namespace of the container's PID 1, with a clean
   * environment: the host's variables (CI=true, npm_config_*, the proxy's) must not leak into what a
   * sysadmin's shell would see.
   */
  exec(cmd: string, opts: ExecOptions = {}): Promise<RunResult> {
    const env = {
      PATH: CONTAINER_PATH,
      HOME: "/root",
      USER: "root",
      LANG: "C.UTF-8",
      TERM: "dumb",
      // Node ignores the system store; the egress proxy's CA is in this bundle (see prepare()).
      NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt",
      SYSTEMD_PAGER: "",
      ...opts.env,
    };
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    return run("nsenter", ["--target", String(this.leader), "--all", "--", "/usr/bin/env", "-i", ...envArgs, "/bin/bash", "-c", cmd], {
      timeoutMs: opts.timeoutMs ?? 120_000,
      input: opts.input,
      echo: opts.echo,
      env: {},
    });
  }

  async execOk(cmd: string, opts: ExecOptions = {}): Promise<RunResult> {
    const r = await this.exec(cmd, opts);
    if (r.code !== 0) throw new Error(`in container: ${cmd}\nexited ${r.code ?? r.signal}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`);
    return r;
  }

  /** Copies a host file into the running container's filesystem (the dir is the container's root). */
  copyIn(hostPath: string, containerPath: string, mode = 0o644): void {
    const dest = join(this.dir, containerPath);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(hostPath, dest);
    spawnSync("chmod", [mode.toString(8), dest]);
  }

  writeFile(containerPath: string, content: string, mode = 0o600): void {
    const dest = join(this.dir, containerPath);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, content, { mode });
  }

  /** Waits for nspawn to exit after PID 1 was asked to stop; escalates to SIGTERM, then SIGKILL. */
  private async stop(how: "poweroff" | "reboot"): Promise<number | null> {
    const child = this.nspawn;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = this.exited!;
    const t0 = performance.now();
    // The request may lose its nsenter process when PID 1 starts killing everything: the exit is what counts.
    await this.exec(`systemctl ${how} --no-block`, { timeoutMs: 15_000 }).catch(() => null);
    const timeout = (ms: number) => sleep(ms).then(() => "timeout" as const);
    let r = await Promise.race([exited, timeout(STOP_TIMEOUT_MS)]);
    if (r === "timeout") {
      this.log(`[e2e] ${this.name}: ${how} took over ${STOP_TIMEOUT_MS / 1000} s; SIGTERM to nspawn`);
      child.kill("SIGTERM");
      r = await Promise.race([exited, timeout(15_000)]);
    }
    if (r === "timeout") {
      this.log(`[e2e] ${this.name}: SIGKILL`);
      if (this.leaderPid && pidAlive(this.leaderPid)) process.kill(this.leaderPid, "SIGKILL");
      child.kill("SIGKILL");
      r = await exited;
    }
    const ms = performance.now() - t0;
    if (ms > 5000) this.log(`[e2e] ${this.name}: ${how} took ${(ms / 1000).toFixed(1)} s (see the status lines in ${this.logFile})`);
    this.leaderPid = null;
    rmSync(this.pidFile, { force: true });
    return r;
  }

  /** A real reboot: PID 1 reboots, nspawn exits (133), and the same dir boots again. Returns ms until running. */
  async reboot(): Promise<number> {
    const t0 = performance.now();
    const code = await this.stop("reboot");
    if (code !== 133 && code !== 0) this.log(`[e2e] ${this.name}: nspawn exited ${code} on reboot (133 expected)`);
    await this.boot();
    return performance.now() - t0;
  }

  /** Powers off, removes the dir; safe to call twice and after a failed boot. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const t0 = performance.now();
    try {
      await this.stop("poweroff");
    } finally {
      const t1 = performance.now();
      this.removeDir();
      live.delete(this);
      const t2 = performance.now();
      this.log(`[e2e] ${this.name} torn down: poweroff ${((t1 - t0) / 1000).toFixed(1)} s, remove ${((t2 - t1) / 1000).toFixed(1)} s`);
    }
  }

  /** For process exit and signals, where nothing async runs any more. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.leaderPid && pidAlive(this.leaderPid)) spawnSync("kill", ["-KILL", String(this.leaderPid)]);
    if (this.nspawn?.pid && pidAlive(this.nspawn.pid)) spawnSync("kill", ["-KILL", String(this.nspawn.pid)]);
    this.removeDir();
    live.delete(this);
  }

  private removeDir(): void {
    // The overlay is ours; nspawn's own mounts live in its namespace, but unmounting whatever shows costs nothing.
    unmountUnder(this.base);
    // --one-file-system: should an unmount fail, rm must not walk through the overlay into anything else.
    spawnSync("rm", ["-rf", "--one-file-system", this.base]);
    rmSync(this.pidFile, { force: true });
    if (process.env.WIREBOT_E2E_KEEP_LOG !== "1") rmSync(this.logFile, { force: true });
  }

  /** What a person would look at first when a step fails: failed units and the tail of each unit's journal. */
  async diagnostics(units: readonly string[]): Promise<string> {
    if (!this.leaderPid) return "(container not running)";
    const cmd = [
      "echo '--- systemctl --failed'; systemctl --failed --no-pager --plain --no-legend",
      ...units.map((u) => `echo '--- ${u}'; systemctl status --no-pager --lines=0 ${shq(u)} 2>&1 | head -8; journalctl -b --no-pager -o short-monotonic -u ${shq(u)} | grep -v 'was not run because prior step' | tail -n 80`),
    ].join("; ");
    const r = await this.exec(cmd, { timeoutMs: 30_000 }).catch((e: Error) => ({ stdout: String(e), stderr: "" }));
    return r.stdout + r.stderr;
  }
}

export { shq };
