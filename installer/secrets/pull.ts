/** `secrets pull`: vault → tmpfs env files, all or nothing, with generated secrets stored back in the vault. */
import path from "node:path";
import type { Logger } from "pino";
import { PATHS, resolveLayout } from "../config/layout.ts";
import { planSecrets, type Generator, type SecretNeed, type SecretPlan } from "../config/secret-plan.ts";
import { deriveToken } from "../transparency/tokens.ts";
import type { Config } from "../config/schema.ts";
import { configError, tempFailError, WirebotError, writeError } from "../errors.ts";
import type { Host, Ownership } from "../host/host.ts";
import type { Io } from "../io.ts";
import { scrub, type SecretsBackend } from "./backend.ts";
import { openBitwardenBackend } from "./bitwarden.ts";
import { readBootstrapToken } from "./bootstrap-token.ts";
import { EnvValueError, renderEnvFile } from "./env-file.ts";
import { createFileBackend, FILE_BACKEND_WARNING } from "./file.ts";
import { generateSecret } from "./generate.ts";
import { createRbwBackend } from "./rbw.ts";
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from "./retry.ts";

/** Read by `wirebot status`: never holds a secret value. */
export const PULL_STATUS_PATH = PATHS.pullStatus;
export const TMPFS_TYPES = new Set(["tmpfs", "ramfs"]);
export const NON_TMPFS_WARNING = "WARNING: --allow-non-tmpfs is for DEVELOPMENT ONLY";

export interface PullStatus {
  ok: boolean;
  at: string;
  backend: string;
  /** env files written (ok) */
  files?: string[];
  /** vault names wirebot generated and stored in this pull */
  generated?: string[];
  /** kind is the exit class: "tempFail" (75, retried by systemd) or "config" (78, needs a fix), … */
  error?: { code: string; kind: string; message: string };
}

export interface PullOptions {
  allowNonTmpfs?: boolean;
}

export interface PullDeps {
  /** replaces the configured backend (tests) */
  backend?: SecretsBackend;
  /** opens the configured backend (the composition root's vault client); default: openBackend */
  open?: () => Promise<SecretsBackend>;
  logger?: Logger;
  retry?: Partial<RetryPolicy>;
}

export interface PullResult {
  files: string[];
  generated: string[];
  fsTypes: Map<string, string>;
}

interface Target {
  path: string;
  consumer: string;
  /** a user other than root who must own the file (and its directory) */
  owner?: string;
  render(values: Map<string, string>): string;
}

/** Every file a pull owns, from the plan: env files per consumer, and the tunnel token when the tunnel is on. */
function planTargets(plan: SecretPlan): Target[] {
  const targets: Target[] = plan.envFiles.map((f) => ({
    path: f.path,
    consumer: f.consumer,
    ...(f.owner ? { owner: f.owner } : {}),
    render: (values) => {
      // JSON escapes any byte, so every value is safe in this format.
      const valueOf = (v: SecretNeed) => (v.derive ? deriveToken(values.get(v.vaultName)!, v.derive) : values.get(v.vaultName)!);
      if (f.format === "json") return JSON.stringify(Object.fromEntries(f.vars.map((v) => [v.envVar, valueOf(v)]))) + "\n";
      try {
        return renderEnvFile(f.vars.map((v) => ({ name: v.envVar, value: valueOf(v) })));
      } catch (e) {
        if (!(e instanceof EnvValueError)) throw e;
        const need = f.vars.find((v) => v.envVar === e.variable);
        throw configError("secrets.value-unsafe", `vault secret '${need?.vaultName ?? "?"}' (${e.message})`, {
          hint: "store the value on one line in the vault, then run `systemctl restart wirebot-secrets`",
        });
      }
    },
  }));
  const tunnel = plan.tunnelToken;
  if (tunnel) targets.push({ path: tunnel.path, consumer: "cloudflared-wirebot.service", render: (values) => values.get(tunnel.vaultName)! });
  return targets;
}

/** Vault name → generator (if wirebot may create it), for every secret any target needs. */
function neededNames(plan: SecretPlan): Map<string, Generator | undefined> {
  const names = new Map<string, Generator | undefined>();
  for (const f of plan.envFiles) for (const v of f.vars) names.set(v.vaultName, names.get(v.vaultName) ?? v.generate);
  if (plan.tunnelToken && !names.has(plan.tunnelToken.vaultName)) names.set(plan.tunnelToken.vaultName, undefined);
  return names;
}

/** The refusal comes before any write: a secret on a disk-backed filesystem outlives the boot and lands in backups. */
export async function assertTmpfs(host: Host, dirs: readonly string[], allowNonTmpfs: boolean, io: Io): Promise<Map<string, string>> {
  const types = new Map<string, string>();
  for (const dir of dirs) types.set(dir, await host.fsType(dir));
  const bad = [...types].filter(([, t]) => !TMPFS_TYPES.has(t));
  if (bad.length === 0) return types;
  const list = bad.map(([d, t]) => `${host.resolve(d)} (${t})`).join(", ");
  if (!allowNonTmpfs) {
    throw writeError("secrets.not-tmpfs", `refusing to write secrets to ${list}: secrets go to tmpfs or ramfs only`, {
      hint: "on the box /run is tmpfs; for a test root use one under /dev/shm, or pass --allow-non-tmpfs (development only)",
    });
  }
  io.err(`${NON_TMPFS_WARNING}: writing secrets to ${list}, which is not tmpfs; they may reach persistent disk.`);
  return types;
}

// writeFileAtomic's temp files: a crash between write and rename would leave one holding secrets.
const TEMP_RE = /^\..+\.wirebot-\d+-\d+\.tmp$/;

async function sweep(host: Host, dirs: readonly string[], keep: ReadonlySet<string>): Promise<void> {
  for (const dir of dirs) {
    for (const name of (await host.readdir(dir)) ?? []) {
      const p = path.posix.join(dir, name);
      const staleUserEnv = dir === PATHS.runUsersDir && name.endsWith(".env") && !keep.has(p);
      if (TEMP_RE.test(name) || staleUserEnv) await host.remove(p);
    }
  }
}

export async function openBackend(config: Config, host: Host, io: Io, log: Logger | undefined): Promise<SecretsBackend> {
  const s = config.secrets;
  switch (s.backend) {
    case "bitwarden": {
      if (!s.bitwarden) throw configError("secrets.bitwarden-missing", "secrets.backend is 'bitwarden' but secrets.bitwarden is not set");
      const { token, source } = await readBootstrapToken(host);
      log?.info({ event: "secrets.token", source }, "access token loaded");
      return openBitwardenBackend({ host, settings: s.bitwarden, token });
    }
    case "rbw":
      return createRbwBackend({ host, folder: s.rbw?.folder });
    case "file": {
      if (!s.file) throw configError("secrets.file-missing", "secrets.backend is 'file' but secrets.file.path is not set");
      io.err(`${FILE_BACKEND_WARNING} (${s.file.path}).`);
      log?.warn({ event: "secrets.file-backend", path: s.file.path }, "development-only secrets backend");
      return createFileBackend(host, s.file.path);
    }
  }
}

/**
 * Pulls every planned secret, generates and stores the ones wirebot owns, then writes all files. On any failure
 * it removes every file this pull would have written, so a unit with Requires= on the secrets unit cannot start
 * on stale values, records the error (no values) in pull-status.json, and throws a scrubbed WirebotError.
 */
export async function pullSecrets(config: Config, host: Host, io: Io, opts: PullOptions = {}, deps: PullDeps = {}): Promise<PullResult> {
  const plan = planSecrets(config, resolveLayout(config));
  const targets = planTargets(plan);
  const dirs = [...new Set([PATHS.runDir, ...targets.map((t) => path.posix.dirname(t.path))])];
  const fsTypes = await assertTmpfs(host, dirs, opts.allowNonTmpfs ?? false, io);
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...deps.retry };
  const log = deps.logger;
  const known = new Set<string>();
  let backendKind: string = deps.backend?.kind ?? config.secrets.backend;
  let backend: SecretsBackend | null = null;
  const onRetry = (what: string) => (attempt: number, delayMs: number, err: WirebotError) => {
    const message = scrub(err.message, known);
    io.err(`  ${what}: temporary failure (${err.code}), retry ${attempt}/${policy.attempts - 1} in ${(delayMs / 1000).toFixed(1)} s`);
    log?.warn({ event: "secrets.retry", what, attempt, code: err.code, message }, "temporary failure, retrying");
  };

  try {
    const owners = await targetOwners(host, targets);
    for (const dir of dirs) {
      // root's, so root needs no DAC override to write here; the owner's group may only traverse and read.
      const owner = owners.get(targets.find((t) => t.owner && path.posix.dirname(t.path) === dir)?.owner ?? "");
      await host.mkdir(dir, owner ? { mode: 0o750, owner: { uid: 0, gid: owner.gid } } : { mode: 0o700 });
    }
    await sweep(host, dirs, new Set(targets.map((t) => t.path)));
    backend = deps.backend ?? (await (deps.open ?? (() => openBackend(config, host, io, log)))());
    backendKind = backend.kind;
    for (const v of backend.sensitive) known.add(v);
    const b = backend;

    const needs = neededNames(plan);
    const names = [...needs.keys()];
    const values = await withRetry(() => b.get(names), policy, onRetry("reading the vault"));
    for (const v of values.values()) known.add(v);

    const missing = names.filter((n) => !values.has(n));
    const cannot = missing.filter((n) => needs.get(n) === undefined);
    if (cannot.length > 0) {
      const users = (n: string) => [...new Set(plan.envFiles.flatMap((f) => f.vars.filter((v) => v.vaultName === n).map((v) => v.envVar)))];
      throw configError("secrets.missing", `the vault (${b.kind}) lacks ${cannot.length} secret(s) this host needs: ${cannot.map((n) => `'${n}'`).join(", ")}`, {
        issues: cannot.map((n) => ({ path: n, message: users(n).length ? `feeds ${users(n).join(", ")}` : "the Cloudflare tunnel token" })),
        hint: "create them in the vault under exactly these names (or fix secrets.map in /etc/wirebot/wirebot.yaml), then run `systemctl restart wirebot-secrets`",
      });
    }

    const generated: string[] = [];
    for (const name of missing) {
      const value = generateSecret(needs.get(name)!);
      known.add(value);
      await createOnce(b, name, value, policy, onRetry(`storing generated secret '${name}'`));
      generated.push(name);
    }
    if (generated.length > 0) {
      // Read back rather than trust our own values: another host may have won a race to create the same name.
      const back = await withRetry(() => b.get(generated), policy, onRetry("reading back generated secrets"));
      for (const name of generated) {
        const v = back.get(name);
        if (v === undefined) throw tempFailError("secrets.readback", `the vault did not return '${name}' right after wirebot created it`);
        known.add(v);
        values.set(name, v);
      }
    }

    const rendered = targets.map((t) => ({ path: t.path, content: t.render(values) }));
    const written: string[] = [];
    try {
      for (const [i, r] of rendered.entries()) {
        const owner = owners.get(targets[i]!.owner ?? "");
        await host.writeFileAtomic(r.path, r.content, { mode: 0o600, ...(owner ? { owner } : {}) });
        written.push(r.path);
      }
    } catch (e) {
      throw writeError("secrets.write", `cannot write ${host.resolve(rendered[written.length]?.path ?? PATHS.runDir)}: ${(e as NodeJS.ErrnoException).code ?? "error"}`, { cause: e });
    }
    const at = host.now().toISOString();
    await host.writeFileAtomic(PATHS.pulledStamp, `${at}\n`, { mode: 0o600 });
    await writeStatus(host, { ok: true, at, backend: backendKind, files: written, generated });
    log?.info({ event: "secrets.pulled", backend: backendKind, files: written, generated }, "secrets pulled");
    return { files: written, generated, fsTypes };
  } catch (e) {
    const err = asWirebotError(e, known);
    // Fail closed: no dependent unit may start on the previous boot's (or a partial) set of values.
    for (const t of targets) await host.remove(t.path).catch(() => undefined);
    await host.remove(PATHS.pulledStamp).catch(() => undefined);
    await writeStatus(host, { ok: false, at: host.now().toISOString(), backend: backendKind, error: { code: err.code, kind: err.kind, message: err.message } }).catch(() => undefined);
    log?.error({ event: "secrets.pull-failed", backend: backendKind, code: err.code, message: err.message }, "secrets pull failed");
    throw err;
  } finally {
    await backend?.close?.();
  }
}

/**
 * uid/gid of every non-root owner a target names. On the box the user must exist (systemd-sysusers made it
 * before the first pull); under a test root without it, the files stay root's.
 */
async function targetOwners(host: Host, targets: readonly Target[]): Promise<Map<string, Ownership>> {
  const out = new Map<string, Ownership>();
  for (const name of new Set(targets.flatMap((t) => (t.owner ? [t.owner] : [])))) {
    const o = await host.lookupUser(name);
    if (o) out.set(name, o);
    else if (host.root === "/") throw writeError("secrets.no-owner", `user '${name}' does not exist, so the files it must own cannot be written`, { hint: "run `wirebot apply` (systemd-sysusers creates it), then `systemctl restart wirebot-secrets`" });
  }
  return out;
}

/**
 * A create whose answer was lost may still have happened: before each retry, look again, so a flaky network
 * cannot leave two different generated values under one name.
 */
async function createOnce(b: SecretsBackend, name: string, value: string, policy: RetryPolicy, onRetry: Parameters<typeof withRetry>[2]): Promise<void> {
  let first = true;
  await withRetry(
    async () => {
      if (!first && (await b.get([name])).has(name)) return;
      first = false;
      await b.create(name, value);
    },
    policy,
    onRetry,
  );
}

/** Every message that leaves pull passes through here: known values are censored even in unexpected errors. */
function asWirebotError(e: unknown, known: ReadonlySet<string>): WirebotError {
  if (e instanceof WirebotError) {
    const message = scrub(e.message, known);
    const issues = e.issues.map((i) => ({ path: scrub(i.path, known), message: scrub(i.message, known) }));
    return new WirebotError(e.kind, e.code, message, { ...(e.hint ? { hint: e.hint } : {}), issues });
  }
  const message = scrub(e instanceof Error ? e.message : String(e), known);
  return new WirebotError("internal", "secrets.internal", `secrets pull failed unexpectedly: ${message}`);
}

async function writeStatus(host: Host, status: PullStatus): Promise<void> {
  await host.writeFileAtomic(PULL_STATUS_PATH, JSON.stringify(status, null, 2) + "\n", { mode: 0o600 });
}

export async function readPullStatus(host: Host): Promise<PullStatus | null> {
  const buf = await host.readFile(PULL_STATUS_PATH);
  if (!buf) return null;
  try {
    return JSON.parse(buf.toString("utf8")) as PullStatus;
  } catch {
    return null;
  }
}
