/** The systemd release that first understands each directive, value, specifier and variable our units use (systemd's NEWS), and what an older one drops. Pure. */

/**
 * What a systemd that does not know a feature leaves of the unit: `hardening` (it starts, with less
 * isolation), `behaviour` (it starts, and acts differently), `broken` (it does not load, or runs without
 * something it needs).
 */
export type Effect = "hardening" | "behaviour" | "broken";

export interface Feature {
  /**
   * The first upstream release that parses it: the "CHANGES WITH <n>" entry of systemd's NEWS cited beside
   * it. For settings older than their NEWS entries, the earliest release NEWS or git history proves (an upper bound).
   */
  since: number;
  effect: Effect;
  /** The RHEL 8 minor release whose systemd 239 build backports it (the rhel-8.N.0 branches of redhat-plumbers/systemd-rhel8). */
  rhel8?: number;
}

const h = (since: number, rhel8?: number): Feature => ({ since, effect: "hardening", ...(rhel8 ? { rhel8 } : {}) });
const b = (since: number, rhel8?: number): Feature => ({ since, effect: "behaviour", ...(rhel8 ? { rhel8 } : {}) });
const x = (since: number): Feature => ({ since, effect: "broken" });

/** Keys of a [Service] section. */
// prettier-ignore
export const DIRECTIVES: Readonly<Record<string, Feature>> = {
  // Settings from systemd's first years: present when src/core/ was split out in 2012 (git), before 183.
  Type: x(183), User: x(183), Group: x(183), Environment: x(183), EnvironmentFile: x(183), WorkingDirectory: x(183),
  ExecStart: x(183), ExecStartPre: x(183), ExecStartPost: x(183), ExecStopPost: x(183), RemainAfterExit: b(183),
  Restart: b(183), RestartSec: b(183), KillMode: b(183), UMask: h(183), PrivateTmp: h(183), CapabilityBoundingSet: h(183),
  NoNewPrivileges: h(187),            // git: added with seccomp support, 2012-07 (187)
  TimeoutStartSec: b(188), TimeoutStopSec: b(188), // NEWS 188
  RestartPreventExitStatus: b(189),   // NEWS 189
  DevicePolicy: h(205),               // git: "core: general cgroup rework", 2013-06 (205); NEWS 212 names it
  PrivateDevices: h(209),             // NEWS 209
  SystemCallFilter: h(187),           // NEWS 187 ("SystemCallFilters=")
  SystemCallArchitectures: h(209),    // NEWS 209
  SystemCallErrorNumber: b(209),      // NEWS 209: without it a filtered call kills the process instead of failing
  RestrictAddressFamilies: h(211),    // NEWS 211
  RuntimeDirectory: x(211), RuntimeDirectoryMode: x(211), // NEWS 211
  ProtectSystem: h(214), ProtectHome: h(214), // NEWS 214
  TasksMax: h(227),                   // NEWS 227
  AmbientCapabilities: h(229),        // NEWS 229
  MemoryMax: h(231),                  // NEWS 231 (memory controller on cgroup v2; git da4d897e75)
  MemoryHigh: h(231),                 // NEWS 231, with MemoryMax= and MemoryLow= (cgroup v2)
  OOMPolicy: b(243),                  // NEWS 243: before it a unit whose process the OOM killer took kept running
  MemoryDenyWriteExecute: h(231), RestrictRealtime: h(231), // NEWS 231
  ReadWritePaths: x(231),             // NEWS 231: without it ProtectSystem=strict leaves the unit's own state read-only
  ProtectKernelTunables: h(232), ProtectKernelModules: h(232), ProtectControlGroups: h(232), // NEWS 232
  RemoveIPC: h(232), PrivateUsers: h(232), // NEWS 232
  DynamicUser: h(232),                // NEWS 232: without it the service runs as root
  RestrictNamespaces: h(233),         // NEWS 233
  BindPaths: x(233), BindReadOnlyPaths: x(233), // NEWS 233
  LockPersonality: h(235), KeyringMode: h(235), // NEWS 235
  StateDirectory: x(235), StateDirectoryMode: x(235), // NEWS 235
  TemporaryFileSystem: h(238),        // NEWS 238
  PrivateMounts: h(239),              // NEWS 239
  ProtectHostname: h(242),            // NEWS 242
  RestrictSUIDSGID: h(242, 2),        // NEWS 242; RHEL 8.2 backport
  ProtectKernelLogs: h(244),          // NEWS 244
  ProtectClock: h(245),               // NEWS 245
  ProtectProc: h(247), ProcSubset: h(247), // NEWS 247
  LoadCredential: x(247),             // NEWS 247
  LoadCredentialEncrypted: x(250),    // NEWS 250
};

/** Keys whose whole value is one word from a fixed set: an unknown word makes systemd ignore the line ("Failed to parse"). */
const ENUM_KEYS = new Set(["Type", "KillMode", "ProtectSystem", "ProtectHome", "ProtectProc", "ProcSubset", "DevicePolicy", "KeyringMode", "SystemCallArchitectures", "Restart"]);
/** Keys whose value is a list of words (a leading ~ negates it): an unknown word is skipped, the rest of the line applies. */
const LIST_KEYS = new Set(["SystemCallFilter", "RestrictAddressFamilies"]);

/** `Key=value` words of ENUM_KEYS, and list words of LIST_KEYS. */
// prettier-ignore
export const VALUES: Readonly<Record<string, Feature>> = {
  "Type=oneshot": x(183), "Type=notify": x(183),
  "Type=exec": b(240, 1),             // NEWS 240; RHEL 8.1 backport. Unknown: simple, so a failed exec is seen late
  "KillMode=mixed": b(209),           // NEWS 209
  "Restart=on-failure": b(183),
  "ProtectSystem=strict": h(232),     // NEWS 232
  "ProtectHome=yes": h(214),          // NEWS 214
  "ProtectHome=tmpfs": h(238),        // NEWS 238
  "ProtectProc=invisible": h(247), "ProcSubset=pid": h(247), "ProcSubset=all": h(247), // NEWS 247
  "DevicePolicy=closed": h(205),      // with DevicePolicy= (NEWS 212 names the value)
  "KeyringMode=private": h(235),      // NEWS 235
  "SystemCallArchitectures=native": h(209), // git: added with the setting, 2014-02 (209)
  // Named groups: NEWS 231 introduced them; which group came when is in git (seccomp-util.c).
  "SystemCallFilter=@clock": h(231), "SystemCallFilter=@module": h(231), "SystemCallFilter=@obsolete": h(231),
  "SystemCallFilter=@privileged": h(231), "SystemCallFilter=@raw-io": h(231), // git 201c1cc22a, before 231
  "SystemCallFilter=@cpu-emulation": h(231), "SystemCallFilter=@debug": h(231), // git 1f9ac68b5b, before 231
  "SystemCallFilter=@resources": h(232), // git 133ddbbeae, before 232
  "SystemCallFilter=@chown": h(235), // NEWS 235 (new groups @aio, @chown, @keyring, @memlock, @setuid, …)
  "SystemCallFilter=@reboot": h(233), "SystemCallFilter=@swap": h(233), // NEWS 233
  // NEWS 239: long-running services now default to a system call allow list (git 705268414f adds @system-service).
  "SystemCallFilter=@system-service": h(239),
  "RestrictAddressFamilies=AF_INET": h(211), "RestrictAddressFamilies=AF_INET6": h(211), // NEWS 211
  "RestrictAddressFamilies=AF_UNIX": h(211), "RestrictAddressFamilies=AF_NETLINK": h(211),
};

/** % specifiers: an unknown one makes systemd reject the line, and a service without ExecStart= does not load. */
// prettier-ignore
export const SPECIFIERS: Readonly<Record<string, Feature>> = {
  "%i": x(183),                       // older than NEWS's entries (NEWS 190 already names it)
  "%d": x(251),                       // NEWS 251: the credentials directory (SUPERSEDED: units installed before it)
};

/**
 * `${NAME}` in an ExecXxx= line that systemd itself sets. A variable systemd does not set expands to nothing:
 * the unit starts and the program gets a wrong argument. Variables the unit sets with Environment= need nothing.
 */
// prettier-ignore
export const ENV_REFS: Readonly<Record<string, Feature>> = {
  // NEWS 247: "The path to the credentials directory is passed in a new $CREDENTIALS_DIRECTORY environment
  // variable ... they may be easily referenced in ExecStart= command lines too". Measured on 247.3: expanded.
  "${CREDENTIALS_DIRECTORY}": x(247),
};

/** ExecXxx= prefixes. */
// prettier-ignore
export const EXEC_PREFIXES: Readonly<Record<string, Feature>> = {
  "-": x(183),
  "+": x(231),                        // NEWS 231: run with full privileges
};

/** NEWS 239: "The ExecStart= lines of unit files are no longer required to reference absolute paths". */
export const BARE_COMMAND: Feature = x(239);

/** Values that ask for systemd's default: a systemd that ignores the line gives the unit the same. */
const asksNothing = (l: Line) => DIRECTIVES[l.key]?.effect === "hardening" && (["no", "false", "off"].includes(l.value) || ["ProcSubset=all", "ProtectProc=default"].includes(`${l.key}=${l.value}`));

interface Rule {
  feature: string;
  /** the first release that fails the unit, and the first that runs it */
  from: number;
  since: number;
  applies: (last: (key: string) => string | undefined) => boolean;
}

const isYes = (v: string | undefined) => v !== undefined && ["yes", "true", "on", "1"].includes(v);

/**
 * Combinations that fail a unit at start on a range of releases, each line being known on its own. Both need
 * ProcSubset=pid, which only units installed by an earlier wirebot carry (SUPERSEDED); on a kernel before 5.8
 * ProcSubset=pid is not applied and neither fails.
 */
export const RULES: readonly Rule[] = [
  {
    // Measured on Debian 11's 247.3 (kernel 6.18): "Failed to set up mount namespacing: …/proc/sys/kernel/domainname:
    // No such file or directory". Issue #22206 reports it on 250; PR #22203 fixed it for 251. With
    // ProtectKernelTunables=yes the read-only /proc/sys covers the two hostname mounts and the unit starts.
    feature: "ProcSubset=pid with ProtectHostname= but not ProtectKernelTunables=",
    from: 247,
    since: 251,
    applies: (last) => last("ProcSubset") === "pid" && isYes(last("ProtectHostname")) && !isYes(last("ProtectKernelTunables")),
  },
  {
    // NEWS 250: "The combination of ProcSubset=pid and ProtectKernelTunables=yes and/or ProtectKernelLogs=yes can now
    // be used" (PR #21545). Not so on 247.3: units with all three start there (measured, docs/systemd-versions.md),
    // so the failure NEWS means is in 248 or 249. Not measured on those.
    feature: "ProcSubset=pid with ProtectKernelTunables= or ProtectKernelLogs=",
    from: 248,
    since: 250,
    applies: (last) => last("ProcSubset") === "pid" && (isYes(last("ProtectKernelTunables")) || isYes(last("ProtectKernelLogs"))),
  },
];

/**
 * What units rendered by an earlier wirebot carry and the current renderer replaced, so doctor can judge a unit
 * installed before an upgrade (until `wirebot apply` rewrites it) and name the way out. The table keeps these
 * entries for that alone: a test checks that no rendered unit uses them.
 */
export const SUPERSEDED: Readonly<Record<string, string>> = {
  "%d": "${CREDENTIALS_DIRECTORY} (247) instead of %d (251)",
  "ProcSubset=pid": "ProcSubset= left at its default, which every supported systemd starts",
  ...Object.fromEntries(RULES.map((r) => [r.feature, "ProcSubset= left at its default, which every supported systemd starts"])),
};

export interface SystemdVersion {
  major: number;
  /** RHEL 8's build of 239, on this minor release: its backports apply */
  rhel8Minor?: number;
}

export interface Dropped {
  /** 1-based line of the unit text */
  line: number;
  /** the directive, value, specifier or prefix that version does not understand: "ProtectClock=", "ProtectHome=tmpfs", "%d" */
  feature: string;
  since: number;
  effect: Effect;
  /** the whole line is ignored (unknown key or value), one word of it (list key), the line is rejected (specifier), or the unit fails */
  result: "line ignored" | "word ignored" | "line rejected" | "unit fails";
}

export interface UnitVerdict {
  dropped: Dropped[];
  /** the oldest systemd that understands every line of the unit */
  needs: number;
  /** [Service] keys and words no table here knows: the tables are incomplete for this unit */
  unknown: string[];
}

interface Line {
  n: number;
  key: string;
  value: string;
}

/** `Key=value` lines of the [Service] sections, comments and other sections left out. */
export function serviceLines(unitText: string): Line[] {
  const out: Line[] = [];
  let section = "";
  unitText.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) section = sec[1]!;
    else if (section === "Service" && line.includes("=")) out.push({ n: i + 1, key: line.slice(0, line.indexOf("=")).trim(), value: line.slice(line.indexOf("=") + 1).trim() });
  });
  return out;
}

const knows = (v: SystemdVersion, f: Feature) => f.since <= v.major || (v.rhel8Minor !== undefined && f.rhel8 !== undefined && v.rhel8Minor >= f.rhel8);

/**
 * Variables an ExecXxx= value expands: `${NAME}` anywhere (systemd expands it inside quotes too; `$$` escapes)
 * and `$NAME` as a word of its own.
 */
export function envRefs(value: string): string[] {
  const v = value.replace(/\$\$/g, "");
  const braced = [...v.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!);
  const words = v.split(/\s+/).flatMap((w) => /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(w)?.slice(1) ?? []);
  return [...new Set([...braced, ...words])];
}

/** Names the unit's own Environment= lines set: an ExecXxx= reference to them asks nothing of systemd's version. */
const ownVariables = (lines: Line[]) => new Set(lines.filter((l) => l.key === "Environment").flatMap((l) => [...l.value.matchAll(/(?:^|\s)"?([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1]!)));

/** What each line asks of systemd: the key, then its value words, specifiers, variables and exec prefix. */
function featuresOf(l: Line, own: ReadonlySet<string>): { feature: string; f: Feature | undefined; result: Dropped["result"] }[] {
  const out: { feature: string; f: Feature | undefined; result: Dropped["result"] }[] = [{ feature: `${l.key}=`, f: DIRECTIVES[l.key], result: "line ignored" }];
  if (ENUM_KEYS.has(l.key)) out.push({ feature: `${l.key}=${l.value}`, f: VALUES[`${l.key}=${l.value}`], result: "line ignored" });
  if (LIST_KEYS.has(l.key))
    for (const w of l.value.replace(/^~/, "").split(/\s+/).filter(Boolean)) out.push({ feature: `${l.key}=${w}`, f: VALUES[`${l.key}=${w}`], result: "word ignored" });
  for (const s of new Set(l.value.replace(/%%/g, "").match(/%[A-Za-z]/g) ?? [])) out.push({ feature: s, f: SPECIFIERS[s], result: l.key.startsWith("Exec") ? "unit fails" : "line rejected" });
  if (l.key.startsWith("Exec")) {
    for (const r of envRefs(l.value)) if (!own.has(r)) out.push({ feature: `\${${r}}`, f: ENV_REFS[`\${${r}}`], result: "unit fails" });
    const prefixes = /^[-+@!:|]*/.exec(l.value)![0];
    for (const p of new Set(prefixes)) out.push({ feature: `${l.key}=${p}`, f: EXEC_PREFIXES[p], result: "line ignored" });
    if (!l.value.slice(prefixes.length).startsWith("/")) out.push({ feature: `${l.key}= without a path`, f: BARE_COMMAND, result: l.key === "ExecStart" ? "unit fails" : "line ignored" });
  }
  return out;
}

/** The lines of a rendered unit that systemd `v` ignores or rejects, and the oldest systemd that would apply them all. */
export function droppedBy(v: SystemdVersion | number, unitText: string): UnitVerdict {
  const ver = typeof v === "number" ? { major: v } : v;
  const lines = serviceLines(unitText);
  const dropped: Dropped[] = [];
  const unknown: string[] = [];
  let needs = 0;
  const own = ownVariables(lines);
  for (const l of lines)
    for (const { feature, f, result } of featuresOf(l, own)) {
      if (!f) {
        unknown.push(feature);
        continue;
      }
      if (asksNothing(l)) continue;
      needs = Math.max(needs, f.since);
      // A key the version lacks already drops the line: its value words add nothing.
      if (!knows(ver, f) && !dropped.some((d) => d.line === l.n && d.result === "line ignored" && d.feature === `${l.key}=`))
        dropped.push({ line: l.n, feature, since: f.since, effect: result === "unit fails" ? "broken" : f.effect, result });
    }
  const last = (k: string) => lines.filter((l) => l.key === k).at(-1)?.value;
  for (const rule of RULES.filter((r) => r.applies(last))) {
    needs = Math.max(needs, rule.since);
    if (ver.major >= rule.from && ver.major < rule.since)
      dropped.push({ line: lines.filter((l) => l.key === "ProcSubset").at(-1)!.n, feature: rule.feature, since: rule.since, effect: "broken", result: "unit fails" });
  }
  return { dropped, needs, unknown: [...new Set(unknown)] };
}

/** `systemctl --version`'s first line ("systemd 239 (239-82.el8_10.2)"), with /etc/os-release for RHEL 8's minor release. */
export function parseSystemdVersion(systemctlVersion: string, osRelease = ""): SystemdVersion | null {
  const m = /^systemd (\d+)(?: \(([^)]*)\))?/m.exec(systemctlVersion);
  if (!m) return null;
  const major = Number(m[1]);
  if (major !== 239 || !/\.el8/.test(m[2] ?? "")) return { major };
  const minor = /^VERSION_ID="?8\.(\d+)"?$/m.exec(osRelease)?.[1];
  return minor === undefined ? { major } : { major, rhel8Minor: Number(minor) };
}
