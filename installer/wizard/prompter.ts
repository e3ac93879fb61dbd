/** The prompt port: inquirer on a terminal, scripted answers in tests. Answers come back trimmed. */

/** true, or the sentence shown under the prompt before it is asked again. */
export type Check = (value: string) => true | string;

export interface Prompter {
  /** An empty (or blank) answer takes the default; validate sees the trimmed answer. */
  input(message: string, opts?: { default?: string; validate?: Check }): Promise<string>;
  confirm(message: string, def?: boolean): Promise<boolean>;
  select<T extends string>(message: string, choices: readonly T[], def?: T): Promise<T>;
  /** no echo */
  password(message: string, opts?: { validate?: Check }): Promise<string>;
}

/** What the prompt returns for what was typed: trimmed, and a blank line means the default. */
export const tidy = (raw: string, def?: string): string => {
  const v = raw.trim();
  return v === "" && def !== undefined ? def : v;
};

export async function createInquirerPrompter(): Promise<Prompter> {
  const p = await import("@inquirer/prompts");
  return {
    async input(message, o) {
      const raw = await p.input({ message, ...(o?.default !== undefined ? { default: o.default } : {}), ...(o?.validate ? { validate: (v: string) => o.validate!(tidy(v, o.default)) } : {}) });
      return tidy(raw, o?.default);
    },
    confirm: (message, def) => p.confirm({ message, default: def ?? true }),
    select: (message, choices, def) => p.select({ message, choices: choices.map((c) => ({ value: c, name: c })), ...(def ? { default: def } : {}) }),
    async password(message, o) {
      return tidy(await p.password({ message, mask: false, ...(o?.validate ? { validate: (v: string) => o.validate!(tidy(v)) } : {}) }));
    },
  };
}

/** Stands for Ctrl-C in a script: the prompt is abandoned the way inquirer abandons it. */
export const CTRL_C = Symbol("Ctrl-C");

export interface Rejection {
  question: string;
  answer: string;
  message: string;
}

/**
 * Answers in order. A rejected answer is recorded and the question asked again with the next answer, as on a
 * terminal; running out of answers fails the test loudly.
 */
export function scriptedPrompter(answers: (string | boolean | typeof CTRL_C)[]): Prompter & { asked: string[]; rejected: Rejection[] } {
  const asked: string[] = [];
  const rejected: Rejection[] = [];
  const next = (message: string): string | boolean => {
    asked.push(message);
    if (answers.length === 0) throw new Error(`scripted prompter: no answer left for "${message}"`);
    const a = answers.shift()!;
    if (a === CTRL_C) throw Object.assign(new Error("User force closed the prompt with SIGINT"), { name: "ExitPromptError" });
    return a;
  };
  const typed = (message: string, def: string | undefined, validate: Check | undefined): string => {
    for (;;) {
      const v = tidy(String(next(message)), def);
      const ok = validate?.(v) ?? true;
      if (ok === true) return v;
      rejected.push({ question: message, answer: v, message: ok });
    }
  };
  return {
    asked,
    rejected,
    async input(message, o) {
      return typed(message, o?.default, o?.validate);
    },
    async confirm(message) {
      return Boolean(next(message));
    },
    async select(message, choices) {
      const v = String(next(message));
      if (!choices.includes(v as never)) throw new Error(`scripted prompter: "${v}" is not one of ${choices.join(", ")}`);
      return v as never;
    },
    async password(message, o) {
      return typed(message, undefined, o?.validate);
    },
  };
}
