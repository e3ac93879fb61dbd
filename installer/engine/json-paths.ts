/** Which dotted paths differ between two JSON documents: what decides whether a runtime can take a config change live. */

/** A rendered config may open with `//` comment lines (the managed header); the rest is plain JSON. */
function parseConfigJson(text: string): unknown {
  return JSON.parse(text.replace(/^(\s*\/\/[^\n]*\n)+/, ""));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function diff(a: unknown, b: unknown, at: string, out: string[]): void {
  if (isObject(a) && isObject(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) diff(a[k], b[k], at ? `${at}.${k}` : k, out);
    return;
  }
  // Arrays and scalars are compared whole: an allow list that gained an entry is one changed path.
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push(at);
}

/** The changed paths, most specific first found; null when either side is not JSON (then nothing can be assumed). */
export function changedJsonPaths(before: string, after: string): string[] | null {
  let a: unknown;
  let b: unknown;
  try {
    a = parseConfigJson(before);
    b = parseConfigJson(after);
  } catch {
    return null;
  }
  const out: string[] = [];
  diff(a, b, "", out);
  return out;
}

/** true when every path lies at or under one of the prefixes. */
export function allUnder(paths: readonly string[], prefixes: readonly string[]): boolean {
  return paths.every((p) => prefixes.some((q) => p === q || p.startsWith(`${q}.`)));
}
