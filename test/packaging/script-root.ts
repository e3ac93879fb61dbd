/** A throwaway root that dpkg --root and rpm --root can chroot into to run maintainer scripts: the host's sh and grep with their libraries, and empty package databases. */
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";

// What the maintainer scripts run (packaging/refuse-while-installed.sh): sh and its builtins, and grep.
const PROGRAMS = ["/bin/sh", "/usr/bin/grep"];

/** The files a program needs: itself and every library ldd names (the loader included). */
function closure(program: string): string[] {
  const libs = execFileSync("ldd", [program], { encoding: "utf8" })
    .split("\n")
    .flatMap((line) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1] ?? []);
  return [program, ...libs];
}

export function makeScriptRoot(root: string): string {
  mkdirSync(root, { recursive: true });
  // A merged-/usr host's /bin, /lib and /lib64 are links into /usr: the same links here, so every path ldd and
  // the binaries' interpreter name exists inside the root too.
  for (const top of ["bin", "sbin", "lib", "lib64"]) {
    const host = `/${top}`;
    if (existsSync(host) && lstatSync(host).isSymbolicLink()) {
      const target = readlinkSync(host);
      mkdirSync(path.join(root, path.isAbsolute(target) ? target : path.join("/", target)), { recursive: true });
      symlinkSync(target, path.join(root, top));
    }
  }
  for (const file of new Set(PROGRAMS.flatMap(closure))) {
    const dest = path.join(root, file);
    mkdirSync(path.dirname(dest), { recursive: true });
    copyFileSync(file, dest);
    chmodSync(dest, 0o755);
  }
  for (const dir of ["tmp", "var/tmp", "var/lib/dpkg/info", "var/lib/dpkg/updates", "etc/systemd/system"]) mkdirSync(path.join(root, dir), { recursive: true });
  writeFileSync(path.join(root, "var/lib/dpkg/status"), "");
  const check = execFileSync("chroot", [root, "/bin/sh", "-c", "echo ok | grep -c ok"], { encoding: "utf8" }).trim();
  if (check !== "1") throw new Error(`the script root ${root} cannot run sh and grep: ${check}`);
  return root;
}
