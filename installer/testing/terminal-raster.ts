/** Test helper: paints half-block text lines the way a terminal shows them (cell size, colours) and decodes the picture with ZXing. */
import zxing from "@zxing/library";

export interface TerminalLook {
  cellWidth: number;
  cellHeight: number;
  /** luminance 0–255 of the background and of the block glyphs */
  background: number;
  foreground: number;
}

export interface Picture {
  luminance: Uint8ClampedArray;
  width: number;
  height: number;
}

/** Upper half from 0 to floor(h/2), like fonts that draw block elements themselves; a margin of terminal background around. */
export function paintHalfBlocks(lines: string[], t: TerminalLook, marginCells = 2): Picture {
  const cols = Math.max(...lines.map((l) => [...l].length));
  const width = (cols + 2 * marginCells) * t.cellWidth;
  const height = (lines.length + 2 * marginCells) * t.cellHeight;
  const luminance = new Uint8ClampedArray(width * height).fill(t.background);
  const split = Math.floor(t.cellHeight / 2);
  lines.forEach((line, row) =>
    [...line].forEach((ch, col) => {
      const top = ch === "█" || ch === "▀";
      const bottom = ch === "█" || ch === "▄";
      for (let py = 0; py < t.cellHeight; py++) {
        if (!(py < split ? top : bottom)) continue;
        const y = (row + marginCells) * t.cellHeight + py;
        for (let px = 0; px < t.cellWidth; px++) luminance[y * width + (col + marginCells) * t.cellWidth + px] = t.foreground;
      }
    }),
  );
  return { luminance, width, height };
}

/** The decoded text, or null when ZXing finds no code (TRY_HARDER, normal polarity only, like a plain scan). */
export function decodeQr(p: Picture): string | null {
  const hints = new Map<zxing.DecodeHintType, unknown>([[zxing.DecodeHintType.TRY_HARDER, true]]);
  try {
    const bitmap = new zxing.BinaryBitmap(new zxing.HybridBinarizer(new zxing.RGBLuminanceSource(p.luminance, p.width, p.height)));
    return new zxing.QRCodeReader().decode(bitmap, hints).getText();
  } catch {
    return null;
  }
}
