/** Whatever a command throws, as a WirebotError main.ts can print, exit with, and put in --json output. */
import { CommanderError } from "commander";
import { WirebotError } from "./errors.ts";

/** commander's own outcomes that are not failures: --help, --version, and `wirebot` alone (help, then exit). */
export const isHelpOrVersion = (e: unknown) =>
  e instanceof CommanderError && (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help");

/**
 * The error to report. A bad command line is a usage error (64); Ctrl-C at a prompt is `interrupted`; anything
 * else is a bug (70), reported by its message alone: a stack trace helps no operator, and WIREBOT_DEBUG=1 adds it.
 */
export function failureOf(e: unknown, env: Readonly<Record<string, string | undefined>>): WirebotError {
  if (e instanceof WirebotError) return e;
  if (e instanceof CommanderError)
    return new WirebotError("usage", `usage.${e.code.replace(/^commander\./, "")}`, e.message.replace(/^error: /, ""), { hint: "see `wirebot <command> --help`" });
  if ((e as Error)?.name === "ExitPromptError") return new WirebotError("interrupted", "cancelled", "Cancelled; nothing was changed.");
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const stack = env["WIREBOT_DEBUG"] && e instanceof Error && e.stack ? `\n${e.stack}` : "";
  return new WirebotError("internal", "internal", `internal error: ${message}${stack}`, {
    hint: "this is a bug in wirebot, not in your input: report it with the command you ran (WIREBOT_DEBUG=1 adds where it happened)",
    cause: e,
  });
}
