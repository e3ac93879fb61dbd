// Reading back pulled files in both formats, and when a changed file forces its consumer to restart.
import { describe, expect, it } from "vitest";
import { needsRestart, parseSecretFile } from "./secret-file.ts";

const json = (o: Record<string, string>) => JSON.stringify(o) + "\n";

describe("parseSecretFile", () => {
  it("reads env lines and JSON objects alike; anything else is empty", () => {
    expect([...parseSecretFile("A=1\nB=two\n", "env")]).toEqual([["A", "1"], ["B", "two"]]);
    expect([...parseSecretFile(json({ A: "1" }), "json")]).toEqual([["A", "1"]]);
    expect(parseSecretFile("[1]", "json").size).toBe(0);
    expect(parseSecretFile("not json", "json").size).toBe(0);
  });
});

describe("needsRestart", () => {
  const live = { format: "json" as const, liveReload: true };
  it("a file read at process start restarts its consumer on any change", () => {
    expect(needsRestart({ format: "env" }, "A=1\n", "A=1\nB=2\n")).toBe(true);
    expect(needsRestart({ format: "env" }, "A=1\n", "A=1\n")).toBe(false);
  });
  it("a live-reloaded file: a key added or removed needs no restart, a key whose value changed does", () => {
    expect(needsRestart(live, json({ A: "1" }), json({ A: "1", B: "2" }))).toBe(false);
    expect(needsRestart(live, json({ A: "1", B: "2" }), json({ A: "1" }))).toBe(false);
    expect(needsRestart(live, json({ A: "1" }), json({ A: "9" }))).toBe(true);
  });
  it("a live-reloaded file that was missing restarts (the runtime started without it)", () => {
    expect(needsRestart(live, "", json({ A: "1" }))).toBe(true);
  });
});
