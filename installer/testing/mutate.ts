/** Seeded random mutations of a config file, for property tests: one seed gives the same cases on every run. */

/** mulberry32: a tiny, well-mixed 32-bit PRNG; floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const int = (rand: Rand, n: number) => Math.floor(rand() * n);
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[int(rand, xs.length)]!;

// What YAML and the schema trip over: syntax characters, wrong types, tags, aliases, edge numbers, odd text.
const YAML_CHARS = [":", "-", "[", "]", "{", "}", "#", "&", "*", "!", "|", ">", "'", '"', "%", "@", "`", "\t", "\n", " ", "\\", ",", "?", "\r", "\u00a0", "\ufeff"];
const SCALARS = [
  "", "~", "null", "-1", "0", "1.5", "99999999999999999999", "1e400", ".nan", "0x1F", "true", "no", "[]", "{}", "[a, b]", "{a: 1}",
  "'x'", '"\\u0000"', '"\\r\\n"', "*undefined_alias", "&a x", "!!binary AA==", "!!set {a, b}", "!!omap [a: 1]", "!unknown x", "2026-01-01",
  "../../etc", "/", "/etc", "a\tb", "ü", "\u202e", "x".repeat(300), "- a", "|\n  block", ">", "<<: {a: 1}", "__proto__", "constructor",
];
const BAD_BYTES = [[0x00], [0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80], [0xef, 0xbb, 0xbf], [0xfe, 0xff]];

type Op = (lines: string[], rand: Rand, others: readonly string[]) => string[];

const at = (lines: string[], rand: Rand) => int(rand, Math.max(1, lines.length));

// prettier-ignore
const LINE_OPS: Record<string, Op> = {
  deleteLine:    (l, r) => l.filter((_, i) => i !== at(l, r)),
  duplicateLine: (l, r) => { const i = at(l, r); return [...l.slice(0, i + 1), l[i] ?? "", ...l.slice(i + 1)]; },
  swapLines:     (l, r) => { const c = [...l]; const i = at(l, r), j = at(l, r); [c[i], c[j]] = [c[j] ?? "", c[i] ?? ""]; return c; },
  indent:        (l, r) => l.map((s, i) => (i === at(l, r) ? " ".repeat(int(r, 5)) + s : s)),
  dedent:        (l, r) => { const i = at(l, r); return l.map((s, k) => (k === i ? s.replace(/^ {1,4}/, "") : s)); },
  replaceValue:  (l, r) => { const i = at(l, r); return l.map((s, k) => (k === i ? s.replace(/(:\s*).*$/, `$1${pick(r, SCALARS)}`) : s)); },
  renameKey:     (l, r) => { const i = at(l, r); return l.map((s, k) => (k === i ? s.replace(/([A-Za-z]+):/, (_, key: string) => `${key.toUpperCase()}${int(r, 2) ? "x" : ""}:`) : s)); },
  insertChar:    (l, r) => { const i = at(l, r); return l.map((s, k) => { if (k !== i) return s; const p = int(r, s.length + 1); return s.slice(0, p) + pick(r, YAML_CHARS) + s.slice(p); }); },
  deleteChars:   (l, r) => { const i = at(l, r); return l.map((s, k) => { if (k !== i) return s; const p = int(r, s.length + 1); return s.slice(0, p) + s.slice(p + 1 + int(r, 6)); }); },
  truncate:      (l, r) => l.slice(0, at(l, r)),
  spliceOther:   (l, r, o) => { const src = pick(r, o).split("\n"); const a = at(src, r); const i = at(l, r); return [...l.slice(0, i), ...src.slice(a, a + 1 + int(r, 6)), ...l.slice(i)]; },
  aliasBomb:     (l) => [...l, 'b0: &b0 ["x","x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, k) => `b${k + 1}: &b${k + 1} [${Array(10).fill(`*b${k}`).join(",")}]`)],
  listTop:       (l) => l.map((s) => (/^\S/.test(s) && !s.startsWith("#") ? `- ${s}` : `  ${s}`)),
  dropUsers:     (l) => { const i = l.findIndex((s) => s.startsWith("users:")); return i < 0 ? l : [...l.slice(0, i), ...l.slice(i + 1).filter((s) => !/^\s|^-/.test(s))]; },
};

// prettier-ignore
const BYTE_OPS: Record<string, (b: Buffer, rand: Rand) => Buffer> = {
  insertBadBytes: (b, r) => { const p = int(r, b.length + 1); return Buffer.concat([b.subarray(0, p), Buffer.from(pick(r, BAD_BYTES)), b.subarray(p)]); },
  crlf:           (b) => Buffer.from(b.toString("latin1").replace(/\n/g, "\r\n"), "latin1"),
  bom:            (b) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]),
  utf16:          (b) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(b.toString("utf8"), "utf16le")]),
  randomBytes:    (b, r) => { const n = 1 + int(r, 64); const junk = Buffer.from(Array.from({ length: n }, () => int(r, 256))); const p = int(r, b.length + 1); return Buffer.concat([b.subarray(0, p), junk, b.subarray(p)]); },
  oversize:       (b) => Buffer.concat([b, Buffer.from(`# ${"x".repeat(1024 * 1024)}\n`)]),
};

export interface Mutation {
  bytes: Buffer;
  /** the operators applied, in order: enough to reproduce a failure by hand */
  ops: string[];
}

/**
 * One to three line-level edits of `text`, then (one time in four) a byte-level one. `oversize` is kept rare:
 * it is one case, not a tenth of them.
 */
export function mutateConfig(text: string, rand: Rand, others: readonly string[] = []): Mutation {
  const ops: string[] = [];
  let lines = text.split("\n");
  const names = Object.keys(LINE_OPS).filter((n) => others.length > 0 || n !== "spliceOther");
  for (let k = 1 + int(rand, 3); k > 0; k--) {
    const name = pick(rand, names);
    ops.push(name);
    lines = LINE_OPS[name]!(lines, rand, others);
  }
  let bytes: Buffer = Buffer.from(lines.join("\n"), "utf8");
  if (rand() < 0.25) {
    const byteNames = Object.keys(BYTE_OPS).filter((n) => n !== "oversize" || rand() < 0.1);
    const name = pick(rand, byteNames);
    ops.push(name);
    bytes = BYTE_OPS[name]!(bytes, rand);
  }
  return { bytes, ops };
}
