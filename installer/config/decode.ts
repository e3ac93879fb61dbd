/** A config file's bytes → its text: refuses what is too big, binary, or not UTF-8 before YAML ever sees it. */
import { configError } from "../errors.ts";

/** A real wirebot.yaml is a few KiB; anything past this is the wrong file, or an attempt to exhaust memory. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

const UTF8_BOM = [0xef, 0xbb, 0xbf];
// UTF-32 first: its little-endian mark begins with UTF-16's.
const OTHER_BOMS: [number[], string][] = [
  [[0x00, 0x00, 0xfe, 0xff], "UTF-32"],
  [[0xff, 0xfe, 0x00, 0x00], "UTF-32"],
  [[0xfe, 0xff], "UTF-16"],
  [[0xff, 0xfe], "UTF-16"],
];

const startsWith = (bytes: Uint8Array, prefix: number[]) => prefix.every((b, i) => bytes[i] === b);

/** "line 3, column 7" of a byte offset, counting columns in bytes (close enough to point an editor at). */
function placeOf(bytes: Uint8Array, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++)
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

/** Offset of the first byte that breaks UTF-8 (overlongs, surrogates and truncated sequences included), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    const [len, min, max] = b >= 0xc2 && b <= 0xdf ? [2, 0x80, 0xbf] : b === 0xe0 ? [3, 0xa0, 0xbf] : b === 0xed ? [3, 0x80, 0x9f] : b >= 0xe1 && b <= 0xef ? [3, 0x80, 0xbf] : b === 0xf0 ? [4, 0x90, 0xbf] : b === 0xf4 ? [4, 0x80, 0x8f] : b >= 0xf1 && b <= 0xf3 ? [4, 0x80, 0xbf] : [0, 0, 0];
    if (len === 0) return i;
    const second = bytes[i + 1];
    if (second === undefined || second < min || second > max) return i;
    for (let k = 2; k < len; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < 0x80 || c > 0xbf) return i;
    }
    i += len;
  }
  return -1;
}

/**
 * The text of a config file, or a ConfigError (exit 78) naming the file, the place and the fix. A UTF-8 byte order
 * mark is dropped and CRLF line endings are kept: both are valid YAML, and editors on other systems write them.
 */
export function decodeConfigText(bytes: Uint8Array, source: string): string {
  if (bytes.length > MAX_CONFIG_BYTES)
    throw configError("config.too-large", `${source} is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB`, {
      issues: [{ path: "(file)", message: `more than ${MAX_CONFIG_BYTES} bytes; a wirebot.yaml is a few KiB` }],
      hint: "check that --config names your wirebot.yaml (see examples/one-user.yaml); nothing was changed",
    });
  for (const [mark, encoding] of OTHER_BOMS)
    if (startsWith(bytes, mark))
      throw configError("config.encoding", `${source} is ${encoding} text; wirebot reads UTF-8`, {
        issues: [{ path: "line 1, column 1", message: `${encoding} byte order mark` }],
        hint: `save it as UTF-8 (for example \`iconv -f ${encoding} -t UTF-8 ${source} > wirebot.yaml\`) and run the command again; nothing was changed`,
      });
  const nul = bytes.indexOf(0);
  if (nul >= 0)
    throw configError("config.binary", `${source} is not a text file`, {
      issues: [{ path: placeOf(bytes, nul), message: "a NUL byte: this is binary data, not YAML" }],
      hint: "point --config at a YAML file such as examples/one-user.yaml; nothing was changed",
    });
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0)
    throw configError("config.encoding", `${source} is not valid UTF-8 text`, {
      issues: [{ path: placeOf(bytes, bad), message: `byte 0x${bytes[bad]!.toString(16).padStart(2, "0")} is not UTF-8` }],
      hint: "save the file as UTF-8 (or point --config at the YAML file you meant); nothing was changed",
    });
  const body = startsWith(bytes, UTF8_BOM) ? bytes.subarray(UTF8_BOM.length) : bytes;
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
}
