/** The audit trail through main(): what writes is recorded (who, the command, wirebot.yaml before and after, the exit), nothing else; an edited or deleted event is found. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../main.ts";
import { examplePath, removeDir, tempDir, testContext } from "../testing/harness.ts";
import { AUDIT_LOG } from "./trail.ts";

let root: string;
beforeEach(() => {
  root = tempDir("wb-audit-");
});
afterEach(() => removeDir(root));

const SECRET = "cf-token-NEVER-IN-THE-TRAIL-1234";

async function cli(args: string[], env: Record<string, string> = {}) {
  const ctx = testContext(root, { env: { USER: "root", SUDO_USER: "alice", CLOUDFLARE_API_TOKEN: SECRET, ...env } });
  const code = await main(args, { io: ctx.io, context: () => ctx, env: { USER: "root", SUDO_USER: "alice", CLOUDFLARE_API_TOKEN: SECRET, ...env } });
  return { code, out: ctx.io.stdout.join("\n"), err: ctx.io.stderr.join("\n") };
}
const trailFile = () => path.join(root, AUDIT_LOG);
const events = async () => JSON.parse((await cli(["audit", "--root", root, "--json"])).out) as { ok: boolean; events: { seq: number; command: string; actor: { sudoUser: string }; config: { before: string; after: string }; result: { exit: number; code: string | null } }[]; handEdit: unknown };

describe("the audit trail", () => {
  it("records install and apply with who, the command, wirebot.yaml before and after; plan, and a command refused before it wrote anything, are not recorded", async () => {
    expect((await cli(["install", "--config", examplePath("mixed"), "--root", root, "--yes"])).code).toBe(0);
    expect((await cli(["plan", "--root", root])).code).toBe(0);
    expect((await cli(["apply", "--root", root, "--yes"])).code).toBe(0);
    expect((await cli(["apply", "--root", root, "--config", path.join(root, "nope.yaml")])).code).toBe(64);
    const doc = await events();
    expect(doc.ok).toBe(true);
    expect(doc.events.map((e) => [e.seq, e.command.replaceAll(root, "R").replace(examplePath("mixed"), "M"), e.result.exit, e.result.code])).toEqual([
      [1, "wirebot install --config M --root R --yes", 0, null],
      [2, "wirebot apply --root R --yes", 0, null],
    ]);
    expect(doc.events[0]!.actor.sudoUser).toBe("alice");
    expect(doc.events[0]!.config.before).toBe("none");
    expect(doc.events[0]!.config.after).toMatch(/^[0-9a-f]{64}$/);
    expect(doc.events[1]!.config).toEqual({ before: doc.events[0]!.config.after, after: doc.events[0]!.config.after });
    expect(readFileSync(trailFile(), "utf8")).not.toContain(SECRET);
    expect((await cli(["audit", "verify", "--root", root])).code).toBe(0);

    // wirebot.yaml edited by hand: the next listing says so, the chain is still whole
    writeFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), readFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), "utf8") + "# edited\n");
    expect((await events()).handEdit).toMatchObject({ trail: doc.events[1]!.config.after });
    expect((await cli(["audit", "--root", root])).out).toMatch(/wirebot.yaml was changed outside wirebot after #2/);
    // a unit's own run is in the journal, not here
    expect((await cli(["apply", "--root", root, "--yes"], { INVOCATION_ID: "x" })).code).toBe(0);
    expect((await events()).events).toHaveLength(2);
  });

  it("an edited event, a deleted one, or a forged last line is found and named", async () => {
    for (let i = 0; i < 3; i++) await cli(["install", "--config", examplePath("mixed"), "--root", root, "--yes"]);
    const lines = readFileSync(trailFile(), "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(3);

    writeFileSync(trailFile(), [lines[0], lines[1]!.replace('"exit":0', '"exit":1'), lines[2]].join("\n") + "\n");
    let v = await cli(["audit", "verify", "--root", root]);
    expect([v.code, v.err]).toEqual([1, expect.stringMatching(/line 2: its content does not match its hash/)]);

    writeFileSync(trailFile(), [lines[0], lines[2]].join("\n") + "\n");
    v = await cli(["audit", "verify", "--root", root]);
    expect([v.code, v.err]).toEqual([1, expect.stringMatching(/line 2: event number 3 where 2 was due: 1 event\(s\) before it were deleted/)]);

    // a whole event rewritten with a matching hash still breaks the link from the one after it
    const forged = JSON.parse(lines[0]!) as Record<string, unknown>;
    forged["command"] = "wirebot something-else";
    writeFileSync(trailFile(), [JSON.stringify(forged), lines[1], lines[2]].join("\n") + "\n");
    v = await cli(["audit", "verify", "--root", root, "--json"]);
    expect(v.code).toBe(1);
    expect(JSON.parse(v.out)).toMatchObject({ ok: false, broken: { line: 1 } });
  });

  it("--since takes an age or a date; a bad one is a usage error naming the forms", async () => {
    await cli(["install", "--config", examplePath("mixed"), "--root", root, "--yes"]);
    expect(JSON.parse((await cli(["audit", "--root", root, "--json", "--since", "1h"])).out).events).toHaveLength(1);
    expect(JSON.parse((await cli(["audit", "--root", root, "--json", "--since", "2999-01-01"])).out).events).toHaveLength(0);
    const bad = await cli(["audit", "--root", root, "--since", "yesterday-ish"]);
    expect([bad.code, bad.err]).toEqual([64, expect.stringMatching(/90m, 12h or 7d/)]);
    expect((await cli(["audit", "--root", root, "--csv"])).out.split("\n")[0]).toBe("seq,at,user,uid,sudo_user,command,root,config_before,config_after,exit,code");
  });

  it("uninstall keeps the trail (its own event included); uninstall --purge leaves nothing, the trail included", async () => {
    await cli(["install", "--config", examplePath("mixed"), "--root", root, "--yes"]);
    expect((await cli(["uninstall", "--root", root, "--yes"])).code).toBe(0);
    const doc = await events();
    expect(doc.events.map((e) => e.command.split(" ")[1])).toEqual(["install", "uninstall"]);
    expect((await cli(["audit", "verify", "--root", root])).code).toBe(0);
    expect((await cli(["uninstall", "--root", root, "--yes", "--purge"])).code).toBe(0);
    expect(existsSync(path.join(root, "var/log/wirebot"))).toBe(false);
  });
});
