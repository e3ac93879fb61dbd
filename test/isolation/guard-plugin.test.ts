/** The tenant guard plugin's attachment rule (plugins/wirebot-guard): own workspace only, never the shared inbound store. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error plain JS shipped to the gateway as is; no declarations
import guard, { allowedMedia, guardPayload, workspaceOf } from "../../plugins/wirebot-guard/index.js";

const root = mkdtempSync(path.join(tmpdir(), "wb-guard-"));
const ws = path.join(root, "users", "alice", "workspace");
const inbound = path.join(root, "gateway", "media", "inbound", "statement---0b9c.txt");
mkdirSync(ws, { recursive: true });
mkdirSync(path.dirname(inbound), { recursive: true });
writeFileSync(path.join(ws, "chart.png"), "png");
writeFileSync(inbound, "bob's");
symlinkSync(inbound, path.join(ws, "link.txt"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("allowedMedia", () => {
  it.each([
    [path.join(ws, "chart.png"), true],
    ["chart.png", true],
    [`file://${path.join(ws, "chart.png")}`, true],
    ["https://example.org/a.png", true],
    [inbound, false],
    ["media://inbound/statement---0b9c.txt", false],
    [path.join(ws, "..", "..", "bob", "workspace", "x"), false],
    ["../../../gateway/media/inbound/statement---0b9c.txt", false],
    [path.join(ws, "link.txt"), false],
    ["~/x", false],
    ["data:text/plain;base64,aGk=", false],
    [ws, false],
  ])("%s → %s", (ref, want) => {
    expect(allowedMedia(ref, ws)).toBe(want);
  });

  it("an agent with no workspace (the system agent) attaches no local file", () => {
    expect(allowedMedia(path.join(ws, "chart.png"), null)).toBe(false);
    expect(allowedMedia("https://example.org/a.png", null)).toBe(true);
  });
});

describe("the reply_payload_sending hook", () => {
  const handlers: ((e: unknown, c: unknown) => unknown)[] = [];
  guard.register({ pluginConfig: { usersDir: path.join(root, "users"), noLocalMedia: ["wirebot"] }, on: (name: string, h: (e: unknown, c: unknown) => unknown) => name === "reply_payload_sending" && handlers.push(h) });
  const run = (sessionKey: string, payload: unknown) => handlers[0]!({ payload, sessionKey }, { sessionKey });

  it("drops another tenant's file from alice's reply and says so; keeps her own", () => {
    expect(run("agent:alice:telegram:direct:1", { text: "here", mediaUrls: [inbound, path.join(ws, "chart.png")] })).toEqual({
      payload: { text: "here\n\n[wirebot: an attachment from outside your workspace was not sent]", mediaUrl: path.join(ws, "chart.png") },
    });
    expect(run("agent:alice:telegram:direct:1", { text: "mine", mediaUrl: "chart.png" })).toBeUndefined();
  });

  it("guards every agent by the rule, a user added after it started included; the system agent and a keyless session attach no local file", () => {
    const erin = path.join(root, "users", "erin", "workspace");
    expect(run("agent:erin:main", { text: "x", mediaUrl: inbound })).toEqual({ payload: { text: "x\n\n[wirebot: an attachment from outside your workspace was not sent]" } });
    expect(run("agent:erin:main", { text: "x", mediaUrl: path.join(ws, "chart.png") })).toMatchObject({ payload: { text: expect.stringContaining("not sent") } });
    expect(workspaceOf({ usersDir: path.join(root, "users") }, "erin")).toBe(erin);
    expect(run("agent:wirebot:main", { text: "x", mediaUrl: path.join(ws, "chart.png") })).toMatchObject({ payload: { text: expect.stringContaining("not sent") } });
    expect(run("no-agent-here", { text: "x", mediaUrl: path.join(ws, "chart.png") })).toMatchObject({ payload: { text: expect.stringContaining("not sent") } });
    expect(workspaceOf({}, "alice")).toBeNull();
  });

  it("refuses the reply rather than fail open", () => {
    expect(run("agent:alice:main", { get mediaUrl(): string { throw new Error("boom"); } })).toEqual({ cancel: true });
  });
});
