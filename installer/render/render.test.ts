/** Tests of pure rendering: gateway config rules, units, templates, and no secret values anywhere. */
import { describe, expect, it } from "vitest";
import { readAssets } from "../assets.ts";
import { resolveLayout } from "../config/layout.ts";
import type { WirebotError } from "../errors.ts";
import { parseConfig } from "../config/load.ts";
import { exampleText, WIREBOT_CMD } from "../testing/harness.ts";
import { changedJsonPaths } from "../engine/json-paths.ts";
import { gatewayConfigObject, renderGatewayConfig, SHARED_LIVE_PATHS } from "./gateway-config.ts";
import { renderAll } from "./index.ts";
import { MANAGED_HEADER, renderTemplate } from "./template.ts";

const assets = readAssets();
const load = (name: string) => parseConfig(exampleText(name), name);
const render = (name: string) => renderAll(load(name), { assets, wirebot: WIREBOT_CMD, configText: exampleText(name), encryptedCredential: true });

describe("gateway config", () => {
  const c = load("three-users");
  const l = resolveLayout(c);
  const cfg = gatewayConfigObject(c, l, l.shared!) as any;

  it("binds loopback, token auth from an env ref, trusted loopback proxies, the helm origin", () => {
    expect(cfg.gateway.bind).toBe("loopback");
    expect(cfg.gateway.auth).toEqual({ mode: "token", token: { source: "env", provider: "default", id: "OPENCLAW_GATEWAY_TOKEN" } });
    expect(cfg.gateway.trustedProxies).toEqual(["127.0.0.1", "::1"]);
    expect(cfg.gateway.controlUi.allowedOrigins).toEqual(["https://helm.wirebot.example.org"]);
    expect(cfg.gateway.terminal.enabled).toBe(false);
  });

  it("plans session maintenance without a worker per chatted agent in the shared gateway only (docs/gateway-footprint.md)", () => {
    expect(cfg.session).toEqual({ maintenance: { mode: "warn" } });
    const m = load("mixed");
    const ml = resolveLayout(m);
    expect((gatewayConfigObject(m, ml, ml.dedicated[0]!) as any).session).toBeUndefined();
  });

  it("gives every agent its own litellm-<id> provider with its own key, read from the keys file (re-read at every hot reload)", () => {
    // litellm-wirebot: the system agent's own key (below).
    expect(Object.keys(cfg.models.providers)).toEqual(["litellm-alice", "litellm-bob", "litellm-carol", "litellm-wirebot"]);
    expect(cfg.models.providers["litellm-bob"].apiKey).toEqual({ source: "file", provider: "wirebot-agent-keys", id: "/LITELLM_KEY_BOB" });
    expect(cfg.secrets).toEqual({ providers: { "wirebot-agent-keys": { source: "file", path: "/run/wirebot-gateway/agent-keys.json", mode: "json" } } });
    expect(cfg.models.providers["litellm-bob"].baseUrl).toBe("http://127.0.0.1:4000/v1");
    expect(cfg.agents.entries.bob.model.primary).toBe("litellm-bob/gpt-4o-mini");
    expect(cfg.agents.ownership).toBe("explicit");
  });

  it("lets each agent select only its own provider's models, so no route spends another agent's key", () => {
    for (const id of ["alice", "bob", "carol", "wirebot"]) {
      expect(cfg.agents.entries[id].modelPolicy).toEqual({ allow: [`litellm-${id}/*`] });
      expect(cfg.agents.entries[id].model.primary).toBe(`litellm-${id}/gpt-4o-mini`);
      expect(cfg.agents.entries[id].utilityModel).toBe(`litellm-${id}/gpt-4o-mini`);
    }
  });

  it("runs ambient work on the wirebot system agent, which has no chat, no binding and no tool of a tenant", () => {
    expect(cfg.agents.defaults.systemAgent).toEqual({ agentId: "wirebot" });
    expect(cfg.bindings.map((b: { agentId: string }) => b.agentId)).not.toContain("wirebot");
    const sys = cfg.agents.entries.wirebot;
    expect(sys.tools.profile).toBe("minimal");
    expect(sys.tools.deny).toEqual(expect.arrayContaining(["group:fs", "group:runtime", "group:messaging", "group:sessions", "gateway"]));
    expect(sys.workspace).toBe("/data/wirebot/gateway/workspace-wirebot");
    // A dedicated gateway has one tenant: its owner's agent is the system agent there, on the owner's key.
    const m = load("mixed");
    const lm = resolveLayout(m);
    const ded = gatewayConfigObject(m, lm, lm.dedicated[0]!) as any;
    expect(ded.agents.defaults.systemAgent).toEqual({ agentId: lm.dedicated[0]!.id });
    expect(Object.keys(ded.agents.entries)).toEqual([lm.dedicated[0]!.id]);
  });

  it("a tenant's agent messages only its own chat: no message tool, no cross-context send, no gateway restart from chat", () => {
    expect(cfg.tools.message.crossContext).toEqual({ allowWithinProvider: false, allowAcrossProviders: false });
    expect(cfg.commands).toMatchObject({ restart: false, config: false, bash: false, plugins: false, debug: false, mcp: false });
    for (const id of ["alice", "bob", "carol"]) {
      expect(cfg.agents.entries[id].tools.deny).toEqual(expect.arrayContaining(["message", "group:messaging", "gateway", "group:automation"]));
      expect(cfg.agents.entries[id].tools.message.crossContext).toEqual({ allowWithinProvider: false, allowAcrossProviders: false });
    }
  });

  it("loads the tenant guard plugin in the shared gateway only: each agent's own workspace, none for the system agent, no list of users", () => {
    expect(cfg.plugins.load.paths).toContain("/opt/wirebot/plugins/wirebot-guard");
    expect(cfg.plugins.entries["wirebot-guard"]).toEqual({
      enabled: true,
      config: { usersDir: "/data/wirebot/users", noLocalMedia: ["wirebot"] },
    });
    const files = render("three-users").resources.filter((r) => r.path.startsWith("/opt/wirebot/plugins"));
    expect(files.map((r) => r.path).sort()).toEqual([
      "/opt/wirebot/plugins",
      ...["", "/index.js", "/openclaw.plugin.json", "/package.json"].map((f) => `/opt/wirebot/plugins/wirebot-guard${f}`),
      ...["", "/index.js", "/openclaw.plugin.json", "/package.json"].map((f) => `/opt/wirebot/plugins/wirebot-trace${f}`),
    ]);
    const m = load("mixed");
    const lm = resolveLayout(m);
    const ded = gatewayConfigObject(m, lm, lm.dedicated[0]!) as any;
    expect(ded.plugins.entries).not.toHaveProperty("wirebot-guard");
    expect(ded.plugins.load?.paths ?? []).not.toContain("/opt/wirebot/plugins/wirebot-guard");
  });

  it("every gateway loads the trace plugin with a fixed config: the daemon's route, its own spool dir, its keys file to mask; never the token", () => {
    expect(cfg.plugins.load.paths).toContain("/opt/wirebot/plugins/wirebot-trace");
    expect(cfg.plugins.entries["wirebot-trace"]).toEqual({
      enabled: true,
      config: { endpoint: "http://127.0.0.1:8100/v1/traces", spoolDir: "/data/wirebot/gateway/wirebot-trace", secretsFiles: ["/run/wirebot-gateway/agent-keys.json"] },
    });
    const m = load("mixed");
    const lm = resolveLayout(m);
    const ded = gatewayConfigObject(m, lm, lm.dedicated[0]!) as any;
    expect(ded.plugins.load.paths).toEqual(["/opt/wirebot/plugins/wirebot-trace"]);
    expect(ded.plugins.entries["wirebot-trace"].config).toEqual({ endpoint: "http://127.0.0.1:8100/v1/traces", spoolDir: `${lm.dedicated[0]!.stateDir}/wirebot-trace` });
  });

  it("a user added to the shared gateway changes only paths the runtime takes live, and no plugin's config (a plugin reload drops in-flight replies)", () => {
    const text = exampleText("three-users").replace(/(\nusers:\n)/, "$1  - id: zoe\n    name: Zoe\n    channels: { telegram: { peer: \"456700001\" } }\n");
    const c2 = parseConfig(text, "three-users + zoe");
    const l2 = resolveLayout(c2);
    const paths = changedJsonPaths(JSON.stringify(cfg), JSON.stringify(gatewayConfigObject(c2, l2, l2.shared!)))!;
    expect(paths.length).toBeGreaterThan(0);
    expect(paths.filter((p) => p.startsWith("plugins"))).toEqual([]);
    expect(paths.filter((p) => !SHARED_LIVE_PATHS.some((q) => p === q || p.startsWith(`${q}.`)))).toEqual([]);
    expect(paths).toContain("channels.telegram.allowFrom");
  });

  it("drift.schedule adds the drift check: a hardened root oneshot running `plan --record` on a timer; without it, nothing", () => {
    const text = `${exampleText("three-users")}\ndrift: { schedule: hourly }\n`;
    const d = renderAll(parseConfig(text, "t"), { assets, wirebot: WIREBOT_CMD, configText: text, encryptedCredential: true });
    const file = (name: string) => d.resources.find((r) => r.path === `/etc/systemd/system/${name}`) as { content: string } | undefined;
    const service = file("wirebot-drift.service")!.content;
    expect(service).toContain(`ExecStart=${WIREBOT_CMD.node} ${WIREBOT_CMD.entry} plan --record`);
    expect(service).toMatch(/^CapabilityBoundingSet=CAP_DAC_READ_SEARCH$/m);
    expect(service).toMatch(/^LoadCredentialEncrypted=bws-access-token:/m);
    expect(service).toMatch(/^StateDirectory=wirebot-drift$/m);
    expect(file("wirebot-drift.timer")!.content).toMatch(/^OnCalendar=hourly$/m);
    expect(d.resources.some((r) => r.path === "/etc/systemd/system/timers.target.wants/wirebot-drift.timer")).toBe(true);
    expect(d.units.map((u) => u.name)).toContain("wirebot-drift.timer");
    expect(d.units.map((u) => u.name)).not.toContain("wirebot-drift.service");
    const plain = render("three-users");
    expect(plain.resources.filter((r) => r.path.includes("wirebot-drift"))).toEqual([]);
    const bad = (() => {
      try {
        parseConfig(`${exampleText("three-users")}\ndrift: { schedule: "hourly\\nExecStartPre=/bin/sh" }\n`, "t");
      } catch (e) {
        return e as WirebotError;
      }
    })();
    expect(bad?.exitCode).toBe(78);
    expect(bad?.issues.map((i) => i.path)).toEqual(["drift.schedule"]);
  });

  it("turns off background calls that would spend unmetered money", () => {
    expect(cfg.agents.defaults.heartbeat.every).toBe("0m");
    expect(cfg.gateway.controlUi.sessionObserver).toBe(false);
    expect(cfg.memory.search.enabled).toBe(false);
    expect(cfg.plugins.entries["memory-core"].config.dreaming.enabled).toBe(false);
  });

  it("keeps elevated tools off, loads the skills dir, restricts shared agents", () => {
    expect(cfg.tools.elevated.enabled).toBe(false);
    expect(cfg.tools.agentToAgent.enabled).toBe(false);
    expect(cfg.tools.sessions.visibility).toBe("agent");
    expect(cfg.skills.load.extraDirs).toContain("/opt/wirebot/skills");
    for (const id of ["alice", "bob", "carol"]) {
      expect(cfg.agents.entries[id].tools.profile).toBe("messaging");
      expect(cfg.agents.entries[id].tools.fs.workspaceOnly).toBe(true);
      expect(cfg.agents.entries[id].tools.deny).toEqual(expect.arrayContaining(["exec", "process", "browser", "group:sessions"]));
      expect(cfg.agents.entries[id].workspace).toBe(`/data/wirebot/users/${id}/workspace`);
    }
  });

  it("routes each peer to its own agent and allowlists only known peers", () => {
    expect(cfg.channels.telegram.dmPolicy).toBe("allowlist");
    expect(cfg.channels.telegram.allowFrom).toEqual(["123456789", "234567890"]);
    expect(cfg.channels.whatsapp.allowFrom).toEqual(["+15551234567", "+15557654321"]);
    expect(cfg.bindings).toContainEqual({ agentId: "bob", match: { channel: "whatsapp", accountId: "default", peer: { kind: "direct", id: "+15551234567" } } });
    expect(cfg.bindings).toHaveLength(4);
  });

  it("channels.telegram.apiRoot (a self-hosted Bot API server) reaches the Telegram config; unset leaves Telegram's own", () => {
    expect(cfg.channels.telegram).not.toHaveProperty("apiRoot");
    const text = exampleText("three-users") + "channels:\n  telegram:\n    apiRoot: http://127.0.0.1:8081\n";
    const withRoot = parseConfig(text, "t");
    const l2 = resolveLayout(withRoot);
    expect((gatewayConfigObject(withRoot, l2, l2.shared!) as any).channels.telegram.apiRoot).toBe("http://127.0.0.1:8081");
    const bad = (() => {
      try {
        parseConfig(exampleText("three-users") + "channels:\n  telegram:\n    apiRoot: ftp://x\n", "t");
      } catch (e) {
        return e as WirebotError;
      }
    })();
    expect(bad?.issues.map((i) => i.path)).toEqual(["channels.telegram.apiRoot"]);
  });

  it("starts with the managed header and is otherwise JSON", () => {
    const text = renderGatewayConfig(c, l, l.shared!);
    expect(text.startsWith(`// ${MANAGED_HEADER}\n`)).toBe(true);
    expect(() => JSON.parse(text.split("\n").slice(1).join("\n"))).not.toThrow();
  });

  it("gives a dedicated gateway its own port, origin and a trusted owner", () => {
    const m = load("mixed");
    const ml = resolveLayout(m);
    const erin = gatewayConfigObject(m, ml, ml.dedicated[0]!) as any;
    expect(erin.gateway.port).toBe(18920);
    expect(erin.gateway.controlUi.allowedOrigins).toEqual(["https://helm-erin.wirebot.example.org"]);
    expect(Object.keys(erin.agents.entries)).toEqual(["erin"]);
    expect(erin.agents.entries.erin.tools.profile).toBeUndefined();
  });
});

describe("memory budgets in the gateway units", () => {
  const fileOf = (r: ReturnType<typeof render>, p: string) => (r.resources.find((x) => x.path === p) as { content: string }).content;

  it("every gateway unit has MemoryHigh, MemoryMax, OOMPolicy=stop, TasksMax and a heap limit below MemoryHigh, from the capacity model", () => {
    const r = render("mixed");
    const shared = fileOf(r, "/etc/systemd/system/clawdbot-gateway.service");
    for (const line of ["MemoryHigh=1664M", "MemoryMax=2176M", "OOMPolicy=stop", "TasksMax=1024", "Environment=NODE_OPTIONS=--max-old-space-size=832"]) expect(shared).toContain(line);
    const erin = fileOf(r, "/etc/systemd/system/clawdbot-gateway@erin.service.d/10-wirebot.conf");
    for (const line of ["MemoryHigh=1600M", "MemoryMax=2112M", "OOMPolicy=stop", "Environment=NODE_OPTIONS=--max-old-space-size=768"]) expect(erin).toContain(line);
  });

  it("a user added to the shared gateway within its tier leaves its unit as it was: no restart for every tenant", () => {
    const before = fileOf(render("three-users"), "/etc/systemd/system/clawdbot-gateway.service");
    const text = exampleText("three-users").replace(/(\nusers:\n)/, "$1  - id: zoe\n    name: Zoe\n");
    const after = renderAll(parseConfig(text, "t"), { assets, wirebot: WIREBOT_CMD, configText: text, encryptedCredential: true });
    expect(fileOf(after, "/etc/systemd/system/clawdbot-gateway.service")).toBe(before);
  });
});

describe("templates", () => {
  it("throws on unknown and unused placeholders and on line breaks in values", () => {
    expect(() => renderTemplate("t", "a={{x}}", {})).toThrow(/no value for \{\{x\}\}/);
    expect(() => renderTemplate("t", "a", { x: 1 })).toThrow(/unused value\(s\) x/);
    expect(() => renderTemplate("t", "ExecStart={{x}}", { x: "/bin/true\nExecStartPre=/bin/evil" })).toThrow(/CR or LF/);
  });
});

describe("renderAll", () => {
  it("renders every unit and system snippet, each with the managed header", () => {
    const d = render("mixed");
    const paths = d.resources.map((r) => r.path);
    for (const p of [
      "/etc/systemd/system/wirebot-secrets.service",
      "/etc/systemd/system/clawdbot-gateway.service",
      "/etc/systemd/system/clawdbot-gateway@.service",
      "/etc/systemd/system/clawdbot-gateway@erin.service.d/10-wirebot.conf",
      "/etc/systemd/system/cloudflared-wirebot.service",
      "/etc/systemd/system/wirebot-reconcile.service",
      "/etc/sysusers.d/wirebot.conf",
      "/etc/tmpfiles.d/wirebot.conf",
      "/data/wirebot/gateway/clawdbot.json",
      "/data/wirebot/users/erin/clawdbot.json",
    ])
      expect(paths).toContain(p);
    for (const r of d.resources)
      if (r.kind === "file" && (r.path.startsWith("/etc/systemd") || r.path.startsWith("/etc/sysusers") || r.path.startsWith("/etc/tmpfiles"))) expect(r.content).toContain(MANAGED_HEADER);
  });

  it("units point at the tmpfs env files and never carry a secret", () => {
    const d = render("mixed");
    const unit = (n: string) => (d.resources.find((r) => r.path === `/etc/systemd/system/${n}`) as any).content as string;
    expect(unit("clawdbot-gateway.service")).toMatch(/^EnvironmentFile=\/run\/wirebot\/gateway\.env$/m);
    expect(unit("clawdbot-gateway.service")).toMatch(/^Requires=wirebot-secrets\.service$/m);
    expect(unit("clawdbot-gateway@.service")).toMatch(/^EnvironmentFile=\/run\/wirebot\/users\/%i\.env$/m);
    expect(unit("wirebot-secrets.service")).toMatch(/^LoadCredentialEncrypted=bws-access-token:\/etc\/wirebot\/credstore\/bws-access-token\.cred$/m);
    expect(unit("wirebot-reconcile.service")).toMatch(/^RestartPreventExitStatus=78$/m);
    // a package upgrade changes only this unit: apply restarts the daemon onto the new code, never a gateway
    expect(unit("wirebot-reconcile.service")).toMatch(/^Environment=WIREBOT_VERSION=0\.1\.0$/m);
    for (const n of ["clawdbot-gateway.service", "clawdbot-gateway@.service", "wirebot-secrets.service"]) expect(unit(n)).not.toContain("0.1.0");
    // ${CREDENTIALS_DIRECTORY} (247), not %d (251): the same directory on every systemd wirebot supports
    expect(unit("cloudflared-wirebot.service")).toMatch(/--token-file \$\{CREDENTIALS_DIRECTORY\}\/tunnel-token$/m);
    expect(unit("wirebot-reconcile.service")).toMatch(/ --config \$\{CREDENTIALS_DIRECTORY\}\/wirebot\.yaml$/m);
    // ProcSubset=pid fails units with the /proc protections on some systemd before 250: no unit sets it
    for (const n of ["wirebot-reconcile.service", "cloudflared-wirebot.service", "wirebot-secrets.service"]) expect(unit(n)).not.toMatch(/^ProcSubset=/m);
    expect(unit("cloudflared-wirebot.service")).toMatch(/^MemoryDenyWriteExecute=yes$/m);
    expect(unit("clawdbot-gateway.service")).toMatch(/^MemoryDenyWriteExecute=no$/m);
  });

  it("the rbw backend's secrets unit sees only root's rbw dirs (read-only) and looks for the agent under /run/wirebot", () => {
    const c = load("mixed");
    c.secrets = { ...c.secrets, backend: "rbw" };
    const d = renderAll(c, { assets, wirebot: WIREBOT_CMD, configText: "", encryptedCredential: true });
    const unit = (d.resources.find((r) => r.path === "/etc/systemd/system/wirebot-secrets.service") as any).content as string;
    expect(unit).toMatch(/^ProtectHome=tmpfs$/m);
    expect(unit).not.toMatch(/^ProtectHome=yes$/m);
    expect(unit).toMatch(/^BindReadOnlyPaths=-\/root\/\.config\/rbw -\/root\/\.cache\/rbw -\/root\/\.local\/share\/rbw$/m);
    expect(unit).toMatch(/^ReadWritePaths=\/run\/wirebot \/run\/wirebot-gateway$/m);
    // It hands the shared gateway's key file to wirebot: CAP_CHOWN and the chown calls, after the deny list that removes them.
    expect(unit).toMatch(/^CapabilityBoundingSet=CAP_CHOWN$/m);
    expect(unit.indexOf("SystemCallFilter=@chown")).toBeGreaterThan(unit.indexOf("SystemCallFilter=~@privileged"));
    expect(unit).not.toMatch(/LoadCredential/);
    // every other backend keeps home directories out of sight entirely
    const bw = (render("mixed").resources.find((r) => r.path === "/etc/systemd/system/wirebot-secrets.service") as any).content as string;
    expect(bw).toMatch(/^ProtectHome=yes$/m);
    expect(bw).not.toMatch(/BindReadOnlyPaths|rbw/);
  });

  it("creates one service user per dedicated gateway", () => {
    const d = render("mixed");
    const sysusers = (d.resources.find((r) => r.path === "/etc/sysusers.d/wirebot.conf") as any).content as string;
    expect(sysusers).toMatch(/^u wirebot - /m);
    expect(sysusers).toMatch(/^u wb-erin - "Wirebot dedicated gateway \(erin\)" \/data\/wirebot\/users\/erin /m);
  });

  it("refuses a skill that does not ship", () => {
    const c = load("one-user");
    c.skills = ["wirebot-core", "wirebot-nope"];
    expect(() => renderAll(c, { assets, wirebot: WIREBOT_CMD, configText: "", encryptedCredential: true })).toThrow(/unknown skill\(s\) in skills/);
  });
});
