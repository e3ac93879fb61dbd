/** Which directory may be `paths.data`: one of wirebot's own, never a system tree or the shared top of other software's. Pure. */

/**
 * Trees where no data directory may live at any depth, with the reason. Issue 14: `paths.data: /etc`
 * was accepted and `uninstall --purge` then deleted all of /etc.
 */
// prettier-ignore
const SYSTEM_TREES: Readonly<Record<string, string>> = {
  "etc":        "holds the system's configuration",
  "usr":        "holds installed software",
  "bin":        "holds installed software",
  "sbin":       "holds installed software",
  "lib":        "holds installed software",
  "lib32":      "holds installed software",
  "lib64":      "holds installed software",
  "libx32":     "holds installed software",
  "opt":        "holds installed packages' files (wirebot's own code is /opt/wirebot); variable data does not belong there",
  "boot":       "holds the kernel and the boot loader",
  "home":       "holds people's home directories, which the hardened units cannot see (ProtectHome=yes)",
  "root":       "is root's home directory, which the hardened units cannot see (ProtectHome=yes)",
  "proc":       "is a kernel filesystem",
  "sys":        "is a kernel filesystem",
  "dev":        "is a kernel filesystem",
  "run":        "is tmpfs, emptied at every boot",
  "tmp":        "is emptied by the system and private to each unit (PrivateTmp=yes)",
  "snap":       "belongs to snapd",
  "lost+found": "belongs to fsck",
  "var/tmp":    "is emptied by the system and private to each unit (PrivateTmp=yes)",
  "var/cache":  "may be emptied at any time (FHS)",
  "var/run":    "is /run: tmpfs, emptied at every boot",
  "var/lock":   "is under /run: tmpfs, emptied at every boot",
  "var/lib/wirebot":         "is wirebot's ledger directory, which uninstall treats on its own",
  "var/lib/wirebot-sandbox": "is the sandbox service's home",
};

/** Trees whose direct children belong to other software or are mount points; a directory below those is fine. */
// prettier-ignore
const SHARED_TOPS: Readonly<Record<string, { why: string; instead: string }>> = {
  "var":   { why: "the subdirectories of /var (lib, log, spool, …) are shared by all the software on the host", instead: "/var/lib/wirebot-data" },
  "mnt":   { why: "the subdirectories of /mnt are mount points of other filesystems", instead: "/mnt/volume1/wirebot" },
  "media": { why: "the subdirectories of /media are mount points of removable media", instead: "/media/disk1/wirebot" },
};

const SEGMENT_RE = /^[A-Za-z0-9._-]+$/;
const EXAMPLE = "use a directory of wirebot's own, such as /data/wirebot (the default) or /srv/wirebot";

/** Why `p` cannot be wirebot's data directory, or null when it can. */
export function dataPathProblem(p: string): string | null {
  if (p === "/") return `/ is the whole filesystem, and \`wirebot uninstall --purge\` deletes paths.data: ${EXAMPLE}`;
  if (!p.startsWith("/") || p.endsWith("/")) return `must be an absolute path without a trailing /, such as /data/wirebot`;
  const parts = p.slice(1).split("/");
  if (parts.some((s) => s === "" || s === "." || s === "..")) return `must be a plain absolute path, without '//', '.' or '..' parts, such as /data/wirebot`;
  if (!parts.every((s) => SEGMENT_RE.test(s))) return `must use only letters, digits, '.', '_' and '-' in each part (no spaces), such as /data/wirebot`;
  for (let i = parts.length; i > 0; i--) {
    const tree = parts.slice(0, i).join("/");
    const why = SYSTEM_TREES[tree];
    if (why !== undefined) return `/${tree} ${why}; wirebot's data cannot live there: ${EXAMPLE}`;
  }
  const top = SHARED_TOPS[parts[0]!];
  if (top !== undefined && parts.length <= 2)
    return `${p} is ${parts.length === 1 ? "a system directory" : `a direct child of /${parts[0]}`}: ${top.why}; use a directory of wirebot's own below it, such as ${top.instead}, or /data/wirebot (the default)`;
  if (parts.length === 1) return `${p} is a top-level directory that other software may share, and \`wirebot uninstall --purge\` deletes paths.data whole: ${EXAMPLE}`;
  return null;
}
