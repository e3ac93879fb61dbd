/** Draws a QR bit matrix in a terminal with Unicode half-blocks: two module rows per text line. Pure. */

/** A square QR matrix: `dark(x, y)` is true for a dark module. */
export interface QrMatrix {
  size: number;
  dark(x: number, y: number): boolean;
}

export interface QrDrawOptions {
  /** light modules around the code; the spec asks for 4, phones read 2 reliably and it saves lines */
  quietZone?: number;
  /**
   * "light-on-dark" (default): light modules are drawn as blocks, for the usual dark SSH terminal;
   * "dark-on-light": dark modules are blocks, for light-background terminals.
   */
  scheme?: "light-on-dark" | "dark-on-light";
}

/** Width in columns and height in lines of a drawn code, to check it fits before drawing. */
export function qrDrawSize(size: number, quietZone = 2): { columns: number; lines: number } {
  const n = size + 2 * quietZone;
  return { columns: n, lines: Math.ceil(n / 2) };
}

/**
 * One string per text line. Each character covers the module above (upper half) and below (lower half):
 * █ both drawn, ▀ only the upper, ▄ only the lower, space neither. Outside the matrix is quiet zone (light).
 */
export function renderQrHalfBlocks(m: QrMatrix, opts: QrDrawOptions = {}): string[] {
  const q = opts.quietZone ?? 2;
  const drawLight = (opts.scheme ?? "light-on-dark") === "light-on-dark";
  const n = m.size + 2 * q;
  const drawn = (x: number, y: number): boolean => {
    const mx = x - q;
    const my = y - q;
    const dark = mx >= 0 && my >= 0 && mx < m.size && my < m.size ? m.dark(mx, my) : false;
    return drawLight ? !dark : dark;
  };
  const lines: string[] = [];
  for (let y = 0; y < n; y += 2) {
    let line = "";
    for (let x = 0; x < n; x++) {
      const top = drawn(x, y);
      // An odd total height leaves the last line's lower half outside the code: it counts as not drawn.
      const bottom = y + 1 < n ? drawn(x, y + 1) : false;
      line += top && bottom ? "█" : top ? "▀" : bottom ? "▄" : " ";
    }
    lines.push(line);
  }
  return lines;
}

/** Reads a half-block drawing back into modules (tests prove the drawing is lossless). */
export function parseQrHalfBlocks(lines: string[], opts: QrDrawOptions = {}): boolean[][] {
  const drawLight = (opts.scheme ?? "light-on-dark") === "light-on-dark";
  const rows: boolean[][] = [];
  for (const line of lines) {
    const top: boolean[] = [];
    const bottom: boolean[] = [];
    for (const ch of line) {
      top.push(ch === "█" || ch === "▀");
      bottom.push(ch === "█" || ch === "▄");
    }
    rows.push(top, bottom);
  }
  return rows.map((r) => r.map((drawn) => (drawLight ? !drawn : drawn)));
}

/** A matrix from rows of booleans (tests, and the runtime's `qrcode` package output after conversion). */
export function matrixFromRows(rows: boolean[][]): QrMatrix {
  return { size: rows.length, dark: (x, y) => rows[y]?.[x] ?? false };
}

/** The `qrcode` package's `create(text).modules`: `{ size, data }` with one byte per module, row-major. */
export function matrixFromQrcodeModules(modules: { size: number; data: ArrayLike<number | boolean> }): QrMatrix {
  return { size: modules.size, dark: (x, y) => Boolean(modules.data[y * modules.size + x]) };
}
