/** user add/remove/list/move on a live box (the real converge): comments kept, bad input writes nothing, restarts limited, state moved. */
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../config/load.ts";
import { WirebotError } from "../errors.ts";
import { exampleText, snapshotTree } from "../testing/harness.ts";
import { converge } from "../pipeline/converge.ts";
import { startLiveBox, type LiveBox } from "../../test/support/live-box.ts";
import { userAddCommand, userListCommand, userMoveCommand, userRemoveCommand } from "./user.ts";

let root: string;
let box: LiveBox | null = null;
afterEach(async () => {
  await box?.close();
  box = null;
});

/** An appliance the real converge installed; the command under test runs as a second command on the box. */
async function installed(name = "mixed", edit: (text: string) => string = (t) => t) {
  box = await startLiveBox({ users: { "wb-alice": 4242, "wb-gina": 4343 } });
  root = box.root;
  const text = box.boxText(edit(exampleText(name)));
  await converge(box.ctx, parseConfig(text, name), text, {});
  box.rec.calls.length = 0;
  return { ctx: box.context(), rec: box.rec };
}
const yaml = () => readFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), "utf8");
// A dedicated gateway polls Telegram with a bot of its own (config/telegram-bots.ts): alice needs one to move.
const aliceOwnBot = (t: string) => t.replace("    TELEGRAM_BOT_TOKEN_ERIN:", "    TELEGRAM_BOT_TOKEN_ALICE: wirebot/telegram-bot-token-alice\n    TELEGRAM_BOT_TOKEN_ERIN:");

describe("wirebot user", () => {
  it("add (shared) keeps the file's comments and flow style, adds the agent, and restarts no gateway (the shared one takes it live)", async () => {
    const { ctx, rec } = await installed();
    const code = await userAddCommand(ctx, { id: "frank", telegram: "456789012", budget: "15", name: "Frank" });
    expect(code).toBe(0);
    const text = yaml();
    expect(text).toContain("# Two users share a gateway; erin gets a dedicated gateway");
    expect(text).toContain('runtime: { package: openclaw, version: "2026.9.6", node: "24.21.0" }');
    // a long one-line flow map stays one line (no folding at 80 columns)
    expect(text).toMatch(/^tunnel: \{ enabled: true, name: wirebot, hostnames: \{ .* \}, accountId: \w+, zoneId: \w+ \}$/m);
    const cfg = parseConfig(text, "t");
    expect(cfg.users.find((u) => u.id === "frank")).toMatchObject({ name: "Frank", channels: { telegram: { peer: "456789012" } }, budget: { monthlyUsd: 15 } });
    expect(readFileSync(path.join(root, "data/wirebot/gateway/clawdbot.json"), "utf8")).toContain("litellm-frank");
    const sc = rec.systemctl();
    expect(sc.some((c) => /^restart .*clawdbot-gateway\.service/.test(c))).toBe(false);
    expect(sc.filter((c) => c.startsWith("restart") || c.startsWith("stop")).some((c) => c.includes("erin"))).toBe(false);
    expect(snapshotTree(root)["data/wirebot/users/frank/workspace"]).toBe("700 dir");
  });

  it("add --mode dedicated creates its own gateway and service user entry, and restarts no other dedicated gateway", async () => {
    const { ctx, rec } = await installed();
    expect(await userAddCommand(ctx, { id: "gina", mode: "dedicated", whatsapp: "+15551234567", email: "gina@example.org" })).toBe(0);
    expect(parseConfig(yaml(), "t").users.find((u) => u.id === "gina")?.email).toBe("gina@example.org");
    expect(readFileSync(path.join(root, "etc/sysusers.d/wirebot.conf"), "utf8")).toContain("u wb-gina ");
    expect(snapshotTree(root)["etc/systemd/system/multi-user.target.wants/clawdbot-gateway@gina.service"]).toBe("777 link /etc/systemd/system/clawdbot-gateway@.service");
    const sc = rec.systemctl();
    expect(sc.filter((c) => /^(restart|stop) /.test(c)).some((c) => c.includes("erin") || c.includes("clawdbot-gateway.service"))).toBe(false);
    // Restarting the secrets unit would restart every gateway through PartOf=: its file must not depend on the user list.
    expect(sc.filter((c) => /^(restart|stop) /.test(c)).some((c) => c.includes("wirebot-secrets.service"))).toBe(false);
    expect(sc.some((c) => c.startsWith("start ") && c.includes("clawdbot-gateway@gina.service"))).toBe(true);
    expect(ctx.io.stdout.join("\n")).toContain("Pair WhatsApp");
  });

  it.each([
    ["a bad id", 78, { id: "../evil" }],
    ["an upper-case id", 78, { id: "Frank" }],
    ["a peer already taken", 78, { id: "frank", telegram: "123456789" }],
    ["an existing id", 64, { id: "alice" }],
    ["a bad mode", 64, { id: "frank", mode: "solo" }],
    ["a malformed e-mail", 78, { id: "frank", mode: "dedicated", email: "frank at example.org" }],
  ])("add with %s is refused (exit %i) and nothing is written or restarted", async (_what, exit, opts) => {
    const { ctx, rec } = await installed();
    const before = snapshotTree(root);
    const err = await userAddCommand(ctx, opts).catch((e) => e);
    expect(err).toBeInstanceOf(WirebotError);
    expect(err.exitCode).toBe(exit);
    expect(snapshotTree(root)).toEqual(before);
    expect(rec.calls).toEqual([]);
  });

  it("remove keeps data; --purge deletes the user dir and the agent dir under the shared state dir", async () => {
    const { ctx } = await installed();
    mkdirSync(path.join(root, "data/wirebot/gateway/agents/bob/agent"), { recursive: true });
    mkdirSync(path.join(root, "data/wirebot/gateway/agents/alice/agent"), { recursive: true });
    expect(await userRemoveCommand(ctx, { id: "alice" })).toBe(0);
    expect(parseConfig(yaml(), "t").users.map((u) => u.id)).toEqual(["bob", "erin"]);
    expect(snapshotTree(root)["data/wirebot/users/alice/workspace"]).toBe("700 dir");
    expect(snapshotTree(root)["data/wirebot/gateway/agents/alice/agent"]).toBe("755 dir");
    expect(ctx.io.stdout.join("\n")).toContain("Kept its data");

    expect(await userRemoveCommand(ctx, { id: "bob", purge: true })).toBe(0);
    const snap = snapshotTree(root);
    expect(snap["data/wirebot/users/bob"]).toBeUndefined();
    expect(snap["data/wirebot/gateway/agents/bob"]).toBeUndefined();
    expect(snap["data/wirebot/gateway/agents/alice/agent"]).toBe("755 dir");
  });

  it("remove of the last user is a config error and writes nothing", async () => {
    const { ctx } = await installed("one-user");
    const before = snapshotTree(root);
    await expect(userRemoveCommand(ctx, { id: "dana" })).rejects.toMatchObject({ kind: "config" });
    expect(snapshotTree(root)).toEqual(before);
  });

  it("list --json reports mode, unit and port", async () => {
    const { ctx } = await installed();
    expect(await userListCommand(ctx, { json: true })).toBe(0);
    const doc = JSON.parse(ctx.io.stdout.join("\n"));
    expect(doc.users.map((u: any) => [u.id, u.mode, u.unit, u.port])).toEqual([
      ["alice", "shared", "clawdbot-gateway.service", 18789],
      ["bob", "shared", "clawdbot-gateway.service", 18789],
      ["erin", "dedicated", "clawdbot-gateway@erin.service", 18920],
    ]);
  });

  it("move shared → dedicated stops the gateway first, moves the agent dir, and hands the user's files to the new service user", async () => {
    const { ctx, rec } = await installed("mixed", aliceOwnBot);
    const agent = path.join(root, "data/wirebot/gateway/agents/alice/agent");
    mkdirSync(agent, { recursive: true });
    writeFileSync(path.join(agent, "openclaw-agent.sqlite"), "sessions");
    writeFileSync(path.join(root, "data/wirebot/users/alice/workspace/MEMORY.md"), "remember");
    expect(await userMoveCommand(ctx, { id: "alice", mode: "dedicated" })).toBe(0);
    const moved = path.join(root, "data/wirebot/users/alice/agents/alice/agent/openclaw-agent.sqlite");
    expect(readFileSync(moved, "utf8")).toBe("sessions");
    expect(snapshotTree(root)["data/wirebot/gateway/agents/alice"]).toBeUndefined();
    for (const p of [moved, path.join(root, "data/wirebot/users/alice/workspace/MEMORY.md"), path.join(root, "data/wirebot/users/alice")]) expect(statSync(p).uid).toBe(4242);
    const sc = rec.systemctl();
    expect(sc[0]).toBe("stop clawdbot-gateway.service");
    expect(sc.at(-1)).toContain("clawdbot-gateway@alice.service");
    expect(sc.some((c) => /^(restart|stop) .*erin/.test(c))).toBe(false);
    expect(parseConfig(yaml(), "t").users.find((u) => u.id === "alice")?.mode).toBe("dedicated");
  });

  it("move dedicated → shared moves the agent dir back under the shared state dir and drops trust: trusted", async () => {
    const { ctx, rec } = await installed();
    mkdirSync(path.join(root, "data/wirebot/users/erin/agents/erin/agent"), { recursive: true });
    expect(await userMoveCommand(ctx, { id: "erin", mode: "shared" })).toBe(0);
    expect(snapshotTree(root)["data/wirebot/gateway/agents/erin/agent"]).toBe("755 dir");
    expect(snapshotTree(root)["etc/systemd/system/multi-user.target.wants/clawdbot-gateway@erin.service"]).toBeUndefined();
    expect(rec.systemctl()[0]).toBe("stop clawdbot-gateway.service clawdbot-gateway@erin.service");
    const erin = parseConfig(yaml(), "t").users.find((u) => u.id === "erin")!;
    expect(erin.mode).toBe("shared");
    expect(erin.trust).toBeUndefined();
  });

  it("move refuses when the destination already holds agent state, before stopping anything", async () => {
    const { ctx, rec } = await installed("mixed", aliceOwnBot);
    mkdirSync(path.join(root, "data/wirebot/gateway/agents/alice"), { recursive: true });
    mkdirSync(path.join(root, "data/wirebot/users/alice/agents/alice"), { recursive: true });
    const before = snapshotTree(root);
    await expect(userMoveCommand(ctx, { id: "alice", mode: "dedicated" })).rejects.toMatchObject({ code: "user.move-target" });
    expect(rec.calls).toEqual([]);
    expect(snapshotTree(root)).toEqual(before);
  });
});
