/** Where the wizard keeps its complete answers until the install succeeds, so no later failure costs the operator their typing. */
import { PATHS } from "../config/layout.ts";
import { WirebotError, writeError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { writeMarker } from "../ownership/marker.ts";

/** Beside wirebot.yaml, root-only like it; holds no secret value (the access token is never written into it). */
export const ANSWERS_PATH = `${PATHS.etcDir}/install-answers.yaml`;

/** Writes the answers 0600 and returns the path the operator passes back to --config. */
export async function saveAnswers(host: Host, yaml: string): Promise<string> {
  try {
    if (!(await host.stat(PATHS.etcDir))) {
      // Made by wirebot, so marked as its own: `uninstall --purge` cleans up after an install that never got further.
      await host.mkdir(PATHS.etcDir, { mode: 0o700 });
      await writeMarker(host, PATHS.etcDir);
    }
    await host.writeFileAtomic(ANSWERS_PATH, yaml, { mode: 0o600 });
  } catch (e) {
    throw writeError("install.answers", `cannot save the wizard's answers to ${host.resolve(ANSWERS_PATH)}: ${(e as Error).message}`, {
      hint: "the answers are printed above: save them to a file and run `wirebot install --config FILE`; nothing was installed",
      cause: e,
    });
  }
  return host.resolve(ANSWERS_PATH);
}

export async function readSavedAnswers(host: Host): Promise<string | null> {
  return (await host.readFile(ANSWERS_PATH))?.toString("utf8") ?? null;
}

/** After a successful install wirebot.yaml holds the same answers. */
export async function forgetAnswers(host: Host): Promise<void> {
  await host.remove(ANSWERS_PATH);
}

export const resumeCommand = (host: Host): string => `wirebot install${host.root === "/" ? "" : ` --root ${host.root}`} --config ${host.resolve(ANSWERS_PATH)}`;

export const keptNote = (host: Host): string => `your answers are kept in ${host.resolve(ANSWERS_PATH)}: resume with \`${resumeCommand(host)}\``;

/** The same error, its fix followed by where the answers are and the command that picks them up again. */
export function withResumeHint(e: WirebotError, host: Host): WirebotError {
  return new WirebotError(e.kind, e.code, e.message, { issues: e.issues, hint: e.hint ? `${e.hint}; ${keptNote(host)}` : keptNote(host), cause: e });
}
