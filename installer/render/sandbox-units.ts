/** Renders the rootless podman service of `trust: sandboxed` agents: socket, service, containers.conf, image loader, shared dirs. Pure. */
import { SERVICE_USER, workspaceDir, type Layout } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import type { Templates } from "../assets.ts";
import { ROOT, type Resource, type UnitSpec } from "../engine/resource.ts";
import { isSandboxed, renderSandboxContainersConf, SANDBOX_SERVICE } from "./sandbox.ts";
import { MANAGED_HEADER, renderTemplate } from "./template.ts";
import { renderPolicy } from "./unit-policy.ts";

export const SANDBOX_ETC = "/etc/wirebot-sandbox";
export const SANDBOX_CONTAINERS_CONF = `${SANDBOX_ETC}/containers.conf`;
export const SANDBOX_LOAD_IMAGE = `${SANDBOX_ETC}/load-image`;

/** The shared gateway's sandboxed users; dedicated users cannot be sandboxed (preflight/sandbox.ts). */
export const sandboxedSharedUsers = (l: Layout) => (l.shared ? l.shared.users.filter(isSandboxed) : []);

/** Where the runtime materializes the skills a sandbox mounts read-only (openclaw: `<stateDir>/sandbox/skills-workspaces`). */
export const skillsWorkspacesDir = (stateDir: string) => `${stateDir}/sandbox/skills-workspaces`;

function tmpl(t: Templates, name: string): string {
  const text = t[name];
  if (text === undefined) throw new Error(`missing template ${name}.tmpl in the package`);
  return text;
}

export function renderSandboxSocket(t: Templates): string {
  return renderTemplate("wirebot-sandbox.socket", tmpl(t, "wirebot-sandbox.socket"), {
    header: MANAGED_HEADER,
    socket: SANDBOX_SERVICE.socket,
    sandboxUser: SANDBOX_SERVICE.user,
    gatewayGroup: SERVICE_USER,
  });
}

export function renderSandboxService(c: Config, l: Layout, t: Templates): string {
  return renderTemplate(
    "wirebot-sandbox.service",
    tmpl(t, "wirebot-sandbox.service"),
    {
      header: MANAGED_HEADER,
      sandboxUser: SANDBOX_SERVICE.user,
      gatewayGroup: SERVICE_USER,
      home: SANDBOX_SERVICE.home,
      containersConf: SANDBOX_CONTAINERS_CONF,
      subidStart: SANDBOX_SERVICE.subidStart,
      subidCount: SANDBOX_SERVICE.subidCount,
      loadImage: SANDBOX_LOAD_IMAGE,
      dataDir: c.paths.data,
      workspaces: sandboxedSharedUsers(l).map((u) => workspaceDir(c, u.id)).join(" "),
      skillsDir: skillsWorkspacesDir(l.shared!.stateDir),
      hardening: renderPolicy("sandboxEngine"),
    },
    { blocks: ["hardening"] },
  );
}

export function renderLoadImage(c: Config, t: Templates): string {
  return renderTemplate("wirebot-sandbox-load-image", tmpl(t, "wirebot-sandbox-load-image"), { header: MANAGED_HEADER, image: c.sandbox.image, url: SANDBOX_SERVICE.url });
}

/** The sysusers.d line of the sandbox user: its primary group is the gateway's (the shared workspace's group). */
export const sandboxSysusersLine = () => `u ${SANDBOX_SERVICE.user} -:${SERVICE_USER} "Wirebot sandbox containers (rootless podman)" ${SANDBOX_SERVICE.home} /usr/sbin/nologin`;

/** What the shared gateway's unit adds when it has sandboxed users: the podman socket, and group-writable files for the sandbox. */
export function gatewaySandboxLines(): string {
  return [`Environment=CONTAINER_HOST=${SANDBOX_SERVICE.url}`, "# Files shared with the sandbox user through the workspace's group (docs/trust.md).", "UMask=0007"].join("\n");
}

/**
 * Everything the sandbox service needs, or nothing when no shared user is sandboxed. `unitFile` and
 * `enableLink` are index.ts's own builders, so these units are written and enabled like every other.
 */
export function sandboxResources(
  c: Config,
  l: Layout,
  t: Templates,
  build: { unitFile: (name: string, content: string, notify: string[]) => Resource; enableLink: (instance: string, wantedBy: string) => Resource },
): { resources: Resource[]; units: UnitSpec[] } {
  const users = sandboxedSharedUsers(l);
  if (users.length === 0 || !l.shared) return { resources: [], units: [] };
  const gw = { user: SERVICE_USER, group: SERVICE_USER };
  const r: Resource[] = [
    { kind: "dir", path: SANDBOX_ETC, mode: 0o755, owner: ROOT, notify: [] },
    { kind: "file", path: SANDBOX_CONTAINERS_CONF, content: renderSandboxContainersConf({ header: MANAGED_HEADER }), mode: 0o644, owner: ROOT, notify: [SANDBOX_SERVICE.unit] },
    { kind: "file", path: SANDBOX_LOAD_IMAGE, content: renderLoadImage(c, t), mode: 0o755, owner: ROOT, notify: [SANDBOX_SERVICE.unit] },
    // Bound into the sandbox service's namespace, so they must exist before it starts; the gateway fills them.
    { kind: "dir", path: `${l.shared.stateDir}/sandbox`, mode: 0o700, owner: gw, notify: [] },
    { kind: "dir", path: skillsWorkspacesDir(l.shared.stateDir), mode: 0o750, owner: gw, notify: [] },
    build.unitFile(SANDBOX_SERVICE.socketUnit, renderSandboxSocket(t), [SANDBOX_SERVICE.socketUnit]),
    build.enableLink(SANDBOX_SERVICE.socketUnit, "sockets.target"),
    build.unitFile(SANDBOX_SERVICE.unit, renderSandboxService(c, l, t), [SANDBOX_SERVICE.unit]),
    build.enableLink(SANDBOX_SERVICE.unit, "multi-user.target"),
  ];
  return { resources: r, units: [{ name: SANDBOX_SERVICE.socketUnit }, { name: SANDBOX_SERVICE.unit }] };
}

/**
 * A sandboxed user's workspace belongs to the sandbox user, so rootless podman can mount it and create
 * mount points in it (its user namespace maps that uid), and to the gateway's group, which the sandbox
 * user shares as its primary group: both read and write it, nobody else enters. Measured with the real
 * gateway against rootless podman (docs/trust.md).
 */
export const SANDBOXED_WORKSPACE = { mode: 0o770, owner: { user: SANDBOX_SERVICE.user, group: SERVICE_USER } } as const;
