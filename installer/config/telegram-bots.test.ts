/** One poller per Telegram bot token: a gateway with Telegram peers and no bot of its own is a configuration error (78) at the peer. */
import { readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse, stringify } from "yaml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../assets.ts";
import { userAddCommand, userMoveCommand } from "../commands/user.ts";
import { applyCommand } from "../commands/apply.ts";
import { WirebotError } from "../errors.ts";
import { examplePath, exampleText, removeDir, snapshotTree, tempDir, testContext } from "../testing/harness.ts";
import { parseConfig } from "./load.ts";
import { dedicatedTelegramVar, planSecrets } from "./secret-plan.ts";
import { resolveLayout } from "./layout.ts";
import { noOwnBotMessage, ownBotVar } from "./telegram-bots.ts";

/** examples/mixed.yaml (alice, bob shared; erin dedicated with her own bot) with edits to the parsed document. */
function mixed(edit: (doc: any) => void): string {
  const doc = parse(exampleText("mixed"));
  edit(doc);
  return stringify(doc);
}

function problems(text: string): { path: string; message: string }[] {
  try {
    parseConfig(text, "wirebot.yaml");
  } catch (e) {
    expect(e).toBeInstanceOf(WirebotError);
    expect((e as WirebotError).exitCode).toBe(78);
    return (e as WirebotError).issues;
  }
  return [];
}

describe("Telegram bots per gateway", () => {
  it("every example loads (erin, dedicated, has her own bot mapped)", () => {
    for (const f of readdirSync(path.join(PACKAGE_ROOT, "examples")).filter((n) => n.endsWith(".yaml"))) expect(problems(exampleText(f.replace(/\.yaml$/, ""))), f).toEqual([]);
  });

  it("a dedicated user with a Telegram peer and no bot of their own is refused at users[i].channels.telegram, saying how to fix it", () => {
    const issues = problems(mixed((d) => delete d.secrets.map.TELEGRAM_BOT_TOKEN_ERIN));
    expect(issues).toEqual([{ path: "users[2].channels.telegram", message: noOwnBotMessage("erin") }]);
    expect(issues[0]!.message).toContain("map it under secrets.map as TELEGRAM_BOT_TOKEN_ERIN: <vault name of that token>");
    expect(issues[0]!.message).toContain("one poller per bot token, so the shared bot cannot serve it");
  });

  it("without a Telegram peer a dedicated user needs no bot", () => {
    expect(problems(mixed((d) => {
      delete d.secrets.map.TELEGRAM_BOT_TOKEN_ERIN;
      delete d.users[2].channels;
    }))).toEqual([]);
  });

  it("the map key is the one secrets pull reads into the dedicated gateway's env file, hyphens included", () => {
    expect(ownBotVar("erin-b")).toBe(dedicatedTelegramVar("erin-b"));
    const text = mixed((d) => {
      d.users[2].id = "erin-b";
      d.secrets.map = { ...d.secrets.map, TELEGRAM_BOT_TOKEN_ERIN_B: d.secrets.map.TELEGRAM_BOT_TOKEN_ERIN };
      delete d.secrets.map.TELEGRAM_BOT_TOKEN_ERIN;
    });
    const config = parseConfig(text, "wirebot.yaml");
    const env = planSecrets(config, resolveLayout(config)).envFiles.find((f) => f.consumer === "clawdbot-gateway@erin-b.service");
    expect(env?.vars.find((v) => v.envVar === "TELEGRAM_BOT_TOKEN")?.vaultName).toBe("wirebot/telegram-bot-token-erin");
  });

  it("a dedicated user mapped to the shared bot's vault secret is refused: two pollers on one token", () => {
    const issues = problems(mixed((d) => (d.secrets.map.TELEGRAM_BOT_TOKEN_ERIN = d.secrets.map.TELEGRAM_BOT_TOKEN)));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe("users[2].channels.telegram");
    expect(issues[0]!.message).toContain("secrets.map.TELEGRAM_BOT_TOKEN_ERIN names the shared gateway's bot (wirebot/telegram-bot-token");
  });

  it("the shared bot's secret is free for a dedicated user when no shared user polls it", () => {
    expect(problems(mixed((d) => {
      d.secrets.map.TELEGRAM_BOT_TOKEN_ERIN = d.secrets.map.TELEGRAM_BOT_TOKEN;
      delete d.users[0].channels;
      delete d.users[1].channels;
    }))).toEqual([]);
  });

  it("two dedicated users on the same bot are refused at the second", () => {
    const issues = problems(mixed((d) => {
      d.users.push({ id: "gina", name: "Gina", mode: "dedicated", channels: { telegram: { peer: "456789012" } } });
      d.secrets.map.TELEGRAM_BOT_TOKEN_GINA = d.secrets.map.TELEGRAM_BOT_TOKEN_ERIN;
    }));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe("users[3].channels.telegram");
    expect(issues[0]!.message).toContain("names the same bot (wirebot/telegram-bot-token-erin) as TELEGRAM_BOT_TOKEN_ERIN of users[2]");
  });

  it("shared users with Telegram peers need the shared bot mapped; the issue is at the first of them", () => {
    const issues = problems(mixed((d) => delete d.secrets.map.TELEGRAM_BOT_TOKEN));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe("users[0].channels.telegram");
    expect(issues[0]!.message).toContain("map it under secrets.map as TELEGRAM_BOT_TOKEN: <vault name of that token>");
  });
});

describe("the rule on the command line", () => {
  let root: string;
  beforeEach(() => {
    root = tempDir();
  });
  afterEach(() => removeDir(root));

  it("`wirebot apply` of such a file exits 78 with the same sentence and writes nothing", async () => {
    const work = tempDir("wirebot-cfg-");
    try {
      const file = path.join(work, "wirebot.yaml");
      writeFileSync(file, mixed((d) => delete d.secrets.map.TELEGRAM_BOT_TOKEN_ERIN));
      const e = await applyCommand(testContext(root), { config: file, yes: true }).then(() => null, (x: unknown) => x as WirebotError);
      expect(e?.exitCode).toBe(78);
      expect(e?.issues).toContainEqual({ path: "users[2].channels.telegram", message: noOwnBotMessage("erin") });
      expect(snapshotTree(root)).toEqual({});
    } finally {
      removeDir(work);
    }
  });

  it("`wirebot user add --mode dedicated --telegram` without the user's bot mapped exits 78 with the same sentence and leaves wirebot.yaml as it was", async () => {
    const ctx = testContext(root);
    expect(await applyCommand(ctx, { config: examplePath("mixed"), yes: true })).toBe(0);
    const before = snapshotTree(root);
    const e = await userAddCommand(testContext(root), { id: "gina", mode: "dedicated", telegram: "456789012" }).then(() => null, (x: unknown) => x as WirebotError);
    expect(e?.exitCode).toBe(78);
    expect(e?.issues).toEqual([{ path: "users[3].channels.telegram", message: noOwnBotMessage("gina") }]);
    expect(snapshotTree(root)).toEqual(before);
  });

  it("`wirebot user move` of a Telegram user to a dedicated gateway without a bot of their own exits 78 and changes nothing", async () => {
    expect(await applyCommand(testContext(root), { config: examplePath("mixed"), yes: true })).toBe(0);
    const before = snapshotTree(root);
    const e = await userMoveCommand(testContext(root), { id: "alice", mode: "dedicated" }).then(() => null, (x: unknown) => x as WirebotError);
    expect(e?.exitCode).toBe(78);
    expect(e?.issues).toEqual([{ path: "users[0].channels.telegram", message: noOwnBotMessage("alice") }]);
    expect(snapshotTree(root)).toEqual(before);
  });
});
