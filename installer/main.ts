/** argv → command → exit code. The only place that sets process.exitCode. */
// Only what every run needs is imported here: commander, the error type, the console and the version. Each
// command's modules (and through them zod, yaml, the Cloudflare and Bitwarden SDKs, SQLite, inquirer)
// are imported inside its action, so `--version`, `--help` and every command pay only for what they run.
import { PACKAGE_VERSION } from "./assets.ts";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { EXIT, WirebotError, errorJson, formatError } from "./errors.ts";
import { failureOf, isHelpOrVersion } from "./cli-failure.ts";
import { jsonDocumentIo, processIo, type Io } from "./io.ts";
import type { CommandContext } from "./pipeline/context.ts";
import type { LockRequest } from "./pipeline/lock.ts";
import type { InstallDeps } from "./commands/install.ts";

/**
 * lifecycle/lock.ts's DEFAULT_WAIT_SECONDS, for --wait's help text. Importing lock.ts here would load the config
 * schema (zod) on every start; main.startup.test.ts checks the two stay equal.
 */
export const HELP_DEFAULT_WAIT_SECONDS = 600;

export interface MainDeps {
  io?: Io;
  env?: Record<string, string | undefined>;
  /** replace the context factory (tests inject a recording exec) */
  context?: (io: Io, root: string | undefined) => CommandContext;
  install?: InstallDeps;
}

const rootOption = () => new Option("--root <dir>", "operate on DIR instead of / (renders files only; services are not touched)");
const configOption = () => new Option("--config <file>", "wirebot.yaml to use instead of /etc/wirebot/wirebot.yaml");
const waitOption = () =>
  new Option("--wait [seconds]", `when another wirebot command holds the apply lock, wait for it (default ${HELP_DEFAULT_WAIT_SECONDS} s) instead of exiting 75`).argParser((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 86_400) throw new InvalidArgumentError("must be a whole number of seconds from 1 to 86400");
    return n;
  });

/** Filled before a command that changes the box runs; main() appends the audit event once it has ended. */
export interface AuditHolder {
  start?: import("./audit/record.ts").AuditStart;
}

export function buildProgram(deps: MainDeps, setExit: (code: number) => void, audit: AuditHolder = {}, argv: readonly string[] = []): Command {
  const io = deps.io ?? processIo;
  // Set before each action: how a writing command names itself in the apply lock, and its --wait.
  let lock: LockRequest | undefined;
  const ctxFor = async (root?: string): Promise<CommandContext> => ({
    ...(deps.context ? deps.context(io, root) : (await import("./pipeline/context.ts")).createContext(io, { ...(root ? { root } : {}), ...(deps.env ? { env: deps.env } : {}) })),
    ...(lock ? { lock } : {}),
  });
  const prompterOnTerminal = async () => (await import("./wizard/prompter.ts")).createInquirerPrompter();
  const run = (fn: () => Promise<number>) => async () => setExit(await fn());

  const program = new Command("wirebot")
    .description("Install and run a hardened, multi-user OpenClaw gateway appliance under systemd")
    .version(PACKAGE_VERSION)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  program.hook("preAction", async (_program, action) => {
    lock = (await import("./pipeline/lock.ts")).lockRequestOf(action);
    const names: string[] = [];
    for (let c: Command | null = action; c && c !== program; c = c.parent) names.unshift(c.name());
    const env = deps.env ?? process.env;
    const record = await import("./audit/record.ts");
    // A unit's own run (the secrets unit's pull at boot) is in the journal; the trail is for what people do.
    if (env["INVOCATION_ID"] || !record.isAudited(names, action.opts())) return;
    const root = action.opts()["root"];
    const { shellWord } = await import("./fix-scope.ts");
    const purge = names[0] === "uninstall" && action.opts()["purge"] === true;
    const at = typeof root === "string" ? root : undefined;
    // The host alone: a whole context would read every shipped asset once more before the command does.
    const host = deps.context ? deps.context(io, at).host : (await import("./host/node-host.ts")).createNodeHost({ root: at ?? "/", env });
    audit.start = await record.auditStart(host, ["wirebot", ...argv].map(shellWord).join(" "), env, purge);
  });

  program
    .command("install")
    .description("guided install (or --config FILE --yes): write wirebot.yaml, preflight, provision, apply, verify")
    .addOption(configOption().conflicts([]))
    .option("-y, --yes", "do not ask for confirmation")
    .addOption(rootOption())
    .option("--no-start", "write everything but do not start services")
    .option("--provision-runtime", "also install the gateway runtime under --root (always done on /)")
    .addOption(waitOption())
    .action(async (o: { config?: string; yes?: boolean; root?: string; start: boolean; provisionRuntime?: boolean }) => {
      const ctx = await ctxFor(o.root);
      const installDeps: InstallDeps = {
        provisionRuntime: async (c, config) => (await import("./runtime/provision.ts")).provisionRuntime(c.host, config, c.io),
        ensureCloudflared: async (c) => {
          const { applyCloudflaredInstall, preflightCloudflared } = await import("./tunnel/cloudflared-install.ts");
          const r = await preflightCloudflared(c.host);
          if (r.outcome === "install") {
            c.io.err(`  installing cloudflared: ${r.reason}`);
            await applyCloudflaredInstall(c.host, r.plan);
          } else c.io.err(`  cloudflared ${r.version} already at ${r.binary}`);
        },
        storeBootstrapToken: async (c, token) => {
          const stored = await (await import("./secrets/bootstrap-token.ts")).storeBootstrapToken(c.host, token);
          c.io.err(`  access token stored ${stored.outcome === "encrypted" ? "encrypted with systemd-creds" : "as a root 0600 file"}: ${stored.path}`);
        },
        ...deps.install,
      };
      if (!installDeps.prompter && io.tty && !o.config) installDeps.prompter = await prompterOnTerminal();
      if (!installDeps.prompter && io.tty && !o.yes) installDeps.prompter = await prompterOnTerminal();
      const { installCommand } = await import("./commands/install.ts");
      await run(() => installCommand(ctx, { ...(o.config ? { config: o.config } : {}), yes: Boolean(o.yes), start: o.start, provisionRuntime: Boolean(o.provisionRuntime) }, installDeps))();
    });

  program
    .command("plan")
    .description("show what apply would change, on this host and in Cloudflare and LiteLLM (secret values hidden)")
    .addOption(configOption())
    .addOption(rootOption())
    .option("--json", "machine-readable output")
    .option("--exit-code", "exit 2 when changes are pending, local or remote")
    .option("--local", "files and units only: do not read Cloudflare or LiteLLM")
    .option("--record", "keep what was found for `wirebot status` (the drift timer runs this)")
    .action(async (o: { config?: string; root?: string; json?: boolean; exitCode?: boolean; local?: boolean; record?: boolean }) =>
      run(async () =>
        (await import("./commands/plan.ts")).planCommand(await ctxFor(o.root), {
          ...(o.config ? { config: o.config } : {}),
          json: Boolean(o.json),
          exitCode: Boolean(o.exitCode),
          local: Boolean(o.local),
          record: Boolean(o.record),
        }),
      )(),
    );

  program
    .command("apply")
    .description("converge the host to wirebot.yaml")
    .addOption(configOption())
    .addOption(rootOption())
    .option("-y, --yes", "do not ask for confirmation")
    .option("--no-start", "write files but do not start or restart services")
    .addOption(waitOption())
    .action(async (o: { config?: string; root?: string; yes?: boolean; start: boolean }) => {
      // On a terminal, apply asks before changing anything; --yes (or no terminal: timers, scripts) does not.
      const prompter = !o.yes && io.tty ? (deps.install?.prompter ?? (await prompterOnTerminal())) : null;
      const confirm = prompter ? () => prompter.confirm("Apply these changes?", true) : undefined;
      await run(async () => (await import("./commands/apply.ts")).applyCommand(await ctxFor(o.root), { ...(o.config ? { config: o.config } : {}), yes: Boolean(o.yes), start: o.start, ...(confirm ? { confirm } : {}) }))();
    });

  program
    .command("status")
    .description("health of every unit, gateway, port, the tunnel, secret freshness, ledger lag and budgets")
    .addOption(configOption())
    .addOption(rootOption())
    .option("--json", "machine-readable output")
    .action(async (o: { config?: string; root?: string; json?: boolean }) => run(async () => (await import("./commands/status.ts")).statusCommand(await ctxFor(o.root), { ...(o.config ? { config: o.config } : {}), json: Boolean(o.json) }))());

  program
    .command("doctor")
    .description("status plus config drift, permissions, headroom and runtime fit, each problem with a fix")
    .addOption(configOption())
    .addOption(rootOption())
    .option("--json", "machine-readable output")
    .action(async (o: { config?: string; root?: string; json?: boolean }) => run(async () => (await import("./commands/doctor.ts")).doctorCommand(await ctxFor(o.root), { ...(o.config ? { config: o.config } : {}), json: Boolean(o.json) }))());

  const user = program.command("user").description("add, remove, move and list users (edits wirebot.yaml, then applies)");
  user
    .command("add <id>")
    .description("add a user and apply")
    .addOption(new Option("--mode <mode>", "gateway mode").choices(["shared", "dedicated"]))
    .option("--name <name>", "display name")
    .option("--telegram <peer>", "Telegram user id")
    .option("--whatsapp <peer>", "WhatsApp number (E.164)")
    .option("--budget <usd>", "monthly budget in USD")
    .option("--email <address>", "who Cloudflare Access lets into a dedicated user's own Control UI (needed when tunnel.access is on)")
    .addOption(rootOption())
    .addOption(waitOption())
    .action(async (id: string, o: { mode?: "shared" | "dedicated"; name?: string; telegram?: string; whatsapp?: string; budget?: string; email?: string; root?: string }) =>
      run(async () => (await import("./commands/user.ts")).userAddCommand(await ctxFor(o.root), { id, ...(o.mode ? { mode: o.mode } : {}), ...(o.name ? { name: o.name } : {}), ...(o.telegram ? { telegram: o.telegram } : {}), ...(o.whatsapp ? { whatsapp: o.whatsapp } : {}), ...(o.budget ? { budget: o.budget } : {}), ...(o.email ? { email: o.email } : {}) }))(),
    );
  user
    .command("remove <id>")
    .description("remove a user and apply; data is kept unless --purge")
    .option("--purge", "also delete the user's state directory and workspace")
    .addOption(rootOption())
    .addOption(waitOption())
    .action(async (id: string, o: { purge?: boolean; root?: string }) => run(async () => (await import("./commands/user.ts")).userRemoveCommand(await ctxFor(o.root), { id, purge: Boolean(o.purge) }))());
  user
    .command("move <id>")
    .description("move a user between the shared gateway and a dedicated one (migrates state)")
    .addOption(new Option("--mode <mode>", "target mode").choices(["shared", "dedicated"]).makeOptionMandatory())
    .addOption(rootOption())
    .addOption(waitOption())
    .action(async (id: string, o: { mode: "shared" | "dedicated"; root?: string }) => run(async () => (await import("./commands/user.ts")).userMoveCommand(await ctxFor(o.root), { id, mode: o.mode }))());
  user
    .command("list")
    .description("list users with their mode, unit and port")
    .option("--json", "machine-readable output")
    .addOption(rootOption())
    .action(async (o: { json?: boolean; root?: string }) => run(async () => (await import("./commands/user.ts")).userListCommand(await ctxFor(o.root), { json: Boolean(o.json) }))());

  program
    .command("upgrade")
    .description("provision a runtime version beside the current one, validate, switch, verify; roll back on failure")
    .option("--runtime-version <version>", "openclaw version to move to")
    .option("--dry-run", "show the plan only")
    .option("--list", "list the snapshots of the gateways' state taken before each upgrade, and change nothing")
    .option("--rollback", "undo the last upgrade: its state snapshot back and the runtime it left, converged and verified")
    .addOption(rootOption())
    .addOption(waitOption())
    .action(async (o: { runtimeVersion?: string; dryRun?: boolean; list?: boolean; rollback?: boolean; root?: string }) =>
      run(async () => (await import("./commands/upgrade.ts")).upgradeCommand(await ctxFor(o.root), { ...(o.runtimeVersion ? { runtimeVersion: o.runtimeVersion } : {}), dryRun: Boolean(o.dryRun), list: Boolean(o.list), rollback: Boolean(o.rollback) }))(),
    );

  program
    .command("uninstall")
    .description("remove units, service users and the runtime; keep data unless --purge")
    .option("--purge", "also delete data, the ledger and wirebot.yaml (needs --yes)")
    .option("-y, --yes", "confirm --purge")
    .option("--dry-run", "list what would be stopped and deleted; change nothing")
    .option("--json", "machine-readable output")
    .addOption(rootOption())
    .addOption(waitOption())
    .action(async (o: { purge?: boolean; yes?: boolean; dryRun?: boolean; json?: boolean; root?: string }) => {
      const ctx = await ctxFor(o.root);
      const [{ uninstallCommand }, { withApplyLock }] = await Promise.all([import("./commands/uninstall.ts"), import("./pipeline/lock.ts")]);
      const uninstall = () => uninstallCommand(ctx, { purge: Boolean(o.purge), yes: Boolean(o.yes), dryRun: Boolean(o.dryRun), json: Boolean(o.json) });
      // A dry run only reads; the real one holds the apply lock (lifecycle/lock.ts).
      await run(() => (o.dryRun ? uninstall() : withApplyLock(ctx, uninstall)))();
    });

  program
    .command("backup <file>")
    .description("archive wirebot.yaml, state dirs, workspaces and the ledger (no secret values)")
    .option("--force", "overwrite FILE")
    .addOption(rootOption())
    .action(async (file: string, o: { force?: boolean; root?: string }) => run(async () => (await import("./commands/backup.ts")).backupCommand(await ctxFor(o.root), { file, force: Boolean(o.force) }))());

  program
    .command("restore <file>")
    .description("restore an archive onto a fresh host, then apply")
    .option("--force", "restore over existing state")
    .addOption(rootOption())
    .addOption(waitOption())
    .action(async (file: string, o: { force?: boolean; root?: string }) => run(async () => (await import("./commands/backup.ts")).restoreCommand(await ctxFor(o.root), { file, force: Boolean(o.force) }))());

  program
    .command("reconcile")
    .description("meter LiteLLM spend per agent into the ledger; --daemon also serves the local API (wirebot-reconcile.service)")
    .option("--once", "one cycle, then exit (the default)")
    .option("--daemon", "run on metering.schedule and serve the API until SIGTERM")
    .option("--json", "machine-readable summary (--once)")
    .option("--backfill-from <date>", "where an empty ledger starts (ISO date; default: start of the previous month)")
    .addOption(configOption())
    .addOption(rootOption())
    .action(async (o: { once?: boolean; daemon?: boolean; json?: boolean; backfillFrom?: string; config?: string; root?: string }) => {
      const ctx = await ctxFor(o.root);
      const { config } = await (await import("./pipeline/context.ts")).loadConfig(ctx, o.config);
      const { reconcileCommand } = await import("./commands/reconcile.ts");
      await run(() =>
        reconcileCommand({ once: Boolean(o.once), daemon: Boolean(o.daemon), json: Boolean(o.json), env: ctx.env, ...(o.backfillFrom ? { backfillFrom: o.backfillFrom } : {}), ...(o.root ? { root: o.root } : {}) }, config, ctx.io),
      )();
    });

  program
    .command("usage")
    .description("spend report from the ledger: a table, --json or --csv")
    .option("--agent <id>", "one agent only")
    .option("--from <date>", "first day (YYYY-MM-DD)")
    .option("--to <date>", "last day (YYYY-MM-DD)")
    .addOption(new Option("--group <by>", "rows per day or per month").choices(["day", "month"]))
    .option("--json", "JSON output")
    .option("--csv", "CSV output")
    .addOption(configOption())
    .addOption(rootOption())
    .action(async (o: { agent?: string; from?: string; to?: string; group?: "day" | "month"; json?: boolean; csv?: boolean; config?: string; root?: string }) => {
      const ctx = await ctxFor(o.root);
      const { config } = await (await import("./pipeline/context.ts")).loadConfig(ctx, o.config);
      const { config: _c, root, ...rest } = o;
      const { usageCommand } = await import("./commands/usage.ts");
      await run(() => usageCommand({ ...rest, ...(root ? { root } : {}) }, config, ctx.io))();
    });

  const traceCmd = program
    .command("trace")
    .description("tool calls of every agent from the ledger: allowed and denied, params and results redacted (docs/transparency.md)");
  traceCmd
    .command("list", { isDefault: true })
    .description("list tool calls, oldest first; --follow keeps printing new ones")
    .option("--agent <id>", "one agent only")
    .option("--since <time>", "an ISO time, or a duration back from now: 15m, 24h, 7d")
    .option("--tool <name>", "one tool only (read, exec, tool_call, …)")
    .option("--denied", "denied calls only")
    .option("--limit <n>", "the last n calls (default 1000)")
    .option("--follow", "keep printing calls as they are recorded (Ctrl-C stops)")
    .option("--json", "JSON output")
    .option("--csv", "CSV output")
    .addOption(configOption())
    .addOption(rootOption())
    .action(async (o: { agent?: string; since?: string; tool?: string; denied?: boolean; limit?: string; follow?: boolean; json?: boolean; csv?: boolean; config?: string; root?: string }) => {
      const ctx = await ctxFor(o.root);
      const { config } = await (await import("./pipeline/context.ts")).loadConfig(ctx, o.config);
      const { config: _c, root: _r, ...rest } = o;
      const { traceCommand } = await import("./commands/trace.ts");
      await run(() => traceCommand(rest, config, ctx.io, ctx.host))();
    });
  traceCmd
    .command("token")
    .description("print USER's trace read token: with it the API's /v1/traces returns that user's tool calls and nobody else's")
    .argument("<user>", "user id")
    .option("--json", "JSON output")
    .addOption(configOption())
    .addOption(rootOption())
    .action(async (user: string, o: { json?: boolean; config?: string; root?: string }) => {
      const ctx = await ctxFor(o.root);
      const { config } = await (await import("./pipeline/context.ts")).loadConfig(ctx, o.config);
      const { traceTokenCommand } = await import("./commands/trace.ts");
      await run(() => traceTokenCommand({ user, ...(o.json ? { json: true } : {}) }, config, ctx.io, ctx.host))();
    });

  const auditCmd = program.command("audit").description("what was done to this box, by whom (append-only, hash-chained: /var/log/wirebot/audit.jsonl)");
  auditCmd
    .command("list", { isDefault: true })
    .description("list the audited commands: time, who (behind sudo), the command, wirebot.yaml before → after, exit")
    .addOption(rootOption())
    .option("--since <when>", "only events since an ISO date or an age (90m, 12h, 7d)")
    .option("--json", "machine-readable output")
    .option("--csv", "one CSV row per event")
    .action(async (o: { root?: string; since?: string; json?: boolean; csv?: boolean }) =>
      run(async () => (await import("./commands/audit.ts")).auditCommand(await ctxFor(o.root), { ...(o.since ? { since: o.since } : {}), json: Boolean(o.json), csv: Boolean(o.csv) }))(),
    );
  auditCmd
    .command("verify")
    .description("check that no event was edited or deleted (exit 1 naming the first that was)")
    .addOption(rootOption())
    .option("--json", "machine-readable output")
    .action(async (o: { root?: string; json?: boolean }) => run(async () => (await import("./commands/audit.ts")).auditVerifyCommand(await ctxFor(o.root), { json: Boolean(o.json) }))());

  const channels = program.command("channels").description("messaging channels: link WhatsApp, show channel state");
  channels
    .command("login <channel>")
    .description("link a WhatsApp account: draws the QR code in this terminal until linked")
    .requiredOption("--user <id>", "the user whose gateway links the account")
    .option("--light-terminal", "the terminal has a light background: draw the code's dark modules instead of its light ones")
    .addOption(configOption())
    .action(async (channel: string, o: { user: string; config?: string; lightTerminal?: boolean }) =>
      run(async () => (await import("./commands/channels.ts")).channelsLoginCommand(await ctxFor(), { channel, user: o.user, lightTerminal: Boolean(o.lightTerminal), ...(o.config ? { config: o.config } : {}) }))(),
    );
  channels
    .command("status")
    .description("per user and channel: configured, linked, connected, last error")
    .option("--json", "machine-readable output")
    .addOption(configOption())
    .action(async (o: { json?: boolean; config?: string }) => run(async () => (await import("./commands/channels.ts")).channelsStatusCommand(await ctxFor(), { json: Boolean(o.json), ...(o.config ? { config: o.config } : {}) }))());

  const secrets = program.command("secrets").description("secrets from the vault into tmpfs");
  secrets
    .command("pull")
    .description("write /run/wirebot/*.env from the vault (run by wirebot-secrets.service)")
    .addOption(configOption())
    .addOption(rootOption())
    .option("--allow-non-tmpfs", "DEVELOPMENT ONLY: allow writing secrets to a filesystem that is not tmpfs/ramfs")
    .addOption(waitOption())
    .action(async (o: { config?: string; root?: string; allowNonTmpfs?: boolean }) => {
      const ctx = await ctxFor(o.root);
      const { config } = await (await import("./pipeline/context.ts")).loadConfig(ctx, o.config);
      const { secretsPullCommand } = await import("./commands/secrets.ts");
      // the logger and the vault client come from the composition root, like every command's
      const logger = await ctx.services.logger("wirebot-secrets");
      const deps = { logger, open: () => ctx.services.vault(config, ctx.io, logger) };
      await run(() => secretsPullCommand({ ...(o.root ? { root: o.root } : {}), allowNonTmpfs: Boolean(o.allowNonTmpfs), ...(ctx.lock ? { lock: ctx.lock } : {}) }, config, ctx.host, ctx.io, deps))();
    });

  secrets
    .command("unlock")
    .description("rbw backend: run `rbw unlock` so its agent lives at /run/wirebot/rbw/socket, where wirebot-secrets.service looks")
    .addOption(configOption())
    .addOption(rootOption())
    .action(async (o: { config?: string; root?: string }) => run(async () => (await import("./commands/secrets-unlock.ts")).secretsUnlockCommand(await ctxFor(o.root), o.config ? { config: o.config } : {}))());

  return program;
}

/** `--json` anywhere before a `--`: then stdout is one JSON document, whatever happens. */
const wantsJson = (argv: readonly string[]) => {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).includes("--json");
};

/** Runs the CLI; returns the exit code (also set on process.exitCode by runMain). Never throws, never prints a stack trace unless WIREBOT_DEBUG=1. */
export async function main(argv: string[], deps: MainDeps = {}): Promise<number> {
  const baseIo = deps.io ?? processIo;
  const jsonIo = wantsJson(argv) ? jsonDocumentIo(baseIo) : null;
  const io = jsonIo ?? baseIo;
  let code: number = EXIT.ok;
  const audit: AuditHolder = {};
  const program = buildProgram({ ...deps, io }, (c) => (code = c), audit, argv);
  let failure: WirebotError | null = null;
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    if (isHelpOrVersion(e)) return EXIT.ok;
    failure = failureOf(e, deps.env ?? process.env);
    code = failure.exitCode;
    // commander has printed its own message and the command's usage to stderr already.
    if (!(e instanceof CommanderError)) io.err(failure.kind === "interrupted" ? failure.message : formatError(failure));
  }
  if (audit.start) await (await import("./audit/record.ts")).auditFinish(audit.start, code, failure?.code ?? null, baseIo);
  jsonIo?.finish(failure ? errorJson(failure) : undefined);
  return code;
}

export async function runMain(argv: string[]): Promise<void> {
  process.exitCode = await main(argv);
}
