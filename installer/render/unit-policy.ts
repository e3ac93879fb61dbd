/** The fixed hardening of every Wirebot unit, as tables (installers.md §3: measured 1.1 for a Node daemon). */

type Policy = ReadonlyArray<readonly [string, string]>;

// Shared by every long-running unit. Scores are measured in units.slow.test.ts.
// prettier-ignore
const COMMON: Policy = [
  ["UMask", "0077"],
  ["NoNewPrivileges", "yes"],
  ["ProtectSystem", "strict"],
  ["ProtectHome", "yes"],
  ["PrivateTmp", "yes"],
  ["PrivateDevices", "yes"],
  ["PrivateMounts", "yes"],
  ["ProtectKernelTunables", "yes"],
  ["ProtectKernelModules", "yes"],
  ["ProtectKernelLogs", "yes"],
  ["ProtectControlGroups", "yes"],
  ["ProtectClock", "yes"],
  ["ProtectHostname", "yes"],
  ["ProtectProc", "invisible"],
  ["RestrictNamespaces", "yes"],
  ["RestrictRealtime", "yes"],
  ["LockPersonality", "yes"],
  ["SystemCallArchitectures", "native"],
  ["SystemCallFilter", "@system-service"],
  ["SystemCallFilter", "~@privileged @resources"],
  ["SystemCallErrorNumber", "EPERM"],
  ["CapabilityBoundingSet", ""],
  ["AmbientCapabilities", ""],
  ["DevicePolicy", "closed"],
  ["KeyringMode", "private"],
];

// prettier-ignore
const NODE_DAEMON: Policy = [
  ...COMMON,
  ["RestrictSUIDSGID", "yes"],
  ["PrivateUsers", "yes"],
  ["RemoveIPC", "yes"],
  // No ProcSubset=pid in any unit (the default, all, as in the gateways), so one rendering starts on every
  // systemd from 247: NEWS 250 says systemd before it fails a unit that combines it with ProtectKernelTunables=/
  // ProtectKernelLogs= (PR 21545; Debian 11's 247.3 ran ours, 248 and 249 were not measured), and with
  // ProtectHostname= but no ProtectKernelTunables= it fails 247 to 250 (measured on 247.3). The cost: the unit
  // reads /proc's non-process files (cpuinfo, meminfo, /proc/sys read-only); ProtectProc=invisible still hides
  // other processes. Exposure unchanged at one decimal (1.1 reconcile and tunnel, 1.6 secrets, before and after;
  // weight 10 against ProtectProc='s 1000): units.slow.test.ts, docs/systemd-versions.md.
  ["RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"],
  // V8's JIT needs W+X pages: MemoryDenyWriteExecute=yes aborts node (installers.md §3.2).
  ["MemoryDenyWriteExecute", "no"],
];

// prettier-ignore
const GATEWAY: Policy = [
  ...COMMON,
  // Measured under systemd 252 (e2e container): with RestrictSUIDSGID=yes the gateway's startup state
  // migration fails ("another SQLite maintenance command owns this state directory") and it exits 78.
  ["RestrictSUIDSGID", "no"],
  ["PrivateUsers", "yes"],
  ["RemoveIPC", "yes"],
  // os.cpus() returns [] under ProcSubset=pid; the gateway sizes worker pools from it.
  ["ProcSubset", "all"],
  // os.networkInterfaces() needs netlink.
  ["RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX AF_NETLINK"],
  ["MemoryDenyWriteExecute", "no"],
];

// Root without capabilities: writes root-owned 0600 files to /run/wirebot and nothing else.
// prettier-ignore
const SECRETS_ONESHOT: Policy = [
  ...COMMON,
  ["RestrictSUIDSGID", "yes"],
  // No ProcSubset=pid: see NODE_DAEMON.
  ["RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"],
  ["MemoryDenyWriteExecute", "no"],
];

// cloudflared is a Go binary: no runtime code generation, so W^X holds.
// prettier-ignore
const GO_DAEMON: Policy = [
  ...COMMON,
  ["RestrictSUIDSGID", "yes"],
  ["PrivateUsers", "yes"],
  ["RemoveIPC", "yes"],
  // No ProcSubset=pid: see NODE_DAEMON.
  ["RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX AF_NETLINK"],
  ["MemoryDenyWriteExecute", "yes"],
];

// Rootless podman (wirebot-sandbox.service), a container engine, so less can be locked than for a daemon:
// newuidmap/newgidmap are setuid (NoNewPrivileges stays off), the engine creates user, mount, pid, net,
// ipc and uts namespaces, runc mounts a fresh /proc in each container (the kernel refuses that while
// /proc carries the overmounts of ProtectKernelTunables/ProtectKernelLogs, or a ProcSubset), and loading
// an image recreates its setuid files (RestrictSUIDSGID would fail it). Seccomp, MemoryDenyWriteExecute
// and the address families are inherited by the containers' tools.
// Not run under systemd on the test machine (no systemd as PID 1): see docs/trust.md for what was measured.
// prettier-ignore
const SANDBOX_ENGINE: Policy = [
  ["UMask", "0007"],
  ["NoNewPrivileges", "no"],
  ["ProtectSystem", "strict"],
  ["ProtectHome", "yes"],
  ["PrivateTmp", "yes"],
  ["PrivateDevices", "yes"],
  ["ProtectKernelModules", "yes"],
  ["PrivateMounts", "yes"],
  ["ProtectControlGroups", "yes"],
  ["ProtectClock", "yes"],
  ["ProtectHostname", "yes"],
  ["RestrictRealtime", "yes"],
  ["LockPersonality", "yes"],
  ["RemoveIPC", "yes"],
  ["KeyringMode", "private"],
  ["DevicePolicy", "closed"],
  ["SystemCallArchitectures", "native"],
  ["SystemCallFilter", "~@clock @cpu-emulation @debug @module @obsolete @raw-io @reboot @swap"],
  ["SystemCallErrorNumber", "EPERM"],
  // network: none in every sandbox; netlink brings up the containers' loopback.
  ["RestrictAddressFamilies", "AF_UNIX AF_NETLINK"],
  // What newuidmap, image extraction and runc's namespace setup need (measured with setpriv --bounding-set).
  ["CapabilityBoundingSet", "CAP_SETUID CAP_SETGID CAP_SYS_ADMIN CAP_SYS_CHROOT CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETPCAP CAP_SETFCAP CAP_NET_ADMIN"],
  ["AmbientCapabilities", ""],
];

export const UNIT_POLICY = { nodeDaemon: NODE_DAEMON, gateway: GATEWAY, secretsOneshot: SECRETS_ONESHOT, goDaemon: GO_DAEMON, sandboxEngine: SANDBOX_ENGINE } as const;
export type PolicyName = keyof typeof UNIT_POLICY;

/** `overrides` replaces a directive's value in place (the rbw backend's ProtectHome=tmpfs); a key the policy lacks is a bug. */
export function renderPolicy(name: PolicyName, overrides: Readonly<Record<string, string>> = {}): string {
  for (const k of Object.keys(overrides)) if (!UNIT_POLICY[name].some(([key]) => key === k)) throw new Error(`policy ${name} has no ${k}`);
  return UNIT_POLICY[name].map(([k, v]) => `${k}=${overrides[k] ?? v}`).join("\n");
}
