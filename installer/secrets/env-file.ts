/** systemd EnvironmentFile= text: every value double-quoted so that no character can change its meaning. */

export interface EnvEntry {
  name: string;
  value: string;
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class EnvValueError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
    this.name = "EnvValueError";
  }
}

/**
 * Inside double quotes systemd (parse_env_file) unescapes exactly `\"`, `\\`, `` \` `` and `\$`,
 * and does no variable expansion in EnvironmentFile=, so escaping those four is complete.
 * Line breaks are refused instead of carried: other readers of the file (dotenv, `source`) would split them.
 */
export function quoteEnvValue(variable: string, value: string): string {
  if (/[\0\r\n]/.test(value)) throw new EnvValueError(variable, "the value contains a line break or NUL, which an environment file cannot carry safely");
  return `"${value.replace(/[\\"`$]/g, "\\$&")}"`;
}

export function renderEnvFile(entries: readonly EnvEntry[]): string {
  const lines = ["# Managed by wirebot: rewritten by `wirebot secrets pull` (wirebot-secrets.service) on every start. Do not edit."];
  for (const e of entries) {
    if (!NAME_RE.test(e.name)) throw new EnvValueError(e.name, "not a valid environment variable name");
    lines.push(`${e.name}=${quoteEnvValue(e.name, e.value)}`);
  }
  return lines.join("\n") + "\n";
}

/** Reads the subset of systemd's env-file grammar that renderEnvFile writes, plus single quotes and bare values. */
export function parseEnvFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trimStart();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const name = line.slice(0, eq).trim();
    const rest = line.slice(eq + 1);
    let value = "";
    if (rest.startsWith('"')) {
      for (let i = 1; i < rest.length; i++) {
        const ch = rest[i]!;
        if (ch === "\\" && i + 1 < rest.length) {
          const next = rest[i + 1]!;
          value += '"\\`$'.includes(next) ? next : `\\${next}`;
          i++;
        } else if (ch === '"') break;
        else value += ch;
      }
    } else if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      value = rest.slice(1, end === -1 ? undefined : end);
    } else {
      value = rest.trim().replace(/\\(.)/g, "$1");
    }
    out.set(name, value);
  }
  return out;
}
