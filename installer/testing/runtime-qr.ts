/** Test helper: the runtime's compact QR renderer (openclaw dist/qr-terminal-*.mjs), reproduced to feed our parser its exact output. */
import type { QrMatrix } from "../channels/qr-terminal.ts";

export function runtimeCompact(m: QrMatrix): string[] {
  const read = (x: number, y: number) => x >= 0 && y >= 0 && x < m.size && y < m.size && m.dark(x, y);
  const lines: string[] = [];
  for (let y = -1; y < m.size + 1; y += 2) {
    let line = "\x1b[47m\x1b[30m";
    for (let x = -1; x < m.size + 1; x++) {
      const t = read(x, y);
      const b = read(x, y + 1);
      line += t && b ? "█" : t ? "▀" : b ? "▄" : " ";
    }
    lines.push(`${line}\x1b[0m`);
  }
  return lines;
}
