/** Rendering of `trust: sandboxed`: the agent's sandbox config, and the rootless podman service only when some shared user needs it. */
import { describe, expect, it } from "vitest";
import { readAssets } from "../assets.ts";
import { resolveLayout } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import type { FileResource, Resource } from "../engine/resource.ts";
import { exampleText, WIREBOT_CMD } from "../testing/harness.ts";
import { renderAll } from "./index.ts";
import { renderSandboxContainersConf, sandboxFor, SANDBOX_SERVICE } from "./sandbox.ts";

const assets = readAssets();
const render = (env: Record<string, string> = {}) => {
  const c = parseConfig(exampleText("three-users"), "three-users", env);
  return { c, d: renderAll(c, { assets, wirebot: WIREBOT_CMD, configText: "x", encryptedCredential: true }) };
};
const file = (r: Resource[], p: string) => r.find((x): x is FileResource => x.kind === "file" && x.path === p)?.content;
const SANDBOXED = { WIREBOT_USERS__0__TRUST: "sandboxed" };

describe("the sandbox of a sandboxed agent", () => {
  it("is podman with the configured image, no network, a read-only root, no capabilities and no host path but the workspace", () => {
    const c = parseConfig(exampleText("three-users"), "three-users", { ...SANDBOXED, WIREBOT_SANDBOX__IMAGE: "localhost/mine:1" });
    expect(sandboxFor(c, c.users[0]!)).toEqual({
      mode: "all",
      scope: "agent",
      backend: "podman",
      workspaceAccess: "rw",
      docker: { image: "localhost/mine:1", containerPrefix: "wirebot-sbx-", network: "none", readOnlyRoot: true, capDrop: ["ALL"], binds: [], env: {} },
      browser: { enabled: false },
    });
  });

  it("defaults to the image scripts/sandbox-image.sh builds", () => {
    expect(parseConfig(exampleText("three-users"), "three-users").sandbox).toEqual({ backend: "podman", image: "localhost/wirebot-sandbox:bookworm" });
  });
});

describe("the sandbox service", () => {
  it("is not rendered when nobody is sandboxed", () => {
    const { d } = render();
    expect(d.resources.filter((r) => r.path.includes("wirebot-sandbox"))).toEqual([]);
    expect(d.units.map((u) => u.name)).not.toContain(SANDBOX_SERVICE.unit);
    expect(file(d.resources, "/etc/systemd/system/clawdbot-gateway.service")).not.toContain("CONTAINER_HOST");
  });

  it("with a sandboxed user: socket, service, containers.conf, image loader, a user whose group is the gateway's", () => {
    const { c, d } = render(SANDBOXED);
    const r = d.resources;
    expect(d.units.map((u) => u.name)).toEqual(expect.arrayContaining([SANDBOX_SERVICE.socketUnit, SANDBOX_SERVICE.unit]));
    expect(r.find((x) => x.path === "/etc/systemd/system/sockets.target.wants/wirebot-sandbox.socket")).toMatchObject({ kind: "link", target: "/etc/systemd/system/wirebot-sandbox.socket" });

    const socket = file(r, "/etc/systemd/system/wirebot-sandbox.socket")!;
    expect(socket).toContain(`ListenStream=${SANDBOX_SERVICE.socket}`);
    expect(socket).toMatch(/SocketUser=wirebot-sandbox\nSocketGroup=wirebot\nSocketMode=0660/);

    const service = file(r, "/etc/systemd/system/wirebot-sandbox.service")!;
    expect(service).toMatch(/^User=wirebot-sandbox$/m);
    expect(service).not.toMatch(/^User=root$/m);
    // Its view of the data dir: alice's workspace and the skills the gateway materializes; not bob's, not the state dir.
    expect(service).toMatch(new RegExp(`^TemporaryFileSystem=${c.paths.data}:ro$`, "m"));
    expect(service).toMatch(/^BindPaths=\/data\/wirebot\/users\/alice\/workspace$/m);
    expect(service).toMatch(/^BindReadOnlyPaths=\/data\/wirebot\/gateway\/sandbox\/skills-workspaces$/m);
    expect(service).not.toContain("/users/bob");
    expect(service).not.toContain("/run/wirebot/");

    expect(file(r, "/etc/wirebot-sandbox/containers.conf")).toContain('umask = "0007"');
    expect(file(r, "/etc/wirebot-sandbox/load-image")).toContain("image='localhost/wirebot-sandbox:bookworm'");
    expect(file(r, "/etc/sysusers.d/wirebot.conf")).toMatch(/^u wirebot-sandbox -:wirebot /m);

    const gateway = file(r, "/etc/systemd/system/clawdbot-gateway.service")!;
    expect(gateway).toContain(`Environment=CONTAINER_HOST=${SANDBOX_SERVICE.url}`);
    // The gateway's own UMask=0077 comes first; the sandbox's group-shared one must win (the later one does).
    expect(gateway.match(/^UMask=.*$/gm)?.at(-1)).toBe("UMask=0007");
  });

  it("gives a sandboxed user's workspace to the sandbox user and the gateway's group, and no other", () => {
    const { d } = render(SANDBOXED);
    const mode = (id: string) => d.resources.find((x) => x.kind === "dir" && x.path === `/data/wirebot/users/${id}/workspace`);
    expect(mode("alice")).toMatchObject({ mode: 0o770, owner: { user: "wirebot-sandbox", group: "wirebot" } });
    expect(mode("bob")).toMatchObject({ mode: 0o700, owner: { user: "wirebot", group: "wirebot" } });
    expect(d.resources.find((x) => x.path === "/data/wirebot/users/alice")).toMatchObject({ mode: 0o700 });
  });

  it("the machine-specific engine settings are extra, never the product's default", () => {
    expect(renderSandboxContainersConf()).not.toMatch(/runtime|ulimits/);
    expect(renderSandboxContainersConf({ machine: { runtime: "runc", ulimits: ["nofile=1024:1024"] } })).toMatch(/default_ulimits = \["nofile=1024:1024"\][\s\S]*runtime = "runc"/);
  });
});
