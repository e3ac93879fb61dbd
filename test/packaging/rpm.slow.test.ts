/** The .rpm from `npm run package:rpm`: metadata, file list, Requires, scriptlets, and real rpm in a throwaway root (install, refused erase, upgrade, erase). */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareVersions, newestSymbolVersion, packageFile, pkg, requireTool, runInstalledCli, unitsReferencingOpt } from "./packages.ts";
import { makeScriptRoot } from "./script-root.ts";

// What AlmaLinux/RHEL 8 provide. glibc 2.28 and GCC 8's libstdc++ are the floor of Node and of the better-sqlite3
// binding (checked below); the optional Bitwarden binding needs 2.34 and is documented, not required.
const ALLOWED_REQUIRES = [
  "/bin/sh",
  "ca-certificates",
  "curl",
  "glibc(x86-64) >= 2.28",
  "libgcc(x86-64)",
  "libstdc++(x86-64)",
  "shadow-utils",
  "systemd",
  "util-linux",
  // Features of the package format itself; RHEL 8's rpm 4.14 has every one.
  "rpmlib(CompressedFileNames) <= 3.0.4-1",
  "rpmlib(FileDigests) <= 4.6.0-1",
  "rpmlib(PayloadFilesHavePrefix) <= 4.0-1",
  "rpmlib(PayloadIsXz) <= 5.2-1",
];

let rpmFile: string;
let work: string;
let env: NodeJS.ProcessEnv;
const rpmq = (...args: string[]) => execFileSync("rpm", ["-qp", ...args, rpmFile], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });

beforeAll(() => {
  requireTool("rpm", "rpm");
  requireTool("objdump", "binutils");
  // WIREBOT_TEST_RPM reuses a package built earlier; otherwise the first packaging test file builds it (minutes).
  rpmFile = packageFile("rpm");
  work = mkdtempSync(path.join(os.tmpdir(), "wirebot-rpm-"));
  env = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: work, LANG: "C.UTF-8" };
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("wirebot .rpm metadata", () => {
  it("names the package, version, release, architecture and packager", () => {
    const [name, version, release, arch, packager, license] = rpmq("--qf", "%{NAME}\n%{VERSION}\n%{RELEASE}\n%{ARCH}\n%{PACKAGER}\n%{LICENSE}\n").trim().split("\n");
    expect({ name, version, release, arch, packager, license }).toEqual({ name: "wirebot", version: pkg.version, release: "1", arch: "x86_64", packager: pkg.author, license: "Proprietary" });
    expect(path.basename(rpmFile)).toBe(`wirebot-${pkg.version}-1.x86_64.rpm`);
  });

  it("requires exactly what EL8 provides, nothing a dependency scanner made up", () => {
    const requires = [...new Set(rpmq("--requires").trim().split("\n"))].sort();
    expect(requires).toEqual([...ALLOWED_REQUIRES].sort());
  });

  it("provides only itself (no bundled .node file leaks into the system's capabilities)", () => {
    expect(rpmq("--provides").trim().split("\n").sort()).toEqual([`wirebot = ${pkg.version}-1`, `wirebot(x86-64) = ${pkg.version}-1`]);
  });

  it("installs only under /opt/wirebot, the /usr/bin/wirebot link, the man page and its doc dir, all root-owned, nothing group/world-writable", () => {
    const lines = rpmq("--qf", "[%{FILEMODES:perms}\t%{FILEUSERNAME}\t%{FILEGROUPNAME}\t%{FILENAMES}\t%{FILELINKTOS}\n]").trim().split("\n");
    expect(lines.length).toBeGreaterThan(100);
    const files = new Map<string, { mode: string; target: string }>();
    for (const line of lines) {
      const [mode, user, group, name, target] = line.split("\t");
      expect(`${user}:${group}`, name).toBe("root:root");
      if (!mode!.startsWith("l")) expect(mode!.slice(5, 6) + mode!.slice(8, 9), `${name} ${mode}`).not.toContain("w");
      expect(/^\/opt\/wirebot(\/.*)?$|^\/usr\/bin\/wirebot$|^\/usr\/share\/man\/man1\/wirebot\.1\.gz$|^\/usr\/share\/doc\/wirebot(\/copyright)?$/.test(name!), name).toBe(true);
      files.set(name!, { mode: mode!, target: target ?? "" });
    }
    expect(files.get("/usr/bin/wirebot")).toEqual({ mode: "lrwxrwxrwx", target: "/opt/wirebot/bin/wirebot" });
    expect(files.get("/opt/wirebot/bin/wirebot")?.mode).toBe("-rwxr-xr-x");
    expect(files.get("/opt/wirebot/node/bin/node")?.mode).toBe("-rwxr-xr-x");
    expect(files.get("/opt/wirebot/lib/node_modules/better-sqlite3/build/Release/better_sqlite3.node")?.mode).toBe("-rw-r--r--");
    for (const want of ["/opt/wirebot/lib/bin/wirebot.js", "/opt/wirebot/lib/dist/main.js", "/opt/wirebot/lib/examples/mixed.yaml", "/opt/wirebot/node/LICENSE"]) expect(files.has(want), want).toBe(true);
    // Never /etc/wirebot, state or units: those are the CLI's, never the package's, and none is %config.
    expect(rpmq("--configfiles").trim()).toBe("");
    expect(rpmq("--licensefiles").trim()).toBe("/usr/share/doc/wirebot/copyright");
  });

  it("has a %post that only prints on upgrade and a %preun that refuses only an erase, reading and touching nothing else", () => {
    const scripts = rpmq("--scripts");
    const sections = scripts.split(/^(?=\w+ scriptlet \(using \/bin\/sh\):$)/m).filter((x) => x.trim());
    expect(sections.map((x) => x.split(" ")[0]).sort()).toEqual(["postinstall", "preuninstall"]);
    const post = sections.find((x) => x.startsWith("postinstall"))!;
    expect(post).toContain('if [ "$1" -ge 2 ]; then');
    // The script's own text: backquotes escaped inside its double quotes.
    expect(post).toContain("run \\`sudo wirebot apply\\`");
    const preun = sections.find((x) => x.startsWith("preuninstall"))!;
    expect(preun).toContain('if [ "$1" -eq 0 ]; then');
    expect(preun).toContain("Run \\`sudo wirebot uninstall\\` first (add --purge to delete data too), then remove the package.");
    for (const body of [post, preun]) {
      const code = body.split("\n").filter((l) => !/^\s*#/.test(l)).join("\n").replace(/"([^"\\]|\\.)*"/g, '""'); // what it runs, not what it prints
      expect(code).not.toMatch(/\b(rm|mv|cp|ln|chmod|chown|systemctl|userdel|wirebot\s+\w+)\b|>\s*[^&]|\/etc\/wirebot|\/var\/lib\/wirebot|\/data\b|@[A-Z_]+@/);
    }
  });
});

describe("real rpm in a throwaway root: install, erase refused while the appliance is installed, upgrade, erase", () => {
  // rpm --root chroots into the root to run scriptlets, as on a host (script-root.ts gives it sh and grep).
  let root: string;
  const rpm = (...args: string[]) => spawnSync("rpm", ["--root", root, ...args], { encoding: "utf8", env });
  const RENDERED = ["etc/wirebot/wirebot.yaml", "etc/systemd/system/wirebot-secrets.service", "etc/systemd/system/clawdbot-gateway.service"];
  const snapshot = () => RENDERED.map((r) => readFileSync(path.join(root, r), "utf8"));

  beforeAll(() => {
    root = makeScriptRoot(path.join(work, "rpm-root"));
    execFileSync("rpm", ["--root", root, "--initdb"]);
  });

  it("installs the files (--nodeps: the root has no EL8 packages) and the packaged Node runs the CLI", () => {
    const r = rpm("-i", "--nodeps", rpmFile);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("upgraded");
    expect(rpm("-q", "wirebot").stdout.trim()).toBe(`wirebot-${pkg.version}-1.x86_64`);
    expect(existsSync(path.join(root, "usr/share/man/man1/wirebot.1.gz"))).toBe(true);
    const v = runInstalledCli(root, ["--version"], env);
    expect(v.code, v.err).toBe(0);
    expect(v.out).toContain(pkg.version);
  });

  it("Node and the better-sqlite3 binding need at most glibc 2.28; the Bitwarden SDK's prebuilt binding needs 2.34 (docs/packaging.md)", () => {
    expect(newestSymbolVersion(path.join(root, "opt/wirebot/node/bin/node"), "GLIBC")).toBe("2.28");
    expect(newestSymbolVersion(path.join(root, "opt/wirebot/lib/node_modules/better-sqlite3/build/Release/better_sqlite3.node"), "GLIBC")).toBe("2.28");
    expect(compareVersions(newestSymbolVersion(path.join(root, "opt/wirebot/lib/node_modules/better-sqlite3/build/Release/better_sqlite3.node"), "GLIBCXX"), "3.4.25")).toBeLessThanOrEqual(0);
    // When this changes, docs/packaging.md's RHEL 8 paragraph changes with it.
    expect(newestSymbolVersion(path.join(root, "opt/wirebot/lib/node_modules/@bitwarden/sdk-napi-linux-x64-gnu/sdk-napi.linux-x64-gnu.node"), "GLIBC")).toBe("2.34");
  });

  it("rpm -e refuses while `wirebot install --root` units run programs under /opt/wirebot, and the package stays", () => {
    const i = runInstalledCli(root, ["install", "--config", path.join(root, "opt/wirebot/lib/examples/mixed.yaml"), "--root", root, "--yes"], env);
    expect(i.code, i.err).toBe(0);
    expect(unitsReferencingOpt(root)).toEqual(expect.arrayContaining(["wirebot-secrets.service", "clawdbot-gateway.service"]));
    const before = snapshot();
    const r = rpm("-e", "wirebot");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("/etc/systemd/system/wirebot-secrets.service");
    expect(r.stderr).toContain("Run `sudo wirebot uninstall` first (add --purge to delete data too), then remove the package.");
    expect(r.stderr).toMatch(/%preun\(wirebot-[^)]*\) scriptlet failed/);
    expect(rpm("-q", "wirebot").status).toBe(0);
    expect(existsSync(path.join(root, "opt/wirebot/node/bin/node"))).toBe(true);
    expect(snapshot()).toEqual(before);
  });

  it("an upgrade (--reinstall: %post with 2, the old %preun with 1) passes with units present and says to run `wirebot apply`", () => {
    const before = snapshot();
    const r = rpm("-U", "--reinstall", "--nodeps", rpmFile);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("run `sudo wirebot apply`");
    expect(rpm("-q", "wirebot").status).toBe(0);
    expect(snapshot()).toEqual(before);
  });

  it("after a plain `wirebot uninstall`, rpm -e removes the package and keeps wirebot.yaml, the ledger dir and the data dir", () => {
    const u = runInstalledCli(root, ["uninstall", "--root", root], env);
    expect(u.code, u.err).toBe(0);
    const yaml = readFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), "utf8");
    const r = rpm("-e", "wirebot");
    expect(r.status, r.stderr).toBe(0);
    expect(rpm("-q", "wirebot").status).not.toBe(0);
    expect(existsSync(path.join(root, "opt/wirebot"))).toBe(false);
    expect(existsSync(path.join(root, "usr/bin/wirebot"))).toBe(false);
    expect(readFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), "utf8")).toBe(yaml);
    expect(existsSync(path.join(root, "var/lib/wirebot"))).toBe(true);
    expect(existsSync(path.join(root, "data/wirebot/gateway"))).toBe(true);
  });
});
