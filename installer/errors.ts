/** The one error type of wirebot: a stable code, an exit status from DESIGN.md, and a fix hint. */

// prettier-ignore
export const EXIT = {
  ok:            0,
  pending:       2,   // `plan --exit-code` with changes pending
  usage:         64,
  internal:      70,
  preflight:     69,
  cantWrite:     73,
  tempFail:      75,
  config:        78,
  verify:        1,
  interrupted:   130, // Ctrl-C at a prompt (128 + SIGINT, as a shell reports it); nothing was changed
} as const;

export type ExitKind = keyof typeof EXIT;

export interface ErrorIssue {
  /** Where: a config path (`users[2].id`), a file, a unit. */
  path: string;
  message: string;
}

export class WirebotError extends Error {
  readonly code: string;
  readonly kind: ExitKind;
  readonly hint: string | undefined;
  readonly issues: ErrorIssue[];

  constructor(
    kind: ExitKind,
    code: string,
    message: string,
    opts: { hint?: string; issues?: ErrorIssue[]; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "WirebotError";
    this.kind = kind;
    this.code = code;
    this.hint = opts.hint;
    this.issues = opts.issues ?? [];
  }

  get exitCode(): number {
    return EXIT[this.kind];
  }
}

export const configError = (code: string, message: string, opts?: { hint?: string; issues?: ErrorIssue[] }) =>
  new WirebotError("config", code, message, opts);
export const usageError = (code: string, message: string, hint?: string) =>
  new WirebotError("usage", code, message, hint === undefined ? {} : { hint });
export const preflightError = (code: string, message: string, opts?: { hint?: string; issues?: ErrorIssue[] }) =>
  new WirebotError("preflight", code, message, opts);
export const writeError = (code: string, message: string, opts?: { hint?: string; cause?: unknown }) =>
  new WirebotError("cantWrite", code, message, opts);
export const tempFailError = (code: string, message: string, opts?: { hint?: string; cause?: unknown }) =>
  new WirebotError("tempFail", code, message, opts);
export const verifyError = (code: string, message: string, opts?: { hint?: string; issues?: ErrorIssue[] }) =>
  new WirebotError("verify", code, message, opts);

/** Human text for an error: the message, every issue with its path, and the fix. */
export function formatError(err: WirebotError): string {
  const lines = [`error[${err.code}]: ${err.message}`];
  for (const issue of err.issues) lines.push(`  - ${issue.path}: ${issue.message}`);
  if (err.hint) lines.push(`  fix: ${err.hint}`);
  return lines.join("\n");
}

/** A failure under --json, the one document on stdout: `{"ok":false,"error":{code,message,issues,hint}}`. */
export function errorJson(err: WirebotError): { ok: false; error: { code: string; message: string; issues: ErrorIssue[]; hint: string | null } } {
  return { ok: false, error: { code: err.code, message: err.message, issues: err.issues, hint: err.hint ?? null } };
}
