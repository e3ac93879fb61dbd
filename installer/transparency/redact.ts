/** Masks a trace's params and results before anything stores or sends them: the box's secret values, value shapes, a size cap. Pure. */

export type PatternName = "card" | "iban" | "email" | "phone" | "token";

export interface RedactOptions {
  /** secret value → the name it is replaced by (`[secret:TELEGRAM_BOT_TOKEN]`) */
  secrets: ReadonlyMap<string, string>;
  patterns: readonly PatternName[];
  /** UTF-8 bytes of a field's JSON beyond which it is cut */
  maxFieldBytes: number;
}

/** Luhn's check: what separates a card number from any other 13-19 digit run (an order id, a timestamp). */
function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

// Order matters: tokens before e-mails and cards (a token may contain digit runs or an @).
const SHAPES: ReadonlyArray<{ name: PatternName; re: RegExp; keep?: (m: string) => boolean }> = [
  // API keys and bearer tokens by shape: sk-…, ghp_…, xox?-…, AKIA…, JWTs, "Bearer …", long hex/base64 runs
  { name: "token", re: /\b(?:sk|pk|rk)-[A-Za-z0-9_-]{12,}|\bgh[pousr]_[A-Za-z0-9]{20,}|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bAKIA[0-9A-Z]{16}\b|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}|(?<=\bBearer\s)[A-Za-z0-9._~+/=-]{16,}|\b[0-9a-f]{40,}\b|\b\d{6,}:[A-Za-z0-9_-]{30,}\b/g },
  { name: "email", re: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g },
  { name: "iban", re: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b/g },
  { name: "card", re: /\b(?:\d[ -]?){12,18}\d\b/g, keep: (m) => !luhn(m.replace(/[ -]/g, "")) },
  // International (+49 30 1234567) or grouped ((030) 123-4567, 030 1234 5678): 9 to 15 digits. A bare digit run
  // (a timestamp, an id) and a dotted quad (an address) are not phones.
  { name: "phone", re: /(?<![\w+])\+\d[\d ()-]{6,}\d(?!\w)|(?<![\w+.])\(?\d{2,5}\)?[ -]\d{2,5}(?:[ -]\d{2,5}){0,3}(?![\w.])/g, keep: (m) => { const n = m.replace(/\D/g, "").length; return n < 9 || n > 15; } },
];

export type Redactor = (value: unknown) => string | null;

/**
 * value → its JSON with every secret value replaced by its name and every enabled shape masked, cut to
 * maxFieldBytes; null for undefined. Secrets are replaced longest first, so a secret containing another
 * is not half-replaced.
 */
export function createRedactor(o: RedactOptions): Redactor {
  const secrets = [...o.secrets].filter(([v]) => v.length >= 6).sort((a, b) => b[0].length - a[0].length);
  const shapes = SHAPES.filter((s) => o.patterns.includes(s.name));
  const mask = (text: string): string => {
    let out = text;
    for (const [value, name] of secrets) out = out.split(value).join(`[secret:${name}]`);
    // JSON escapes a secret with quotes or backslashes: look for that form too.
    for (const [value, name] of secrets) {
      const escaped = JSON.stringify(value).slice(1, -1);
      if (escaped !== value) out = out.split(escaped).join(`[secret:${name}]`);
    }
    for (const s of shapes) out = out.replace(s.re, (m) => (s.keep?.(m) ? m : `[${s.name}]`));
    return out;
  };
  return (value) => {
    if (value === undefined) return null;
    let json: string;
    try {
      json = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? "null");
    } catch {
      json = JSON.stringify(String(value));
    }
    return cap(mask(json), o.maxFieldBytes);
  };
}

/** Cut to at most max bytes of UTF-8 (never inside a character), saying how many bytes went. */
export function cap(text: string, max: number): string {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes <= max) return text;
  const note = (n: number) => `…[cut ${n} bytes]`;
  const room = max - Buffer.byteLength(note(bytes), "utf8");
  const head = Buffer.from(text, "utf8").subarray(0, Math.max(0, room)).toString("utf8").replace(/\uFFFD$/, "");
  return head + note(bytes - Buffer.byteLength(head, "utf8"));
}
