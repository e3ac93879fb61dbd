/** Drives WhatsApp's QR link flow: reads the runtime's login output, redraws each QR, explains the known failure loops. */
import { parseQrHalfBlocks, qrDrawSize, renderQrHalfBlocks, matrixFromRows, type QrMatrix } from "./qr-terminal.ts";

/** What a login flow reports, in order: QRs (each replacing the last), then linked or failed. */
export type LoginEvent =
  | { kind: "qr"; matrix: QrMatrix }
  | { kind: "linked"; message: string }
  | { kind: "failed"; message: string }
  | { kind: "output"; line: string };

/** A running link attempt (the runtime's CLI in production, a script in tests). */
export interface LoginFlow {
  events: AsyncIterable<LoginEvent>;
  stop(): void;
}

export interface LoginScreen {
  /** one text line */
  line(text: string): void;
  /** clear the terminal before a redraw (a no-op when output is not a terminal) */
  clear(): void;
  columns: number;
  rows: number;
}

export interface LoginOptions {
  /** whole attempt; WhatsApp stops offering codes after about six QRs (~2 min) */
  timeoutMs?: number;
  /** how often WhatsApp replaces the code; only used for the "no fresh QR" warning */
  refreshMs?: number;
  scheme?: "light-on-dark" | "dark-on-light";
  /** what the header names: "user alice (shared gateway, account default)" */
  label: string;
}

export type LoginOutcome =
  | { outcome: "linked"; qrsShown: number; message: string }
  | { outcome: "failed"; qrsShown: number; status: number | null; message: string; explanation: string }
  | { outcome: "timed-out"; qrsShown: number; explanation: string };

const QR_PREFIX = "\x1b[47m\x1b[30m";
// eslint-disable-next-line no-control-regex
const ANSI_RE = /\x1b\[[0-9;]*[A-Za-z]/g;

/**
 * Plain explanations for the loops self-hosters hit (openclaw.md §11, openclaw/openclaw#17669, #45652).
 * Keyed by the status code WhatsApp Web (Baileys) closes the connection with.
 */
export function explainLoginFailure(status: number | null, message: string): string {
  const m = message.toLowerCase();
  if (status === 401 || m.includes("logged out"))
    return "WhatsApp logged this device out (401). The cached session was cleared. Run the command again and scan the new code. If it repeats at once: on the phone, open Linked devices and remove old entries for this host (there is a limit of 4), and make sure no restored backup or second gateway uses the same credentials.";
  if (status === 408 || m.includes("timed out") || m.includes("time-out"))
    return "The connection to WhatsApp timed out (408) before a code could be shown or used. The host must reach web.whatsapp.com over HTTPS/WebSocket; check DNS, IPv6 and any proxy, then run the command again.";
  if (status === 515 || m.includes("restart required"))
    return "WhatsApp asked for a reconnect right after pairing (515). This is normal once; when it loops, stop other WhatsApp connections for this account (the gateway holds one: restart its unit after linking) and run the command again.";
  if (status === 440 || m.includes("conflict") || m.includes("replaced"))
    return "Another client took over this WhatsApp session (440 conflict). Only one connection per account may run; stop the other one and link again.";
  if (m.includes("qr") && (m.includes("expired") || m.includes("attempts") || m.includes("no longer active")))
    return "The codes expired unscanned. Each code lives about 20 s and WhatsApp stops after a few; run the command again when the phone is at hand.";
  return `The link attempt ended: ${message}. Run the command again; if it keeps failing, check \`wirebot channels status\` and the gateway's journal.`;
}

/** Pulls a WhatsApp close status (401, 408, 515, …) out of a runtime error line. */
export function parseLoginStatus(message: string): number | null {
  const m = /\b(?:status(?:Code)?[=: ]+)?(401|403|408|411|428|440|500|503|515)\b/.exec(message);
  return m ? Number(m[1]) : null;
}

/** The runtime's compact QR (black on white, 1-module margin) back to a module matrix. */
export function parseRuntimeQr(lines: string[]): QrMatrix | null {
  const clean = lines.map((l) => l.replace(ANSI_RE, ""));
  const rows = parseQrHalfBlocks(clean, { scheme: "dark-on-light" });
  // The runtime draws from y=-1 to size: drop the margin row/column and the padding of an odd height.
  const width = Math.max(...clean.map((l) => [...l].length));
  const size = width - 2;
  if (size < 21 || (size - 21) % 4 !== 0) return null;
  const inner = rows.slice(1, 1 + size).map((r) => r.slice(1, 1 + size));
  if (inner.length !== size) return null;
  return matrixFromRows(inner);
}

/**
 * Turns the runtime CLI's output lines into events. Lines starting with the black-on-white escape are
 * one QR block; the instruction line and logs pass through as output.
 */
export async function* parseCliLoginOutput(lines: AsyncIterable<string>): AsyncGenerator<LoginEvent> {
  let block: string[] = [];
  const flush = function* (): Generator<LoginEvent> {
    if (block.length === 0) return;
    const matrix = parseRuntimeQr(block);
    block = [];
    if (matrix) yield { kind: "qr", matrix };
    else yield { kind: "output", line: "(a QR code the installer could not read; see the gateway's logs)" };
  };
  for await (const raw of lines) {
    const line = raw.replace(/\x1b\[2J\x1b\[H/g, "");
    if (line.startsWith(QR_PREFIX)) {
      block.push(line);
      continue;
    }
    yield* flush();
    const text = line.replace(ANSI_RE, "").trim();
    if (text === "" || text.startsWith("Open the WhatsApp app")) continue;
    if (/^✅|web session ready|Credentials saved/.test(text)) yield { kind: "linked", message: text.replace(/^✅\s*/, "") };
    else if (/logged out|connection ended|failed|error|timed out|status=\d{3}/i.test(text)) yield { kind: "failed", message: text };
    else yield { kind: "output", line: text };
  }
  yield* flush();
}

/**
 * Shows every QR the flow produces (clearing the screen before each redraw) until the phone links, the
 * flow fails, or timeoutMs passes. Never throws for an expected failure: the outcome says what happened.
 */
export async function runWhatsAppLogin(flow: LoginFlow, screen: LoginScreen, o: LoginOptions): Promise<LoginOutcome> {
  const timeoutMs = o.timeoutMs ?? 180_000;
  const refreshMs = o.refreshMs ?? 20_000;
  const started = Date.now();
  let qrs = 0;
  let lastFailure: string | null = null;
  const it = flow.events[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
  let staleTimer: NodeJS.Timeout | undefined;

  const draw = (m: QrMatrix) => {
    qrs++;
    screen.clear();
    const size = qrDrawSize(m.size, 2);
    const left = Math.max(0, Math.ceil((started + timeoutMs - Date.now()) / 1000));
    screen.line(`WhatsApp link for ${o.label}: code ${qrs}, refreshes about every ${Math.round(refreshMs / 1000)} s (${left} s left, Ctrl-C stops)`);
    for (const l of renderQrHalfBlocks(m, { quietZone: 2, scheme: o.scheme ?? "light-on-dark" })) screen.line(l);
    screen.line("Phone: WhatsApp → Settings → Linked devices → Link a device, then point the camera at the code.");
    if (size.columns > screen.columns || size.lines + 2 > screen.rows)
      screen.line(`(the code needs ${size.columns}×${size.lines + 2} characters; this terminal is ${screen.columns}×${screen.rows}: enlarge it or zoom out if the phone cannot read it)`);
    clearTimeout(staleTimer);
    // A code older than two refresh periods has expired: say so rather than leave a dead code on screen.
    staleTimer = setTimeout(() => screen.line("(this code has probably expired; waiting for WhatsApp to send a fresh one …)"), 2 * refreshMs);
  };

  try {
    for (;;) {
      const next = await Promise.race([it.next(), deadline]);
      if (next === "timeout") {
        return { outcome: "timed-out", qrsShown: qrs, explanation: qrs === 0 ? explainLoginFailure(408, "timed out waiting for a QR") : explainLoginFailure(null, "QR expired") };
      }
      if (next.done) {
        const message = lastFailure ?? "the login process ended without linking";
        const status = parseLoginStatus(message);
        return { outcome: "failed", qrsShown: qrs, status, message, explanation: explainLoginFailure(status, message) };
      }
      const ev = next.value;
      if (ev.kind === "qr") draw(ev.matrix);
      else if (ev.kind === "linked") return { outcome: "linked", qrsShown: qrs, message: ev.message };
      else if (ev.kind === "failed") lastFailure = ev.message;
      else screen.line(ev.line);
    }
  } finally {
    clearTimeout(timer);
    clearTimeout(staleTimer);
    flow.stop();
    void it.return?.(undefined);
  }
}
