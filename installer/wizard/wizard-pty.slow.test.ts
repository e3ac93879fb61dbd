/**
 * `wirebot install --root` typed into a real terminal (tmux): a mistake is re-asked with the config's sentence, the plan comes
 * before "Install?", the end says what to do next, and Ctrl-C exits 130 with the root untouched.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../assets.ts";
import { removeDir, snapshotTree, tempDir } from "../testing/harness.ts";
import { assertTmux, startPty, type PtySession } from "../testing/pty-session.ts";
import { TOKEN } from "../testing/scripted-answers.ts";

// The CLI from source, as `wirebot` would run it: `node --import tsx -e <load main.ts> -- install --root DIR`.
const wirebot = (...args: string[]) => [process.execPath, "--import", "tsx", "-e", "import('./installer/main.ts').then((m) => m.runMain(process.argv.slice(1)))", "--", ...args];

let session: PtySession | null = null;
let root = "";
beforeAll(() => assertTmux());
afterEach(() => {
  session?.close();
  session = null;
  if (root) removeDir(root);
});

/** Answers the prompt that starts with message: waits for it, types, Enter. */
async function answer(s: PtySession, message: string, text = "") {
  await s.waitForPrompt(message);
  if (text) s.type(text);
  s.keys("Enter");
}

describe("the install wizard in a real terminal", () => {
  it("re-asks a mistake with the config's sentence, shows the plan before \"Install?\", and ends with the next steps", async () => {
    root = tempDir();
    const s = (session = startPty(wirebot("install", "--root", root), { cwd: PACKAGE_ROOT }));

    // A mistake on purpose: the same sentence as in a file, the same question again, the typed text kept to edit.
    await answer(s, "Domain the appliance is published under", "https://wirebot.example.net");
    await s.waitFor(/^> must be a DNS name such as helm\.example\.org \(lower case, no scheme, no port\)$/m);
    s.keys("C-u");
    s.type("  wirebot.example.net  "); // trimmed
    s.keys("Enter");
    await answer(s, "Default gateway mode for users");
    await answer(s, "LiteLLM proxy URL");
    await answer(s, "Models offered through LiteLLM");
    await answer(s, "Default model");
    await answer(s, "Where do secrets live?");
    await answer(s, "Bitwarden organization id", "3f2b8c1e-6a4d-4e7b-9c3a-1d2e3f4a5b6c");
    await answer(s, "Bitwarden Secrets Manager project id", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d");
    await answer(s, "Bitwarden machine-account access token", TOKEN);
    await answer(s, "Publish the Control UI and API through a Cloudflare tunnel?", "n");
    await answer(s, "User 1: id", "dana");
    await answer(s, "  display name", "Dana");
    await answer(s, "  gateway");
    await answer(s, "  Telegram user id", "100200300");
    await answer(s, "  WhatsApp number");
    await answer(s, "  monthly budget in USD", "20");
    await answer(s, "Add another user?", "y");
    await answer(s, "User 2: id", "eli");
    await answer(s, "  display name");
    await answer(s, "  gateway");
    // A cross-field rule, checked at its prompt: dana has this peer already.
    await answer(s, "  Telegram user id", "100200300");
    await s.waitFor(/^> peer 100200300 is already users\[0\]'s$/m);
    s.keys("C-u");
    s.type("100200301");
    s.keys("Enter");
    await answer(s, "  WhatsApp number");
    await answer(s, "  monthly budget in USD", "abc");
    await s.waitFor(/^> must be a number of US dollars such as 20$/m);
    s.keys("C-u", "Enter");
    await answer(s, "Add another user?");

    await s.waitForPrompt(`Install 1 gateway(s) for 2 user(s) under ${root}?`);
    const before = s.history();
    const saved = path.join(root, "etc/wirebot/install-answers.yaml");
    expect(before).toContain(`• answers saved in ${saved} (0600; no secret in it)`);
    expect(existsSync(saved)).toBe(true);
    const plan = before.search(/^Plan: \d+ to create, 0 to update, 0 to delete\.$/m);
    expect(plan).toBeGreaterThan(before.indexOf("✔ Add another user? No"));
    expect(before.indexOf("  + file /etc/wirebot/wirebot.yaml (0600 root:root)")).toBeGreaterThan(plan);
    expect(before.indexOf(`? Install 1 gateway(s)`)).toBeGreaterThan(before.indexOf("  + file /etc/wirebot/manifest.json"));
    expect(Object.keys(snapshotTree(root))).toEqual(["etc", "etc/wirebot", "etc/wirebot/.wirebot-owned", "etc/wirebot/install-answers.yaml"]);
    s.keys("Enter");

    expect(await s.exitStatus()).toBe(0);
    const end = s.history();
    expect(end).toContain("• applying the plan shown above");
    expect(end).toMatch(new RegExp(`^Installed under ${root}: \\d+ file\\(s\\) written\\.$`, "m"));
    expect(end).toContain("Secrets that must exist in Bitwarden Secrets Manager (project 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d)");
    expect(end).toMatch(/^ {2}wirebot\/telegram-bot-token +TELEGRAM_BOT_TOKEN for clawdbot-gateway\.service$/m);
    expect(end).toMatch(/^ {2}wirebot\/litellm-master-key +/m);
    expect(end).toMatch(/^ {2}\/etc\/wirebot\/credstore\/bws-access-token +the Bitwarden access token/m);
    expect(end).toMatch(new RegExp(`^Next:\\n {2}wirebot status --root ${root} +`, "m"));
    expect(end).not.toContain(TOKEN); // the password prompt does not echo
    expect(existsSync(saved)).toBe(false);
    expect(existsSync(path.join(root, "etc/wirebot/wirebot.yaml"))).toBe(true);
  });

  it("Ctrl-C at a prompt exits 130 and leaves the root as it was", async () => {
    root = tempDir();
    const untouched = snapshotTree(root);
    const s = (session = startPty(wirebot("install", "--root", root), { cwd: PACKAGE_ROOT }));
    await answer(s, "Domain the appliance is published under", "wirebot.example.net");
    await answer(s, "Default gateway mode for users");
    await answer(s, "LiteLLM proxy URL");
    await s.waitForPrompt("Models offered through LiteLLM");
    s.type("gpt-4o");
    s.keys("C-c");
    expect(await s.exitStatus()).toBe(130);
    expect(s.history()).toMatch(/^Cancelled; nothing was changed\.$/m);
    expect(snapshotTree(root)).toEqual(untouched);
  });
});
