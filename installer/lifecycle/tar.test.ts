/** The streaming tar writer and reader: block boundaries, long names and sizes, chunked content, and archives that end early or lie. */
import { gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { gunzipStream, gunzipTar, gzipStream, gzipTar, readTar, writeTar, type TarStreamEntry } from "./tar.ts";

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

const file = (p: string, content: Buffer, chunk = content.length || 1): TarStreamEntry => ({
  path: p,
  type: "file",
  mode: 0o640,
  size: content.length,
  content: Array.from({ length: Math.ceil(content.length / chunk) }, (_, i) => content.subarray(i * chunk, (i + 1) * chunk)),
});
const bytes = (n: number, seed = 1) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};

describe("tar stream", () => {
  it("round-trips sizes around block boundaries, chunked content, dirs and names longer than 100 bytes", async () => {
    const long = `data/wirebot/users/${"x".repeat(30)}/${"y".repeat(60)}/${"z".repeat(40)}.md`;
    const sizes = [0, 1, 511, 512, 513, 1024, 70_000];
    const entries = [{ path: "d", type: "dir" as const, mode: 0o750, size: 0 }, ...sizes.map((n) => file(`d/f${n}`, bytes(n, n), 100)), file(long, bytes(3000), 7), { path: `${long}-dir`, type: "dir" as const, mode: 0o700, size: 0 }];
    const archive = await collect(writeTar(entries, new Date(0)));
    expect(archive.length % 512).toBe(0);
    const out = await gunzipTar(gzipSync(archive));
    expect(out).toEqual([
      { path: "d", type: "dir", mode: 0o750 },
      ...sizes.map((n) => ({ path: `d/f${n}`, type: "file", mode: 0o640, content: bytes(n, n) })),
      { path: long, type: "file", mode: 0o640, content: bytes(3000) },
      { path: `${long}-dir`, type: "dir", mode: 0o700 },
    ]);
  });

  it("hands content on chunk by chunk, and skips what a reader leaves unread", async () => {
    const big = bytes(300_000);
    const archive = await collect(gzipStream(writeTar([file("a", big, 65536), file("b", Buffer.from("second")), file("c", big, 65536)], new Date(0))));
    const seen: { path: string; got: number; largest: number }[] = [];
    for await (const e of readTar(gunzipStream([archive]))) {
      let got = 0;
      let largest = 0;
      if (e.path !== "a")
        for await (const c of e.content!) {
          got += c.length;
          largest = Math.max(largest, c.length);
          if (e.path === "c" && got > 100_000) break; // abandoned part-way
        }
      seen.push({ path: e.path, got, largest });
    }
    expect(seen.map((s) => [s.path, s.got])).toEqual([["a", 0], ["b", 6], ["c", expect.any(Number)]]);
    expect(seen[2]!.got).toBeGreaterThan(100_000);
    expect(seen[2]!.got).toBeLessThan(300_000);
    // gunzip hands on its own output chunks: nothing is gathered into a whole file.
    expect(seen[2]!.largest).toBeLessThanOrEqual(65536);
  });

  it("writes a pax size for a file over 8 GiB, and reads it back", async () => {
    const size = 2 ** 33 + 5;
    const never: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error("content is not read in this test")) }) };
    const headers: Buffer[] = [];
    for await (const c of writeTar([{ path: "huge.bin", type: "file", mode: 0o600, size, content: never }], new Date(0))) {
      headers.push(c);
      if (headers.length === 4) break; // pax header, pax record, its padding, the ustar header
    }
    const head = Buffer.concat(headers);
    expect(head.subarray(512).toString("utf8")).toContain(`size=${size}\n`);
    for await (const e of readTar([head])) {
      expect({ path: e.path, size: e.size }).toEqual({ path: "huge.bin", size });
      break;
    }
  });

  it("refuses content that does not match the size in its header", async () => {
    await expect(collect(writeTar([{ ...file("a", Buffer.from("abc")), size: 4 }], new Date(0)))).rejects.toThrow("3 byte(s) instead of the 4 declared");
    await expect(collect(writeTar([{ ...file("a", Buffer.from("abcde")), size: 4 }], new Date(0)))).rejects.toThrow("more than the 4 byte(s) declared");
  });

  it("an archive cut short, without its end block, or with a damaged header does not read as complete", async () => {
    const tar = gunzipSync(await gzipTar([{ path: "d", type: "dir", mode: 0o700 }, { path: "d/f", type: "file", mode: 0o600, content: bytes(2000) }], new Date(0)));
    const entries = async (buf: Buffer) => {
      const out: string[] = [];
      for await (const e of readTar([buf])) {
        out.push(e.path);
        if (e.content) await collect(e.content);
      }
      return out;
    };
    expect(await entries(tar)).toEqual(["d", "d/f"]);
    // the end-of-archive blocks missing, mid-content, mid-header
    for (const cut of [tar.length - 1024, 512 + 512 + 1000, 512 + 100]) await expect(entries(tar.subarray(0, cut))).rejects.toThrow("unexpected end of archive");
    const damaged = Buffer.from(tar);
    damaged[522] = damaged[522]! ^ 0xff;
    await expect(entries(damaged)).rejects.toThrow("corrupt tar header at byte 512");
  });

  it("a gzip stream cut short or with a bad checksum fails, even after every entry was read", async () => {
    const gz = await gzipTar([{ path: "f", type: "file", mode: 0o600, content: bytes(5000) }], new Date(0));
    await expect(gunzipTar(gz.subarray(0, gz.length - 4))).rejects.toThrow("unexpected end of file");
    const badCrc = Buffer.from(gz);
    badCrc[gz.length - 8] = badCrc[gz.length - 8]! ^ 0xff;
    await expect(gunzipTar(badCrc)).rejects.toThrow("incorrect data check");
  });
});
