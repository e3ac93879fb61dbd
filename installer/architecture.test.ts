/** The house rules the code layout promises, checked on the source: no import cycle between folders, and rendering does no I/O. */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.join(import.meta.dirname);
const SPEC = /(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g;
// What a module that does I/O imports: the filesystem, processes, the network and the native stores.
const IO = /from\s+["'](node:fs|node:fs\/promises|node:child_process|node:net|node:http|undici|cloudflare|@bitwarden\/sdk-napi|better-sqlite3)["']/;

/** Production modules: no tests, no test helpers (testing/ never ships). */
function sources(dir = ROOT): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) return n === "testing" ? [] : sources(p);
    return n.endsWith(".ts") && !n.endsWith(".test.ts") ? [p] : [];
  });
}

/** Relative imports a module makes at run time (`import type` erases, so it is left out). */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(SPEC)) {
    const line = text.slice(text.lastIndexOf("\n", m.index) + 1, m.index + m[0].length);
    if (/^\s*(import|export) type\b/.test(line)) continue;
    const target = path.normalize(path.join(path.dirname(file), m[1]!));
    if (existsSync(target)) out.push(target);
  }
  return out;
}

/** The folder a module belongs to; the top-level files are the shared kernel, except the entry point. */
function folderOf(file: string): string {
  const rel = path.relative(ROOT, file).split(path.sep);
  if (rel.length > 1) return rel[0]!;
  return rel[0] === "main.ts" ? "(entry)" : "(kernel)";
}

describe("code layout", () => {
  const files = sources();

  it("has no import cycle between folders (one meaning per folder, dependencies one way)", () => {
    const edges = new Map<string, Set<string>>();
    const why = new Map<string, string>();
    for (const f of files)
      for (const t of imports(f)) {
        const [a, b] = [folderOf(f), folderOf(t)];
        if (a === b) continue;
        if (!edges.has(a)) edges.set(a, new Set());
        edges.get(a)!.add(b);
        why.set(`${a}>${b}`, `${path.relative(ROOT, f)} → ${path.relative(ROOT, t)}`);
      }
    // A cycle is a folder that reaches itself: report each one with one import per step.
    const cycles: string[] = [];
    for (const start of edges.keys()) {
      const seen = new Set<string>();
      const walk = (at: string, trail: string[]): void => {
        for (const next of edges.get(at) ?? []) {
          if (next === start) cycles.push([...trail, next].map((x, i, all) => (i ? why.get(`${all[i - 1]}>${x}`) : x)).join("  ⇒  "));
          else if (!seen.has(next)) {
            seen.add(next);
            walk(next, [...trail, next]);
          }
        }
      };
      walk(start, [start]);
    }
    expect(cycles).toEqual([]);
    expect(edges.size).toBeGreaterThan(10);
  });

  it("render/ is pure: nothing it imports, however indirectly, touches the filesystem, processes or the network", () => {
    const memo = new Map<string, string | null>();
    const ioOf = (file: string, stack: Set<string>): string | null => {
      if (memo.has(file)) return memo.get(file)!;
      if (stack.has(file)) return null;
      stack.add(file);
      // assets.ts reads the package's own files once, at start-up, before anything renders.
      let found: string | null = IO.test(readFileSync(file, "utf8")) && !file.endsWith(`${path.sep}assets.ts`) ? path.relative(ROOT, file) : null;
      for (const t of imports(file)) found ??= ioOf(t, stack) ? `${path.relative(ROOT, file)} → ${ioOf(t, stack)}` : null;
      memo.set(file, found);
      return found;
    };
    const render = files.filter((f) => folderOf(f) === "render");
    expect(render.length).toBeGreaterThan(5);
    expect(render.map((f) => ioOf(f, new Set())).filter((x) => x !== null)).toEqual([]);
  });
});
