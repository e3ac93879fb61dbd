// Issue 5: a real Debian 12 boots under systemd-nspawn, `wirebot install` runs inside on /, and the appliance is checked through its lifecycle.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { ConfigSchema, type Config } from "../../installer/config/schema.ts";
import { litellmKeyVar, meteredAgents, PATHS, resolveLayout, userDir, workspaceDir, type Layout } from "../../installer/config/layout.ts";
import { planSecrets } from "../../installer/config/secret-plan.ts";
import { Container } from "./container.ts";
import { runOk, shq, sleep } from "./proc.ts";
import { ensureRootfs } from "./rootfs.ts";
// The project's LiteLLM stand-in (reference/litellm.md, quirks included); loopback here is the container's too.
import { startStandin as startLitellm, type Standin } from "../litellm-standin/server.ts";
import { startCloudflareStandin, type CloudflareStandin } from "../cloudflare-standin/server.ts";
import { startStandin as startBitwarden, type Standin as BitwardenStandin } from "../bitwarden-standin/server.ts";
import { replyText } from "../litellm-standin/chat.ts";
import type { ProbeStep } from "../isolation/scripted-model.ts";
import { attackVectors, envAssignments, found, probeMessage, resultsFromReply, weakenGatewayConfig, withReversed, type Needle, type Vector } from "./tenant-attack.ts";
import { startTelegramRouter, type TelegramRouter } from "../telegram-standin/router.ts";
import { startTelegramStandin, type TelegramStandin } from "../telegram-standin/server.ts";
import { writeRbwServer } from "../fake-rbw/setup.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const say = (s: string) => process.stderr.write(`[e2e] ${s}\n`);

// ---- What the lead may need to adjust when the CLI lands ------------------------------------------
const CONFIG_IN_CONTAINER = "/root/wirebot-e2e.yaml";
/**
 * The `file` backend's vault. Not under /root: the secrets unit has ProtectHome=yes, so a path there is
 * unreadable to it (EACCES, seen in this suite). Not under /etc, /data, /opt or /var either, where a
 * secret value is a leak by definition.
 */
const DEV_SECRETS = process.env.WIREBOT_E2E_DEV_SECRETS ?? "/srv/wirebot-dev/secrets.yaml";
const INSTALL = `wirebot install --config ${CONFIG_IN_CONTAINER} --yes`;
const PLAN_EMPTY = `wirebot plan --config ${PATHS.configFile} --exit-code`;
const UNINSTALL = "wirebot uninstall --yes";
const PURGE = "wirebot uninstall --purge --yes";
const BACKUP = "/root/wirebot-e2e-backup.tar.gz";
/**
 * `bitwarden` (the default, as in production: the real SDK in the container talks to the Secrets Manager
 * stand-in on the host's loopback, the access token is stored with systemd-creds) or `file` (a vault-name →
 * value YAML at DEV_SECRETS).
 */
const SECRETS_BACKEND = (process.env.WIREBOT_E2E_SECRETS ?? "bitwarden") as "file" | "bitwarden";
/**
 * A stand-in cloudflared binary (cloudflared itself cannot be downloaded on this machine): by default
 * test/e2e/cloudflared-standin.c, compiled static here (the box has no interpreter for a script), which checks
 * its config and token file and reports ready to systemd. WIREBOT_E2E_CLOUDFLARED= (empty) leaves the tunnel out.
 */
const CLOUDFLARED = process.env.WIREBOT_E2E_CLOUDFLARED ?? join(REPO, "test/e2e/cloudflared-standin.c");

/** A .c stand-in is compiled to a static ELF, like the real Go binary; anything else is used as given. */
function cloudflaredBinary(): string {
  if (!CLOUDFLARED.endsWith(".c")) return CLOUDFLARED;
  const out = join(mkdtempSync(join(tmpdir(), "wirebot-cloudflared-")), "cloudflared");
  const r = spawnSync("gcc", ["-static", "-O2", "-Wall", "-Werror", "-o", out, CLOUDFLARED], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`cannot compile the cloudflared stand-in (gcc and libc6-dev are installed by scripts/e2e.sh): ${r.stderr || r.error}`);
  return out;
}
/**
 * The container shares the host's network namespace (so it reaches the host's loopback stand-ins),
 * so its units bind the host's loopback too: ports away from the defaults (18789, 18800, 8100) keep
 * it clear of a developer's gateway or the slow suite's.
 */
const PORTS = { gateway: 28789, dedicatedBase: 28900, reconcile: 28100 };

/** What a bare VPS lacks and the .deb must not need (issue 15, point 5). */
const BARE_BOX_ABSENT = ["node", "nodejs", "npm", "npx", "g++", "gcc", "cc", "make", "python3", "python"];
const VERSION: string = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).version;

/**
 * The package under test: WIREBOT_E2E_DEB (CI passes the one the slow suite built in the same run), else
 * `npm run package:deb` now (minutes).
 */
function packageDeb(): string {
  const given = process.env.WIREBOT_E2E_DEB;
  if (given) return resolve(given);
  const t0 = performance.now();
  const r = spawnSync("npm", ["run", "--silent", "package:deb"], { cwd: REPO, stdio: ["ignore", "inherit", "inherit"], timeout: 20 * 60_000 });
  if (r.status !== 0) throw new Error(`npm run package:deb failed (exit ${r.status ?? r.signal})`);
  say(`built the .deb in ${secs(performance.now() - t0)}`);
  return join(REPO, `dist/pkg/wirebot_${VERSION}_amd64.deb`);
}

/**
 * A second build with a higher version: the first one repacked with `version` in DEBIAN/control and in the
 * CLI's package.json (what `wirebot --version` prints and the reconcile unit records). Returns its path in a
 * temp dir the caller removes.
 */
function bumpedDeb(from: string, version: string): string {
  const dir = mkdtempSync(join(tmpdir(), "wirebot-deb-bump-"));
  const tree = join(dir, "tree");
  const sh = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  };
  sh("dpkg-deb", ["-R", from, tree]);
  const control = join(tree, "DEBIAN/control");
  writeFileSync(control, readFileSync(control, "utf8").replace(/^Version: .*$/m, `Version: ${version}`));
  const pkgJson = join(tree, "opt/wirebot/lib/package.json");
  writeFileSync(pkgJson, readFileSync(pkgJson, "utf8").replace(/"version": "[^"]+"/, `"version": "${version}"`));
  const md5sums = join(tree, "DEBIAN/md5sums");
  if (existsSync(md5sums)) sh("sh", ["-c", `cd ${shq(tree)} && find opt usr -type f -print0 | sort -z | xargs -0 md5sum > DEBIAN/md5sums`]);
  const out = join(dir, `wirebot_${version}_amd64.deb`);
  // gzip -1: this build only has to be installable, and xz would cost a minute.
  sh("dpkg-deb", ["--build", "--root-owner-group", "-Zgzip", "-z1", tree, out]);
  rmSync(tree, { recursive: true, force: true });
  return out;
}

/** Commands the install story runs inside the container, directly or through the units it writes. */
const NEEDED_COMMANDS = ["install", "plan", "secrets", "reconcile", "uninstall"];

/** Sync, at collection time, because it.skip must be decided before any test runs. */
function installReadiness(): { ready: boolean; reason: string } {
  if (process.env.WIREBOT_E2E_SKIP_INSTALL === "1") return { ready: false, reason: "WIREBOT_E2E_SKIP_INSTALL=1" };
  if (process.env.WIREBOT_E2E_FORCE_INSTALL === "1") return { ready: true, reason: "" };
  if (!existsSync(join(REPO, "installer/main.ts"))) return { ready: false, reason: "installer/main.ts does not exist yet" };
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", "const m = await import('./installer/main.ts'); await m.runMain(['--help']);"], {
    cwd: REPO,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  const out = `${r.stdout}${r.stderr}`;
  const listed = new Set([...out.matchAll(/^\s{2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]));
  const missing = NEEDED_COMMANDS.filter((cmd) => !listed.has(cmd));
  if (missing.length) return { ready: false, reason: `\`wirebot --help\` lists no ${missing.join(", ")} command yet (the units and the lifecycle steps need them)` };
  return { ready: true, reason: "" };
}
const readiness = installReadiness();
if (!readiness.ready) say(`SKIPPING the install steps: ${readiness.reason}. Set WIREBOT_E2E_FORCE_INSTALL=1 to run them anyway.`);
const itInstall = readiness.ready ? it : it.skip;
if (!CLOUDFLARED) say("SKIPPING the tunnel: WIREBOT_E2E_CLOUDFLARED is empty (cloudflared itself cannot be downloaded here).");
else say(`the tunnel runs a STAND-IN cloudflared (${CLOUDFLARED}): cloudflared cannot be downloaded here; the Cloudflare API is the local stand-in`);

// ---- The desired state the test installs: two shared users and one dedicated user ---------------
function buildConfig(litellmUrl: string, bitwarden: { organizationId: string; projectId: string; serverUrl: string } | null, telegramApiRoot: string): { yaml: string; config: Config; layout: Layout } {
  const raw = parseYaml(readFileSync(join(REPO, "examples/mixed.yaml"), "utf8")) as Record<string, any>;
  // Telegram itself is unreachable here: the bots are stand-ins on the host's loopback.
  raw.channels = { telegram: { apiRoot: telegramApiRoot } };
  raw.gateway = { port: PORTS.gateway, dedicatedPortBase: PORTS.dedicatedBase };
  raw.metering = { ...raw.metering, api: { port: PORTS.reconcile } };
  raw.litellm = { ...raw.litellm, baseUrl: litellmUrl };
  if (SECRETS_BACKEND === "file") raw.secrets = { backend: "file", file: { path: DEV_SECRETS }, map: raw.secrets.map };
  else raw.secrets = { backend: "bitwarden", bitwarden, map: raw.secrets.map };
  raw.tunnel = { ...raw.tunnel, enabled: Boolean(CLOUDFLARED), ...(CLOUDFLARED ? { access: { enabled: true, emails: ["ops@example.org"] } } : {}) };
  // helm-erin behind Access admits erin's own address only
  raw.users = raw.users.map((u: Record<string, unknown>) => (u["id"] === "erin" ? { ...u, email: "erin@example.org" } : u));
  // the optional drift check, so its unit runs here under real systemd
  raw.drift = { schedule: "hourly" };
  const config = ConfigSchema.parse(raw);
  const users = config.users.map((u) => u.mode ?? config.mode);
  if (users.filter((m) => m === "shared").length !== 2 || users.filter((m) => m === "dedicated").length !== 1)
    throw new Error("examples/mixed.yaml no longer has two shared users and one dedicated user; the e2e needs that shape");
  return { yaml: stringifyYaml(raw), config, layout: resolveLayout(config) };
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createNetServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/**
 * Per-step times from the install's own output: JSON log lines carrying a step name and a duration,
 * or text lines ending in "(1.23 s)" / "123 ms". Whatever format the CLI settles on, one of these
 * should hold; if none does the figure says so instead of inventing numbers.
 */
export function parseStepTimes(output: string): { step: string; ms: number }[] {
  const steps: { step: string; ms: number }[] = [];
  for (const line of output.split("\n")) {
    const t = line.trim();
    if (t.startsWith("{")) {
      try {
        const o = JSON.parse(t) as Record<string, unknown>;
        const step = o.step ?? o.phase;
        const ms = o.ms ?? o.durationMs ?? o.elapsedMs;
        if (typeof step === "string" && typeof ms === "number") steps.push({ step, ms });
      } catch {}
      continue;
    }
    const m = /^(?:[✓✔✗✘•*-]\s*)?(.+?)\s*[(\[]?\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*[)\]]?$/.exec(t);
    if (m && m[1] && m[2]) steps.push({ step: m[1].replace(/[\s.:…-]+$/, "").replace(/:\s*done$/, ""), ms: Number(m[2]) * (m[3] === "s" ? 1000 : 1) });
  }
  return steps;
}

describe("wirebot on a booted Debian 12 (systemd-nspawn)", () => {
  let c: Container;
  let litellm: Standin | null = null;
  let cloudflare: CloudflareStandin | null = null;
  let bitwarden: BitwardenStandin | null = null;
  /** One Bot API stand-in per bot (the shared gateway's and erin's own), behind one apiRoot. */
  const bots = new Map<string, TelegramStandin>();
  let telegram: TelegramRouter | null = null;
  /** The machine account's access token: given to the first install only, which stores it with systemd-creds. */
  let bwsToken: string | null = null;
  /** The install reaches the Cloudflare API stand-in on the host's loopback. */
  const installEnv = (): Record<string, string> => (cloudflare ? { CLOUDFLARE_BASE_URL: cloudflare.baseURL } : {});
  const masterKey = `sk-e2e-master-${randomBytes(12).toString("hex")}`;
  const figures: Record<string, string> = {};
  let plan: ReturnType<typeof buildConfig>;
  /** vault name → value; every value is unique, so finding one in a file is proof it leaked there. */
  const vault = new Map<string, string>();
  let packed = false;
  /** the .deb installed first (the upgrade step repacks it with a higher version) */
  let deb = "";
  let installed = false;
  /** alice's ledger line after her Telegram turn, to compare with the restored appliance's */
  let aliceLedger: { requests: number; spendNusd: number } | null = null;
  /** start of the last LiteLLM call in aliceLedger: her later calls (the attack's turns) come after the backup */
  let aliceLedgerUpTo = 0;

  /**
   * One step of the install story. A step whose prerequisite failed is skipped with the reason rather
   * than failed again (one red line, not twelve), and a failing step prints what a person would look at.
   */
  function step(name: string, needs: "packed" | "installed" | null, fn: () => Promise<void>): void {
    itInstall(name, async (ctx) => {
      if (needs === "packed" && !packed) ctx.skip("the project was not packed and installed in the container");
      if (needs === "installed" && !installed) ctx.skip("`wirebot install` did not succeed");
      ctx.onTestFailed(async () => {
        say(`diagnostics after "${name}":\n${await c.diagnostics(plan ? units() : ["wirebot-secrets.service"])}`);
      });
      await fn();
    });
  }

  beforeAll(async () => {
    for (const [k, p] of Object.entries(PORTS))
      if (!(await portFree(p))) throw new Error(`host loopback port ${p} (${k}) is taken; the container shares the host network, so its Wirebot units would clash`);
    const fs = await ensureRootfs(say);
    figures[fs.cached ? "rootfs (cached)" : "rootfs build (debootstrap)"] = secs(fs.ms);
    const made = await Container.create({ rootfs: fs.path, log: (s) => process.stderr.write(s + "\n") });
    c = made.container;
    figures["rootfs overlay/copy + prepare"] = secs(made.copyMs);
    figures["boot to running"] = secs(made.bootMs);
    say(`container ${c.name} up: overlay/copy ${secs(made.copyMs)}, boot ${secs(made.bootMs)} (leader pid ${c.leader})`);
  });

  afterAll(async () => {
    await c?.destroy();
    await litellm?.close();
    await cloudflare?.stop();
    await bitwarden?.close();
    await telegram?.close();
    for (const b of bots.values()) await b.close();
    say("figures:\n" + Object.entries(figures).map(([k, v]) => `  ${k.padEnd(34)} ${v}`).join("\n"));
  });

  // ---- The harness itself -----------------------------------------------------------------------
  it("boots with systemd as PID 1", async () => {
    const r = await c.execOk("readlink /proc/1/exe; ps -p 1 -o comm=; systemctl is-system-running || true");
    const [exe, comm, state] = r.stdout.trim().split("\n");
    expect(exe).toMatch(/\/systemd$/);
    expect(comm).toBe("systemd");
    expect(["running", "degraded"]).toContain(state);
    expect((await c.execOk("findmnt -no FSTYPE /run")).stdout.trim()).toBe("tmpfs");
  });

  it("runs systemd-analyze security inside", async () => {
    const r = await c.execOk("systemd-analyze security --no-pager systemd-journald.service");
    expect(r.stdout).toMatch(/Overall exposure level for systemd-journald\.service: \d+\.\d/);
  });

  it("execs as root in a clean environment on a bare box: no Node, npm, compiler or Python", async () => {
    const r = await c.execOk(`id -u; echo "CI=\${CI-unset}"; env | grep -c '^npm_config_' || true; for t in ${BARE_BOX_ABSENT.join(" ")}; do command -v $t || true; done`);
    const [uid, ci, npmVars, ...found] = r.stdout.trim().split("\n");
    expect(uid).toBe("0");
    expect(ci).toBe("CI=unset");
    expect(npmVars).toBe("0");
    expect(found, "interpreters and compilers a bare VPS lacks").toEqual([]);
    const bad = await c.exec("exit 7");
    expect(bad.code).toBe(7);
  });

  it("reaches a stand-in on the host's loopback", async () => {
    const token = randomBytes(8).toString("hex");
    const srv = createHttpServer((_q, s) => s.end(token));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    try {
      const port = (srv.address() as AddressInfo).port;
      expect((await c.execOk(`curl -fsS http://127.0.0.1:${port}/`)).stdout).toBe(token);
    } finally {
      srv.close();
    }
  });

  it("reboots for real: /run is emptied, the disk is kept", async () => {
    await c.execOk("echo x > /run/e2e-marker; echo y > /var/lib/e2e-marker");
    const machineId = (await c.execOk("cat /etc/machine-id")).stdout;
    const leaderBefore = c.leader;
    const ms = await c.reboot();
    figures["reboot to running"] = secs(ms);
    expect(c.leader).not.toBe(leaderBefore);
    expect((await c.exec("test -e /run/e2e-marker")).code).toBe(1);
    expect((await c.execOk("cat /var/lib/e2e-marker")).stdout).toBe("y\n");
    expect((await c.execOk("cat /etc/machine-id")).stdout).toBe(machineId);
    await c.execOk("rm /var/lib/e2e-marker");
  });

  // ---- Issue 5, items 2–6: guarded until `wirebot install` exists -------------------------------
  step("installs the .deb with apt on the bare box, as a sysadmin would: wirebot brings its own Node", null, async () => {
    deb = packageDeb();
    figures["package (.deb) size"] = `${(statSync(deb).size / 1e6).toFixed(1)} MB`;
    c.copyIn(deb, `/root/${basename(deb)}`);
    const t0 = performance.now();
    // As on a VPS: `apt install ./file.deb`. Every Depends: is already on the box, so no download happens.
    await c.execOk(`cd /root && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ./${shq(basename(deb))}`, { timeoutMs: 10 * 60_000 });
    figures["apt install ./wirebot.deb"] = secs(performance.now() - t0);
    figures["installed size (/opt/wirebot)"] = `${(await c.execOk("du -sm /opt/wirebot | cut -f1")).stdout.trim()} MB`;
    expect((await c.execOk("readlink -f /usr/bin/wirebot")).stdout.trim()).toBe("/opt/wirebot/bin/wirebot");
    expect((await c.execOk("wirebot --version")).stdout.trim()).toBe(VERSION);
    // The package brought its Node to /opt/wirebot, not onto PATH.
    expect((await c.execOk(`for t in ${BARE_BOX_ABSENT.join(" ")}; do command -v $t || true; done`)).stdout.trim()).toBe("");
    packed = true;
  });

  step("for comparison, the npm tarball path on this host (Node 20, g++): install time and size", "packed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wirebot-npm-path-"));
    try {
      const r = await runOk("npm", ["pack", "--json", "--pack-destination", dir], { cwd: REPO, timeoutMs: 5 * 60_000 });
      const tgz = join(dir, (JSON.parse(r.stdout) as { filename: string }[])[0]!.filename);
      figures["npm tarball size"] = `${(statSync(tgz).size / 1e6).toFixed(1)} MB`;
      const t0 = performance.now();
      // better-sqlite3 compiles here: its prebuilt binary lives on GitHub, which this machine cannot reach.
      await runOk("npm", ["install", "-g", "--prefix", join(dir, "prefix"), "--no-fund", "--no-audit", "--allow-scripts=better-sqlite3", tgz], { timeoutMs: 20 * 60_000 });
      figures["npm install -g ./wirebot.tgz (host)"] = secs(performance.now() - t0);
      figures["npm -g installed size (host)"] = `${(await runOk("du", ["-sm", join(dir, "prefix")])).stdout.split("\t")[0]} MB (plus the host's Node and npm)`;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  step("installs on / with two shared users and one dedicated user", "packed", async () => {
    litellm = await startLitellm({ masterKey });
    if (SECRETS_BACKEND === "bitwarden") bitwarden = await startBitwarden();
    // BotFather-shaped tokens (<numeric id>:<35 characters>), one stand-in each.
    const botTokens = { TELEGRAM_BOT_TOKEN: `7000000001:${randomBytes(26).toString("base64url")}`, TELEGRAM_BOT_TOKEN_ERIN: `7000000002:${randomBytes(26).toString("base64url")}` };
    for (const token of Object.values(botTokens)) bots.set(token, await startTelegramStandin({ token }));
    telegram = await startTelegramRouter(bots);
    plan = buildConfig(litellm.url, bitwarden ? { organizationId: bitwarden.organizationId, projectId: bitwarden.projectId, serverUrl: bitwarden.url } : null, telegram.apiRoot);
    for (const [env, name] of Object.entries(plan.config.secrets.map)) vault.set(name, botTokens[env as keyof typeof botTokens] ?? `e2e-${randomBytes(16).toString("hex")}`);
    const masterName = plan.config.secrets.map.LITELLM_MASTER_KEY;
    if (masterName) vault.set(masterName, masterKey);
    if (bitwarden) {
      for (const [name, value] of vault) bitwarden.addSecret(name, value);
      bwsToken = bitwarden.addMachineAccount().text;
    } else c.writeFile(DEV_SECRETS, stringifyYaml(Object.fromEntries(vault)), 0o600);
    c.writeFile(CONFIG_IN_CONTAINER, plan.yaml, 0o600);
    if (CLOUDFLARED) {
      c.copyIn(cloudflaredBinary(), "/usr/local/bin/cloudflared", 0o755);
      const t = plan.config.tunnel;
      cloudflare = await startCloudflareStandin({
        apiToken: vault.get(plan.config.secrets.map.CLOUDFLARE_API_TOKEN!)!,
        accounts: [t.accountId!],
        zones: [{ id: t.zoneId!, name: plan.config.domain }],
      });
    }

    const t0 = performance.now();
    // As a sysadmin would (`read -rs`): the access token arrives on stdin, never on a command line, and
    // install seals it with systemd-creds.
    const cmd = bwsToken ? `IFS= read -r BWS_ACCESS_TOKEN && export BWS_ACCESS_TOKEN && ${INSTALL}` : INSTALL;
    const r = await c.execOk(cmd, { env: installEnv(), ...(bwsToken ? { input: `${bwsToken}\n` } : {}), timeoutMs: 20 * 60_000 });
    const wall = performance.now() - t0;
    installed = true;
    figures["install wall time"] = secs(wall);
    if (bitwarden) {
      // The pull ran the real SDK against the stand-in: what wirebot generated now lives in the vault.
      expect(bitwarden.plainSecrets().map((x) => x.key)).toEqual(expect.arrayContaining(["wirebot/gateway-token", "wirebot/litellm-key/alice", "wirebot/gateway-token/erin"]));
      const stored = (await c.exec(`ls ${PATHS.credstore}`)).stdout.trim();
      say(`bootstrap token stored as: ${stored}`);
      expect(stored).toMatch(/^bws-access-token(\.cred)?$/);
    }
    const steps = parseStepTimes(`${r.stdout}\n${r.stderr}`);
    if (steps.length) say("install by step:\n" + steps.map((s) => `  ${s.step.padEnd(40)} ${secs(s.ms)}`).join("\n") + `\n  ${"total (wall)".padEnd(40)} ${secs(wall)}`);
    else say(`install took ${secs(wall)}; its output had no per-step times to split it by`);

    // The floor (issue 16, point 5): what no install can avoid, measured in this run. The runtime's npm
    // install is the provisioning step of the install above; a gateway's start to /health is measured on the
    // shared gateway now (stopped, then started and polled), before any step reads an InvocationID.
    const provisioning = steps.find((x) => /^provisioning openclaw/.test(x.step));
    const shared = plan.layout.shared!;
    await c.execOk(`systemctl stop ${shared.unit}`, { timeoutMs: 60_000 });
    const s0 = performance.now();
    // One shell loop in the container, polling every 0.2 s, so the figure is not the test's round trips.
    await c.execOk(`systemctl start ${shared.unit} && for i in $(seq 600); do curl -fsS --max-time 2 http://127.0.0.1:${shared.port}/health | grep -q '"ok":true' && exit 0; sleep 0.2; done; exit 1`, { timeoutMs: 180_000 });
    const startToHealth = performance.now() - s0;
    if (provisioning) {
      const floor = provisioning.ms + startToHealth;
      figures["install floor (runtime npm install + gateway start → /health)"] = `${secs(floor)} (${secs(provisioning.ms)} + ${secs(startToHealth)})`;
      figures["install / floor"] = `${(wall / floor).toFixed(2)}× (budget ≤ 1.10×)`;
    } else figures["gateway start → /health"] = secs(startToHealth);
  });

  const units = () => [
    "wirebot-secrets.service",
    ...plan.layout.gateways.map((g) => g.unit),
    "wirebot-reconcile.service",
    ...(CLOUDFLARED ? ["cloudflared-wirebot.service"] : []),
  ];
  const longRunning = () => units().filter((u) => u !== "wirebot-secrets.service");

  async function expectAllActive(): Promise<void> {
    const r = await c.exec(`systemctl is-active ${units().join(" ")}`);
    expect(Object.fromEntries(units().map((u, i) => [u, r.stdout.trim().split("\n")[i]]))).toEqual(Object.fromEntries(units().map((u) => [u, "active"])));
  }

  /** Loopback health answers with JSON, allowing a few seconds for a gateway that was just (re)started. */
  async function health(port: number): Promise<unknown> {
    let last = "";
    for (let i = 0; i < 60; i++) {
      const r = await c.exec(`curl -fsS --max-time 5 http://127.0.0.1:${port}/health`);
      if (r.code === 0) return JSON.parse(r.stdout);
      last = r.stderr;
      await sleep(1000);
    }
    throw new Error(`127.0.0.1:${port}/health never answered: ${last}`);
  }

  async function mainUser(unit: string): Promise<string> {
    const pid = (await c.execOk(`systemctl show -P MainPID ${unit}`)).stdout.trim();
    expect(Number(pid)).toBeGreaterThan(0);
    return (await c.execOk(`ps -o user= -p ${pid}`)).stdout.trim();
  }

  async function secretValuesInRun(): Promise<string[]> {
    const r = await c.execOk(`cat ${PATHS.runDir}/*.env ${PATHS.runDir}/users/*.env 2>/dev/null || true`);
    const env = r.stdout
      .split("\n")
      .map((l) => /^[A-Z][A-Z0-9_]*=(.*)$/.exec(l)?.[1]?.replace(/^["']|["']$/g, ""))
      .filter((v): v is string => !!v && v.length >= 12);
    return [...env, ...(await agentKeys()).values()];
  }

  /** The shared gateway's agent keys, from the file the runtime reads them from (name → value). */
  async function agentKeys(): Promise<Map<string, string>> {
    const r = await c.exec(`cat ${PATHS.gatewayKeys}`);
    return r.code === 0 ? new Map(Object.entries(JSON.parse(r.stdout) as Record<string, string>)) : new Map();
  }

  step("every Wirebot unit is active", "installed", expectAllActive);

  if (CLOUDFLARED)
    step("cloudflared checks Access at the origin: each Control UI's rule requires the team and the AUD tag of the application Cloudflare returned", "installed", async () => {
      const doc = parseYaml((await c.execOk(`cat ${PATHS.tunnelConfig}`)).stdout) as { ingress: { hostname?: string; originRequest?: { access?: unknown } }[] };
      const accessOf = (h: string) => doc.ingress.find((r) => r.hostname === h)?.originRequest?.access;
      const aud = (h: string) => cloudflare!.apps.find((a) => a.domain === h)!.aud;
      expect(accessOf("helm.wirebot.example.org")).toEqual({ required: true, teamName: "wirebot-team", audTag: [aud("helm.wirebot.example.org")] });
      expect(accessOf("helm-erin.wirebot.example.org")).toEqual({ required: true, teamName: "wirebot-team", audTag: [aud("helm-erin.wirebot.example.org")] });
      expect(accessOf("api.wirebot.example.org")).toBeUndefined();
      expect((await c.exec("wirebot plan --exit-code --local")).code).toBe(0);
    });

  step("the units run what the package installed: wirebot from /opt/wirebot with its own Node, the gateways from the provisioned runtime", "installed", async () => {
    const r = await c.execOk(`for u in ${units().join(" ")}; do echo "$u $(systemctl show -P ExecStart $u | sed -n 's/.*argv\\[\\]=\\([^;]*\\) ;.*/\\1/p')"; done`);
    const argv = new Map(r.stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1).trim()] as [string, string]));
    for (const u of ["wirebot-secrets.service", "wirebot-reconcile.service"]) expect(argv.get(u), u).toMatch(/^\/opt\/wirebot\/node\/bin\/node \/opt\/wirebot\/lib\/bin\/wirebot\.js /);
    for (const g of plan.layout.gateways) expect(argv.get(g.unit), g.unit).toMatch(/^\/opt\/wirebot\/runtime\//);
  });

  step("each gateway sized its stop from its unit: the runtime read TimeoutStopSec=10s through systemctl (no 85 s drain)", "installed", async () => {
    for (const g of plan.layout.gateways) {
      const line = (await c.execOk(`journalctl -u ${g.unit} --no-pager -o cat | grep 'shutdown budget at startup' | tail -1`)).stdout.trim();
      expect(line, g.unit).toContain("TimeoutStopUSec=10000ms");
    }
  });

  step("the shared gateway answers /health on loopback and runs as wirebot", "installed", async () => {
    const g = plan.layout.shared!;
    expect(await health(g.port)).toBeTypeOf("object");
    expect(await mainUser(g.unit)).toBe("wirebot");
  });

  step("the dedicated user's gateway answers on its own port under its own user", "installed", async () => {
    expect(plan.layout.dedicated).toHaveLength(1);
    const g = plan.layout.dedicated[0]!;
    expect(g.unit).toBe(`clawdbot-gateway@${g.id}.service`);
    expect(g.port).not.toBe(plan.layout.shared!.port);
    expect(await health(g.port)).toBeTypeOf("object");
    expect(await mainUser(g.unit)).toBe(g.serviceUser);
  });

  step("the reconcile daemon's /health answers", "installed", async () => {
    expect(await health(plan.config.metering.api.port)).toBeTypeOf("object");
  });

  step("a Telegram message from alice's peer gets alice's agent's reply on alice's key, and the ledger meters it to the nano-dollar", "installed", async () => {
    const shared = bots.get(vault.get(plan.config.secrets.map.TELEGRAM_BOT_TOKEN!)!)!;
    const alice = plan.config.users.find((u) => u.id === "alice")!;
    const peer = alice.channels.telegram!.peer;
    await shared.waitForPoller(120_000);
    const since = Date.now();
    shared.injectPrivateMessage(peer, "Hi, this is Alice.");
    const reply = await shared.waitForSent(peer, { since, timeoutMs: 120_000 });
    figures["telegram message → reply"] = secs(reply.at - since);
    expect(reply.plain).toContain(replyText("wirebot/alice"));

    // The turn's model calls (the agent's and its utility recaps) all went through alice's key.
    await sleep(5_000);
    const rows = litellm!.store.rows.filter((r) => r.startMs >= since - 1_000);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.map((r) => r.key_alias)).toEqual(rows.map(() => "wirebot/alice"));
    const wantNusd = rows.reduce((sum, r) => sum + Math.round(r.spend * 1e9), 0);

    // The daemon ingests rows older than its settle delay; it runs a cycle when it starts.
    const settleMs = plan.config.metering.settleSeconds * 1000;
    await sleep(Math.max(0, Math.max(...rows.map((r) => r.startMs)) + settleMs + 15_000 - Date.now()));
    await c.execOk("systemctl restart wirebot-reconcile.service");
    let got: { requests: number; spendNusd: number } | undefined;
    for (let i = 0; i < 60; i++) {
      const u = await c.exec("wirebot usage --agent alice --json");
      got = u.code === 0 ? (JSON.parse(u.stdout) as { agents: { agent: string; requests: number; spendNusd: number }[] }).agents.find((a) => a.agent === "alice") : undefined;
      if (got && got.requests >= rows.length) break;
      await sleep(1000);
    }
    expect(got).toMatchObject({ requests: rows.length, spendNusd: wantNusd });
    figures["alice's turn in the ledger"] = `${rows.length} call(s), ${wantNusd} nano-USD`;
    aliceLedger = { requests: rows.length, spendNusd: wantNusd };
    aliceLedgerUpTo = Math.max(...rows.map((r) => r.startMs));
  });

  step("backup while everything runs: one archive, mode 0600, no secret value in it", "installed", async () => {
    await c.execOk(`printf 'alice wrote this before the backup\n' > ${workspaceDir(plan.config, "alice")}/E2E-NOTE.md`);
    await c.execOk(`wirebot backup ${BACKUP}`, { timeoutMs: 5 * 60_000 });
    expect((await c.execOk(`stat -c '%a %U' ${BACKUP}`)).stdout.trim()).toBe("600 root");
    // Every vault value, and every value on tmpfs now (generated keys included), is absent from the archive's bytes.
    const values = [...vault.values(), ...(await secretValuesInRun())];
    c.writeFile("/root/e2e-secret-patterns", values.join("\n") + "\n", 0o600);
    const leak = await c.exec(`zcat ${BACKUP} | grep -c -F -f /root/e2e-secret-patterns || true`);
    await c.execOk("rm -f /root/e2e-secret-patterns");
    expect(leak.stdout.trim(), "secret values inside the backup").toBe("0");
  });

  step("secrets live only in /run/wirebot (tmpfs, 0600) and in no file under /etc /data /opt /var", "installed", async () => {
    expect((await c.execOk(`findmnt -no FSTYPE --target ${PATHS.runDir}`)).stdout.trim()).toMatch(/^(tmpfs|ramfs)$/);
    const files = (await c.execOk(`find ${PATHS.runDir} -type f -printf '%m %u %p\\n'`)).stdout.trim().split("\n").filter(Boolean);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(f).toMatch(/^600 root /);
    // The shared gateway's keys: tmpfs too, readable by the gateway's user only (the runtime reads the file itself).
    expect((await c.execOk(`findmnt -no FSTYPE --target ${PATHS.gatewayKeysDir}`)).stdout.trim()).toMatch(/^(tmpfs|ramfs)$/);
    expect((await c.execOk(`stat -c '%a %U:%G' ${PATHS.gatewayKeysDir} ${PATHS.gatewayKeys}`)).stdout.trim().split("\n")).toEqual(["750 root:wirebot", "600 wirebot:wirebot"]);
    expect((await c.execOk(`find ${PATHS.gatewayKeysDir} -mindepth 1 -printf '%p\\n'`)).stdout.trim()).toBe(PATHS.gatewayKeys);
    expect([...(await agentKeys()).keys()].sort()).toEqual(meteredAgents(plan.config, plan.layout).filter((a) => a.gateway.kind === "shared").map((a) => litellmKeyVar(a.id)).sort());
    // Generated secrets (gateway token, virtual keys) are only known from the env files, so take both.
    const values = [...new Set([...vault.values(), ...(await secretValuesInRun()), ...(bwsToken ? [bwsToken] : [])])];
    expect(values.length).toBeGreaterThan(vault.size - 1);
    c.writeFile("/root/e2e-secret-patterns", values.join("\n") + "\n", 0o600);
    const leak = await c.exec("grep -rlF -f /root/e2e-secret-patterns /etc /data /opt /var 2>/dev/null");
    await c.execOk("rm -f /root/e2e-secret-patterns");
    expect(leak.stdout.trim().split("\n").filter(Boolean), "files holding a secret value").toEqual([]);
  });

  step("state dirs are 0700 with the right owners", "installed", async () => {
    const want: Record<string, string> = {};
    for (const g of plan.layout.gateways) {
      want[g.stateDir] = `700 ${g.serviceUser}`;
      for (const u of g.users) {
        want[userDir(plan.config, u.id)] = `700 ${g.serviceUser}`;
        want[workspaceDir(plan.config, u.id)] = `700 ${g.serviceUser}`;
      }
    }
    const paths = Object.keys(want);
    const r = await c.execOk(`stat -c '%a %U' ${paths.map(shq).join(" ")}`);
    expect(Object.fromEntries(paths.map((p, i) => [p, r.stdout.trim().split("\n")[i]]))).toEqual(want);
  });

  step("systemd-analyze security gives 2.0 or lower for each long-running unit", "installed", async () => {
    const scores: Record<string, number> = {};
    for (const u of longRunning()) {
      const r = await c.execOk(`systemd-analyze security --no-pager ${u}`);
      const m = /Overall exposure level for .*?: (\d+(?:\.\d+)?)/.exec(r.stdout);
      expect(m, `no exposure line for ${u}`).not.toBeNull();
      scores[u] = Number(m![1]);
    }
    say("exposure: " + JSON.stringify(scores));
    for (const [u, s] of Object.entries(scores)) expect(s, u).toBeLessThanOrEqual(2.0);
  });

  it.skipIf(!readiness.ready || !CLOUDFLARED)("the tunnel unit runs the stand-in cloudflared with the token from tmpfs", async () => {
    const pid = (await c.execOk("systemctl show -P MainPID cloudflared-wirebot.service")).stdout.trim();
    const cmdline = (await c.execOk(`tr '\\0' ' ' < /proc/${pid}/cmdline`)).stdout;
    for (const v of vault.values()) expect(cmdline).not.toContain(v);
    expect(cmdline).toMatch(/--token-file \/run\/credentials\/cloudflared-wirebot\.service\/tunnel-token/);
    expect((await c.execOk(`stat -c '%a %U' ${PATHS.tunnelToken}`)).stdout.trim()).toBe("600 root");
    // The API stand-in now holds the tunnel and one proxied CNAME per published host.
    const tunnelId = cloudflare!.tunnels[0]!.id;
    const names = cloudflare!.records.filter((r) => r.content === `${tunnelId}.cfargotunnel.com`).map((r) => r.name).sort();
    expect(names).toEqual(["api.wirebot.example.org", "helm-erin.wirebot.example.org", "helm.wirebot.example.org"]);
  });

  // ---- Issue 13, point 6: a tenant attacks through her own agent, under the rendered unit ----------
  // After the backup and the secrets scan on purpose: the weakened run may put what it reads into alice's
  // transcript under /data, and the restore step books these turns' spend on top of the backed-up ledger.
  const attack = {
    aliceMarker: `WB-E2E-ALICE-${randomBytes(12).toString("hex")}`,
    bobMarker: `WB-E2E-BOB-${randomBytes(12).toString("hex")}`,
  };
  const attackPaths = () => ({
    aliceWorkspace: workspaceDir(plan.config, "alice"),
    aliceFile: `${workspaceDir(plan.config, "alice")}/E2E-OWN.md`,
    gatewayEnv: PATHS.gatewayEnv,
    keysFile: PATHS.gatewayKeys,
    bobFile: `${workspaceDir(plan.config, "bob")}/E2E-PRIVATE.md`,
    bobWrite: `${workspaceDir(plan.config, "bob")}/E2E-PWNED.md`,
  });
  const peerOf = (id: string) => plan.config.users.find((u) => u.id === id)!.channels.telegram!.peer;

  /** Every secret the box holds, labelled by where it comes from (a label is printed, a value never). */
  async function secretNeedles(): Promise<Needle[]> {
    const needles: Needle[] = [...vault].map(([name, value]) => ({ label: `vault ${name}`, value }));
    const r = await c.execOk(`cat ${PATHS.runDir}/*.env ${PATHS.runDir}/users/*.env 2>/dev/null || true`);
    for (const line of r.stdout.split("\n")) {
      const m = /^([A-Z][A-Z0-9_]*)=["']?(.*?)["']?$/.exec(line);
      if (m && m[2]!.length >= 12) needles.push({ label: `${m[1]} (tmpfs)`, value: m[2]! });
    }
    for (const [name, value] of await agentKeys()) needles.push({ label: `${name} (key file)`, value });
    if (bwsToken) needles.push({ label: "the machine account's access token", value: bwsToken });
    return withReversed(needles);
  }

  /** What must not change under attack: content hash, mode and owner of the env file and bob's file, and no file at bobWrite. */
  async function fingerprints(): Promise<string> {
    const p = attackPaths();
    const r = await c.execOk(`sha256sum ${p.gatewayEnv} ${p.keysFile} ${p.bobFile}; stat -c '%a %U:%G %n' ${p.gatewayEnv} ${p.keysFile} ${p.bobFile}; test ! -e ${p.bobWrite} && echo 'no ${p.bobWrite}'`);
    return r.stdout;
  }

  /**
   * alice's peer writes the probe to the shared bot; the LiteLLM stand-in makes her agent call one tool
   * per step and then answers with every tool result, which the gateway sends to her chat.
   */
  async function probeAsAlice(steps: readonly ProbeStep[], needles: readonly Needle[]) {
    const shared = bots.get(vault.get(plan.config.secrets.map.TELEGRAM_BOT_TOKEN!)!)!;
    const alice = peerOf("alice");
    await shared.waitForPoller(120_000);
    const since = Date.now();
    shared.injectPrivateMessage(alice, probeMessage(steps));
    const sentTo = (chat: string) => shared.sent.filter((m) => m.chatId === chat && m.at >= since);
    const reply = () => sentTo(alice).map((m) => m.plain).join("\n");
    const last = `RESULT ${steps.length - 1}: `;
    const notScripted = [replyText("wirebot/alice"), "NO-READ-TOOL-OFFERED"];
    while (!reply().includes(last)) {
      const got = reply();
      // The stand-in's other answers: the probe never reached it as a probe turn, so waiting is pointless.
      if (Date.now() - since > 240_000 || notScripted.some((t) => got.includes(t)))
        throw new Error(`alice's chat got no complete scripted answer in ${secs(Date.now() - since)}; so far: ${found(got, needles).length ? "(withheld: it holds a secret value)" : got.slice(0, 2000)}`);
      await sleep(500);
    }
    const ms = Date.now() - since;
    // A long answer comes as several messages: wait until the chat is quiet.
    for (let n = -1; n !== shared.sent.length; ) {
      n = shared.sent.length;
      await sleep(3000);
    }
    // Previews and edits too: anything the bot put into a chat during the turn counts as shown.
    const shown = (chat: string) =>
      shared.calls
        .filter((x) => x.at >= since && /^(sendMessage|editMessageText|sendDocument|sendPhoto)$/.test(x.method) && String(x.params["chat_id"]) === chat)
        .map((x) => JSON.stringify(x.params))
        .join("\n");
    const rows = litellm!.store.rows.filter((r) => r.startMs >= since - 1_000);
    return { reply: reply(), results: resultsFromReply(reply(), steps.length), shownToAlice: shown(alice), shownToBob: shown(peerOf("bob")), rows, ms };
  }

  type Probe = Awaited<ReturnType<typeof probeAsAlice>>;
  /** Per vector: its result and what it exposed. Text is printed only when it holds no secret and no env line (the runtime's masked `sk-ab…wxyz` included). */
  function readOut(vectors: Vector[], r: Probe, needles: Needle[], envNames: string[]) {
    return vectors.map((v, i) => {
      const text = r.results[i] ?? null;
      const secrets = text === null ? [] : found(text, needles);
      const envLines = text === null ? [] : envAssignments(text, envNames);
      return {
        name: v.name,
        target: v.target,
        answered: text !== null,
        aliceMarker: text !== null && found(text, [{ label: "m", value: attack.aliceMarker }]).length > 0,
        bobMarker: text !== null && found(text, [{ label: "m", value: attack.bobMarker }]).length > 0,
        secrets,
        envLines,
        text: text === null ? "(no result)" : secrets.length || envLines.length ? `(withheld: ${secrets.length} secret value(s), ${envLines.length} env line(s))` : text.replace(/\s+/g, " ").slice(0, 240),
      };
    });
  }
  const printOut = (title: string, out: ReturnType<typeof readOut>) =>
    say(
      `${title}:\n` +
        out.map((o) => `  ${o.name}\n    -> ${o.bobMarker ? "BOB'S MARKER " : ""}${o.secrets.length ? `SECRETS [${o.secrets.join(", ")}] ` : ""}${o.envLines.length ? `ENV LINES [${o.envLines.join(", ")}] ` : ""}${o.text}`).join("\n"),
    );

  async function envFileNames(): Promise<string[]> {
    return (await c.execOk(`sed -n 's/^\\([A-Z][A-Z0-9_]*\\)=.*/\\1/p' ${PATHS.gatewayEnv}`)).stdout.trim().split("\n").filter(Boolean);
  }

  /**
   * Waits for the shared gateway to take a config change from disk (reference/openclaw.md Addendum 6):
   * `hot` when it applied it live, `restart` when it restarted for it. A refused config fails the step.
   */
  async function gatewayReload(sinceSec: number): Promise<"hot" | "restart" | "detected"> {
    const unit = plan.layout.shared!.unit;
    const started = Date.now();
    let detectedAt = 0;
    for (;;) {
      const j = (await c.exec(`journalctl -b --no-pager -o cat -u ${unit} --since @${sinceSec}`)).stdout;
      const lines = j.split("\n").filter((l) => /config (change|hot reload|reload)/.test(l));
      if (lines.some((l) => /reload skipped/.test(l))) throw new Error(`the gateway refused the edited config:\n${lines.join("\n")}`);
      if (lines.some((l) => /hot reload applied/.test(l))) return "hot";
      if (lines.some((l) => /requires gateway restart/.test(l))) {
        await sleep(5_000);
        await health(plan.layout.shared!.port);
        return "restart";
      }
      if (!detectedAt && lines.some((l) => /config change detected/.test(l))) detectedAt = Date.now();
      // A change the runtime needs no action for is only "detected": it is in the snapshot the next turn reads.
      if (detectedAt && Date.now() - detectedAt > 10_000) return "detected";
      if (Date.now() - started > 90_000) throw new Error(`the gateway took no config change within 90 s; its reload lines:\n${lines.join("\n") || "(none)"}`);
      await sleep(500);
    }
  }

  step("alice's agent, made to attack through her Telegram chat, reads neither /run/wirebot/gateway.env nor bob's workspace", "installed", async () => {
    const p = attackPaths();
    // Planted as the gateway would have written them: owned like the workspace, 0600.
    for (const [file, text] of [[p.aliceFile, `# alice's own notes\n${attack.aliceMarker}\n`], [p.bobFile, `# bob's private notes\n${attack.bobMarker}\n`]] as const) {
      c.writeFile("/root/e2e-plant", text, 0o600);
      await c.execOk(`install -m 600 -o "$(stat -c %U ${dirname(file)})" -g "$(stat -c %G ${dirname(file)})" /root/e2e-plant ${file} && rm /root/e2e-plant`);
    }
    const vectors = attackVectors(p);
    const needles = await secretNeedles();
    const envNames = await envFileNames();
    expect(envNames.length).toBeGreaterThan(0);
    const before = await fingerprints();

    const r = await probeAsAlice(vectors.map((v) => v.step), needles);
    figures["attack turn (hardened)"] = `${secs(r.ms)} for ${vectors.length} tool calls`;
    const out = readOut(vectors, r, needles, envNames);
    printOut("attack on the rendered config", out);

    // Every vector went through a tool and came back; the control proves reading and relaying work at all.
    expect(out.filter((o) => !o.answered).map((o) => o.name)).toEqual([]);
    expect(out.find((o) => o.target === "own")!.aliceMarker).toBe(true);
    expect(out.filter((o) => o.bobMarker).map((o) => o.name)).toEqual([]);
    expect(out.filter((o) => o.secrets.length || o.envLines.length).map((o) => o.name)).toEqual([]);
    // Nothing shown in any chat during the turn, previews included, and nothing at all in bob's.
    expect(found(r.shownToAlice, [...needles, { label: "bob's marker", value: attack.bobMarker }])).toEqual([]);
    expect(r.shownToBob).toBe("");
    expect(await fingerprints()).toBe(before);
    // Every model call of the attack went upstream on alice's own key, none on another tenant's.
    const tenants = new Set(plan.config.users.map((u) => `wirebot/${u.id}`));
    expect(r.rows.filter((x) => x.key_alias === "wirebot/alice").length).toBeGreaterThanOrEqual(vectors.length + 1);
    expect(r.rows.filter((x) => x.key_alias !== "wirebot/alice" && tenants.has(x.key_alias ?? "")).map((x) => x.key_alias)).toEqual([]);

    // Issue 18: the attack is on the record, through the plugin and the daemon under their real units: every
    // call of the turn is a trace of alice's agent, each one denied but the control read of her own file.
    type T = { agent: string; tool: string; action: string; reason: string | null; params: string | null };
    let traces: T[] = [];
    for (let i = 0; i < 40 && traces.length < vectors.length; i++) {
      await new Promise((res) => setTimeout(res, 500));
      traces = (JSON.parse((await c.execOk("wirebot trace --agent alice --since 10m --json")).stdout) as { traces: T[] }).traces;
    }
    for (const t of traces) console.log(`[e2e] trace alice ${t.tool} ${t.action} ${t.reason ?? ""}`);
    expect(traces.length).toBeGreaterThanOrEqual(vectors.length);
    expect(traces.filter((t) => t.action === "allow").map((t) => t.params ?? "")).toEqual([expect.stringContaining(basename(p.aliceFile))]);
    expect(traces.filter((t) => t.action === "deny").length).toBe(traces.length - 1);
    const denied = (await c.execOk("wirebot trace --denied --csv")).stdout.trim().split("\n").slice(1);
    expect(denied.length).toBeGreaterThanOrEqual(vectors.length - 1);
    // no secret value in the record, however the attack tried
    const record = (await c.execOk("wirebot trace --json --limit 10000")).stdout;
    expect(found(record, needles)).toEqual([]);
  });

  // Red on purpose: what this run reads (bob's marker, the gateway's environment reversed) lands in alice's
  // transcript under /data. No later step scans /data for secrets, and the purge removes it.
  step("on a weakened clawdbot.json (alice with no tool policy) bob's file and the gateway's environment leak, the env file still does not: the unit holds that line", "installed", async () => {
    const p = attackPaths();
    const cfg = plan.layout.shared!.configPath;
    const rendered = (await c.execOk(`cat ${cfg}`)).stdout;
    const sinceSec = Math.floor(Date.now() / 1000) - 1;
    // Replaced as an editor would, atomically, with the rendered file's owner and mode.
    c.writeFile("/root/e2e-weakened.json", weakenGatewayConfig(rendered, "alice"), 0o600);
    await c.execOk(`install -m 600 -o "$(stat -c %U ${cfg})" -g "$(stat -c %G ${cfg})" /root/e2e-weakened.json ${cfg}.e2e-tmp && mv -f ${cfg}.e2e-tmp ${cfg} && rm /root/e2e-weakened.json`);
    const how = await gatewayReload(sinceSec);
    say(`weakened config taken by the running gateway: ${how}`);
    // The hand edit is drift wirebot sees.
    expect((await c.exec(PLAN_EMPTY, { env: installEnv() })).code).toBe(2);

    const vectors = attackVectors(p);
    const needles = await secretNeedles();
    const envNames = await envFileNames();
    const before = await fingerprints();
    const r = await probeAsAlice(vectors.map((v) => v.step), needles);
    figures["attack turn (weakened)"] = `${secs(r.ms)} for ${vectors.length} tool calls`;
    const out = readOut(vectors, r, needles, envNames);
    printOut("attack on the weakened config", out);
    const wrote = (await c.exec(`cat ${p.bobWrite}`)).stdout;
    await c.execOk(`rm -f ${p.bobWrite}`);

    expect(out.filter((o) => !o.answered).map((o) => o.name)).toEqual([]);
    // Red: the file tools now reach bob's workspace by absolute path, by .., and through tool_call, and write there.
    const fileTools = out.filter((o) => o.target === "bob" && !o.name.startsWith("exec"));
    expect(fileTools.map((o) => [o.name, o.bobMarker])).toEqual(fileTools.map((o) => [o.name, true]));
    expect(fileTools.length).toBe(3);
    expect(wrote).toBe("alice was here");
    // Red: the values of the env file are in the gateway's environment, which exec inherits: only the tool policy holds those.
    expect(out.filter((o) => o.target === "environ" && o.secrets.length).length).toBeGreaterThan(0);
    // Red, likewise: the agents' key file is the gateway user's to read (the runtime re-reads it at every hot reload).
    expect(out.filter((o) => o.target === "keys-file" && o.secrets.length).length).toBeGreaterThan(0);
    // Still green: /run/wirebot is root 0700 and the gateway runs as wirebot; only PID 1 reads the env file.
    expect(out.filter((o) => o.target === "env-file" && (o.secrets.length || o.envLines.length)).map((o) => o.name)).toEqual([]);
    expect((await c.execOk(`stat -c '%a %U' ${PATHS.runDir} ${PATHS.gatewayEnv}`)).stdout.trim().split("\n")).toEqual(["700 root", "600 root"]);
    expect(await mainUser(plan.layout.shared!.unit)).toBe("wirebot");
    expect(await fingerprints()).toBe(before);
  });

  step("wirebot apply --yes puts the rendered config back: the plan is empty and bob's file is out of reach again", "installed", async () => {
    const unit = plan.layout.shared!.unit;
    const before = await invocations([unit]);
    const sinceSec = Math.floor(Date.now() / 1000) - 1;
    const t0 = performance.now();
    const a = await c.execOk("wirebot apply --yes", { env: installEnv(), timeoutMs: 10 * 60_000 });
    figures["apply after the weakened config"] = secs(performance.now() - t0);
    say(`apply: ${/^(Applied: .*|Nothing to do\.)$/m.exec(a.stdout)?.[1] ?? "(no summary line)"}`);
    const p = await c.exec(PLAN_EMPTY, { env: installEnv() });
    expect(p.code, `plan after apply:\n${p.stdout}${p.stderr}`).toBe(0);
    // Design: a config change the runtime applies live is left to it, no restart; should apply restart anyway, wait for that.
    const restarted = (await invocations([unit])).get(unit) !== before.get(unit);
    const how = restarted ? "restarted by apply" : await gatewayReload(sinceSec);
    if (restarted) await health(plan.layout.shared!.port);
    say(`rendered config taken back by the gateway: ${how}`);

    const vectors = attackVectors(attackPaths()).filter((v) => v.target === "bob" && v.name.startsWith("read"));
    const needles = await secretNeedles();
    const r = await probeAsAlice(vectors.map((v) => v.step), needles);
    const out = readOut(vectors, r, needles, []);
    printOut("attack after apply", out);
    expect(out.map((o) => [o.name, o.answered, o.bobMarker])).toEqual(vectors.map((v) => [v.name, true, false]));
  });

  step("reboot: /run/wirebot starts empty, secrets are pulled again, everything is active", "installed", async () => {
    await c.execOk(`touch ${PATHS.runDir}/.e2e-before-reboot`);
    const before = Math.floor(Date.now() / 1000);
    await c.reboot();
    // systemd may still be starting Wirebot units when the system reports running.
    for (let i = 0; i < 60 && (await c.exec(`systemctl is-active ${units().join(" ")}`)).code !== 0; i++) await sleep(1000);
    expect((await c.exec(`test -e ${PATHS.runDir}/.e2e-before-reboot`)).code).toBe(1);
    const mtimes = (await c.execOk(`find ${PATHS.runDir} -type f -printf '%T@ %p\\n'`)).stdout.trim().split("\n").filter(Boolean);
    expect(mtimes.length).toBeGreaterThan(0);
    for (const l of mtimes) expect(Number(l.split(" ")[0]), l).toBeGreaterThanOrEqual(before);
    await expectAllActive();
    await health(plan.layout.shared!.port);
    await health(plan.config.metering.api.port);
  });

  step("the same install again: the plan is empty and no unit restarts (median of three)", "installed", async () => {
    const snapshot = async () => {
      const r = await c.execOk(`for u in ${units().join(" ")}; do echo "$u $(systemctl show -P InvocationID $u)"; done`);
      return new Map(r.stdout.trim().split("\n").map((l) => l.split(" ") as [string, string]));
    };
    const before = await snapshot();
    for (const [u, id] of before) expect(id, u).toMatch(/^[0-9a-f]{32}$/);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await c.execOk(INSTALL, { env: installEnv(), timeoutMs: 10 * 60_000 });
      times.push(performance.now() - t0);
    }
    figures["no-op re-install (median of 3)"] = `${secs(median(times))} [${times.map(secs).join(", ")}]`;
    expect(await snapshot()).toEqual(before);
    // The everyday path (issue 16, point 2; budget 1.5 s): `wirebot apply` with nothing to do.
    const applyTimes: number[] = [];
    let applyOut = "";
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const a = await c.execOk("wirebot apply --yes", { env: installEnv(), timeoutMs: 5 * 60_000 });
      applyTimes.push(performance.now() - t0);
      applyOut = `${a.stdout}${a.stderr}`;
    }
    figures["no-op apply on / (median of 3)"] = `${secs(median(applyTimes))} [${applyTimes.map(secs).join(", ")}] (budget 1.5 s)`;
    say(`a no-op apply said:\n${applyOut.trim()}`);
    expect(await snapshot()).toEqual(before);
    const p = await c.exec(PLAN_EMPTY, { env: installEnv() });
    expect(p.code, `plan after install:\n${p.stdout}${p.stderr}`).toBe(0);
  });

  /** InvocationID per unit: it changes exactly when systemd (re)starts the unit. */
  async function invocations(list: string[]): Promise<Map<string, string>> {
    const r = await c.execOk(`for u in ${list.join(" ")}; do echo "$u $(systemctl show -P InvocationID $u)"; done`);
    return new Map(r.stdout.trim().split("\n").map((l) => l.split(" ") as [string, string]));
  }

  step("stopping the secrets unit removes every pulled secret and stops its dependents; starting brings all back", "installed", async () => {
    const t0 = performance.now();
    await c.execOk("systemctl stop wirebot-secrets.service", { timeoutMs: 5 * 60_000 });
    figures["stop the secrets unit and its dependents"] = secs(performance.now() - t0);
    // How each unit went down: a unit that ignores SIGTERM shows here as a stop-sigterm timeout.
    const how = await c.exec(`journalctl --no-pager -o short-monotonic -n 400 ${units().map((u) => `-u ${u}`).join(" ")} | grep -E 'Stopping|Stopped|Deactivated|timed out|Killing|SIGTERM|signal' | tail -n 30`);
    console.log(`[e2e] stop sequence:\n${how.stdout}`);
    const left = (await c.execOk(`find ${PATHS.runDir} -type f \\( -name '*.env' -o -name cloudflared.token \\)`)).stdout.trim();
    expect(left, "secret files left after stop").toBe("");
    const r = await c.exec(`systemctl is-active ${longRunning().join(" ")}`);
    for (const state of r.stdout.trim().split("\n")) expect(state).not.toBe("active");
    await c.execOk(`systemctl start ${units().join(" ")}`, { timeoutMs: 5 * 60_000 });
    for (let i = 0; i < 60 && (await c.exec(`systemctl is-active ${units().join(" ")}`)).code !== 0; i++) await sleep(1000);
    await expectAllActive();
    await health(plan.layout.shared!.port);
  });

  if (CLOUDFLARED)
    step("a tunnel deleted and recreated in Cloudflare: apply stores its new token in the vault and restarts only cloudflared", "installed", async () => {
      const cf = cloudflare!;
      const tunnelUnit = "cloudflared-wirebot.service";
      const before = await invocations(units());
      const oldToken = (await c.execOk(`cat ${PATHS.tunnelToken}`)).stdout.trim();
      // what someone deleting the tunnel in the dashboard leaves behind
      cf.tunnels.find((t) => t.deleted_at === null)!.deleted_at = new Date().toISOString();
      const r = await c.execOk("wirebot apply", { env: installEnv(), timeoutMs: 10 * 60_000 });
      const live = cf.tunnels.filter((t) => t.deleted_at === null);
      expect(live).toHaveLength(1);
      const name = planSecrets(plan.config, plan.layout).tunnelToken!.vaultName;
      expect(r.stdout + r.stderr).toContain(`updated vault secret '${name}'`);
      for (const v of [oldToken, ...vault.values()]) expect(r.stdout + r.stderr).not.toContain(v);

      const newToken = (await c.execOk(`cat ${PATHS.tunnelToken}`)).stdout.trim();
      expect(JSON.parse(Buffer.from(newToken, "base64").toString("utf8"))).toMatchObject({ t: live[0]!.id, s: live[0]!.secret });
      const stored = bitwarden
        ? bitwarden.plainSecrets().filter((x) => x.key === name).map((x) => x.value)
        : [(parseYaml((await c.execOk(`cat ${DEV_SECRETS}`)).stdout) as Record<string, string>)[name]];
      expect(stored).toEqual([newToken]);
      const names = cf.records.filter((x) => x.content === `${live[0]!.id}.cfargotunnel.com`).map((x) => x.name).sort();
      expect(names).toEqual(["api.wirebot.example.org", "helm-erin.wirebot.example.org", "helm.wirebot.example.org"]);

      const after = await invocations(units());
      expect(after.get(tunnelUnit)).not.toBe(before.get(tunnelUnit));
      expect(new Map([...after].filter(([u]) => u !== tunnelUnit))).toEqual(new Map([...before].filter(([u]) => u !== tunnelUnit)));
      await expectAllActive();
    });

  step("drift made by hand in Cloudflare and LiteLLM: `plan --exit-code` lists exactly it (2), `apply` fixes it, the next plan is empty, local and remote", "installed", async () => {
    const planJson = async () => {
      const r = await c.exec("wirebot plan --exit-code --json", { env: installEnv(), timeoutMs: 120_000 });
      for (const v of vault.values()) expect(r.stdout + r.stderr).not.toContain(v);
      return { code: r.code, doc: JSON.parse(r.stdout) as { changes: unknown[]; remote: { read: string[]; changes: { system: string; action: string; kind: string; name: string; detail?: string }[] } } };
    };
    const clean = await planJson();
    expect(clean.doc.remote.read).toEqual(cloudflare ? ["runtime", "cloudflare", "litellm"] : ["runtime", "litellm"]);
    expect([clean.code, clean.doc.changes, clean.doc.remote.changes]).toEqual([0, [], []]);

    // What someone does in the dashboards: a DNS record deleted, an agent's budget raised.
    if (cloudflare) cloudflare.records.splice(cloudflare.records.findIndex((r) => r.name === "api.wirebot.example.org"), 1);
    const key = litellm!.store.findAlias("wirebot/alice")!;
    const budget = key.max_budget;
    key.max_budget = 9_999;
    const t0 = performance.now();
    const drift = await planJson();
    figures["plan with remote drift (live)"] = secs(performance.now() - t0);
    expect(drift.code).toBe(2);
    expect(drift.doc.changes).toEqual([]);
    expect(drift.doc.remote.changes.map((x) => `${x.system} ${x.action} ${x.kind} ${x.name}`).sort()).toEqual([
      ...(cloudflare ? ["cloudflare create dns api.wirebot.example.org"] : []),
      "litellm update key wirebot/alice",
    ]);
    expect(drift.doc.remote.changes.find((x) => x.kind === "key")!.detail).toBe(`max_budget: 9999 → ${budget === null ? "none" : JSON.stringify(budget)}`);

    // The drift timer's own run, in its sandbox: status then shows the same two items. The unit reaches the
    // Cloudflare stand-in the way every command here does, through CLOUDFLARE_BASE_URL (a test drop-in).
    const dropIn = "/etc/systemd/system/wirebot-drift.service.d";
    if (cloudflare) {
      c.writeFile(`${dropIn}/e2e-standin.conf`, `[Service]\nEnvironment=CLOUDFLARE_BASE_URL=${cloudflare.baseURL}\n`, 0o644);
      await c.execOk("systemctl daemon-reload");
    }
    const driftLine = async () => {
      await c.execOk("systemctl start wirebot-drift.service", { timeoutMs: 180_000 });
      const st = JSON.parse((await c.exec("wirebot status --json", { timeoutMs: 120_000 })).stdout) as { checks: { area: string; level: string; summary: string; data?: { drift: { where: string; what: string }[] } }[] };
      return st.checks.find((x) => x.area === "drift")!;
    };
    const seen = await driftLine();
    say(`status after the drift check: ${seen.summary}`);
    expect(seen.level).toBe("warn");
    expect(seen.data!.drift.map((d) => `${d.where} ${d.what.split(":")[0]}`).sort()).toEqual([
      ...(cloudflare ? ["cloudflare create dns api.wirebot.example.org"] : []),
      "litellm update key wirebot/alice",
    ]);

    await c.execOk("wirebot apply --yes", { env: installEnv(), timeoutMs: 10 * 60_000 });
    expect(litellm!.store.findAlias("wirebot/alice")!.max_budget).toBe(budget);
    const after = await planJson();
    expect([after.code, after.doc.changes, after.doc.remote.changes]).toEqual([0, [], []]);
    const none = await driftLine();
    expect([none.level, none.data!.drift]).toEqual(["ok", []]);
    if (cloudflare) await c.execOk(`rm -r ${dropIn} && systemctl daemon-reload`);
  });

  step("rbw backend under the real unit: a locked vault stops apply before any write; after `wirebot secrets unlock` the unit pulls through rbw's agent; ProtectHome=yes or rbw's default socket place breaks the pull", "installed", async () => {
    // The vault contents come from the Bitwarden stand-in (the default backend of this suite).
    if (!bitwarden) throw new Error("the rbw step needs WIREBOT_E2E_SECRETS=bitwarden (the default)");
    // The stand-in as a sysadmin installs rbw (/usr/local/bin), run by the package's Node: the box has no other.
    const lib = "/usr/local/lib/fake-rbw";
    for (const f of ["rbw", "rbw-agent", "pinentry-file", "lib.mjs"]) {
      const text = readFileSync(join(REPO, "test/fake-rbw", f), "utf8").replace(/^#!\/usr\/bin\/env node$/m, "#!/opt/wirebot/node/bin/node");
      c.writeFile(`${lib}/${f}`, text, f.endsWith(".mjs") ? 0o644 : 0o755);
    }
    await c.execOk(`ln -sf ${lib}/rbw /usr/local/bin/rbw && ln -sf ${lib}/rbw-agent /usr/local/bin/rbw-agent`);
    // The server holds what the Bitwarden vault holds now (generated secrets included): same values, other backend.
    const master = `e2e-master-${randomBytes(8).toString("hex")}`;
    const email = "ops@wirebot.test";
    const serverDir = mkdtempSync(join(tmpdir(), "wirebot-rbw-server-"));
    try {
      await writeRbwServer(join(serverDir, "server.json"), { email, master, entries: bitwarden.plainSecrets().map((x) => ({ name: x.key, password: x.value })) });
      c.copyIn(join(serverDir, "server.json"), "/var/lib/e2e-rbw/server.json", 0o600);
    } finally {
      rmSync(serverDir, { recursive: true, force: true });
    }
    c.writeFile("/root/.rbw-pin", `${master}\n`, 0o600);
    // As root, once: rbw's own setup writes /root/.config/rbw/config.json.
    await c.execOk(`rbw config set email ${email} && rbw config set base_url file:///var/lib/e2e-rbw/server.json && rbw config set pinentry ${lib}/pinentry-file`);

    const original = (await c.execOk(`cat ${PATHS.configFile}`)).stdout;
    const asRbw = parseYaml(original) as Record<string, any>;
    asRbw.secrets = { backend: "rbw", map: asRbw.secrets.map };
    const envs = async () => (await c.execOk(`cd /run/wirebot && sha256sum *.env users/*.env`)).stdout;
    const envsBefore = await envs();
    const unitBefore = (await c.execOk("cat /etc/systemd/system/wirebot-secrets.service")).stdout;
    const before = await invocations(units());
    try {
      // The operator edits wirebot.yaml; with no agent unlocked, apply stops before writing anything.
      c.writeFile(PATHS.configFile, stringifyYaml(asRbw), 0o600);
      const locked = await c.exec("wirebot apply --yes", { env: installEnv(), timeoutMs: 5 * 60_000 });
      expect(locked.code, locked.stderr).toBe(78);
      expect(locked.stderr).toContain("secrets.rbw-locked");
      expect(locked.stderr).toContain("wirebot secrets unlock");
      expect((await c.execOk("cat /etc/systemd/system/wirebot-secrets.service")).stdout).toBe(unitBefore);
      expect(await invocations(units())).toEqual(before);

      const unlock = await c.execOk("wirebot secrets unlock", { env: { FAKE_PINENTRY_FILE: "/root/.rbw-pin" } });
      expect(unlock.stdout).toContain("Unlocked: rbw-agent at /run/wirebot/rbw/socket");
      expect((await c.execOk("stat -c '%F %a %U' /run/wirebot/rbw; stat -c '%F %U' /run/wirebot/rbw/socket")).stdout.trim().split("\n")).toEqual(["directory 700 root", "socket root"]);

      const t0 = performance.now();
      await c.execOk("wirebot apply --yes", { env: installEnv(), timeoutMs: 10 * 60_000 });
      figures["apply switching secrets to rbw"] = secs(performance.now() - t0);
      const unit = (await c.execOk("systemctl cat wirebot-secrets.service")).stdout;
      expect(unit).toMatch(/^ProtectHome=tmpfs$/m);
      expect(unit).toMatch(/^BindReadOnlyPaths=-\/root\/\.config\/rbw /m);
      expect((await invocations(["wirebot-secrets.service"])).get("wirebot-secrets.service")).not.toBe(before.get("wirebot-secrets.service"));
      await expectAllActive();
      // Every value came back through rbw unchanged.
      expect(await envs()).toBe(envsBefore);

      // The unit really depends on the agent: locked, the restart fails with rbw's reason.
      const restart = async () => {
        await c.exec("systemctl reset-failed wirebot-secrets.service");
        return c.exec("systemctl restart wirebot-secrets.service", { timeoutMs: 5 * 60_000 });
      };
      const journalSince = async (t: string) => (await c.execOk(`journalctl -u wirebot-secrets.service --no-pager -o cat --since @${t}`)).stdout;
      const cursor = async () => (await c.execOk("date +%s")).stdout.trim();
      await c.execOk("XDG_RUNTIME_DIR=/run/wirebot rbw lock");
      let at = await cursor();
      expect((await restart()).code).not.toBe(0);
      expect(await journalSince(at)).toContain("secrets.rbw-locked");
      await c.execOk("wirebot secrets unlock", { env: { FAKE_PINENTRY_FILE: "/root/.rbw-pin" } });

      // Weakened units turn the pull red: each adjustment of the sandbox is needed.
      const weakened: [string, string, RegExp][] = [
        ["the unit's sandbox as before (ProtectHome=yes, no binds) hides root's rbw config and cache", "[Service]\nProtectHome=yes\nBindReadOnlyPaths=\n", /error\[secrets\.rbw-[a-z]+\]/],
      ];
      for (const [why, dropIn, reason] of weakened) {
        // Written from inside: the container's /run is its own tmpfs, which the host-side machine dir does not show.
        await c.execOk("mkdir -p /run/systemd/system/wirebot-secrets.service.d && cat > /run/systemd/system/wirebot-secrets.service.d/50-e2e-weaken.conf && systemctl daemon-reload", { input: dropIn });
        expect((await c.execOk("systemctl cat wirebot-secrets.service")).stdout, why).toContain(dropIn.split("\n")[1]!);
        at = await cursor();
        const r = await restart();
        const log = await journalSince(at);
        expect(r.code, `${why}: the pull must fail\n${log}`).not.toBe(0);
        expect(log, why).toMatch(reason);
        say(`rbw weakened (${why}): the pull failed as expected: ${log.split("\n").filter((l) => /rbw/.test(l)).slice(-1)[0] ?? ""}`);
        await c.execOk("rm -f /run/systemd/system/wirebot-secrets.service.d/50-e2e-weaken.conf && systemctl daemon-reload");
      }
      expect((await restart()).code).toBe(0);

      // Why wirebot passes XDG_RUNTIME_DIR=/run/wirebot to rbw: in the unit's sandbox rbw's own default is the
      // private /tmp/rbw-0, where no agent is (red); with it, the agent `wirebot secrets unlock` started answers.
      const sandboxed = (env: string) =>
        c.exec(`systemd-run --wait --pipe --quiet -p ProtectHome=tmpfs -p PrivateTmp=yes -p ProtectSystem=strict -p BindReadOnlyPaths="-/root/.config/rbw -/root/.cache/rbw" ${env} rbw unlocked`);
      const without = await sandboxed("");
      expect(without.code, without.stdout + without.stderr).not.toBe(0);
      expect(without.stderr).toContain("agent not running");
      const withVar = await sandboxed("-E XDG_RUNTIME_DIR=/run/wirebot");
      expect(withVar.code, withVar.stderr).toBe(0);
    } finally {
      // Back to Bitwarden for the rest of the story; apply brings up whatever the failed pulls stopped.
      c.writeFile(PATHS.configFile, original, 0o600);
      await c.exec("rm -f /run/systemd/system/wirebot-secrets.service.d/50-e2e-weaken.conf; systemctl daemon-reload; systemctl reset-failed");
      await c.execOk("wirebot apply --yes", { env: installEnv(), timeoutMs: 10 * 60_000 });
      await c.exec("XDG_RUNTIME_DIR=/run/wirebot rbw stop-agent");
    }
    expect((await c.execOk("cat /etc/systemd/system/wirebot-secrets.service")).stdout).toBe(unitBefore);
    await expectAllActive();
    expect(await envs()).toBe(envsBefore);
  });

  step("user add on the shared gateway: no gateway restarts (same InvocationIDs), it takes the new agent live, bob's turns after it answer, the new user's first turn is on its own key", "installed", async () => {
    const shared = bots.get(vault.get(plan.config.secrets.map.TELEGRAM_BOT_TOKEN!)!)!;
    await shared.waitForPoller(120_000);
    // wirebot.yaml feeds the reconcile daemon, which restarts by design; nothing else may.
    const keep = units().filter((u) => u !== "wirebot-reconcile.service");
    const before = await invocations(keep);
    const unitBefore = (await c.execOk(`cat /etc/systemd/system/${plan.layout.shared!.unit}`)).stdout;

    // One of bob's turns, timed: its reply is the first new message in his chat; the chat must then be quiet
    // for 2 s, so a late second message of one turn is never taken for the next turn's reply.
    const bob = peerOf("bob");
    const toBob = () => shared.sent.filter((m) => m.chatId === bob);
    const bobTurn = async (text: string, timeoutMs: number): Promise<{ startedAt: number; result: string }> => {
      const seen = toBob().length;
      const startedAt = Date.now();
      shared.injectPrivateMessage(bob, text);
      // The runtime may first send a notice about an earlier turn (one whose reply a reload lost: "I couldn't
      // confirm whether my previous reply reached this chat"): the turn is answered when one of its new
      // messages is the agent's reply. Then the chat must be quiet for 3 s before the next turn.
      const replied = () => toBob().slice(seen).find((m) => m.plain.includes(replyText("wirebot/bob")));
      while (!replied() && Date.now() - startedAt < timeoutMs) await sleep(100);
      for (let n = -1; n !== toBob().length; ) {
        n = toBob().length;
        await sleep(3_000);
      }
      const got = toBob().slice(seen);
      const reply = replied();
      for (const m of got.filter((x) => x !== reply)) say(`bob's chat, besides the reply to "${text}": ${m.plain.replace(/\s+/g, " ").slice(0, 200)}`);
      return { startedAt, result: reply ? secs(reply.at - startedAt) : "NO REPLY" };
    };
    // Bob chats all through the change, one turn after the other.
    let stop = false;
    const during: { startedAt: number; result: string }[] = [];
    const bobLoop = (async () => {
      while (!stop) during.push(await bobTurn(`Bob, turn ${during.length + 1}.`, 60_000));
    })();

    const sinceSec = Math.floor(Date.now() / 1000) - 1;
    const t0 = performance.now();
    const add = await c.exec("wirebot user add hana --name Hana --telegram 456700001", { env: installEnv(), timeoutMs: 10 * 60_000 });
    const addDone = Date.now();
    figures["user add (shared, live)"] = secs(performance.now() - t0);
    expect(add.code, `${add.stdout}${add.stderr}`).toBe(0);
    expect(add.stderr).not.toMatch(/restarting .*clawdbot-gateway\.service/);
    // apply itself waited for the runtime's verdict before it returned
    expect(add.stderr).toMatch(/clawdbot-gateway\.service: took the new config live/);
    const how = await gatewayReload(sinceSec);
    say(`the shared gateway took user hana: ${how}`);
    expect(how).toBe("hot");

    const hana = "456700001";
    const since = Date.now();
    shared.injectPrivateMessage(hana, "Hi, this is Hana.");
    const reply = await shared.waitForSent(hana, { since, timeoutMs: 120_000 });
    figures["new shared user's first reply"] = secs(reply.at - since);
    expect(reply.plain).toContain(replyText("wirebot/hana"));
    await sleep(3_000);
    const rows = litellm!.store.rows.filter((r) => r.startMs >= since - 1_000 && r.key_alias === "wirebot/hana");
    expect(rows.length).toBeGreaterThanOrEqual(1);

    stop = true;
    await bobLoop;
    // After the change, bob's turns answer again.
    const after = [await bobTurn("Bob, after the change.", 120_000), await bobTurn("Bob, once more.", 120_000)];
    const show = (ts: { startedAt: number; result: string }[]) => ts.map((t) => `${t.result}${t.startedAt < addDone ? " (sent during the add)" : ""}`).join(", ");
    say(`bob's turns during the user add: ${show(during)}; after it: ${show(after)}`);
    figures["bob's turns during the shared user add"] = show(during);
    // No plugin is reloaded by a user add (the guard's config names no user; the allow lists are read live), so
    // no reply in flight is lost ("final reply failed: … Plugin telegram was reloaded" before).
    figures["bob's turns lost during the shared user add"] = `${during.filter((t) => t.result === "NO REPLY").length} of ${during.length}`;
    expect(during.length).toBeGreaterThan(0);
    const reloaded = (await c.exec(`journalctl -b --no-pager -o cat -u ${plan.layout.shared!.unit} --since @${sinceSec} | grep -E 'was reloaded|reloading plugins' || true`)).stdout.trim();
    expect(reloaded, "no plugin of the shared gateway reloads for a user add").toBe("");
    expect(during.map((t) => t.result).filter((r) => r === "NO REPLY")).toEqual([]);
    expect(after.map((t) => t.result).filter((r) => r === "NO REPLY")).toEqual([]);
    expect(await invocations(keep)).toEqual(before);
    expect((await c.execOk(`cat /etc/systemd/system/${plan.layout.shared!.unit}`)).stdout).toBe(unitBefore);
    expect((await agentKeys()).has(litellmKeyVar("hana"))).toBe(true);
  });

  step("user add --mode dedicated: the new gateway starts healthy; the secrets unit and the other gateways keep running", "installed", async () => {
    const keep = ["wirebot-secrets.service", ...plan.layout.gateways.map((g) => g.unit)];
    const before = await invocations(keep);
    const t0 = performance.now();
    await c.execOk("wirebot user add gina --mode dedicated --name Gina --email gina@example.org", { env: installEnv(), timeoutMs: 10 * 60_000 });
    figures["user add (dedicated)"] = secs(performance.now() - t0);
    expect(await invocations(keep)).toEqual(before);
    expect((await c.exec("systemctl is-active clawdbot-gateway@gina.service")).stdout.trim()).toBe("active");
    expect(await mainUser("clawdbot-gateway@gina.service")).toBe("wb-gina");
    // The port comes from the container's own wirebot.yaml, as the command left it.
    const after = ConfigSchema.parse(parseYaml((await c.execOk(`cat ${PATHS.configFile}`)).stdout));
    const gina = resolveLayout(after).gateways.find((g) => g.unit === "clawdbot-gateway@gina.service");
    expect(gina, "gina has a dedicated gateway in the layout").toBeDefined();
    expect(await health(gina!.port)).toBeTypeOf("object");
    const env = (await c.execOk(`stat -c '%a %U' ${PATHS.runUsersDir}/gina.env`)).stdout.trim();
    expect(env).toBe("600 root");
  });

  step("apt install of a newer build: nothing restarts until `wirebot apply`, which restarts only the reconcile daemon", "installed", async () => {
    const all = [...units(), "clawdbot-gateway@gina.service"];
    const before = await invocations(all);
    const newer = `${VERSION}+e2e1`;
    const bumped = bumpedDeb(deb, newer);
    try {
      c.copyIn(bumped, `/root/${basename(bumped)}`);
      const t0 = performance.now();
      const r = await c.execOk(`cd /root && DEBIAN_FRONTEND=noninteractive apt-get install -y ./${shq(basename(bumped))}`, { timeoutMs: 10 * 60_000 });
      figures["apt install of the newer .deb (upgrade)"] = secs(performance.now() - t0);
      expect(`${r.stdout}${r.stderr}`).toContain("run `sudo wirebot apply`");
    } finally {
      rmSync(dirname(bumped), { recursive: true, force: true });
    }
    expect((await c.execOk("wirebot --version")).stdout.trim()).toBe(newer);
    // The package touched no unit, config or state: every unit still runs the process it ran before.
    expect(await invocations(all)).toEqual(before);
    const pending = await c.exec(PLAN_EMPTY, { env: installEnv() });
    expect(pending.code, pending.stdout + pending.stderr).toBe(2);
    expect(pending.stdout + pending.stderr).toContain("wirebot-reconcile.service");

    await c.execOk("wirebot apply --yes", { env: installEnv(), timeoutMs: 10 * 60_000 });
    const after = await invocations(all);
    for (const u of all) {
      if (u === "wirebot-reconcile.service") expect(after.get(u), `${u} restarts onto the new wirebot`).not.toBe(before.get(u));
      else expect(after.get(u), `${u} keeps running`).toBe(before.get(u));
    }
    expect((await c.exec(PLAN_EMPTY, { env: installEnv() })).code).toBe(0);
    expect((await c.execOk("systemctl show -P Environment wirebot-reconcile.service")).stdout).toContain(`WIREBOT_VERSION=${newer}`);
  });

  step("uninstall: no Wirebot unit remains, data is kept", "installed", async () => {
    await c.execOk(UNINSTALL, { timeoutMs: 5 * 60_000 });
    const loaded = await c.execOk("systemctl list-units --all --plain --no-legend 'wirebot-*' 'clawdbot-gateway*' 'cloudflared-wirebot*'");
    expect(loaded.stdout.trim()).toBe("");
    // list-unit-files exits 1 when nothing matches: that is the expected outcome here.
    const files = await c.exec("systemctl list-unit-files --plain --no-legend 'wirebot-*' 'clawdbot-gateway*' 'cloudflared-wirebot*'");
    expect(files.stdout.trim()).toBe("");
    const kept = [plan.config.paths.data, ...plan.config.users.map((u) => workspaceDir(plan.config, u.id))];
    await c.execOk(`ls -d ${kept.map(shq).join(" ")}`);

    // The audit trail outlives a plain uninstall: every command that changed the box, uninstall included, chained.
    expect((await c.exec("wirebot audit verify")).code).toBe(0);
    const trail = JSON.parse((await c.execOk("wirebot audit --json")).stdout) as { ok: boolean; events: { command: string; actor: { uid: number }; result: { exit: number } }[] };
    const verbs = trail.events.map((e) => e.command.split(" ").slice(1, 3).join(" "));
    say(`audit trail: ${trail.events.length} event(s): ${verbs.join(", ")}`);
    expect(trail.ok).toBe(true);
    expect(verbs[0]).toMatch(/^install/);
    expect(verbs).toEqual(expect.arrayContaining(["apply --yes", "user add", "uninstall --yes"]));
    expect(trail.events.every((e) => e.actor.uid === 0)).toBe(true);
    const raw = (await c.execOk("cat /var/log/wirebot/audit.jsonl")).stdout;
    for (const v of vault.values()) expect(raw).not.toContain(v);
    expect((await c.execOk("stat -c '%a %U' /var/log/wirebot/audit.jsonl")).stdout.trim()).toBe("600 root");
  });

  step("uninstall --purge: nothing of Wirebot remains", "installed", async () => {
    await c.execOk(PURGE, { timeoutMs: 5 * 60_000 });
    const leftovers = [PATHS.etcDir, plan.config.paths.data, PATHS.ledgerDir, PATHS.runDir, PATHS.sysusers, PATHS.tmpfiles, PATHS.tunnelConfig];
    const r = await c.exec(`for p in ${leftovers.map(shq).join(" ")}; do test -e "$p" && echo "$p"; done; ls /etc/systemd/system | grep -E '^(wirebot-|clawdbot-gateway|cloudflared-wirebot)' || true`);
    expect(r.stdout.trim().split("\n").filter(Boolean)).toEqual([]);
    // What wirebot made under /opt/wirebot (runtime, skills, plugins) is gone; what the package installed stays for apt.
    expect((await c.execOk("ls /opt/wirebot")).stdout.trim().split("\n")).toEqual(["bin", "lib", "node", "npm"]);
    const users = ["wirebot", ...plan.layout.dedicated.map((g) => g.serviceUser), "wb-gina"];
    const pw = await c.exec(`for u in ${users.join(" ")}; do getent passwd $u; done`);
    expect(pw.stdout.trim()).toBe("");
  });

  step("restore onto the purged host: runtime installed, token stored, everything active, data and ledger as backed up", "installed", async () => {
    const t0 = performance.now();
    const cmd = bwsToken ? `IFS= read -r BWS_ACCESS_TOKEN && export BWS_ACCESS_TOKEN && wirebot restore ${BACKUP}` : `wirebot restore ${BACKUP}`;
    await c.execOk(cmd, { env: installEnv(), ...(bwsToken ? { input: `${bwsToken}\n` } : {}), timeoutMs: 20 * 60_000 });
    figures["restore onto the purged host"] = secs(performance.now() - t0);
    // The archive predates `user add gina`: the restored appliance is the one backed up, without her.
    for (let i = 0; i < 60 && (await c.exec(`systemctl is-active ${units().join(" ")}`)).code !== 0; i++) await sleep(1000);
    await expectAllActive();
    expect((await c.exec("systemctl is-enabled clawdbot-gateway@gina.service")).stdout.trim()).not.toBe("enabled");
    await health(plan.layout.shared!.port);
    expect((await c.execOk(`cat ${workspaceDir(plan.config, "alice")}/E2E-NOTE.md`)).stdout).toBe("alice wrote this before the backup\n");
    expect((await c.execOk(`stat -c '%U' ${workspaceDir(plan.config, "alice")}/E2E-NOTE.md`)).stdout.trim()).toBe("wirebot");
    if (aliceLedger) {
      // alice's calls after the backup (the attack's turns) are in LiteLLM, not in the archive: the daemon's
      // first cycle on the restored ledger adds them, each once.
      const later = litellm!.store.rows.filter((r) => r.key_alias === "wirebot/alice" && r.startMs > aliceLedgerUpTo);
      const want = { requests: aliceLedger.requests + later.length, spendNusd: aliceLedger.spendNusd + later.reduce((sum, r) => sum + Math.round(r.spend * 1e9), 0) };
      let got: { requests: number; spendNusd: number } | undefined;
      for (let i = 0; i < 90; i++) {
        const u = JSON.parse((await c.execOk("wirebot usage --agent alice --json")).stdout) as { agents: { agent: string; requests: number; spendNusd: number }[] };
        got = u.agents.find((a) => a.agent === "alice");
        if (got && got.requests >= want.requests) break;
        await sleep(1000);
      }
      expect(got).toMatchObject(want);
    }
    const p = await c.exec(PLAN_EMPTY, { env: installEnv() });
    expect(p.code, `plan after restore:\n${p.stdout}${p.stderr}`).toBe(0);
  });

  // ---- Teardown is a test too: a harness that leaks containers poisons every later run ----------
  step("apt remove refuses while the appliance runs; after `wirebot uninstall`, apt purge removes the package and no data", "installed", async () => {
    const refused = await c.exec("DEBIAN_FRONTEND=noninteractive apt-get remove -y wirebot", { timeoutMs: 5 * 60_000 });
    expect(refused.code).not.toBe(0);
    expect(`${refused.stdout}${refused.stderr}`).toContain("wirebot uninstall");
    expect((await c.execOk("dpkg-query -W -f '${Status}' wirebot")).stdout).toBe("install ok installed");
    await expectAllActive();

    await c.execOk(UNINSTALL, { timeoutMs: 5 * 60_000 });
    await c.execOk("DEBIAN_FRONTEND=noninteractive apt-get purge -y wirebot", { timeoutMs: 5 * 60_000 });
    expect((await c.exec("test -e /opt/wirebot || test -e /usr/bin/wirebot")).code).not.toBe(0);
    // The package's purge deletes nothing wirebot's CLI made: the config, the ledger and the data stay.
    await c.execOk(`ls -d ${[PATHS.configFile, PATHS.ledgerDir, plan.config.paths.data].map(shq).join(" ")}`);
  });

  it("tears down: no nspawn process, no machine dir, no mount", async () => {
    const nspawn = c.nspawnPid!;
    const leader = c.leader;
    await c.destroy();
    const alive = (pid: number) => spawnSync("kill", ["-0", String(pid)]).status === 0;
    expect(alive(nspawn)).toBe(false);
    expect(alive(leader)).toBe(false);
    expect(existsSync(c.base)).toBe(false);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(c.base);
  });
});
