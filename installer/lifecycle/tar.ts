/** A small POSIX ustar (+ pax long names) writer and reader for wirebot's own backups: files and dirs only. */
import { gunzipSync, gzipSync } from "node:zlib";

export interface TarEntry {
  /** relative path inside the archive, no leading "/" */
  path: string;
  type: "file" | "dir";
  mode: number;
  content?: Buffer;
}

const BLOCK = 512;

function octal(buf: Buffer, off: number, len: number, value: number): void {
  buf.write(value.toString(8).padStart(len - 1, "0") + "\0", off, len, "ascii");
}

function header(name: string, size: number, mode: number, typeflag: string, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  octal(h, 100, 8, mode & 0o7777);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156);
  h.write(typeflag, 156, 1, "ascii");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  h.write("root", 265, 32, "ascii");
  h.write("root", 297, 32, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  return h;
}

const pad = (n: number) => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);

/** A pax record "<len> path=<value>\n" where len counts itself. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`, "utf8");
}

export function buildTar(entries: readonly TarEntry[], mtime: Date): Buffer {
  const secs = Math.floor(mtime.getTime() / 1000);
  const parts: Buffer[] = [];
  for (const e of entries) {
    const name = e.type === "dir" ? `${e.path}/` : e.path;
    if (Buffer.byteLength(name) > 100) {
      const rec = paxRecord("path", name);
      parts.push(header("PaxHeader/long-name", rec.length, 0o644, "x", secs), rec, pad(rec.length));
    }
    const body = e.type === "file" ? (e.content ?? Buffer.alloc(0)) : Buffer.alloc(0);
    parts.push(header(Buffer.from(name).subarray(0, 100).toString("utf8"), body.length, e.mode, e.type === "dir" ? "5" : "0", secs), body, pad(body.length));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

const str = (b: Buffer, off: number, len: number) => {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return s.subarray(0, z < 0 ? len : z).toString("utf8");
};
const num = (b: Buffer, off: number, len: number) => parseInt(str(b, off, len).trim() || "0", 8);

export function parseTar(buf: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let longName: string | null = null;
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== num(h, 148, 8)) throw new Error(`corrupt tar header at byte ${off}`);
    const size = num(h, 124, 12);
    const type = str(h, 156, 1) || "0";
    const body = buf.subarray(off + BLOCK, off + BLOCK + size);
    off += BLOCK + size + ((BLOCK - (size % BLOCK)) % BLOCK);
    if (type === "x") {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString("utf8"));
      longName = m?.[1] ?? null;
      continue;
    }
    const prefix = str(h, 345, 155);
    const name = (longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100))).replace(/\/$/, "");
    longName = null;
    if (type === "5") out.push({ path: name, type: "dir", mode: num(h, 100, 8) });
    else if (type === "0") out.push({ path: name, type: "file", mode: num(h, 100, 8), content: Buffer.from(body) });
    // links, devices and other types are not part of a wirebot backup and are ignored.
  }
  return out;
}

export const gzipTar = (entries: readonly TarEntry[], mtime: Date) => gzipSync(buildTar(entries, mtime));
export const gunzipTar = (buf: Buffer) => parseTar(gunzipSync(buf));
