/** The `wirebot …` commands that status/doctor print as fixes, carrying the --root and --config they were run with. */

export interface FixScope {
  /** "/" or the --root the command ran against */
  root: string;
  /** --config FILE when one was given (absolute) */
  config?: string;
}

/** Shell-safe as typed: a path with a space or a quote still pastes as one argument. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * `wirebot <args>` plus --root (when not `/`) and --config (when the command takes it), so a fix pasted
 * after `status --root R` works on R and not on this machine.
 */
export function wirebotFix(scope: FixScope, args: string, opts: { config?: boolean } = { config: true }): string {
  const flags = [...(scope.root !== "/" ? [`--root ${shellWord(scope.root)}`] : []), ...(opts.config && scope.config ? [`--config ${shellWord(scope.config)}`] : [])];
  return ["wirebot", args, ...flags].join(" ");
}
