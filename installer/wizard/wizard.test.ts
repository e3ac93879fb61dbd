/** The install wizard driven by scripted answers: a valid wirebot.yaml, each mistake re-asked with the config's own sentence, the token kept out. */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../config/load.ts";
import { scriptedPrompter } from "./prompter.ts";
import { runWizard } from "./questions.ts";
import { AT, TOKEN, answers } from "../testing/scripted-answers.ts";

/** The answers with `bad` typed first at position `at`, then the good answer: the prompt must re-ask. */
const withMistake = (at: number, bad: string) => {
  const a = answers();
  a.splice(at, 0, bad);
  return a;
};

describe("install wizard", () => {
  it("writes a valid config from scripted answers, without the access token", async () => {
    const p = scriptedPrompter(answers());
    const w = await runWizard(p);
    const c = parseConfig(w.yaml, "wizard");
    expect(p.rejected).toEqual([]);
    expect(c.domain).toBe("wirebot.example.net");
    expect(c.litellm).toMatchObject({ baseUrl: "http://127.0.0.1:4000", models: ["gpt-4o-mini", "claude-haiku-3-5"], defaultModel: "claude-haiku-3-5" });
    expect(c.users.map((u) => [u.id, u.mode ?? c.mode])).toEqual([["dana", "shared"], ["eli", "dedicated"]]);
    expect(c.users[0]!.budget?.monthlyUsd).toBe(20);
    expect(c.users[1]!.channels.whatsapp?.peer).toBe("+15551234567");
    expect(w.bwsAccessToken).toBe(TOKEN);
    expect(w.yaml).not.toContain(TOKEN);
  });

  it("with Access: admin e-mails for helm, and each dedicated user's own e-mail for their helm-<id>", async () => {
    const p = scriptedPrompter(answers());
    const c = parseConfig((await runWizard(p)).yaml, "wizard");
    expect(c.tunnel.access).toEqual({ enabled: true, emails: ["ops@example.net", "Root@example.net"] });
    expect(c.users.map((u) => [u.id, u.email])).toEqual([["dana", undefined], ["eli", "eli@example.net"]]);
    expect(p.asked.filter((q) => q.includes("let into"))).toEqual([
      "Admin e-mails, the only ones let into helm.wirebot.example.net (the shared gateway's Control UI; comma separated)",
      "  e-mail let into helm-eli.wirebot.example.net (their own Control UI; nobody else gets in)",
    ]);
  });

  it("without Access: no e-mail is asked and none is written", async () => {
    const a = answers();
    a.splice(AT.eliEmail, 1);
    a.splice(AT.access, 2, false);
    const p = scriptedPrompter(a);
    const w = await runWizard(p);
    const c = parseConfig(w.yaml, "wizard");
    expect(c.tunnel.access).toEqual({ enabled: false, emails: [] });
    expect(c.users.every((u) => u.email === undefined)).toBe(true);
    expect(p.asked.some((q) => q.includes("let into"))).toBe(false);
    expect(w.yaml).not.toMatch(/email|access/);
  });

  it("trims what is typed, and a blank answer takes the default", async () => {
    const a = answers();
    a[AT.domain] = "  wirebot.example.net \t";
    a[AT.danaPeer] = " 100200300 ";
    a[AT.danaBudget] = "   ";
    a[AT.token] = `  ${TOKEN}  `;
    const w = await runWizard(scriptedPrompter(a));
    const c = parseConfig(w.yaml, "wizard");
    expect(c.domain).toBe("wirebot.example.net");
    expect(c.users[0]!.channels.telegram?.peer).toBe("100200300");
    expect(c.users[0]!.budget).toBeUndefined();
    expect(w.bwsAccessToken).toBe(TOKEN);
  });

  // Each sentence is the one `wirebot install --config` prints for the same value in a file (schema.ts).
  it.each([
    ["a domain with a scheme", AT.domain, "https://wirebot.example.net", /^must be a DNS name such as helm\.example\.org/],
    ["an organization id that is no UUID", AT.orgId, "my-org", /^must be a UUID such as/],
    ["a token in the wrong format", AT.token, "not-a-token", /^the Bitwarden access token from the prompt is not in the machine-account format/],
    ["no admin e-mail", AT.adminEmails, " , ", /^Cloudflare Access needs at least one admin email/],
    ["a malformed admin e-mail", AT.adminEmails, "ops@example.net, root", /^"root": must be an e-mail address such as ops@example\.org$/],
    ["a user id with a path in it", AT.firstUserId, "../dana", /^must match \^\[a-z\]/],
    ["the system agent's id", AT.firstUserId, "wirebot", /^'wirebot' is reserved/],
    ["a user id that is taken", AT.secondUserId, "dana", /^duplicate user id 'dana' \(also users\[0\]\.id\)$/],
    ["a malformed user e-mail", AT.eliEmail, "eli at example.net", /^must be an e-mail address such as dana@example\.org$/],
    ["a Telegram peer another user has", AT.eliPeer, "100200300", /^peer 100200300 is already users\[0\]'s$/],
    ["a Telegram peer that is no number", AT.danaPeer, "@dana", /^must be a numeric Telegram user id$/],
    ["a budget of zero", AT.danaBudget, "0", /^must be more than 0 \(US dollars a month\)$/],
    ["a budget over the cap", AT.danaBudget, "2000000", /^must be at most 1000000/],
    ["a budget that is no number", AT.danaBudget, "twenty", /^must be a number of US dollars such as 20$/],
  ])("re-asks after %s, with the config's sentence", async (_what, at, bad, sentence) => {
    const p = scriptedPrompter(withMistake(at, bad));
    const c = parseConfig((await runWizard(p)).yaml, "wizard");
    expect(p.rejected).toHaveLength(1);
    expect(p.rejected[0]!.answer).toBe(bad.trim());
    expect(p.rejected[0]!.message).toMatch(sentence);
    expect(p.asked[at]).toBe(p.asked[at + 1]); // the same question again
    expect(c.users.map((u) => u.id)).toEqual(["dana", "eli"]);
  });

  it("a dedicated user's Telegram peer maps their own bot token; a shared user's uses the shared bot", async () => {
    const a = answers();
    a[AT.eliPeer] = "400500600";
    const p = scriptedPrompter(a);
    const c = parseConfig((await runWizard(p)).yaml, "wizard");
    expect(c.secrets.map).toMatchObject({ TELEGRAM_BOT_TOKEN: "wirebot/telegram-bot-token", TELEGRAM_BOT_TOKEN_ELI: "wirebot/telegram-bot-token/eli" });
    expect(p.asked).toContain("  Telegram user id (empty for none; their own bot, token in the vault as wirebot/telegram-bot-token/eli)");
    // Without a peer, no mapping is left behind for eli.
    const none = parseConfig((await runWizard(scriptedPrompter(answers()))).yaml, "wizard");
    expect(Object.keys(none.secrets.map)).not.toContain("TELEGRAM_BOT_TOKEN_ELI");
  });

  // prettier-ignore
  const fileBackend = (path: string[]) => [
    "wirebot.example.net", "shared", "", "", "gpt-4o-mini", "file", ...path, false,
    "dana", "", "shared", "", "", "", false,
  ];

  it.each([
    ["relative", "secrets.yaml", /^must be an absolute path$/],
    ["under /root, which the secrets unit cannot see", "/root/secrets.yaml", /^must be outside \/home, \/root and \/run\/user/],
  ])("the file backend re-asks a %s secrets path", async (_what, bad, sentence) => {
    const p = scriptedPrompter(fileBackend([bad, "/srv/wirebot-dev/secrets.yaml"]));
    const c = parseConfig((await runWizard(p)).yaml, "wizard");
    expect(p.rejected.map((r) => r.message)).toEqual([expect.stringMatching(sentence)]);
    expect(c.secrets.file?.path).toBe("/srv/wirebot-dev/secrets.yaml");
    expect(c.users[0]).toMatchObject({ id: "dana", name: "dana" });
  });
});
