/** A bug (anything not a WirebotError) through the CLI: exit 70, one message without a stack trace unless WIREBOT_DEBUG=1. */
import { describe, expect, it } from "vitest";
import { captureIo } from "./io.ts";
import { main } from "./main.ts";

async function crash(args: string[], env: Record<string, string> = {}) {
  const io = captureIo();
  const code = await main(args, {
    io,
    env,
    context: () => {
      throw new TypeError("Cannot read properties of undefined (reading 'forEach')");
    },
  });
  return { code, out: io.stdout.join("\n"), err: io.stderr.join("\n") };
}

describe("an internal error", () => {
  it("exits 70 with the error's name and message, says it is a bug, and prints no stack frame", async () => {
    const r = await crash(["plan", "--root", "/nonexistent"]);
    expect(r.code).toBe(70);
    expect(r.err).toBe(
      "error[internal]: internal error: TypeError: Cannot read properties of undefined (reading 'forEach')\n" +
        "  fix: this is a bug in wirebot, not in your input: report it with the command you ran (WIREBOT_DEBUG=1 adds where it happened)",
    );
    expect(r.out).toBe("");
  });

  it("WIREBOT_DEBUG=1 adds the stack trace for the bug report", async () => {
    const r = await crash(["plan", "--root", "/nonexistent"], { WIREBOT_DEBUG: "1" });
    expect(r.code).toBe(70);
    expect(r.err).toMatch(/^\s{4}at /m);
  });

  it("under --json it is the one document on stdout", async () => {
    const r = await crash(["plan", "--root", "/nonexistent", "--json"]);
    expect(r.code).toBe(70);
    expect(JSON.parse(r.out)).toEqual({
      ok: false,
      error: { code: "internal", message: "internal error: TypeError: Cannot read properties of undefined (reading 'forEach')", issues: [], hint: expect.stringContaining("bug in wirebot") },
    });
  });
});
