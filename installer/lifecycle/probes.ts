/** Read-only probes behind `wirebot status`: units, gateway health, ports, tunnel, secret freshness, metering. */
import { PATHS, resolveLayout, type Layout } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import { API_TOKEN_VAR } from "../config/secret-plan.ts";
import { WirebotError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { DRIFT_TIMER, RECONCILE_UNIT, SECRETS_UNIT, TUNNEL_UNIT } from "../config/units.ts";
import { driftRecordCheck } from "./drift-status.ts";
import { listSnapshots, SNAPSHOTS_DIR } from "./state-snapshot.ts";
import { PULL_STATUS_PATH, readPullStatus } from "../secrets/pull.ts";
import { pullHint, readUnitEnv } from "../secrets/unit-env.ts";
import { wirebotFix, type FixScope } from "../fix-scope.ts";
import { ageText, type Check } from "./report.ts";

export interface HttpReply {
  status: number;
  body: unknown;
}
/** GET with optional headers; null when nothing answers. */
export type HttpGet = (url: string, headers?: Record<string, string>) => Promise<HttpReply | null>;

/** GET through the host port's HTTP. */
export const hostGet = (host: Host): HttpGet => async (url, headers) => {
  try {
    const res = await host.fetch(url, { ...(headers ? { headers } : {}), signal: AbortSignal.timeout(3000) });
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      /* the gateway's SPA answers HTML to unknown paths: not our JSON */
    }
    return { status: res.status, body };
  } catch {
    return null;
  }
};

export interface UnitState {
  active: string;
  sub: string;
  result: string;
  execStatus: number | null;
  /** bytes the unit's cgroup uses now, and its MemoryMax= (null: unknown, or no limit) */
  memoryBytes?: number | null;
  memoryMaxBytes?: number | null;
  /** times systemd restarted it since boot (an OOM kill shows up here as well as in result) */
  restarts?: number | null;
}

/** `systemctl show` for the reason a unit failed; `is-active` when show says nothing (old systemd, fakes). */
export async function probeUnit(host: Host, unit: string): Promise<UnitState> {
  const r = await host.exec("systemctl", ["show", unit, "--property=ActiveState,SubState,Result,ExecMainStatus,MemoryCurrent,MemoryMax,NRestarts"], { timeoutMs: 10_000 });
  const kv = new Map<string, string>();
  for (const line of r.stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) kv.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  let active = kv.get("ActiveState") ?? "";
  if (!active) active = (await host.exec("systemctl", ["is-active", unit], { timeoutMs: 10_000 })).stdout.trim() || "unknown";
  const status = kv.get("ExecMainStatus");
  // systemd prints [not set] or infinity when there is no figure
  const num = (k: string) => (/^\d+$/.test(kv.get(k) ?? "") ? Number(kv.get(k)) : null);
  return { active, sub: kv.get("SubState") ?? "", result: kv.get("Result") ?? "", execStatus: status && /^\d+$/.test(status) ? Number(status) : null, memoryBytes: num("MemoryCurrent"), memoryMaxBytes: num("MemoryMax"), restarts: num("NRestarts") };
}

// Exit statuses wirebot's own units use (DESIGN.md "Command line").
const EXIT_MEANING: Record<number, string> = {
  69: "a prerequisite is missing",
  70: "internal error",
  73: "cannot write",
  75: "temporary failure, e.g. the vault is unreachable",
  78: "bad configuration",
};

const gib = (n: number) => `${(n / 1024 ** 3).toFixed(2)} GiB`;

/** "1.21 GiB of 2.12 GiB (57 %)": what a gateway uses against its MemoryMax=. */
export function memoryText(s: UnitState): string | null {
  if (s.memoryBytes === null || s.memoryBytes === undefined) return null;
  if (!s.memoryMaxBytes) return `memory ${gib(s.memoryBytes)} (no limit)`;
  return `memory ${gib(s.memoryBytes)} of ${gib(s.memoryMaxBytes)} (${Math.round((s.memoryBytes / s.memoryMaxBytes) * 100)} %)`;
}

export function describeUnit(s: UnitState): string {
  const sub = s.sub && s.sub !== s.active ? ` (${s.sub})` : "";
  // The OOM killer stopped it at MemoryMax= (OOMPolicy=stop) and Restart= brought it back: say so, it is not healthy.
  const oom = s.result === "oom-kill" ? `; it was over its memory limit and the OOM killer stopped it${s.restarts ? ` (${s.restarts} restart(s) since boot)` : ""}` : "";
  if (s.active !== "failed") return `${s.active}${sub}${oom}`;
  const why = s.execStatus ? `exit ${s.execStatus}${EXIT_MEANING[s.execStatus] ? `: ${EXIT_MEANING[s.execStatus]}` : ""}` : s.result || "unknown reason";
  return `failed (${why})${oom}`;
}

export function managedUnits(c: Config, l: Layout): string[] {
  return [SECRETS_UNIT, ...l.gateways.map((g) => g.unit), RECONCILE_UNIT, ...(c.tunnel.enabled ? [TUNNEL_UNIT] : []), ...(c.drift.schedule !== undefined ? [DRIFT_TIMER] : [])];
}


const memoryOf = (s: UnitState | undefined) => {
  const t = s ? memoryText(s) : null;
  return t ? `; ${t}` : null;
};

/** Lag above this is worth a warning: a few reconcile cycles plus the settle delay. */
export const LAG_WARN_SECONDS = 30 * 60;

export async function collectStatus(host: Host, c: Config, scope: FixScope = { root: host.root }): Promise<Check[]> {
  const http = hostGet(host);
  const l = resolveLayout(c);
  const checks: Check[] = [];
  const states = new Map<string, UnitState>();

  for (const unit of managedUnits(c, l)) {
    const s = await probeUnit(host, unit);
    states.set(unit, s);
    const starting = s.active === "activating" || s.active === "reloading";
    // running again after an OOM kill: up, but worth a look
    const level = s.active === "active" ? (s.result === "oom-kill" ? "warn" : "ok") : starting ? "warn" : "fail";
    checks.push({ area: "unit", name: unit, level, summary: describeUnit(s), fix: `journalctl -u ${unit} -n 50 --no-pager; then systemctl restart ${unit}`, data: { ...s } });
  }

  for (const g of l.gateways) {
    const url = `http://127.0.0.1:${g.port}/health`;
    const r = await http(url);
    const healthy = r !== null && r.status === 200 && (r.body as { ok?: unknown } | null)?.ok === true;
    const who = g.users.map((u) => u.id).join(", ");
    checks.push({
      area: "gateway",
      name: g.id,
      level: healthy ? "ok" : "fail",
      summary: (healthy ? `healthy on 127.0.0.1:${g.port} (${who})` : r === null ? `no answer on 127.0.0.1:${g.port} (${who})` : `unhealthy answer from ${url} (HTTP ${r.status})`) + (memoryOf(states.get(g.unit)) ?? ""),
      fix: `journalctl -u ${g.unit} -n 50 --no-pager`,
      data: { unit: g.unit, port: g.port, users: g.users.map((u) => u.id), memoryBytes: states.get(g.unit)?.memoryBytes ?? null, memoryMaxBytes: states.get(g.unit)?.memoryMaxBytes ?? null },
    });
  }

  const ports = [...l.gateways.map((g) => ({ port: g.port, who: g.unit })), { port: c.metering.api.port, who: RECONCILE_UNIT }];
  for (const p of ports) {
    const open = await host.portOpen(p.port);
    checks.push({
      area: "port",
      name: String(p.port),
      level: open ? "ok" : "fail",
      summary: open ? `listening (${p.who})` : `nothing listening (${p.who} should be)`,
      fix: `systemctl status ${p.who}`,
    });
  }

  checks.push(await tunnelCheck(host, c, states.get(TUNNEL_UNIT), scope));
  const snaps = await listSnapshots(host);
  if (snaps.length > 0) {
    const bytes = snaps.reduce((n, x) => n + x.bytes, 0);
    checks.push({
      area: "upgrade",
      name: "snapshots",
      level: "ok",
      summary: `${snaps.length} state snapshot(s) of runtime.keepSnapshots ${c.runtime.keepSnapshots}, ${(bytes / 1024 ** 2).toFixed(1)} MiB in ${SNAPSHOTS_DIR}; the last: ${snaps.at(-1)!.runtime.version} → ${snaps.at(-1)!.to} at ${snaps.at(-1)!.at}`,
      fix: "wirebot upgrade --list",
      data: { count: snaps.length, bytes },
    });
  }
  checks.push(await secretsCheck(host, states.get(SECRETS_UNIT)!));
  checks.push(...(await meteringChecks(host, c, http, scope)));
  const drift = await driftRecordCheck(host, c);
  if (drift) checks.push(drift);
  return checks;
}

async function tunnelCheck(host: Host, c: Config, unit: UnitState | undefined, scope: FixScope): Promise<Check> {
  if (!c.tunnel.enabled) return { area: "tunnel", name: c.tunnel.name, level: "ok", summary: "disabled (tunnel.enabled: false)" };
  const names = [c.tunnel.hostnames.helm ?? `helm.${c.domain}`, c.tunnel.hostnames.api ?? `api.${c.domain}`];
  const missing: string[] = [];
  if (c.tunnel.managed === "local" && !(await host.stat(PATHS.tunnelConfig))) missing.push(PATHS.tunnelConfig);
  if (!(await host.stat(PATHS.tunnelToken))) missing.push(`${PATHS.tunnelToken} (pulled at boot)`);
  const up = unit?.active === "active";
  const level = missing.length > 0 || !up ? "fail" : "ok";
  return {
    area: "tunnel",
    name: c.tunnel.name,
    level,
    summary: `${names.join(", ")} → ${up ? "connected unit active" : `unit ${unit ? describeUnit(unit) : "unknown"}`}${missing.length ? `; missing ${missing.join(", ")}` : ""}`,
    fix: missing.length ? `${wirebotFix(scope, "apply")}, then systemctl restart ${SECRETS_UNIT}` : `journalctl -u ${TUNNEL_UNIT} -n 50 --no-pager`,
    data: { hostnames: names, managed: c.tunnel.managed },
  };
}

async function secretsCheck(host: Host, unit: UnitState): Promise<Check> {
  const st = await readPullStatus(host);
  const base = { area: "secrets" as const, name: "pull" };
  const unitWhy = unit.active === "failed" ? `${SECRETS_UNIT} ${describeUnit(unit)}` : null;
  if (!st)
    return { ...base, level: "fail", summary: `never pulled since boot (no ${PULL_STATUS_PATH})${unitWhy ? `; ${unitWhy}` : ""}`, fix: `systemctl restart ${SECRETS_UNIT}; journalctl -u ${SECRETS_UNIT} -n 50 --no-pager` };
  const age = ageText(host.now().getTime() - Date.parse(st.at));
  if (!st.ok) {
    // The status file is written by `secrets pull` with values scrubbed, so its message is safe to show.
    const err = st.error ? `${st.error.code}: ${st.error.message}` : "unknown error";
    return {
      ...base,
      level: "fail",
      summary: `last pull failed ${age} ago (${err})${unitWhy ? `; ${unitWhy}` : ""}; gateways stay down rather than run with stale secrets`,
      fix: st.error?.kind === "tempFail" || /unreach|timeout|network/i.test(err) ? `check outbound HTTPS to the vault, then systemctl restart ${SECRETS_UNIT}` : `fix the cause above, then systemctl restart ${SECRETS_UNIT}`,
      data: { at: st.at, backend: st.backend, error: st.error ?? null },
    };
  }
  return {
    ...base,
    level: unitWhy ? "fail" : "ok",
    summary: `pulled ${age} ago (${st.at}, backend ${st.backend}${st.files ? `, ${st.files.length} file(s)` : ""})${unitWhy ? `; but ${unitWhy}` : ""}`,
    fix: `systemctl restart ${SECRETS_UNIT}`,
    data: { at: st.at, backend: st.backend },
  };
}

/** The token the way the reconcile unit gets it: the environment, else its EnvironmentFile= (root only). */
async function readApiToken(host: Host): Promise<{ token: string } | { why: string }> {
  let r;
  try {
    r = await readUnitEnv(host, { file: PATHS.reconcileEnv, names: [API_TOKEN_VAR], env: host.env });
  } catch (e) {
    if (e instanceof WirebotError) return { why: e.message };
    throw e;
  }
  const token = r.env[API_TOKEN_VAR];
  if (token) return { token };
  if (r.outcome === "not-root") return { why: `only root can read ${API_TOKEN_VAR} from ${PATHS.reconcileEnv}: run this command with sudo` };
  if (r.outcome === "not-pulled") return { why: `no ${PATHS.reconcileEnv}: ${pullHint(host)}` };
  return { why: `no ${API_TOKEN_VAR} in ${PATHS.reconcileEnv}` };
}

interface AgentsBody {
  agents?: { id: string; monthSpendUsd?: string; budget?: { monthlyUsd: number; percent: number | null; state: string } | null }[];
}

async function meteringChecks(host: Host, c: Config, http: HttpGet, scope: FixScope): Promise<Check[]> {
  const base = `http://127.0.0.1:${c.metering.api.port}`;
  const health = await http(`${base}/health`);
  const unknownBudgets = (why: string): Check[] =>
    c.users.map((u) => ({ area: "budget" as const, name: u.id, level: "warn" as const, summary: `unknown (${why})`, fix: `systemctl status ${RECONCILE_UNIT}` }));
  if (!health || health.status !== 200 || typeof health.body !== "object" || health.body === null)
    return [
      { area: "metering", name: "api", level: "fail", summary: `reconcile API not answering on 127.0.0.1:${c.metering.api.port}; ledger lag unknown`, fix: `journalctl -u ${RECONCILE_UNIT} -n 50 --no-pager` },
      ...unknownBudgets("metering API down"),
    ];
  const h = health.body as { status?: string; lagSeconds?: number | null; lastSuccessAt?: string | null; lastError?: string | null };
  const lag = h.lagSeconds ?? null;
  const level = h.status === "failing" ? "fail" : h.status === "never-synced" || (lag !== null && lag > LAG_WARN_SECONDS) ? "warn" : "ok";
  const checks: Check[] = [
    {
      area: "metering",
      name: "ledger",
      level,
      summary: `${h.status ?? "?"}; lag ${lag === null ? "unknown" : ageText(lag * 1000)}${h.lastSuccessAt ? `, last sync ${h.lastSuccessAt}` : ""}${h.lastError ? `; last error: ${h.lastError}` : ""}`,
      fix:
        h.status === "failing"
          ? `check LiteLLM is reachable at litellm.baseUrl and LITELLM_MASTER_KEY is valid; \`${wirebotFix(scope, "reconcile --once")}\` shows the error`
          : `wait for the next cycle or run \`${wirebotFix(scope, "reconcile --once")}\``,
      data: { status: h.status, lagSeconds: lag },
    },
  ];
  const auth = await readApiToken(host);
  if (!("token" in auth)) return [...checks, ...unknownBudgets(auth.why)];
  const agents = await http(`${base}/v1/agents`, { authorization: `Bearer ${auth.token}` });
  const list = agents && agents.status === 200 ? (agents.body as AgentsBody).agents : undefined;
  if (!list) return [...checks, ...unknownBudgets(agents ? `API answered HTTP ${agents.status}` : "metering API down")];
  for (const a of list) {
    const b = a.budget;
    const state = b?.state ?? "no-budget";
    checks.push({
      area: "budget",
      name: a.id,
      level: state === "over" || state === "warn" ? "warn" : "ok",
      summary: b ? `$${a.monthSpendUsd ?? "?"} of $${b.monthlyUsd} this month (${b.percent ?? "?"} %, ${state})` : `$${a.monthSpendUsd ?? "?"} this month (no budget)`,
      fix: `raise users[].budget.monthlyUsd for ${a.id} in wirebot.yaml and run \`${wirebotFix(scope, "apply")}\`, or wait for next month`,
      data: { state, monthSpendUsd: a.monthSpendUsd, ...(b ? { monthlyUsd: b.monthlyUsd, percent: b.percent } : {}) },
    });
  }
  return checks;
}
