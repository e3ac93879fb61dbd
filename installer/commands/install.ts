/** `wirebot install`: wizard or answers file → wirebot.yaml → preflight → runtime → apply → verify. */
import { resolveLayout } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import { EXIT, usageError } from "../errors.ts";
import { step } from "../io.ts";
import { preflight } from "../preflight/preflight.ts";
import type { Prompter } from "../wizard/prompter.ts";
import { runWizard } from "../wizard/questions.ts";
import { converge } from "./apply.ts";
import { isLive, type CommandContext } from "./context.ts";
import path from "node:path";

export interface InstallOptions {
  config?: string;
  yes?: boolean;
  start?: boolean;
  /** also provision the runtime into a --root (image builds); always done on `/` */
  provisionRuntime?: boolean;
  verifyTimeoutMs?: number;
}

export interface InstallDeps {
  /** the wizard's prompts; absent without a terminal */
  prompter?: Prompter;
  /** steps owned by other capabilities, injected so install stays testable */
  provisionRuntime?: (ctx: CommandContext, config: ReturnType<typeof parseConfig>) => Promise<unknown>;
  storeBootstrapToken?: (ctx: CommandContext, token: string) => Promise<void>;
  /** make sure the cloudflared binary is there (tunnel enabled, on `/`); throws a preflight error when it cannot be */
  ensureCloudflared?: (ctx: CommandContext) => Promise<void>;
}

export async function installCommand(ctx: CommandContext, opts: InstallOptions, deps: InstallDeps = {}): Promise<number> {
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, label: string, fn: () => Promise<T>) => {
    const t0 = Date.now();
    const r = await step(ctx.io, label, fn);
    timings[name] = Date.now() - t0;
    return r;
  };

  let text: string;
  let source: string;
  let bwsToken: string | null = null;
  if (opts.config) {
    source = path.resolve(opts.config);
    const buf = await ctx.local.readFile(source);
    if (!buf) throw usageError("install.config", `no answers file at ${source}`, "check the path given to --config");
    text = buf.toString("utf8");
  } else {
    if (!deps.prompter) throw usageError("install.noninteractive", "no terminal for the wizard and no --config given", "run `wirebot install --config wirebot.yaml --yes` (see examples/)");
    const w = await runWizard(deps.prompter);
    text = w.yaml;
    bwsToken = w.bwsAccessToken;
    source = "wizard answers";
  }
  // Validate before anything touches the host: a bad file writes nothing.
  const config = parseConfig(text, source, ctx.env);
  const live = isLive(ctx);

  if (live) {
    await timed("preflight", "preflight", () => preflight(ctx.host, config));
    if (config.tunnel.enabled && deps.ensureCloudflared) await timed("cloudflared", "cloudflared (package repository or pinned release)", () => deps.ensureCloudflared!(ctx));
  }
  else ctx.io.err(`• preflight skipped: rendering into ${ctx.host.root}, not this host`);

  if (!opts.yes) {
    if (!deps.prompter) throw usageError("install.confirm", "install changes the system and needs confirmation", "add --yes to proceed without a terminal");
    const l = resolveLayout(config);
    const ok = await deps.prompter.confirm(`Install ${l.gateways.length} gateway(s) for ${config.users.length} user(s) under ${ctx.host.root}?`, true);
    if (!ok) {
      ctx.io.err("Cancelled; nothing was changed.");
      return EXIT.ok;
    }
  }

  if ((live || opts.provisionRuntime) && deps.provisionRuntime) {
    await timed("runtime", `provisioning ${config.runtime.package} ${config.runtime.version} with Node ${config.runtime.node}`, () => deps.provisionRuntime!(ctx, config));
  } else if (!live) ctx.io.err("• runtime provisioning skipped under --root (add --provision-runtime to include it)");

  const token = bwsToken ?? (config.secrets.backend === "bitwarden" ? (ctx.env["BWS_ACCESS_TOKEN"] ?? null) : null);
  if (token && deps.storeBootstrapToken) await timed("credential", "storing the Bitwarden access token", () => deps.storeBootstrapToken!(ctx, token));

  await timed("apply", live ? "applying and waiting for health" : "rendering", () =>
    converge(ctx, config, text, { start: opts.start !== false, ...(opts.verifyTimeoutMs !== undefined ? { verifyTimeoutMs: opts.verifyTimeoutMs } : {}) }),
  );
  ctx.io.out(`Installed under ${ctx.host.root}. Timings: ${Object.entries(timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(", ")}.`);
  if (live && config.tunnel.enabled) ctx.io.out(`Control UI: https://${config.tunnel.hostnames.helm ?? `helm.${config.domain}`} (approve new browsers with \`openclaw devices approve\`)`);
  return EXIT.ok;
}
