// Builds (once per machine, then reuses) the Debian 12 rootfs the e2e container boots; safe against half-built caches.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { runOk } from "./proc.ts";

export const CACHE_DIR = process.env.WIREBOT_E2E_CACHE ?? "/var/cache/wirebot-e2e";
export const ROOTFS = join(CACHE_DIR, "rootfs-bookworm");
const STAMP = ".wirebot-e2e-stamp";
const MIRROR = process.env.WIREBOT_E2E_MIRROR ?? "http://deb.debian.org/debian";

/**
 * What a small VPS image has: systemd as init, dbus, TLS roots, ip, ps, curl. Deliberately no Node, npm,
 * compiler or Python: the .deb must bring everything wirebot runs (issue 15, point 5).
 */
export const PACKAGES = ["systemd", "systemd-sysv", "dbus", "ca-certificates", "iproute2", "procps", "curl", "libstdc++6"];
// Bump when the customisation below changes, so old caches are rebuilt rather than trusted.
const RECIPE = 3;

function expectedStamp(): string {
  return `recipe=${RECIPE}\nsuite=bookworm\nvariant=minbase\nmirror=${MIRROR}\npackages=${PACKAGES.join(",")}\n`;
}

export function isCached(): boolean {
  const p = join(ROOTFS, STAMP);
  return existsSync(p) && readFileSync(p, "utf8") === expectedStamp();
}

export interface RootfsResult {
  path: string;
  cached: boolean;
  ms: number;
}

/** Returns the cached rootfs, building it first when missing or built from another recipe. */
export async function ensureRootfs(log: (s: string) => void = (s) => process.stderr.write(s + "\n")): Promise<RootfsResult> {
  const started = performance.now();
  if (isCached()) return { path: ROOTFS, cached: true, ms: performance.now() - started };
  mkdirSync(CACHE_DIR, { recursive: true });
  // Leftovers of a build that died: their names carry the pid, and a rename never happened.
  for (const n of readdirSync(CACHE_DIR)) if (n.startsWith("rootfs-bookworm.tmp-") || n.startsWith("rootfs-bookworm.old-")) rmSync(join(CACHE_DIR, n), { recursive: true, force: true });

  const tmp = join(CACHE_DIR, `rootfs-bookworm.tmp-${process.pid}`);
  log(`[e2e] building Debian 12 rootfs with debootstrap into ${tmp} (first run only; a few minutes)`);
  try {
    await runOk("debootstrap", ["--variant=minbase", `--include=${PACKAGES.join(",")}`, "bookworm", tmp, MIRROR], { timeoutMs: 20 * 60_000 });
    await customise(tmp);
    writeFileSync(join(tmp, STAMP), expectedStamp());
    if (existsSync(ROOTFS)) {
      const old = join(CACHE_DIR, `rootfs-bookworm.old-${process.pid}`);
      renameSync(ROOTFS, old);
      renameSync(tmp, ROOTFS);
      rmSync(old, { recursive: true, force: true });
    } else renameSync(tmp, ROOTFS);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const ms = performance.now() - started;
  log(`[e2e] rootfs built in ${(ms / 1000).toFixed(1)} s`);
  return { path: ROOTFS, cached: false, ms };
}

async function customise(root: string): Promise<void> {
  writeFileSync(join(root, "etc/hostname"), "wirebot-e2e\n");
  writeFileSync(join(root, "etc/apt/sources.list"), `deb ${MIRROR} bookworm main\ndeb ${MIRROR} bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n`);
  // Gettys would spin on a console nobody types into; nothing on a VPS under test needs them.
  for (const unit of ["console-getty.service", "getty@tty1.service", "serial-getty@.service"])
    await runOk("ln", ["-sf", "/dev/null", join(root, "etc/systemd/system", unit)]);
  // Each container copy gets its own machine id (container.ts); an empty cache copy never clashes.
  writeFileSync(join(root, "etc/machine-id"), "");
  await runOk("chroot", [root, "apt-get", "clean"]);
  rmSync(join(root, "var/lib/apt/lists"), { recursive: true, force: true });
  mkdirSync(join(root, "var/lib/apt/lists/partial"), { recursive: true });
}

// `node --import tsx test/e2e/rootfs.ts` prebuilds the cache (scripts/e2e.sh does, to time it apart).
if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await ensureRootfs();
  process.stdout.write(`rootfs ${r.path} ${r.cached ? "cached" : "built"} in ${(r.ms / 1000).toFixed(1)} s\n`);
}
