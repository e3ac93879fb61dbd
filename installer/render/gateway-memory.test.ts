/** The shared gateway's memory knobs: session maintenance planned without a worker per agent, everything else (tenant isolation above all) as rendered. */
import { describe, expect, it } from "vitest";
import { resolveLayout } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import { exampleText } from "../testing/harness.ts";
import { gatewayConfigObject } from "./gateway-config.ts";
import { applyGatewayMemoryKnobs } from "./gateway-memory.ts";

const rendered = () => {
  const c = parseConfig(exampleText("three-users"), "three-users");
  const l = resolveLayout(c);
  return gatewayConfigObject(c, l, l.shared!);
};

describe("applyGatewayMemoryKnobs", () => {
  it("puts a shared gateway's session maintenance in warn mode", () => {
    const doc = rendered();
    applyGatewayMemoryKnobs(doc, { shared: true });
    expect((doc["session"] as { maintenance?: unknown }).maintenance).toEqual({ mode: "warn" });
  });

  it("changes nothing else: tool policy, sandbox, workspaceOnly, deny lists, plugins stay as rendered", () => {
    const doc = rendered();
    const before = structuredClone(doc);
    applyGatewayMemoryKnobs(doc, { shared: true });
    const { session: after, ...rest } = doc;
    const { session: _renderedSession, ...restBefore } = before;
    expect(after).toBeDefined();
    expect(rest).toEqual(restBefore);
  });

  it("keeps the other session and maintenance settings a config already has", () => {
    const doc: Record<string, unknown> = { session: { dmScope: "per-channel-peer", maintenance: { mode: "enforce", pruneAfter: "30d", maxDiskBytes: "2gb" } } };
    applyGatewayMemoryKnobs(doc, { shared: true });
    expect(doc["session"]).toEqual({ dmScope: "per-channel-peer", maintenance: { mode: "warn", pruneAfter: "30d", maxDiskBytes: "2gb" } });
  });

  it("leaves a dedicated gateway (one agent) alone", () => {
    const doc: Record<string, unknown> = { session: { maintenance: { mode: "enforce" } } };
    applyGatewayMemoryKnobs(doc, { shared: false });
    expect(doc).toEqual({ session: { maintenance: { mode: "enforce" } } });
  });
});
