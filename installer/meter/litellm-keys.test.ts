/** ensureAgentKeys: one LiteLLM key per agent from the vault's value, idempotent, budget kept in step, key never logged. */
import { afterEach, describe, expect, it } from "vitest";
import { captureLogger, meterConfig } from "../../test/litellm-standin/fixtures.ts";
import { startStandin, type Standin } from "../../test/litellm-standin/server.ts";
import { LiteLlmClient } from "./litellm-client.ts";
import { agentKeySpecs, ensureAgentKeys, keyHashOf, planAgentKeys, resolveAgentHashes, sha256Hex } from "./litellm-keys.ts";

let s: Standin;
let client: LiteLlmClient;
afterEach(async () => {
  await client?.close();
  await s?.close();
});

// `wirebot` is the shared gateway's system agent: it has a key of its own like every user.
const KEYS = { scout: "sk-fake-scout-key-0001", builder: "sk-fake-builder-key-0002", wirebot: "sk-fake-wirebot-key-0003" };

describe("ensureAgentKeys", () => {
  it("creates each key once with alias, budget and metadata; a second run creates nothing", async () => {
    s = await startStandin();
    const { log, text } = captureLogger();
    client = new LiteLlmClient({ baseUrl: s.url, adminKey: s.masterKey, log });
    const config = meterConfig(s.url, { users: [{ id: "scout", name: "Scout", budget: { monthlyUsd: 20 } }, { id: "builder", name: "Builder" }] });
    const specs = agentKeySpecs(config, KEYS);
    expect((await ensureAgentKeys(client, specs, log)).map((r) => [r.agentId, r.outcome])).toEqual([["scout", "created"], ["builder", "created"], ["wirebot", "created"]]);
    const scout = s.store.findKey(KEYS.scout)!;
    expect(scout).toMatchObject({ key_alias: "wirebot/scout", max_budget: 20, budget_duration: "1mo", models: ["gpt-4o-mini"] });
    expect(scout.metadata).toMatchObject({ agent_id: "scout", spend_logs_metadata: { agent_id: "scout" } });
    expect(s.store.findKey(KEYS.builder)).toMatchObject({ max_budget: null, budget_duration: null });
    expect(s.store.findKey(KEYS.wirebot)).toMatchObject({ key_alias: "wirebot/wirebot", max_budget: null, metadata: { agent_id: "wirebot" } });

    const again = await ensureAgentKeys(client, specs, log);
    expect(again.map((r) => r.outcome)).toEqual(["unchanged", "unchanged", "unchanged"]);
    expect(again[0]!.keyHash).toBe(sha256Hex(KEYS.scout));
    expect(s.store.keys.size).toBe(3);
    expect(s.requests.filter((u) => u.startsWith("/key/generate"))).toHaveLength(3);
    // the key value went only into a request body: never a URL, never a log line
    expect(s.requests.join("\n")).not.toContain("sk-fake");
    expect(text()).not.toContain("sk-fake");
  });

  it("a key's models edited in LiteLLM are drift (compared as a set) and put back by the next run", async () => {
    s = await startStandin();
    client = new LiteLlmClient({ baseUrl: s.url, adminKey: s.masterKey });
    const config = meterConfig(s.url, { users: [{ id: "scout", name: "Scout" }] });
    await ensureAgentKeys(client, agentKeySpecs(config, KEYS));
    s.store.findKey(KEYS.scout)!.models = ["gpt-4o", "o3"];
    const plan = await planAgentKeys(client, agentKeySpecs(config, KEYS));
    expect(plan.find((p) => p.agentId === "scout")).toMatchObject({ action: "update", drift: ["models: gpt-4o, o3 → gpt-4o-mini"] });
    expect(plan.find((p) => p.agentId === "wirebot")!.action).toBe("unchanged");
    expect((await ensureAgentKeys(client, agentKeySpecs(config, KEYS)))[0]!.outcome).toBe("updated");
    expect(s.store.findKey(KEYS.scout)!.models).toEqual(["gpt-4o-mini"]);
    expect((await planAgentKeys(client, agentKeySpecs(config, KEYS))).map((p) => p.action)).toEqual(["unchanged", "unchanged"]);
  });

  it("updates a changed budget in place", async () => {
    s = await startStandin();
    client = new LiteLlmClient({ baseUrl: s.url, adminKey: s.masterKey });
    const c1 = meterConfig(s.url, { users: [{ id: "scout", name: "Scout", budget: { monthlyUsd: 20 } }] });
    await ensureAgentKeys(client, agentKeySpecs(c1, KEYS));
    const c2 = meterConfig(s.url, { users: [{ id: "scout", name: "Scout", budget: { monthlyUsd: 35 } }] });
    expect((await ensureAgentKeys(client, agentKeySpecs(c2, KEYS)))[0]!.outcome).toBe("updated");
    expect(s.store.findKey(KEYS.scout)!.max_budget).toBe(35);
    expect(s.store.keys.size).toBe(2);
  });

  it("refuses when another key already holds the alias, and when the vault has no key", async () => {
    s = await startStandin();
    client = new LiteLlmClient({ baseUrl: s.url, adminKey: s.masterKey });
    const config = meterConfig(s.url, { users: [{ id: "scout", name: "Scout" }] });
    await ensureAgentKeys(client, agentKeySpecs(config, { scout: "sk-old-scout-key", wirebot: KEYS.wirebot }));
    await expect(ensureAgentKeys(client, agentKeySpecs(config, KEYS))).rejects.toMatchObject({ code: "litellm.alias-taken", exitCode: 78 });
    expect(() => agentKeySpecs(config, {})).toThrow(/no LiteLLM virtual key for agent scout/);
  });

  it("maps agents to hashes from given keys or hashes, else by alias", async () => {
    s = await startStandin();
    client = new LiteLlmClient({ baseUrl: s.url, adminKey: s.masterKey });
    await ensureAgentKeys(client, agentKeySpecs(meterConfig(s.url, { users: [{ id: "scout", name: "S" }, { id: "builder", name: "B" }] }), KEYS));
    const m = await resolveAgentHashes(client, ["scout", "builder", "ghost"], new Map([["scout", KEYS.scout]]));
    expect(m.get("scout")).toEqual([sha256Hex(KEYS.scout)]);
    expect(m.get("builder")).toEqual([sha256Hex(KEYS.builder)]);
    expect(m.get("ghost")).toEqual([]);
    expect(keyHashOf(sha256Hex("x"))).toBe(sha256Hex("x"));
    expect(sha256Hex("sk-1234")).toBe("88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b");
  });
});
