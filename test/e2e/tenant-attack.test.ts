/** The e2e attack's pure parts: the vectors' paths, reading the scripted answer from a chat, leak matching through chat formatting, and the weakened config. */
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { resolveLayout } from "../../installer/config/layout.ts";
import { parseConfig } from "../../installer/config/load.ts";
import { renderGatewayConfig } from "../../installer/render/gateway-config.ts";
import { decide, PROBE } from "../isolation/scripted-model.ts";
import { attackVectors, envAssignments, found, probeMessage, resultsFromReply, weakenGatewayConfig, withReversed } from "./tenant-attack.ts";

const paths = {
  aliceWorkspace: "/data/wirebot/users/alice/workspace",
  aliceFile: "/data/wirebot/users/alice/workspace/OWN.md",
  gatewayEnv: "/run/wirebot/gateway.env",
  keysFile: "/run/wirebot-gateway/agent-keys.json",
  bobFile: "/data/wirebot/users/bob/workspace/PRIVATE.md",
  bobWrite: "/data/wirebot/users/bob/workspace/PWNED.md",
};

test("the .. vector climbs from alice's workspace into bob's, and the probe message is one the scripted model follows", () => {
  const vectors = attackVectors(paths);
  expect(vectors.find((v) => v.name.includes(".."))!.step).toBe("../../bob/workspace/PRIVATE.md");
  expect(new Set(vectors.map((v) => v.target))).toEqual(new Set(["own", "env-file", "environ", "keys-file", "bob", "bob-write"]));
  // As the gateway hands it to the model: an envelope line before the text.
  const tools = [{ type: "function", function: { name: "read", parameters: { properties: { path: {} } } } }];
  const user = { role: "user", content: `[Telegram Alice id:123456789] ${probeMessage(vectors.map((v) => v.step))}` };
  expect(user.content).toContain(PROBE);
  expect(decide({ tools, messages: [user] })).toEqual({ kind: "tool", name: "read", args: { path: paths.aliceFile } });
});

test("results are read per step from a reply split over messages, with missing steps null", () => {
  const reply = "RESULT 0: own text\nRESULT 1: {\"error\":\"Path escapes sandbox root\"}\n\nRESULT 2: part one\npart two";
  expect(resultsFromReply(reply, 4)).toEqual(["own text", '{"error":"Path escapes sandbox root"}', "part one\npart two", null]);
  expect(resultsFromReply(`${reply}\nRESULT 0: a repeated preview`, 3)[0]).toBe("own text");
});

test("leaks are found through the chat's formatting, by label, never by value", () => {
  const needles = [
    { label: "bot token", value: "7000000001:AbC_dEf-GhI_jKl_MnO_pQr" },
    { label: "short", value: "abc" },
    { label: "absent", value: "e2e-00112233445566778899" },
  ];
  expect(found("token: 7000000001:AbC<i>dEf-GhI</i>jKl_MnO_pQr", needles)).toEqual(["bot token"]);
  expect(found("abc abc abc", needles)).toEqual([]);
  expect(found("rQp_OnM_lKj_IhG-fEd_CbA:1000000007=NEKOT", withReversed(needles))).toEqual(["bot token, reversed"]);
  expect(envAssignments("LITELLM<i>KEY</i>ALICE=x\nOPENCLAW_GATEWAY_TOKEN = y", ["LITELLM_KEY_ALICE", "OPENCLAW_GATEWAY_TOKEN", "TELEGRAM_BOT_TOKEN"])).toEqual(["OPENCLAW_GATEWAY_TOKEN"]);
});

test("the weakened config is the rendered one with only alice's tool policy dropped, header kept", () => {
  const config = parseConfig(readFileSync(new URL("../../examples/mixed.yaml", import.meta.url), "utf8"), "examples/mixed.yaml");
  const layout = resolveLayout(config);
  const rendered = renderGatewayConfig(config, layout, layout.shared!);
  const weak = weakenGatewayConfig(rendered, "alice");
  expect(weak.split("\n")[0]).toBe(rendered.split("\n")[0]);
  expect(weak.split("\n")[0]).toMatch(/^\/\/ /);
  const body = (s: string) => JSON.parse(s.slice(s.indexOf("\n") + 1)) as { agents: { entries: Record<string, { tools: unknown }> } };
  const before = body(rendered);
  const after = body(weak);
  expect(after.agents.entries["alice"]!.tools).toEqual({ elevated: { enabled: false }, fs: { workspaceOnly: false } });
  after.agents.entries["alice"]!.tools = before.agents.entries["alice"]!.tools;
  expect(after).toEqual(before);
  expect(() => weakenGatewayConfig(rendered, "mallory")).toThrow(/agents\.entries\.mallory/);
});
