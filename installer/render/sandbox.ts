/** The per-agent sandbox a `trust: sandboxed` agent gets, and where the gateway reaches its container runtime. Pure. */
import type { Config, UserConfig } from "../config/schema.ts";

/**
 * The rootless podman service that runs every sandbox container (docs/trust.md): its own system user
 * with subordinate ids, a socket the gateway may connect to, and nothing of root.
 */
// prettier-ignore
export const SANDBOX_SERVICE = {
  user:       "wirebot-sandbox",
  home:       "/var/lib/wirebot-sandbox",
  socketDir:  "/run/wirebot-sandbox",
  socket:     "/run/wirebot-sandbox/podman.sock",
  /** What the gateway's podman client is pointed at; openclaw accepts a local unix:// connection only. */
  url:        "unix:///run/wirebot-sandbox/podman.sock",
  socketUnit: "wirebot-sandbox.socket",
  unit:       "wirebot-sandbox.service",
  /** One 65536-id range high above Debian's per-user allocations (100000 + n·65536). */
  subidStart: 1_879_048_192,
  subidCount: 65_536,
} as const;

/** Sandbox containers of every agent carry this prefix, so `podman ps` shows what wirebot started. */
export const SANDBOX_CONTAINER_PREFIX = "wirebot-sbx-";

export const isSandboxed = (u: UserConfig) => u.trust === "sandboxed";

/**
 * openclaw's `agents.entries.<id>.sandbox` (its docs/gateway/sandboxing): every session of the agent in one
 * container of its own (scope agent), on the podman backend, from the configured image. Inside it: no network,
 * a read-only root, every capability dropped, and one bind mount, the agent's own workspace at /workspace
 * (rw). No other host path is mounted: not another user's workspace, not the gateway's state dir, not
 * /run/wirebot. The runtime adds --init, no-new-privileges and, for rootless podman, --userns=keep-id.
 */
export function sandboxFor(c: Config, _u: UserConfig): Record<string, unknown> {
  return {
    mode: "all",
    scope: "agent",
    backend: c.sandbox.backend,
    workspaceAccess: "rw",
    docker: {
      image: c.sandbox.image,
      containerPrefix: SANDBOX_CONTAINER_PREFIX,
      network: "none",
      readOnlyRoot: true,
      capDrop: ["ALL"],
      // Explicit, so a later default in the runtime cannot widen what the container sees.
      binds: [],
      env: {},
      // No per-container limits: the engine runs without cgroups of its own (containers.conf below), and
      // TasksMax/MemoryMax of wirebot-sandbox.service bound every sandbox together.
    },
    // Podman has no sandboxed browser; the browser tool stays denied for sandboxed agents.
    browser: { enabled: false },
  };
}

/** Settings a particular machine needs and a normal VPS does not (reference/openclaw.md, Addendum 3). */
export interface MachineContainersConf {
  /** OCI runtime by name or path, e.g. runc where crun refuses hybrid cgroups */
  runtime?: string;
  /** "nofile=1024:1024": podman's default ulimits exceed some hosts' hard limits */
  ulimits?: string[];
}

/**
 * The sandbox service's containers.conf (CONTAINERS_CONF of wirebot-sandbox.service). Group-writable files
 * in the shared workspace, because the gateway and the sandbox are two users (docs/trust.md). No cgroups of
 * the engine's own: a system user has no systemd user session to delegate them, rootless podman cannot
 * use cgroup v1 at all, and the containers then stay in the unit's cgroup, under its limits, and end
 * with it.
 */
export function renderSandboxContainersConf(opts: { header?: string; machine?: MachineContainersConf } = {}): string {
  const m = opts.machine ?? {};
  const toml = (v: string) => JSON.stringify(v);
  const lines = [
    ...(opts.header ? [`# ${opts.header}`] : []),
    "[containers]",
    `umask = "0007"`,
    `cgroups = "disabled"`,
    ...(m.ulimits?.length ? [`default_ulimits = [${m.ulimits.map(toml).join(", ")}]`] : []),
    "",
    "[engine]",
    `cgroup_manager = "cgroupfs"`,
    `events_logger = "file"`,
    ...(m.runtime ? [`runtime = ${toml(m.runtime)}`] : []),
  ];
  return lines.join("\n") + "\n";
}
