// Which changed paths a config diff reports, and the prefix rule that decides a live reload.
import { describe, expect, it } from "vitest";
import { allUnder, changedJsonPaths } from "./json-paths.ts";

const doc = (o: unknown) => `// Managed by wirebot\n${JSON.stringify(o, null, 2)}\n`;

describe("changedJsonPaths", () => {
  it("names the deepest object path that differs; arrays count as one value", () => {
    const a = { agents: { entries: { alice: { name: "A" } } }, channels: { telegram: { allowFrom: ["1"] } }, gateway: { port: 1 } };
    const b = { agents: { entries: { alice: { name: "A" }, zoe: { name: "Z" } } }, channels: { telegram: { allowFrom: ["1", "2"] } }, gateway: { port: 1 } };
    expect(changedJsonPaths(doc(a), doc(b))).toEqual(["agents.entries.zoe", "channels.telegram.allowFrom"]);
    expect(changedJsonPaths(doc(a), doc(a))).toEqual([]);
  });

  it("a section that appears or disappears is one path at its top", () => {
    expect(changedJsonPaths(doc({ a: 1 }), doc({ a: 1, channels: { telegram: { enabled: true } } }))).toEqual(["channels"]);
  });

  it("null when either side is not JSON, so nothing is assumed", () => {
    expect(changedJsonPaths("{", doc({}))).toBeNull();
  });
});

describe("allUnder", () => {
  it("a path at or below a prefix is covered; a sibling sharing a name prefix is not", () => {
    expect(allUnder(["agents.entries.zoe", "bindings"], ["agents.entries", "bindings"])).toBe(true);
    expect(allUnder(["agents.entriesX"], ["agents.entries"])).toBe(false);
    expect(allUnder(["gateway.port"], ["agents.entries"])).toBe(false);
    expect(allUnder([], ["agents"])).toBe(true);
  });
});
