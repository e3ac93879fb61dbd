/** Logic-less {{name}} templates: unknown or unused placeholders and line breaks in unit values throw. */

export const MANAGED_HEADER =
  "Managed by wirebot; edit /etc/wirebot/wirebot.yaml and run `wirebot apply`. Manual changes will be overwritten.";

export interface TemplateOptions {
  /** Placeholders whose values may span lines (pre-rendered blocks such as the hardening table). */
  blocks?: readonly string[];
}

export function renderTemplate(name: string, text: string, vars: Readonly<Record<string, string | number>>, opts: TemplateOptions = {}): string {
  const used = new Set<string>();
  const blocks = new Set(opts.blocks ?? []);
  const out = text.replace(/\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}/g, (_, key: string) => {
    const value = vars[key];
    if (value === undefined) throw new Error(`template ${name}: no value for {{${key}}}`);
    const s = String(value);
    // A CR or LF in a unit value would inject directives (the OpenClaw assertNoSystemdLineBreaks guard).
    if (!blocks.has(key) && /[\r\n]/.test(s)) throw new Error(`template ${name}: value of {{${key}}} contains CR or LF`);
    used.add(key);
    return s;
  });
  const unused = Object.keys(vars).filter((k) => !used.has(k));
  if (unused.length > 0) throw new Error(`template ${name}: unused value(s) ${unused.join(", ")}`);
  return out;
}
