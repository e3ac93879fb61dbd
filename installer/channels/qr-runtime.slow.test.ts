/** The runtime's own QR output (openclaw's compact renderer + its `qrcode` package) reads back exactly and redraws in 80 columns. */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { beforeAll, expect, test } from "vitest";
import { getTestRuntime, type TestRuntime } from "../../test/support/runtime.ts";
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
