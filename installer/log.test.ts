/** The logger: which format where, what a text line looks like, and that it writes to stderr only, redacted. */
import { describe, expect, it, vi } from "vitest";
import { createLogger, formatLogLine, resolveLogFormat } from "./log.ts";

describe("resolveLogFormat", () => {
  it.each([
    [{}, "text"],
    [{ INVOCATION_ID: "8d1f…" }, "json"],
    [{ JOURNAL_STREAM: "8:12345" }, "json"],
    [{ INVOCATION_ID: "x", WIREBOT_LOG_FORMAT: "text" }, "text"],
    [{ WIREBOT_LOG_FORMAT: "json" }, "json"],
    [{ WIREBOT_LOG_FORMAT: "yaml" }, "text"],
  ])("%j → %s", (env, format) => {
    expect(resolveLogFormat(env)).toBe(format);
  });
});

describe("formatLogLine", () => {
  const rec = (o: Record<string, unknown>) => JSON.stringify({ level: 30, time: 1, pid: 7, hostname: "h", name: "wirebot-reconcile", ...o });

  it("name, message, then fields; info has no level word, other levels do", () => {
    expect(formatLogLine(rec({ msg: "cycle done", rows: 3, outcome: "ingested" }))).toBe("wirebot-reconcile: cycle done rows=3 outcome=ingested");
    expect(formatLogLine(rec({ level: 40, msg: "slow" }))).toBe("wirebot-reconcile: warn: slow");
    expect(formatLogLine(rec({ level: 50, msg: "down" }))).toBe("wirebot-reconcile: error: down");
  });

  it("quotes text with spaces, shows objects as JSON and errors by their message, and cuts long values", () => {
    const line = formatLogLine(rec({ msg: "m", reason: "two words", window: { from: 1 }, err: { type: "Error", message: "boom", stack: "Error: boom\n    at x" }, big: "y".repeat(500) }));
    expect(line).toBe(`wirebot-reconcile: m reason="two words" window={"from":1} err="boom" big=${"y".repeat(160)}…`);
    expect(line).not.toContain("    at ");
  });

  it("passes a line that is not JSON through", () => {
    expect(formatLogLine("plain text\n")).toBe("plain text");
  });
});

describe("createLogger", () => {
  it("text format: one short line per record on stderr, nothing on stdout, secrets redacted", () => {
    const out: string[] = [];
    const err: string[] = [];
    const o = vi.spyOn(process.stdout, "write").mockImplementation((c) => (out.push(String(c)), true));
    const e = vi.spyOn(process.stderr, "write").mockImplementation((c) => (err.push(String(c)), true));
    try {
      const log = createLogger({ name: "wirebot-test", env: {} });
      log.info({ token: "sk-very-secret", agentId: "dana" }, "key checked");
      log.debug("not at info");
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
    expect(out).toEqual([]);
    expect(err).toEqual(["wirebot-test: key checked token=[redacted] agentId=dana\n"]);
  });

  it("WIREBOT_LOG_LEVEL sets the level", () => {
    const err: string[] = [];
    const e = vi.spyOn(process.stderr, "write").mockImplementation((c) => (err.push(String(c)), true));
    try {
      createLogger({ name: "t", env: { WIREBOT_LOG_LEVEL: "warn" } }).info("hidden");
      createLogger({ name: "t", env: { WIREBOT_LOG_LEVEL: "debug" } }).debug("shown");
    } finally {
      e.mockRestore();
    }
    expect(err).toEqual(["t: debug: shown\n"]);
  });
});
