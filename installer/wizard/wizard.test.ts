/** The install wizard driven by scripted answers: it produces a valid wirebot.yaml (Access e-mails included) and keeps the token out of it. */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../config/load.ts";
import { main } from "../main.ts";
import { removeDir, snapshotTree, tempDir, testContext } from "../testing/harness.ts";
import { scriptedPrompter } from "./prompter.ts";
import { runWizard } from "./questions.ts";

const TOKEN = "0.48b4774c-68aa-4bb5-a5b1-b08f0083b9e4.wizardsecretvalue:AAAAAAAAAAAAAAAAAAAAAA==";

// prettier-ignore
const answers = () => [
  "wirebot.example.net", "shared", "", "gpt-4o-mini, claude-haiku-3-5", "claude-haiku-3-5",
  "bitwarden", "3f2b8c1e-6a4d-4e7b-9c3a-1d2e3f4a5b6c", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", TOKEN,
  true, "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210",
  true, "ops@example.net, Root@example.net",                  // Cloudflare Access, admin e-mails
  "dana", "Dana", "shared", "100200300", "", "20", true,      // a shared user is asked no e-mail
  "eli", "Eli", "dedicated", "eli@example.net", "", "+15551234567", "", false,
];
/** Where the answers above sit, for tests that change one. */
const AT = { access: 12, adminEmails: 13, firstUserId: 14, eliEmail: 24 } as const;

describe("install wizard", () => {
  it("writes a valid config from scripted answers, without the access token", async () => {
    const p = scriptedPrompter(answers());
    const w = await runWizard(p);
    const c = parseConfig(w.yaml, "wizard");
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

  it.each([
    ["no admin e-mail", AT.adminEmails, "", /at least one e-mail address/],
    ["a malformed admin e-mail", AT.adminEmails, "ops@example.net, root", /comma-separated e-mail addresses/],
    ["a malformed user e-mail", AT.eliEmail, "eli at example.net", /an e-mail address such as/],
  ])("refuses %s", async (_what, at, value, message) => {
    const a = answers();
    a[at] = value;
    await expect(runWizard(scriptedPrompter(a))).rejects.toThrow(message);
  });

  it("re-asks nothing it cannot validate: a bad user id fails the scripted run loudly", async () => {
    const a = answers();
    a[AT.firstUserId] = "../dana";
    await expect(runWizard(scriptedPrompter(a))).rejects.toThrow(/rejected .* must match/);
  });

  it("drives `wirebot install --root` end to end and stores the token through the injected step", async () => {
    const root = tempDir();
    try {
      const ctx = testContext(root);
      const stored: string[] = [];
      const code = await main(["install", "--root", root], {
        io: ctx.io,
        context: () => ctx,
        install: { prompter: scriptedPrompter([...answers(), true]), storeBootstrapToken: async (_c, t) => void stored.push(t) },
      });
      expect(code).toBe(0);
      expect(stored).toEqual([TOKEN]);
      const files = snapshotTree(root);
      expect(files["etc/wirebot/wirebot.yaml"]).toMatch(/^600 file /);
      expect(Object.entries(files).some(([, v]) => Buffer.from(v.split(" ").at(-1) ?? "", "base64").toString().includes(TOKEN))).toBe(false);
      expect(ctx.io.text()).not.toContain(TOKEN);
    } finally {
      removeDir(root);
    }
  });
});
