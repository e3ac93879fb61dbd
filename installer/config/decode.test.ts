/** Config bytes → text: the size cap, encodings, binary data, and the UTF-8 check against Node's own. */
import { isUtf8 } from "node:buffer";
import { describe, expect, it } from "vitest";
import { WirebotError } from "../errors.ts";
import { prng } from "../testing/mutate.ts";
import { decodeConfigText, firstInvalidUtf8, MAX_CONFIG_BYTES } from "./decode.ts";

function refusal(bytes: Uint8Array): { code: string; exit: number; issues: string[]; hint: string } {
  try {
    decodeConfigText(bytes, "/tmp/w.yaml");
  } catch (e) {
    if (!(e instanceof WirebotError)) throw e;
    return { code: e.code, exit: e.exitCode, issues: e.issues.map((i) => `${i.path}: ${i.message}`), hint: e.hint ?? "" };
  }
  throw new Error("expected a refusal");
}

describe("decodeConfigText", () => {
  it("keeps UTF-8 text as it is and drops a UTF-8 byte order mark", () => {
    expect(decodeConfigText(Buffer.from("domain: café.example\r\n"), "f")).toBe("domain: café.example\r\n");
    expect(decodeConfigText(Buffer.from("\ufeffdomain: x\n"), "f")).toBe("domain: x\n");
  });

  it("accepts exactly the cap and refuses one byte more (exit 78)", () => {
    expect(decodeConfigText(Buffer.alloc(MAX_CONFIG_BYTES, "#"), "f")).toHaveLength(MAX_CONFIG_BYTES);
    const r = refusal(Buffer.alloc(MAX_CONFIG_BYTES + 1, "#"));
    expect(r).toMatchObject({ code: "config.too-large", exit: 78, issues: ["(file): more than 1048576 bytes; a wirebot.yaml is a few KiB"] });
  });

  it.each([
    [[0xff, 0xfe, 0x64, 0x00], "UTF-16"],
    [[0xfe, 0xff, 0x00, 0x64], "UTF-16"],
    [[0xff, 0xfe, 0x00, 0x00], "UTF-32"],
  ])("names a %j byte order mark as %s, with the iconv fix", (bytes, enc) => {
    const r = refusal(Buffer.from(bytes));
    expect(r.code).toBe("config.encoding");
    expect(r.issues).toEqual([`line 1, column 1: ${enc} byte order mark`]);
    expect(r.hint).toContain(`iconv -f ${enc} -t UTF-8 /tmp/w.yaml`);
  });

  it("finds the NUL byte of binary data, and the line and column of a byte that is not UTF-8", () => {
    expect(refusal(Buffer.from("a: 1\nb: x\0y\n")).issues).toEqual(["line 2, column 5: a NUL byte: this is binary data, not YAML"]);
    expect(refusal(Buffer.from([0x61, 0x3a, 0x0a, 0x20, 0x20, 0xe9, 0x0a])).issues).toEqual(["line 2, column 3: byte 0xe9 is not UTF-8"]);
  });
});

describe("firstInvalidUtf8", () => {
  it.each([
    ["overlong '/'", [0xc0, 0xaf], 0],
    ["a surrogate", [0x61, 0xed, 0xa0, 0x80], 1],
    ["past U+10FFFF", [0xf4, 0x90, 0x80, 0x80], 0],
    ["truncated at the end", [0x61, 0x62, 0xe2, 0x82], 2],
    ["a lone continuation byte", [0x80], 0],
    ["valid 4-byte", [0xf0, 0x9f, 0x98, 0x80], -1],
  ])("%s", (_what, bytes, at) => {
    expect(firstInvalidUtf8(Uint8Array.from(bytes))).toBe(at);
  });

  it("agrees with Node's isUtf8 on 5,000 seeded random byte strings", () => {
    const rand = prng(0xbadc0de);
    // Mostly ASCII and well-formed sequences with a few random bytes, so both answers come up often.
    const pieces = [[0x61], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80]];
    let invalid = 0;
    for (let n = 0; n < 5000; n++) {
      const bytes: number[] = [];
      for (let k = Math.floor(rand() * 12); k > 0; k--) bytes.push(...(rand() < 0.1 ? [Math.floor(rand() * 256)] : pieces[Math.floor(rand() * pieces.length)]!));
      const b = Uint8Array.from(bytes);
      const at = firstInvalidUtf8(b);
      expect(at === -1, Buffer.from(b).toString("hex")).toBe(isUtf8(b));
      if (at >= 0) {
        invalid++;
        expect(isUtf8(b.subarray(0, at)), Buffer.from(b).toString("hex")).toBe(true);
      }
    }
    expect(invalid).toBeGreaterThan(500);
    expect(invalid).toBeLessThan(4500);
  });
});
