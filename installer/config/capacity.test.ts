/** The capacity model: budgets from the measured footprint, tiers that keep a user add from touching the shared unit, overrides, and the fit. */
import { describe, expect, it } from "vitest";
import { exampleText } from "../testing/harness.ts";
import { agentTier, gatewayBudget, layoutFit } from "./capacity.ts";
import { resolveLayout } from "./layout.ts";
import { parseConfig } from "./load.ts";

const GiB = 1024 ** 3;
const mixed = parseConfig(exampleText("mixed"), "mixed");
const lm = resolveLayout(mixed);

describe("capacity model", () => {
  it("sizes the shared gateway for its tier: MemoryHigh = steady ÷ 0.75, MemoryMax 512 MiB above, the heap at half of MemoryHigh", () => {
    // alice, bob and the system agent: tier 10 → 1178 + 60 = 1238 MiB steady
    expect(gatewayBudget(mixed, lm.shared!)).toEqual({ agents: 10, steadyMiB: 1238, highMiB: 1664, maxMiB: 2176, heapMiB: 832, tasksMax: 1024, source: "model" });
    // erin's dedicated gateway: one agent
    expect(gatewayBudget(mixed, lm.dedicated[0]!)).toMatchObject({ agents: 1, steadyMiB: 1184, highMiB: 1600, maxMiB: 2112 });
  });

  it("tiers: 10, 25, 50, 100, 200, then hundreds; 200 agents get the figures of docs/gateway-footprint.md (≈ 3.1 / 3.6 GiB)", () => {
    expect([1, 10, 11, 26, 99, 200, 201, 350].map(agentTier)).toEqual([10, 10, 25, 50, 100, 200, 300, 400]);
    const many = parseConfig(exampleText("one-user").replace(/users:\n[\s\S]*?\nskills:/, `users:\n${Array.from({ length: 199 }, (_, i) => `  - { id: u${i}, name: U${i} }`).join("\n")}\nskills:`), "many");
    const b = gatewayBudget(many, resolveLayout(many).shared!);
    expect(b.agents).toBe(200);
    expect(b.highMiB / 1024).toBeCloseTo(3.1, 1);
    expect(b.maxMiB / 1024).toBeCloseTo(3.6, 1);
  });

  it("wirebot.yaml overrides per gateway: gateway.memory for the shared one, users[].memory for a dedicated one", () => {
    const text = exampleText("mixed").replace("gateway: { port: 18789, dedicatedPortBase: 18800 }", "gateway: { port: 18789, dedicatedPortBase: 18800, memory: { high: 3000, max: 4000 } }").replace("    trust: trusted\n", "    trust: trusted\n    memory: { high: 900, max: 1200 }\n");
    const c = parseConfig(text, "t");
    const l = resolveLayout(c);
    expect(gatewayBudget(c, l.shared!)).toMatchObject({ highMiB: 3000, maxMiB: 4000, heapMiB: 1472, source: "wirebot.yaml" });
    expect(gatewayBudget(c, l.dedicated[0]!)).toMatchObject({ highMiB: 900, maxMiB: 1200, heapMiB: 512, source: "wirebot.yaml" });
  });

  it("a layout fits when the steady figures and the reserve fit in RAM, and says how much is missing", () => {
    expect(layoutFit(mixed, lm, 8 * GiB).shortBytes).toBe(0);
    const tight = layoutFit(mixed, lm, 2 * GiB);
    expect(tight.neededBytes).toBe((1238 + 1184 + 726) * 1024 ** 2);
    expect(tight.shortBytes).toBe(tight.neededBytes - 2 * GiB);
    // one shared user on a 2 GB VPS still fits
    const one = parseConfig(exampleText("one-user"), "one-user");
    expect(layoutFit(one, resolveLayout(one), 2 * GiB).shortBytes).toBe(0);
  });
});
