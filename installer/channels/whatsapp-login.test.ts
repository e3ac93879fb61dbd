/** Half-block drawing, reading the runtime's QR output, and the redraw/timeout/failure logic with a scripted flow. */
import { describe, expect, test } from "vitest";
import { matrixFromRows, parseQrHalfBlocks, qrDrawSize, renderQrHalfBlocks, type QrMatrix } from "./qr-terminal.ts";
import { runtimeCompact } from "../testing/runtime-qr.ts";
import { explainLoginFailure, parseCliLoginOutput, parseLoginStatus, parseRuntimeQr, runWhatsAppLogin, type LoginEvent, type LoginFlow, type LoginScreen } from "./whatsapp-login.ts";

/** A deterministic 25×25 pattern with finder-like corners: enough to prove lossless drawing. */
function pattern(size = 25, seed = 7): QrMatrix {
  const rows = Array.from({ length: size }, (_, y) => Array.from({ length: size }, (_, x) => ((x * 31 + y * 17 + seed) % 5 < 2) || (x < 7 && y < 7 && (x % 6 === 0 || y % 6 === 0))));
  return matrixFromRows(rows);
}
const toRows = (m: QrMatrix) => Array.from({ length: m.size }, (_, y) => Array.from({ length: m.size }, (_, x) => m.dark(x, y)));

describe("half-block drawing", () => {
  test("two module rows per line, a light quiet zone, only ▀▄█ and space", () => {
    const m = pattern();
    const lines = renderQrHalfBlocks(m, { quietZone: 2 });
    expect(lines).toHaveLength(Math.ceil((25 + 4) / 2));
    expect(lines.every((l) => [...l].length === 29 && /^[▀▄█ ]+$/.test(l))).toBe(true);
    // light-on-dark: the quiet zone is light, so drawn: the first line is all full blocks.
    expect(lines[0]).toBe("█".repeat(29));
    const back = parseQrHalfBlocks(lines).slice(2, 27).map((r) => r.slice(2, 27));
    expect(back).toEqual(toRows(m));
  });

  test("dark-on-light inverts the drawing; an odd height pads the last lower half", () => {
    const m = pattern(21, 3);
    const a = renderQrHalfBlocks(m, { quietZone: 1, scheme: "dark-on-light" });
    expect(a).toHaveLength(12); // 23 rows → 12 lines
    expect(a[0]!.startsWith(" ")).toBe(true);
    expect(parseQrHalfBlocks(a, { scheme: "dark-on-light" }).slice(1, 22).map((r) => r.slice(1, 22))).toEqual(toRows(m));
  });

  test("a WhatsApp-sized code (61 modules, measured in qr-runtime.slow.test.ts) fits 80 columns but not 24 lines", () => {
    expect(qrDrawSize(61, 2)).toEqual({ columns: 65, lines: 33 });
  });
});

describe("reading the runtime's login output", () => {
  test("the runtime's compact QR parses back to the same modules", () => {
    const m = pattern(29, 11);
    expect(toRows(parseRuntimeQr(runtimeCompact(m))!)).toEqual(toRows(m));
  });

  test("CLI lines become qr, output and linked events", async () => {
    const m1 = pattern(25, 1);
    const m2 = pattern(25, 2);
    async function* lines() {
      yield "Waiting for WhatsApp connection...";
      yield "Open the WhatsApp app, go to Linked Devices, then scan this QR:";
      yield* runtimeCompact(m1);
      yield "\x1b[2J\x1b[HOpen the WhatsApp app, go to Linked Devices, then scan this QR:";
      yield* runtimeCompact(m2);
      yield "\x1b[32m✅ Linked! Credentials saved for future sends.\x1b[39m";
    }
    const events: LoginEvent[] = [];
    for await (const e of parseCliLoginOutput(lines())) events.push(e);
    expect(events.map((e) => e.kind)).toEqual(["output", "qr", "qr", "linked"]);
    expect(toRows((events[2] as { matrix: QrMatrix }).matrix)).toEqual(toRows(m2));
    expect(events[3]).toEqual({ kind: "linked", message: "Linked! Credentials saved for future sends." });
  });

  test("status codes and plain explanations for the known loops", () => {
    expect(parseLoginStatus("WhatsApp Web connection ended before fully opening. status=515 Stream Errored (restart required)")).toBe(515);
    expect(parseLoginStatus("Connection Failure statusCode: 408")).toBe(408);
    expect(parseLoginStatus("no code here 2026")).toBeNull();
    expect(explainLoginFailure(401, "")).toMatch(/logged this device out \(401\).*Linked devices/);
    expect(explainLoginFailure(408, "")).toMatch(/timed out \(408\).*web\.whatsapp\.com/);
    expect(explainLoginFailure(515, "")).toMatch(/reconnect right after pairing \(515\)/);
    expect(explainLoginFailure(null, "QR expired")).toMatch(/about 20 s/);
  });
});

/** A flow that plays events with delays, like the runtime would; records whether it was stopped. */
function scripted(steps: { afterMs: number; event: LoginEvent }[], endAfterMs: number | null = null): LoginFlow & { stopped: boolean } {
  const state = { stopped: false };
  async function* play(): AsyncGenerator<LoginEvent> {
    for (const s of steps) {
      await new Promise((r) => setTimeout(r, s.afterMs));
      if (state.stopped) return;
      yield s.event;
    }
    // null: hangs like a process waiting on a phone
    await new Promise((r) => (endAfterMs === null ? undefined : setTimeout(r, endAfterMs)));
  }
  return Object.assign(state, { events: play(), stop: () => void (state.stopped = true) });
}

function screen(columns = 80, rows = 24): LoginScreen & { lines: string[]; clears: number } {
  const s = { lines: [] as string[], clears: 0, columns, rows, line: (t: string) => void s.lines.push(t), clear: () => void s.clears++ };
  return s;
}

describe("the login loop", () => {
  test("redraws at each new QR and stops at the link", async () => {
    const flow = scripted([
      { afterMs: 5, event: { kind: "qr", matrix: pattern(25, 1) } },
      { afterMs: 20, event: { kind: "qr", matrix: pattern(25, 2) } },
      { afterMs: 20, event: { kind: "linked", message: "Linked! Credentials saved for future sends." } },
    ]);
    const s = screen();
    const r = await runWhatsAppLogin(flow, s, { label: "user carol", timeoutMs: 2_000 });
    expect(r).toEqual({ outcome: "linked", qrsShown: 2, message: "Linked! Credentials saved for future sends." });
    expect(s.clears).toBe(2);
    expect(s.lines.filter((l) => l.startsWith("WhatsApp link for user carol: code"))).toHaveLength(2);
    expect(flow.stopped).toBe(true);
  });

  test("times out when nobody scans, explains expiry, warns when a code goes stale", async () => {
    const flow = scripted([{ afterMs: 5, event: { kind: "qr", matrix: pattern() } }]);
    const s = screen();
    const r = await runWhatsAppLogin(flow, s, { label: "user carol", timeoutMs: 150, refreshMs: 40 });
    expect(r.outcome).toBe("timed-out");
    expect(r).toMatchObject({ qrsShown: 1, explanation: expect.stringMatching(/expired unscanned/) });
    expect(s.lines.some((l) => l.includes("probably expired"))).toBe(true);
    expect(flow.stopped).toBe(true);
  });

  test("no QR at all within the time: the 408 explanation", async () => {
    const r = await runWhatsAppLogin(scripted([]), screen(), { label: "x", timeoutMs: 50 });
    expect(r).toMatchObject({ outcome: "timed-out", qrsShown: 0, explanation: expect.stringMatching(/408/) });
  });

  test("a flow that ends after a failure line reports its status and explanation", async () => {
    const flow = scripted([{ afterMs: 5, event: { kind: "qr", matrix: pattern() } }, { afterMs: 5, event: { kind: "failed", message: "WhatsApp Web connection ended before fully opening. status=515" } }], 5);
    const r = await runWhatsAppLogin(flow, screen(), { label: "x", timeoutMs: 2_000 });
    expect(r).toMatchObject({ outcome: "failed", status: 515, qrsShown: 1, explanation: expect.stringMatching(/515/) });
  });

  test("a code larger than the terminal says how much room it needs", async () => {
    const flow = scripted([{ afterMs: 1, event: { kind: "qr", matrix: pattern(57) } }, { afterMs: 1, event: { kind: "linked", message: "ok" } }]);
    const s = screen(80, 24);
    await runWhatsAppLogin(flow, s, { label: "x", timeoutMs: 1_000 });
    expect(s.lines.some((l) => l.includes("needs 61×33 characters; this terminal is 80×24"))).toBe(true);
  });
});
