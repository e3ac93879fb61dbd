/** `wirebot install`: wizard or answers file → wirebot.yaml → preflight → plan, confirm → runtime → apply → verify → next steps. */
import { resolveLayout } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { formatPlan } from "../engine/format.ts";
import { plan } from "../engine/plan.ts";
import { EXIT, usageError, WirebotError } from "../errors.ts";
import { step } from "../io.ts";
import { assertDataDirOwned } from "../preflight/data-dir.ts";
import { preflight } from "../preflight/preflight.ts";
import { withApplyLock } from "../pipeline/lock.ts";
import { readTokenDirective } from "../secrets/bootstrap-token.ts";
import { ANSWERS_PATH, forgetAnswers, keptNote, readSavedAnswers, saveAnswers, withResumeHint } from "../wizard/answers-file.ts";
import { installSummary } from "../wizard/next-steps.ts";
import type { Prompter } from "../wizard/prompter.ts";
import { runWizard, tokenProblem } from "../wizard/questions.ts";
import { converge } from "../pipeline/converge.ts";
import type { CommandContext } from "../pipeline/context.ts";
import { readConfigText } from "../pipeline/config-file.ts";
import { buildDesired } from "../pipeline/desired.ts";
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
  provisionRuntime?: (ctx: CommandContext, config: Config) => Promise<unknown>;
  /** returns where the token was stored */
  storeBootstrapToken?: (ctx: CommandContext, token: string) => Promise<string | void>;
  /** make sure the cloudflared binary is there (tunnel enabled, on `/`); throws a preflight error when it cannot be */
  ensureCloudflared?: (ctx: CommandContext) => Promise<void>;
}

interface Answers {
  text: string;
  /** names the text in errors: the --config file or the saved answers */
  source: string;
  /** typed in the wizard just now */
  token: string | null;
  /** true when the text sits in the answers file, which is kept until the install succeeds */
  saved: boolean;
}

const isPromptExit = (e: unknown) => (e as Error | null)?.name === "ExitPromptError";

export async function installCommand(ctx: CommandContext, opts: InstallOptions, deps: InstallDeps = {}): Promise<number> {
  const answers = await collectAnswers(ctx, opts, deps);
  if (!answers.saved) return installFrom(ctx, opts, deps, answers);
  try {
    return await installFrom(ctx, opts, deps, answers);
  } catch (e) {
    if (e instanceof WirebotError) throw withResumeHint(e, ctx.host);
    if (isPromptExit(e)) {
      ctx.io.err(`Cancelled; nothing was installed. ${capital(keptNote(ctx.host))}.`);
      return EXIT.interrupted;
    }
    ctx.io.err(capital(keptNote(ctx.host)));
    throw e;
  }
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** --config, the answers an earlier wizard run saved, or a new wizard run saved before anything else can fail. */
async function collectAnswers(ctx: CommandContext, opts: InstallOptions, deps: InstallDeps): Promise<Answers> {
  if (opts.config) {
    const source = path.resolve(opts.config);
    const text = await readConfigText(ctx.local, source, { source, given: true });
    if (text === null) throw usageError("install.config", `no answers file at ${source}`, "check the path given to --config");
    return { text, source, token: null, saved: source === ctx.host.resolve(ANSWERS_PATH) };
  }
  const p = deps.prompter;
  if (!p) throw usageError("install.noninteractive", "no terminal for the wizard and no --config given", "run `wirebot install --config wirebot.yaml --yes` (see examples/)");
  const file = ctx.host.resolve(ANSWERS_PATH);
  const earlier = await readSavedAnswers(ctx.host);
  if (earlier !== null && (await p.confirm(`Answers from an earlier run are saved in ${file}. Use them (no: answer again)?`, true)))
    return { text: earlier, source: file, token: null, saved: true };
  const w = await runWizard(p);
  try {
    await saveAnswers(ctx.host, w.yaml);
  } catch (e) {
    ctx.io.err(w.yaml);
    throw e;
  }
  ctx.io.err(`• answers saved in ${file} (0600; no secret in it); they are kept until the install succeeds`);
  return { text: w.yaml, source: file, token: w.bwsAccessToken, saved: true };
}

async function installFrom(ctx: CommandContext, opts: InstallOptions, deps: InstallDeps, a: Answers): Promise<number> {
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, label: string, fn: () => Promise<T>) => {
    const t0 = Date.now();
    const r = await step(ctx.io, label, fn);
    timings[name] = Date.now() - t0;
    return r;
  };

  // Validate before anything touches the host: a bad file writes nothing.
  const config = parseConfig(a.text, a.source, ctx.env);
  const live = ctx.live;
  const token = a.token ?? (config.secrets.backend === "bitwarden" ? await tokenFromEnvOrPrompt(ctx, deps.prompter) : null);

  if (live) await timed("preflight", "preflight", () => preflight(ctx.host, config, ctx.wirebot));
  else {
    ctx.io.err(`• preflight skipped: rendering into ${ctx.host.root}, not this host`);
    // That tree's paths.data is still judged before anything (token, runtime) is written into it.
    await assertDataDirOwned(ctx.host, config);
  }

  const layout = resolveLayout(config);
  const desired = await buildDesired(ctx, config, a.text);
  let previewed: string | undefined;
  if (!opts.yes) {
    if (!deps.prompter) throw usageError("install.confirm", "install changes the system and needs confirmation", "add --yes to proceed without a terminal");
    // The plan is read-only: the operator sees every file before saying yes.
    previewed = formatPlan(await plan(ctx.host, desired));
    ctx.io.err(previewed);
    const ok = await deps.prompter.confirm(`Install ${layout.gateways.length} gateway(s) for ${config.users.length} user(s) under ${ctx.host.root}?`, true);
    if (!ok) {
      ctx.io.err(a.saved ? `Cancelled; nothing was installed. ${capital(keptNote(ctx.host))}.` : "Cancelled; nothing was changed.");
      return EXIT.ok;
    }
  }

  // From here on the host changes: one writer at a time (the converge inside takes this same lock).
  const { result, credential: stored } = await withApplyLock(ctx, async () => {
    if (live && config.tunnel.enabled && deps.ensureCloudflared) await timed("cloudflared", "cloudflared (package repository or pinned release)", () => deps.ensureCloudflared!(ctx));
    // The runtime's npm install is most of an install's time, and only starting a gateway needs it: files,
    // secrets, the tunnel and the keys go ahead meanwhile (converge starts no unit before it is done).
    let runtime: Promise<unknown> | undefined;
    if ((live || opts.provisionRuntime) && deps.provisionRuntime) {
      runtime = timed("runtime", `provisioning ${config.runtime.package} ${config.runtime.version} with Node ${config.runtime.node}`, () => deps.provisionRuntime!(ctx, config));
      // Awaited below in every case; this only keeps a failure from counting as unhandled before then.
      runtime.catch(() => undefined);
    } else if (!live) ctx.io.err("• runtime provisioning skipped under --root (add --provision-runtime to include it)");

    try {
      const credential = token && deps.storeBootstrapToken ? (await timed("credential", "storing the Bitwarden access token", () => deps.storeBootstrapToken!(ctx, token))) || null : null;
      const { result } = await timed("apply", live ? "applying and waiting for health" : "rendering", () =>
        converge(ctx, config, a.text, {
          start: opts.start !== false,
          ...(runtime ? { runtime } : {}),
          ...(previewed !== undefined ? { previewed } : {}),
          ...(opts.verifyTimeoutMs !== undefined ? { verifyTimeoutMs: opts.verifyTimeoutMs } : {}),
        }),
      );
      await runtime;
      if (a.saved) await forgetAnswers(ctx.host);
      return { result, credential };
    } catch (e) {
      // Never leave an npm install running behind a failed install: its own failure, if any, is the one to report.
      await runtime;
      throw e;
    }
  });
  const credential = stored ?? (config.secrets.backend === "bitwarden" ? await storedCredential(ctx) : null);

  for (const line of installSummary(config, layout, { root: ctx.host.root, live, written: result?.written ?? 0, units: desired.units.map((u) => u.name), credential })) ctx.io.out(line);
  ctx.io.err(`Timings: ${Object.entries(timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(", ")}.`);
  return EXIT.ok;
}

/**
 * Answers from a file carry no token: $BWS_ACCESS_TOKEN, else one already stored, else (on a terminal) ask for it,
 * checked at the prompt like the wizard's.
 */
async function tokenFromEnvOrPrompt(ctx: CommandContext, p: Prompter | undefined): Promise<string | null> {
  const env = ctx.env["BWS_ACCESS_TOKEN"]?.trim();
  if (env) return env;
  if (!p || (await readTokenDirective(ctx.host)) !== null) return null;
  const t = await p.password("Bitwarden machine-account access token (not echoed; empty: store none now)", { validate: tokenProblem });
  return t === "" ? null : t;
}

async function storedCredential(ctx: CommandContext): Promise<string | null> {
  const d = await readTokenDirective(ctx.host);
  return d ? d.slice(d.indexOf(":") + 1) : null;
}
