/** The install wizard driven by scripted answers: it produces a valid wirebot.yaml and keeps the token out of it. */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../config/load.ts";
import { main } from "../main.ts";
import { removeDir, snapshotTree, tempDir, testContext } from "../testing/harness.ts";
import { scriptedPrompter } from "./prompter.ts";
import { runWizard } from "./questions.ts";

const TOKEN = "0.48b4774c-68aa-4bb5-a5b1-b08f0083b9e4.wizardsecretvalue:AAAAAAAAAAAAAAAAAAAAAA==";

const answers = () => [
  "wirebot.example.net", "shared", "", "gpt-4o-mini, claude-haiku-3-5", "claude-haiku-3-5",
  "bitwarden", "3f2b8c1e-6a4d-4e7b-9c3a-1d2e3f4a5b6c", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", TOKEN,
  true, "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210",
  "dana", "Dana", "shared", "100200300", "", "20", true,
  "eli", "Eli", "dedicated", "", "+15551234567", "", false,
];

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

  it("re-asks nothing it cannot validate: a bad user id fails the scripted run loudly", async () => {
    const a = answers();
    a[12] = "../dana";
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
