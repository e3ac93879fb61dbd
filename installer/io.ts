/** The console port: commands print through Io so tests capture output and --json stays clean. */

export interface Io {
  /** a line of normal output (stdout) */
  out(line: string): void;
  /** a line of diagnostics or progress (stderr) */
  err(line: string): void;
  /** one JSON document on stdout (for --json) */
  json(value: unknown): void;
  /** true when stdout is a terminal (colours, spinners, prompts allowed) */
  readonly tty: boolean;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(line + "\n"),
  err: (line) => process.stderr.write(line + "\n"),
  json: (value) => process.stdout.write(JSON.stringify(value, null, 2) + "\n"),
  tty: Boolean(process.stdout.isTTY),
};

/** An Io that records everything, for tests. */
export function captureIo(): Io & { stdout: string[]; stderr: string[]; text(): string } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    tty: false,
    out: (l) => stdout.push(l),
    err: (l) => stderr.push(l),
    json: (v) => stdout.push(JSON.stringify(v, null, 2)),
    text: () => [...stdout, ...stderr].join("\n"),
  };
}

/** Progress for long steps: "[2/5] provisioning runtime … done (31.2 s)". */
export async function step<T>(io: Io, label: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  io.err(`• ${label} …`);
  const result = await fn();
  io.err(`  ${label}: done (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return result;
}

/**
 * The Io of a --json run: stdout holds exactly one JSON document. Text output goes to stderr; the command's
 * document is held until `finish`, which writes it, or the failure's document in its place.
 */
export function jsonDocumentIo(base: Io): Io & { finish(failure?: unknown): void } {
  let doc: { value: unknown } | null = null;
  return {
    tty: false,
    out: (line) => base.err(line),
    err: (line) => base.err(line),
    json: (value) => {
      // Two documents would break every consumer; fail loudly so a test catches the command that does it.
      if (doc) throw new Error("a command wrote a second JSON document under --json");
      doc = { value };
    },
    finish: (failure) => {
      if (failure !== undefined) base.json(failure);
      else if (doc) base.json(doc.value);
    },
  };
}
