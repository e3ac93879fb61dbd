/** The runtime's own QR output (openclaw's compact renderer + its `qrcode` package) reads back exactly, redraws in 80 columns, and scans. */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { beforeAll, expect, test } from "vitest";
import { getTestRuntime, type TestRuntime } from "../../test/support/runtime.ts";
import { decodeQr, paintHalfBlocks, type TerminalLook } from "../testing/terminal-raster.ts";
import { matrixFromQrcodeModules, qrDrawSize, renderQrHalfBlocks, type QrMatrix } from "./qr-terminal.ts";
import { parseRuntimeQr } from "./whatsapp-login.ts";

let rt: TestRuntime;
beforeAll(async () => {
  rt = await getTestRuntime();
}, 600_000);

/** Shaped like Baileys' link payload: ref, noise key, identity key, adv secret (base64, comma-separated). */
const whatsappLikePayload = () =>
  [`2@${randomBytes(66).toString("base64")}`, randomBytes(32).toString("base64"), randomBytes(32).toString("base64"), randomBytes(32).toString("base64")].join(",");

const rowsOf = (m: QrMatrix) => Array.from({ length: m.size }, (_, y) => Array.from({ length: m.size }, (_, x) => m.dark(x, y)));

test("openclaw's renderQrTerminal(small) output parses to qrcode's own modules; our drawing fits 80 columns", () => {
  const payload = whatsappLikePayload();
  const dist = path.join(rt.runtimeDir, "node_modules", "openclaw", "dist");
  const chunk = readdirSync(dist).find((f) => /^qr-terminal-.*\.mjs$/.test(f));
  expect(chunk, "openclaw dist has a qr-terminal chunk").toBeDefined();
  // The runtime's Node runs the runtime's renderer, exactly as `openclaw channels login` does.
  const script = `import(${JSON.stringify(path.join(dist, chunk!))}).then(async (m) => process.stdout.write(await m.t(process.argv[1], { small: true })))`;
  const out = execFileSync(rt.nodeBin, ["--input-type=module", "-e", script, payload], { encoding: "utf8", env: { PATH: path.dirname(rt.nodeBin) } });
  const parsed = parseRuntimeQr(out.split("\n"));
  expect(parsed).not.toBeNull();

  // wirebot's Node reads the same qrcode package the runtime ships (no copy of it in wirebot).
  const qrcode = createRequire(path.join(rt.runtimeDir, "node_modules", "openclaw", "package.json"))("qrcode") as { create(t: string): { modules: { size: number; data: Uint8Array } } };
  const direct = matrixFromQrcodeModules(qrcode.create(payload).modules);
  expect(rowsOf(parsed!)).toEqual(rowsOf(direct));

  const lines = renderQrHalfBlocks(direct, { quietZone: 2 });
  const size = qrDrawSize(direct.size, 2);
  console.log(`[qr-runtime] payload ${payload.length} chars → ${direct.size} modules → ${size.columns}×${size.lines} characters`);
  expect(lines).toHaveLength(size.lines);
  expect(size.columns).toBeLessThanOrEqual(80);
});

// Common terminal cells (font size × line height), from 7×15 up to a zoomed 12×28.
const CELLS: [number, number][] = [[7, 15], [8, 16], [9, 18], [10, 20], [10, 22], [11, 24], [12, 28]];
const DARK = { background: 30, foreground: 230 };
const LIGHT = { background: 245, foreground: 20 };
/** Fixed payloads (derived from a counter), so the decode counts below are the same on every run. */
const seededPayload = (i: number) => {
  const b = (part: string, n: number) => createHash("sha512").update(`wirebot-qr-${i}-${part}`).digest().subarray(0, n).toString("base64");
  return [`2@${b("ref", 64)}`, b("noise", 32), b("identity", 32), b("adv", 32)].join(",");
};

/**
 * ZXing decodes one still picture, where a phone scans many frames, so not every picture decodes: even
 * an ideal square rendering misses some. The test compares our terminal drawings with that ideal.
 */
test("the drawing a user sees decodes to the link payload with ZXing, in dark and light terminals, at common cell sizes", () => {
  const qrcode = createRequire(path.join(rt.runtimeDir, "node_modules", "openclaw", "package.json"))("qrcode") as { create(t: string): { modules: { size: number; data: Uint8Array } } };
  const N = 12;
  const codes = Array.from({ length: N }, (_, i) => ({ payload: seededPayload(i), m: matrixFromQrcodeModules(qrcode.create(seededPayload(i)).modules) }));
  const scan = (m: QrMatrix, scheme: "light-on-dark" | "dark-on-light", colours: typeof DARK, [w, h]: [number, number]) =>
    decodeQr(paintHalfBlocks(renderQrHalfBlocks(m, { quietZone: 2, scheme }), { cellWidth: w, cellHeight: h, ...colours } satisfies TerminalLook));

  // The ideal: square 8-pixel modules, black on white, 4 modules of quiet zone (full blocks on a light terminal).
  const ideal = codes.filter((c) => decodeQr(paintHalfBlocks(renderQrHalfBlocks(c.m, { quietZone: 4, scheme: "dark-on-light" }), { cellWidth: 8, cellHeight: 16, ...LIGHT })) === c.payload).length;
  const rows: string[] = [];
  let total = 0;
  for (const cell of CELLS) {
    const dark = codes.filter((c) => scan(c.m, "light-on-dark", DARK, cell) === c.payload).length;
    const light = codes.filter((c) => scan(c.m, "dark-on-light", LIGHT, cell) === c.payload).length;
    rows.push(`${cell.join("×")}: dark ${dark}/${N}, light ${light}/${N}`);
    // Every cell size and theme reads most pictures: a broken drawing (wrong half, lost row) reads none.
    expect(dark, `default drawing, dark terminal, ${cell.join("×")} px cells`).toBeGreaterThanOrEqual(N / 2);
    expect(light, `--light-terminal drawing, light terminal, ${cell.join("×")} px cells`).toBeGreaterThanOrEqual(N / 2);
    total += dark + light;
  }
  console.log(`[qr-runtime] ZXing single-picture decodes: ideal ${ideal}/${N}; ${rows.join("; ")}`);
  expect(total / (2 * CELLS.length * N)).toBeGreaterThanOrEqual(0.7 * (ideal / N));
  // The control: the default drawing on a light terminal shows the code inverted; no picture reads (hence --light-terminal).
  expect(codes.filter((c) => scan(c.m, "light-on-dark", LIGHT, [9, 18]) === c.payload)).toHaveLength(0);
});
