/** The prompt port: inquirer on a terminal, scripted answers in tests. */

export interface Prompter {
  input(message: string, opts?: { default?: string; validate?: (v: string) => true | string }): Promise<string>;
  confirm(message: string, def?: boolean): Promise<boolean>;
  select<T extends string>(message: string, choices: readonly T[], def?: T): Promise<T>;
  /** no echo */
  password(message: string): Promise<string>;
}

export async function createInquirerPrompter(): Promise<Prompter> {
  const p = await import("@inquirer/prompts");
  return {
    input: (message, o) => p.input({ message, ...(o?.default !== undefined ? { default: o.default } : {}), ...(o?.validate ? { validate: o.validate } : {}) }),
    confirm: (message, def) => p.confirm({ message, default: def ?? true }),
    select: (message, choices, def) => p.select({ message, choices: choices.map((c) => ({ value: c, name: c })), ...(def ? { default: def } : {}) }),
    password: (message) => p.password({ message, mask: false }),
  };
}

/** Answers in order; a validation failure or running out of answers fails the test loudly. */
export function scriptedPrompter(answers: (string | boolean)[]): Prompter & { asked: string[] } {
  const asked: string[] = [];
  const next = (message: string) => {
    asked.push(message);
    if (answers.length === 0) throw new Error(`scripted prompter: no answer left for "${message}"`);
    return answers.shift()!;
  };
  return {
    asked,
    async input(message, o) {
      const raw = next(message);
      const v = raw === "" && o?.default !== undefined ? o.default : String(raw);
      const ok = o?.validate?.(v) ?? true;
      if (ok !== true) throw new Error(`scripted prompter: "${v}" rejected for "${message}": ${ok}`);
      return v;
    },
    async confirm(message) {
      return Boolean(next(message));
    },
    async select(message, choices) {
      const v = String(next(message));
      if (!choices.includes(v as never)) throw new Error(`scripted prompter: "${v}" is not one of ${choices.join(", ")}`);
      return v as never;
    },
    async password(message) {
      return String(next(message));
    },
  };
}
