/** A small POSIX ustar (+ pax long names and sizes) writer and reader for wirebot's own backups: files and dirs only, streamed. */
import { Readable, pipeline, type Transform } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";

/** An entry held in memory: small archives (tests, fixtures). */
export interface TarEntry {
  /** relative path inside the archive, no leading "/" */
  path: string;
  type: "file" | "dir";
  mode: number;
  content?: Buffer;
}

/** An entry whose content arrives in chunks; a file's chunks must add up to exactly `size` bytes. */
export interface TarStreamEntry {
  path: string;
  type: "file" | "dir";
  mode: number;
  size: number;
  content?: AsyncIterable<Buffer> | Iterable<Buffer>;
}

const BLOCK = 512;
/** The largest size the 11 octal digits of a ustar header hold; bigger files carry a pax `size`. */
const USTAR_MAX_SIZE = 0o77777777777;
/** A pax header is a few path/size records; anything bigger is not from a wirebot backup. */
const PAX_MAX = 64 * 1024;

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

const padLength = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;
const pad = (n: number) => Buffer.alloc(padLength(n));

/** A pax record "<len> key=<value>\n" where len counts itself. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`, "utf8");
}

/** The header blocks of one entry: a pax header first when the name or size does not fit ustar. */
function entryHeader(e: TarStreamEntry, secs: number): Buffer[] {
  const name = e.type === "dir" ? `${e.path}/` : e.path;
  const size = e.type === "file" ? e.size : 0;
  const records: Buffer[] = [];
  if (Buffer.byteLength(name) > 100) records.push(paxRecord("path", name));
  if (size > USTAR_MAX_SIZE) records.push(paxRecord("size", String(size)));
  const out: Buffer[] = [];
  if (records.length > 0) {
    const rec = Buffer.concat(records);
    out.push(header("PaxHeader/long-name", rec.length, 0o644, "x", secs), rec, pad(rec.length));
  }
  out.push(header(Buffer.from(name).subarray(0, 100).toString("utf8"), size > USTAR_MAX_SIZE ? 0 : size, e.mode, e.type === "dir" ? "5" : "0", secs));
  return out;
}

/**
 * The tar stream of `entries`, pulled one chunk at a time: the writer holds no more than the chunk it
 * passes on. A file whose chunks do not add up to its declared size would shift every later header,
 * so that throws instead of writing a corrupt archive.
 */
export async function* writeTar(entries: AsyncIterable<TarStreamEntry> | Iterable<TarStreamEntry>, mtime: Date): AsyncGenerator<Buffer> {
  const secs = Math.floor(mtime.getTime() / 1000);
  for await (const e of entries) {
    yield* entryHeader(e, secs);
    if (e.type !== "file") continue;
    let n = 0;
    for await (const chunk of e.content ?? []) {
      n += chunk.length;
      if (n > e.size) throw new Error(`${e.path}: more than the ${e.size} byte(s) declared in its tar header`);
      yield chunk;
    }
    if (n !== e.size) throw new Error(`${e.path}: ${n} byte(s) instead of the ${e.size} declared in its tar header`);
    if (padLength(n) > 0) yield pad(n);
  }
  yield Buffer.alloc(BLOCK * 2);
}

/** Exact reads over a chunk stream, remembering the offset for error messages. */
class ByteReader {
  offset = 0;
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  constructor(chunks: AsyncIterable<Buffer> | Iterable<Buffer>) {
    this.it = (async function* () {
      yield* chunks;
    })();
  }

  private async fill(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done) return false;
    this.buf = this.buf.length > 0 ? Buffer.concat([this.buf, r.value]) : r.value;
    return true;
  }

  /** Exactly n bytes; null when the stream ends right here, an error when it ends part-way. */
  async read(n: number): Promise<Buffer | null> {
    while (this.buf.length < n) if (!(await this.fill())) break;
    if (this.buf.length === 0) return null;
    if (this.buf.length < n) throw truncated();
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.offset += n;
    return out;
  }

  /** n bytes as they arrive, each chunk handed on without copying. */
  async *take(n: number): AsyncGenerator<Buffer> {
    while (n > 0) {
      if (this.buf.length === 0 && !(await this.fill())) throw truncated();
      const out = this.buf.subarray(0, Math.min(n, this.buf.length));
      this.buf = this.buf.subarray(out.length);
      this.offset += out.length;
      n -= out.length;
      yield out;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.take(n));
  }

  /** Reads to the end, so a gunzip source checks its CRC and length trailer. */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (await this.fill()) this.buf = Buffer.alloc(0);
  }

  /** Ends the source early (an error, a reader that stops): its file and gunzip stream close now, not at GC. */
  async close(): Promise<void> {
    try {
      await this.it.return?.(undefined);
    } catch {
      // Stopping anyway: the error that made us stop is the one to report.
    }
  }
}

const truncated = () => new Error("unexpected end of archive");

const str = (b: Buffer, off: number, len: number) => {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return s.subarray(0, z < 0 ? len : z).toString("utf8");
};
/** Octal, or GNU base-256 (high bit set) for values too big for the digits. */
const num = (b: Buffer, off: number, len: number) => {
  if ((b[off]! & 0x80) !== 0) {
    let v = b[off]! & 0x7f;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i]!;
    return v;
  }
  return parseInt(str(b, off, len).trim() || "0", 8);
};

function paxFields(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of body.toString("utf8").matchAll(/(?:^|\n)\d+ ([^=\n]+)=([^\n]*)(?=\n)/g)) out.set(m[1]!, m[2]!);
  return out;
}

/**
 * Entries of a tar stream as they arrive. A file's `content` streams its bytes and must be consumed
 * (or abandoned) before asking for the next entry; what is left of it is skipped. The archive must
 * end with its end-of-archive block, and the source is read to its end, so a truncated or corrupt
 * archive fails here rather than looking complete.
 */
export async function* readTar(chunks: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<TarStreamEntry & { content?: AsyncIterable<Buffer> }> {
  const r = new ByteReader(chunks);
  try {
    let pax: Map<string, string> | null = null;
    for (;;) {
      const at = r.offset;
      const h = await r.read(BLOCK);
      if (!h) throw truncated();
      if (h.every((b) => b === 0)) break;
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
      if (sum !== num(h, 148, 8)) throw new Error(`corrupt tar header at byte ${at}`);
      const type = str(h, 156, 1) || "0";
      const size = type !== "x" && pax?.has("size") ? Number(pax.get("size")) : num(h, 124, 12);
      if (!Number.isSafeInteger(size) || size < 0) throw new Error(`corrupt tar header at byte ${at}`);
      if (type === "x") {
        if (size > PAX_MAX) throw new Error(`pax header of ${size} bytes at byte ${at}`);
        const body = size > 0 ? await r.read(size) : Buffer.alloc(0);
        if (!body) throw truncated();
        await r.skip(padLength(size));
        pax = paxFields(body);
        continue;
      }
      const prefix = str(h, 345, 155);
      const name = (pax?.get("path") ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100))).replace(/\/$/, "");
      pax = null;
      const mode = num(h, 100, 8);
      let left = size;
      if (type === "0") {
        const content = (async function* () {
          for await (const chunk of r.take(left)) {
            left -= chunk.length;
            yield chunk;
          }
        })();
        yield { path: name, type: "file", mode, size, content };
      } else if (type === "5") yield { path: name, type: "dir", mode, size: 0 };
      // links, devices and other types are not part of a wirebot backup and are skipped.
      await r.skip(left + padLength(size));
    }
    await r.drain();
  } finally {
    await r.close();
  }
}

/** `src` through a zlib transform, errors from either side ending the iteration. */
function through(src: AsyncIterable<Buffer> | Iterable<Buffer>, t: Transform): AsyncIterable<Buffer> {
  return pipeline(Readable.from(src, { objectMode: false }), t, () => undefined);
}

export const gzipStream = (src: AsyncIterable<Buffer> | Iterable<Buffer>) => through(src, createGzip());
export const gunzipStream = (src: AsyncIterable<Buffer> | Iterable<Buffer>) => through(src, createGunzip());

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** A whole tar.gz in memory, for small archives (tests). */
export const gzipTar = (entries: readonly TarEntry[], mtime: Date) =>
  collect(gzipStream(writeTar(entries.map((e) => ({ ...e, size: e.content?.length ?? 0, content: e.content ? [e.content] : [] })), mtime)));

/** Every entry of a tar.gz held in memory, for small archives (tests). */
export async function gunzipTar(buf: Buffer): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  for await (const e of readTar(gunzipStream([buf])))
    out.push(e.type === "file" ? { path: e.path, type: "file", mode: e.mode, content: await collect(e.content!) } : { path: e.path, type: "dir", mode: e.mode });
  return out;
}
