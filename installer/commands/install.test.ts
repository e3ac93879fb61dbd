/** `wirebot install` through the wizard: answers saved before anything can fail, the plan before "Install?", Ctrl-C changes nothing, a later error says how to resume. */
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeError } from "../errors.ts";
import { main } from "../main.ts";
import { removeDir, snapshotTree, tempDir, testContext } from "../testing/harness.ts";
import { CTRL_C, scriptedPrompter, type Prompter } from "../wizard/prompter.ts";
import { AT, TOKEN, answers } from "../testing/scripted-answers.ts";

const ANSWERS = "etc/wirebot/install-answers.yaml";
const INSTALL_Q = /^Install \d+ gateway\(s\) for \d+ user\(s\) under /;

let root: string;
beforeEach(() => {
  root = tempDir();
});
afterEach(() => removeDir(root));

/** Runs `wirebot install --root` with a prompter; onInstallQuestion sees the output and the root as they are when "Install?" is asked. */
async function install(prompter: Prompter, o: { args?: string[]; store?: () => Promise<void>; onInstallQuestion?: (stderr: string[]) => void } = {}) {
  const ctx = testContext(root);
  const stored: string[] = [];
  const watched: Prompter = {
    ...prompter,
    async confirm(message, def) {
      if (INSTALL_Q.test(message)) o.onInstallQuestion?.([...ctx.io.stderr]);
      return prompter.confirm(message, def);
    },
  };
  const code = await main(["install", "--root", root, ...(o.args ?? [])], {
    io: ctx.io,
    context: () => ctx,
    install: { prompter: watched, storeBootstrapToken: o.store ?? (async (_c, t) => void stored.push(t)) },
  });
  return { code, stored, out: ctx.io.stdout.join("\n"), err: ctx.io.stderr.join("\n"), text: ctx.io.text() };
}

describe("install through the wizard", () => {
  it("saves the answers 0600 and shows the plan before asking; the end names files, vault secrets and next commands", async () => {
    let atQuestion: { stderr: string[]; files: string[]; answersMode: number } | null = null;
    const r = await install(scriptedPrompter([...answers(), true]), {
      onInstallQuestion: (stderr) => (atQuestion = { stderr, files: Object.keys(snapshotTree(root)), answersMode: statSync(path.join(root, ANSWERS)).mode & 0o777 }),
    });
    expect(r.code).toBe(0);
    expect(atQuestion).not.toBeNull();
    const q = atQuestion!;
    // Before "Install?": only the answers exist, and the whole plan was printed.
    expect(q.files).toEqual(["etc", "etc/wirebot", "etc/wirebot/.wirebot-owned", ANSWERS]);
    expect(q.answersMode).toBe(0o600);
    const shown = q.stderr.join("\n");
    expect(shown).toMatch(/^Plan: \d+ to create, 0 to update, 0 to delete\./m);
    expect(shown).toContain("+ file /etc/wirebot/wirebot.yaml (0600 root:root)");
    expect(shown).toContain("+ file /etc/systemd/system/clawdbot-gateway@eli.service");
    // Applied as shown, so not printed twice.
    expect(r.err).toContain("• applying the plan shown above");
    expect(r.err.match(/^Plan: /gm)).toHaveLength(1);

    expect(r.stored).toEqual([TOKEN]);
    expect(existsSync(path.join(root, ANSWERS))).toBe(false); // wirebot.yaml holds them now
    expect(statSync(path.join(root, "etc/wirebot/wirebot.yaml")).mode & 0o777).toBe(0o600);
    expect(r.out).toMatch(new RegExp(`^Installed under ${root}: \\d+ file\\(s\\) written\\.`));
    expect(r.out).toMatch(/\/etc\/wirebot\/wirebot\.yaml +the desired state/);
    expect(r.out).toContain("Secrets that must exist in Bitwarden Secrets Manager (project 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d)");
    for (const name of ["wirebot/telegram-bot-token", "wirebot/litellm-master-key", "wirebot/cloudflare-api-token"]) expect(r.out).toContain(`  ${name} `);
    expect(r.out).toContain(`wirebot status --root ${root}`);
    expect(r.out).toContain(`wirebot plan --root ${root} --exit-code`);
    expect(r.text).not.toContain(TOKEN);
  });

  it("Ctrl-C at a question exits 130 and leaves the root as it was", async () => {
    const before = snapshotTree(root);
    const a = answers().slice(0, AT.firstUserId + 2);
    const r = await install(scriptedPrompter([...a, CTRL_C]));
    expect(r.code).toBe(130);
    expect(r.err).toContain("Cancelled; nothing was changed.");
    expect(snapshotTree(root)).toEqual(before);
  });

  it("Ctrl-C at \"Install?\" exits 130: nothing installed, the answers kept and named with the command that resumes", async () => {
    const r = await install(scriptedPrompter([...answers(), CTRL_C]));
    expect(r.code).toBe(130);
    expect(Object.keys(snapshotTree(root))).toEqual(["etc", "etc/wirebot", "etc/wirebot/.wirebot-owned", ANSWERS]);
    expect(r.err).toContain(`Cancelled; nothing was installed. Your answers are kept in ${root}/${ANSWERS}: resume with \`wirebot install --root ${root} --config ${root}/${ANSWERS}\``);
    expect(readFileSync(path.join(root, ANSWERS), "utf8")).not.toContain(TOKEN);
  });

  it("giving up after that: `uninstall --purge` removes the answers with the directory wirebot made for them", async () => {
    expect((await install(scriptedPrompter([...answers(), false]))).code).toBe(0); // "No" at Install?
    const ctx = testContext(root);
    expect(await main(["uninstall", "--purge", "--yes", "--root", root], { io: ctx.io, context: () => ctx })).toBe(0);
    // /var/log/wirebot (the audit trail of that declined install) is gone; /var/log itself, which every
    // real host has, stays in this tree as the empty directory the trail's first write made.
    expect(snapshotTree(root)).toEqual({ etc: "700 dir", var: "700 dir", "var/log": "700 dir" });
  });

  it("a failure after the questions names the saved answers; the next run offers them and asks only what is missing", async () => {
    const failed = await install(scriptedPrompter([...answers(), true]), {
      store: async () => {
        throw writeError("secrets.token-store", "cannot store the Bitwarden access token under /etc/wirebot/credstore: disk full");
      },
    });
    expect(failed.code).toBe(73);
    expect(failed.err).toContain(`fix: your answers are kept in ${root}/${ANSWERS}: resume with \`wirebot install --root ${root} --config ${root}/${ANSWERS}\``);
    expect(existsSync(path.join(root, ANSWERS))).toBe(true);

    // Same command again: use the saved answers; the token (never saved) is asked again and checked.
    const p = scriptedPrompter([true, "not-a-token", TOKEN, true]);
    const again = await install(p);
    expect(again.code).toBe(0);
    expect(p.asked[0]).toBe(`Answers from an earlier run are saved in ${root}/${ANSWERS}. Use them (no: answer again)?`);
    expect(p.rejected.map((x) => x.message)).toEqual([expect.stringMatching(/^the Bitwarden access token from the prompt is not in the machine-account format/)]);
    expect(again.stored).toEqual([TOKEN]);
    expect(existsSync(path.join(root, ANSWERS))).toBe(false);
  });

  it("the resume command from the message works as printed: --config the saved answers", async () => {
    expect((await install(scriptedPrompter([...answers(), false]))).code).toBe(0); // "No" at Install?: kept
    expect(existsSync(path.join(root, ANSWERS))).toBe(true);
    const r = await install(scriptedPrompter([TOKEN, true]), { args: ["--config", path.join(root, ANSWERS)] });
    expect(r.code).toBe(0);
    expect(r.stored).toEqual([TOKEN]);
    expect(existsSync(path.join(root, ANSWERS))).toBe(false);
    expect(existsSync(path.join(root, "etc/wirebot/wirebot.yaml"))).toBe(true);
  });
});
