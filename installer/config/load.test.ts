/** Tests of wirebot.yaml loading: examples pass, every bad input is listed with its path. */
import { describe, expect, it } from "vitest";
import { WirebotError } from "../errors.ts";
import { exampleText } from "../testing/harness.ts";
import { resolveLayout } from "./layout.ts";
import { applyEnvOverrides, parseConfig } from "./load.ts";
import { planSecrets } from "./secret-plan.ts";

const base = exampleText("one-user");
const withUsers = (users: string) => base.replace(/users:\n[\s\S]*?\nskills:/, `users:\n${users}\nskills:`);

function issuesOf(text: string, env: Record<string, string> = {}): { code: string; exit: number; issues: string[] } {
  try {
    parseConfig(text, "test.yaml", env);
  } catch (e) {
    if (!(e instanceof WirebotError)) throw e;
    return { code: e.code, exit: e.exitCode, issues: e.issues.map((i) => `${i.path}: ${i.message}`) };
  }
  throw new Error("expected a config error");
}

describe("parseConfig", () => {
  it.each(["one-user", "three-users", "mixed"])("accepts examples/%s.yaml", (name) => {
    const c = parseConfig(exampleText(name), name);
    expect(c.users.length).toBeGreaterThan(0);
    expect(c.runtime.version).toBe("2026.9.6");
  });

  it.each([
    ["../x", "users[0].id"],
    ["Root", "users[0].id"],
    ["a/b", "users[0].id"],
    ["x".repeat(200), "users[0].id"],
  ])("refuses user id %j at %s with exit 78", (id, path) => {
    const r = issuesOf(withUsers(`  - id: "${id}"\n    name: X`));
    expect(r.exit).toBe(78);
    expect(r.issues.some((i) => i.startsWith(`${path}: must match`))).toBe(true);
  });

  it("refuses the id 'wirebot': it is the shared gateway's system agent, metered on its own key", () => {
    const r = issuesOf(withUsers(`  - id: wirebot\n    name: X`));
    expect(r.exit).toBe(78);
    expect(r.issues).toEqual([expect.stringMatching(/^users\[0\]\.id: 'wirebot' is reserved for the shared gateway's system agent/)]);
  });

  it("lists every problem at once, with paths", () => {
    const r = issuesOf(withUsers(`  - { id: ok, name: A }\n  - { id: ok, name: B }\n  - { id: "a b", name: 3 }`));
    expect(r.issues).toContain("users[1].id: duplicate user id 'ok' (also users[0].id)");
    expect(r.issues.some((i) => i.startsWith("users[2].id:"))).toBe(true);
    expect(r.issues.some((i) => i.startsWith("users[2].name:"))).toBe(true);
  });

  it("refuses a malformed domain, wrong types and unknown keys", () => {
    const r = issuesOf(base.replace("domain: wirebot.example.org", "domain: https://Bad_Domain").replace("port: 18789", 'port: "high"') + "\ncolour: blue\n");
    expect(r.issues.some((i) => i.startsWith("domain: must be a DNS name"))).toBe(true);
    expect(r.issues.some((i) => i.startsWith("gateway.port:"))).toBe(true);
    expect(r.issues.some((i) => i.includes("unknown key(s) 'colour'"))).toBe(true);
  });

  it("transparency: retention and redaction default; forwarding needs an http(s) URL and its token in secrets.map", () => {
    const c = parseConfig(base, "one-user");
    expect(c.transparency).toEqual({ retention: { days: 90, maxRows: 1_000_000 }, redact: { patterns: ["card", "iban", "email", "phone", "token"], maxFieldBytes: 4096 } });
    const fwd = `${base}\ntransparency: { forward: { url: "ftp://traces.example.org" }, retention: { days: 0 } }\n`;
    const r = issuesOf(fwd);
    expect(r.issues).toEqual(expect.arrayContaining([expect.stringMatching(/^transparency\.forward\.url: must be an http\(s\) URL/), expect.stringMatching(/^transparency\.retention\.days: /)]));
    const noToken = issuesOf(`${base}\ntransparency: { forward: { url: "https://traces.example.org/v1/traces" } }\n`);
    expect(noToken.issues).toEqual([expect.stringMatching(/^transparency\.forward: forwarding traces needs the endpoint's token: add WIREBOT_FORWARD_TOKEN/)]);
    const ok = parseConfig(`${base.replace("  map:\n", "  map:\n    WIREBOT_FORWARD_TOKEN: wirebot/trace-collector-token\n")}\ntransparency: { forward: { url: "https://traces.example.org/v1/traces" } }\n`, "t");
    expect(ok.transparency.forward).toEqual({ url: "https://traces.example.org/v1/traces", batch: 100, perMinute: 600 });
    // only the daemon, which forwards, gets the collector's token
    const files = planSecrets(ok, resolveLayout(ok)).envFiles;
    expect(files.filter((f) => f.vars.some((v) => v.envVar === "WIREBOT_FORWARD_TOKEN")).map((f) => f.consumer)).toEqual(["wirebot-reconcile.service"]);
  });

  it("refuses a port clash between the shared gateway and a dedicated user's port", () => {
    const text = withUsers(`  - { id: a, name: A }\n  - { id: b, name: B, mode: dedicated, port: 18800 }`);
    const r = issuesOf(text);
    expect(r.code).toBe("config.ports");
    expect(r.issues[0]).toMatch(/users\[1\]\.port: port 18800 \(b\) is within 120 of port 18789 \(shared\)/);
  });

  it("refuses a metering API port inside a gateway's range", () => {
    const r = issuesOf(base.replace("api: { port: 8100 }", "api: { port: 18790 }"));
    expect(r.issues.some((i) => i.startsWith("metering.api.port:"))).toBe(true);
  });

  it("reports YAML syntax errors with the line", () => {
    const r = issuesOf("domain: [unclosed\nusers: x");
    expect(r.code).toBe("config.yaml");
    expect(r.issues[0]).toMatch(/^line \d+, column \d+:/);
  });

  it("applies WIREBOT_* overrides with types", () => {
    const c = parseConfig(base, "t", { WIREBOT_DOMAIN: "other.example.net", WIREBOT_GATEWAY__PORT: "19000", WIREBOT_API_TOKEN: "not-a-key" });
    expect(c.domain).toBe("other.example.net");
    expect(c.gateway.port).toBe(19000);
    expect(applyEnvOverrides({}, { WIREBOT_TUNNEL__ENABLED: "false" })).toEqual({ tunnel: { enabled: false } });
  });
});

describe("Cloudflare Access e-mails", () => {
  const withAccess = (emails: string, users: string) =>
    withUsers(users).replace(/^tunnel: \{ enabled: true,/m, `tunnel: { access: { enabled: true, emails: [${emails}] }, enabled: true,`);

  it("a published dedicated user needs their own e-mail: the issue names users[i].email, what it is for and the fix", () => {
    const r = issuesOf(withAccess("ops@example.org", `  - { id: dana, name: Dana }\n  - { id: erin, name: Erin, mode: dedicated }`));
    expect(r.exit).toBe(78);
    expect(r.issues).toEqual([
      "users[1].email: 'erin' has a dedicated gateway whose Control UI helm-erin.wirebot.example.org is behind Cloudflare Access (tunnel.access.enabled), which admits only this user's own e-mail: add email: <their address> to this user, or set tunnel.access.enabled: false",
    ]);
  });

  it("accepts a dedicated user's e-mail, and a shared user's (which grants nothing)", () => {
    const c = parseConfig(withAccess("ops@example.org", `  - { id: dana, name: Dana, email: dana@example.org }\n  - { id: erin, name: Erin, mode: dedicated, email: erin@example.org }`), "t");
    expect(c.users.map((u) => u.email)).toEqual(["dana@example.org", "erin@example.org"]);
    expect(c.tunnel.access.emails).toEqual(["ops@example.org"]);
  });

  it("admin e-mails are needed only when there is a shared gateway, whose Control UI they alone get", () => {
    const shared = issuesOf(withAccess("", `  - { id: dana, name: Dana }`));
    expect(shared.issues).toHaveLength(1);
    expect(shared.issues[0]).toMatch(/^tunnel\.access\.emails: Cloudflare Access needs at least one admin email: only these sign in to helm/);
    const c = parseConfig(withAccess("", `  - { id: erin, name: Erin, mode: dedicated, email: erin@example.org }`), "t");
    expect(c.tunnel.access).toEqual({ enabled: true, emails: [] });
  });

  it("refuses a malformed e-mail; with Access off a dedicated user needs none", () => {
    const r = issuesOf(withUsers(`  - { id: erin, name: Erin, mode: dedicated, email: "erin at example.org" }`));
    expect(r.issues).toEqual(["users[0].email: must be an e-mail address such as dana@example.org"]);
    expect(parseConfig(withUsers(`  - { id: erin, name: Erin, mode: dedicated }`), "t").users[0]!.email).toBeUndefined();
  });
});

describe("resolveLayout", () => {
  it("puts dedicated gateways on slots that clear the shared gateway's derived ports", () => {
    const l = resolveLayout(parseConfig(exampleText("mixed"), "mixed"));
    expect(l.shared?.port).toBe(18789);
    expect(l.dedicated.map((g) => [g.id, g.port, g.serviceUser, g.unit])).toEqual([["erin", 18920, "wb-erin", "clawdbot-gateway@erin.service"]]);
  });

  it("keeps service user names under 32 characters", () => {
    const id = "a" + "b".repeat(30);
    const l = resolveLayout(parseConfig(withUsers(`  - { id: ${id}, name: Long, mode: dedicated }`), "t"));
    expect(l.dedicated[0]!.serviceUser.length).toBeLessThanOrEqual(31);
  });
});

describe("parseConfig on text that is not a configuration: exit 78 with the place, never a crash", () => {
  it.each([
    ["", "config.empty", "(file): no settings in it (only blank lines or comments)"],
    ["# just a comment\n\n", "config.empty", "(file): no settings in it (only blank lines or comments)"],
    ["~\n", "config.empty", "(file): no settings in it (only blank lines or comments)"],
    ["- domain: x\n", "config.shape", "line 1, column 1: the top level must be key: value lines such as domain: and users:"],
    ["just words\n", "config.shape", "line 1, column 1: the top level must be key: value lines such as domain: and users:"],
    ["\n\n42\n", "config.shape", "line 3, column 1: the top level must be key: value lines such as domain: and users:"],
    ["!!set {a, b}\n", "config.shape", "line 1, column 7: the top level must be key: value lines such as domain: and users:"],
    ["a: 1\nb: *later\nc: &later 2\n", "config.yaml", "line 2, column 4: *later comes before &later"],
    ["a: *nothing\n", "config.yaml", "line 1, column 4: *nothing refers to no &nothing anchor"],
    ["a: 1\n---\nb: 2\n", "config.yaml", expect.stringMatching(/^line 2, column 1: Source contains multiple documents/)],
  ])("%j → %s", (text, code, issue) => {
    const r = issuesOf(text);
    expect(r).toMatchObject({ code, exit: 78 });
    expect(r.issues).toEqual([issue]);
  });

  it("an alias bomb stops at 100 expansions, naming the first alias", () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...["b", "c", "d", "e", "f", "g", "h"].map((k, i) => `${k}: &${k} [${Array(9).fill(`*${"abcdefg"[i]}`).join(", ")}]`)].join("\n");
    const r = issuesOf(bomb);
    expect(r.code).toBe("config.aliases");
    expect(r.issues).toEqual(["line 2, column 8: more than 100 alias expansions in all"]);
  });

  it("a few aliases are fine", () => {
    const text = base.replace("budget: { monthlyUsd: 20 }", "budget: &b { monthlyUsd: 20 }");
    expect(parseConfig(`${text}\n`, "t").users[0]!.budget).toEqual({ monthlyUsd: 20 });
  });

  it("a missing users: or one of the wrong type is an issue at users, in YAML's words", () => {
    const noUsers = base.replace(/^users:[\s\S]*?(?=^skills:)/m, "");
    expect(issuesOf(noUsers).issues).toEqual(["users: is required (array)"]);
    expect(issuesOf(base.replace(/^users:[\s\S]*?(?=^skills:)/m, "users: 5\n")).issues).toEqual(["users: must be a list, not a number"]);
    expect(issuesOf(withUsers("  - just-a-name")).issues).toEqual(["users[0]: must be a mapping (key: value lines), not a text"]);
    expect(issuesOf(base.replace("mode: shared", "mode: both")).issues).toEqual(["mode: must be one of shared, dedicated"]);
  });

  it("CRLF line endings parse to the same configuration", () => {
    expect(parseConfig(base.replace(/\n/g, "\r\n"), "t")).toEqual(parseConfig(base, "t"));
  });
});
