/** resolveTunnelRequest routes public URLs to the right loopback origin with the forwarding headers a real gateway sees. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { parseConfig } from "../config/load.ts";
import { resolveLayout } from "../config/layout.ts";
import { resolveTunnelRequest } from "./tunnel-forwarded.ts";

const c = parseConfig(readFileSync(join(import.meta.dirname, "../../examples/mixed.yaml"), "utf8"), "mixed.yaml");
const l = resolveLayout(c);

test("helm goes to the shared gateway with forwarded headers", () => {
  const r = resolveTunnelRequest(c, l, "https://helm.wirebot.example.org/startupz?x=1");
  expect(r).toMatchObject({ origin: "http://127.0.0.1:18789", ruleNumber: 1, path: "/startupz?x=1" });
  expect(r.headers).toMatchObject({ host: "helm.wirebot.example.org", "x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https" });
});

test("a dedicated user's hostname goes to its own gateway; an unknown one gets the 404 catch-all", () => {
  const erin = l.dedicated.find((g) => g.id === "erin")!;
  expect(resolveTunnelRequest(c, l, "https://helm-erin.wirebot.example.org/").origin).toBe(`http://127.0.0.1:${erin.port}`);
  expect(resolveTunnelRequest(c, l, "https://helm-mallory.wirebot.example.org/")).toMatchObject({ origin: null, service: "http_status:404" });
});

test("Access adds the identity headers OpenClaw's trusted-proxy mode reads", () => {
  const r = resolveTunnelRequest(c, l, "https://helm.wirebot.example.org/", { accessEmail: "dana@example.org" });
  expect(r.headers["cf-access-authenticated-user-email"]).toBe("dana@example.org");
  expect(r.headers["cf-access-jwt-assertion"]).toBeDefined();
});
