/** One answer checked as the file path would check it: its own problems, and a cross-field rule's on an enclosing key, never another key's. */
import { describe, expect, it } from "vitest";
import { noOwnBotMessage } from "../config/telegram-bots.ts";
import { problemAt, setAt, type Draft } from "./draft.ts";

// prettier-ignore
const draft = (): Draft => ({
  domain: "wirebot.example.net", mode: "shared",
  litellm: { baseUrl: "http://127.0.0.1:4000", models: ["gpt-4o-mini"], defaultModel: "gpt-4o-mini" },
  secrets: { backend: "rbw", map: { TELEGRAM_BOT_TOKEN: "wirebot/telegram-bot-token" } },
  users: [{ id: "dana", name: "Dana", channels: { telegram: { peer: "100200300" } } }, { id: "eli", mode: "dedicated" }],
});

describe("problemAt", () => {
  it("accepts what the file path accepts, with the keys not answered yet left out", () => {
    expect(problemAt({}, ["domain"], "wirebot.example.net")).toBeNull();
    expect(problemAt(draft(), ["users", 1, "budget", "monthlyUsd"], 15)).toBeNull();
  });

  it("a rule another key breaks is not this answer's problem", () => {
    const d = draft();
    setAt(d, ["tunnel"], { enabled: true }); // no accountId/zoneId yet: a problem at `tunnel`, present before this answer
    expect(problemAt(d, ["users", 1, "name"], "Eli")).toBeNull();
  });

  it("a cross-field rule on an enclosing key counts when this answer brings it", () => {
    // eli is dedicated with no bot of their own mapped: the rule is reported at users[1].channels.telegram.
    expect(problemAt(draft(), ["users", 1, "channels", "telegram", "peer"], "400500600")).toBe(noOwnBotMessage("eli"));
    const mapped = draft();
    (mapped["secrets"] as { map: Record<string, string> }).map["TELEGRAM_BOT_TOKEN_ELI"] = "wirebot/telegram-bot-token/eli";
    expect(problemAt(mapped, ["users", 1, "channels", "telegram", "peer"], "400500600")).toBeNull();
  });

  it("names the entry of a list that is wrong, and every wrong entry", () => {
    expect(problemAt(draft(), ["litellm", "models"], ["gpt-4o-mini", ""])).toMatch(/^"": /);
    const d = draft();
    setAt(d, ["tunnel"], { enabled: true, accountId: "0123456789abcdef0123456789abcdef", zoneId: "0123456789abcdef0123456789abcdef", access: { enabled: true } });
    expect(problemAt(d, ["tunnel", "access", "emails"], ["a", "ops@example.net", "b"])).toBe('"a": must be an e-mail address such as ops@example.org; "b": must be an e-mail address such as ops@example.org');
  });

  it("leaves the draft as it was", () => {
    const d = draft();
    const before = structuredClone(d);
    problemAt(d, ["users", 0, "id"], "../x");
    expect(d).toEqual(before);
  });
});
