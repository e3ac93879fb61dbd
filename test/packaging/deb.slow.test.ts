/** The .deb from `npm run package:deb`: metadata, maintainer scripts, lintian, its tree, real dpkg in a throwaway root, and its bundled Node running the CLI with no other Node usable. */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareVersions, newestSymbolVersion, packageFile, pkg, repo, requireTool, runInstalledCli, unitsReferencingOpt } from "./packages.ts";
import { makeScriptRoot } from "./script-root.ts";

const version = pkg.version;
// Every one is in Debian 12 and Ubuntu 22.04/24.04; util-linux (flock) and tar are Essential, so not listed.
// The shared-library floors are what dpkg-shlibdeps derives from the ELF files (checked below): glibc 2.34 for
// the Bitwarden SDK's prebuilt binding (and Debian's view of libc.so.6's pthread symbols), libstdc++ 10.2 for Node.
const ALLOWED_DEPENDS = ["libc6 (>= 2.34)", "libgcc-s1 (>= 4.2)", "libstdc++6 (>= 10.2)", "systemd", "ca-certificates", "passwd", "curl"];

let deb: string;
let work: string;
let tree: string;
let env: NodeJS.ProcessEnv;

const bundledNode = () => path.join(tree, "opt/wirebot/node/bin/node");
const bundledCli = () => path.join(tree, "opt/wirebot/lib/bin/wirebot.js");

function runBundled(args: string[], cwd = work) {
  const r = spawnSync(bundledNode(), [bundledCli(), ...args], { cwd, env, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  for (const [tool, debianPackage] of [["dpkg-deb", "dpkg"], ["lintian", "lintian"], ["dpkg-shlibdeps", "dpkg-dev"], ["objdump", "binutils"]]) requireTool(tool!, debianPackage!);
  // WIREBOT_TEST_DEB reuses a package built earlier; otherwise the first packaging test file builds it (minutes).
  deb = packageFile("deb");
  work = mkdtempSync(path.join(os.tmpdir(), "wirebot-deb-"));
  tree = path.join(work, "tree");
  execFileSync("dpkg-deb", ["-x", deb, tree]);

  // A `node` first on PATH that fails loudly: any use of a PATH Node (this machine has /usr/bin/node) breaks the run.
  const fakeBin = path.join(work, "fake-bin");
  mkdirSync(fakeBin);
  writeFileSync(path.join(fakeBin, "node"), "#!/bin/sh\necho 'fake node: the package must not use a PATH node' >&2\nexit 97\n");
  chmodSync(path.join(fakeBin, "node"), 0o755);
  env = { PATH: `${fakeBin}:/usr/bin:/bin:/usr/sbin:/sbin`, HOME: work, LANG: "C.UTF-8" };
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("wirebot .deb metadata", () => {
  it("names the package, version, architecture, maintainer and only dependencies the target distributions have", () => {
    const field = (name: string) => execFileSync("dpkg-deb", ["-f", deb, name], { encoding: "utf8" }).trim();
    expect(field("Package")).toBe("wirebot");
    expect(field("Version")).toBe(version);
    expect(field("Architecture")).toBe("amd64");
    // One source: package.json's author, also the changelog's and the copyright file's.
    expect(pkg.author).toBe("Wirebot maintainers <maintainers@wirebot.dev>");
    expect(field("Maintainer")).toBe(pkg.author);
    expect(field("Description")).toContain("OpenClaw");
    expect(field("Depends").split(/,\s*/)).toEqual(ALLOWED_DEPENDS);
  });

  it("the library floors in Depends are the ones dpkg-shlibdeps derives from every ELF file it ships", () => {
    const elves = execFileSync("find", [path.join(tree, "opt/wirebot"), "-type", "f", "(", "-name", "*.node", "-o", "-path", "*/node/bin/node", ")"], { encoding: "utf8" }).trim().split("\n");
    expect(elves.length).toBeGreaterThanOrEqual(3);
    const scratch = mkdtempSync(path.join(work, "shlibdeps-"));
    mkdirSync(path.join(scratch, "debian"));
    writeFileSync(path.join(scratch, "debian/control"), "Source: wirebot\n\nPackage: wirebot\nArchitecture: any\n");
    const derived = execFileSync("dpkg-shlibdeps", ["-O", ...elves], { cwd: scratch, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      .replace(/^shlibs:Depends=/, "")
      .trim()
      .split(/,\s*/);
    expect(derived.sort()).toEqual(ALLOWED_DEPENDS.filter((d) => /^lib/.test(d)).sort());
  });

  it("the changelog and copyright name the same maintainer", () => {
    const changelog = execFileSync("zcat", [path.join(tree, "usr/share/doc/wirebot/changelog.gz")], { encoding: "utf8" });
    expect(changelog).toMatch(new RegExp(`^wirebot \\(${version.replace(/\./g, "\\.")}\\) `));
    expect(changelog).toContain(` -- ${pkg.author}  `);
    expect(readFileSync(path.join(tree, "usr/share/doc/wirebot/copyright"), "utf8")).toMatch(new RegExp(`^Copyright: \\d{4}(-\\d{4})? ${pkg.author.replace(/[.<>]/g, "\\$&")}$`, "m"));
  });

  it("has only a postinst that prints and a prerm that reads: no script touches /etc/wirebot, state or services", () => {
    const control = path.join(work, "control");
    execFileSync("dpkg-deb", ["-e", deb, control]);
    for (const script of ["preinst", "postrm", "config", "conffiles", "triggers"]) expect(existsSync(path.join(control, script)), script).toBe(false);
    const postinst = readFileSync(path.join(control, "postinst"), "utf8");
    expect(postinst).toContain("wirebot apply");
    // Only printing is allowed: every line is a comment, a shell keyword or an echo.
    for (const line of postinst.split("\n").map((l) => l.trim())) {
      expect(line, line).toMatch(/^(#.*|set -e|if \[[^;]*\]; then|fi|exit 0|echo "([^"$`\\]|\\.|\$\d)*"|)$/);
    }
    const prerm = readFileSync(path.join(control, "prerm"), "utf8");
    expect(prerm.startsWith("#!/bin/sh\n")).toBe(true);
    expect(prerm).toContain('if [ "$1" = remove ]; then');
    expect(prerm).not.toContain("@REFUSE_WHILE_INSTALLED@");
    const code = prerm.split("\n").filter((l) => !/^\s*#/.test(l)).join("\n").replace(/"([^"\\]|\\.)*"/g, '""'); // what it runs, not what it prints
    // Read-only: no deletion, move, write to a file, service or user command, and no mention of config or state.
    expect(code).not.toMatch(/\b(rm|mv|cp|ln|chmod|chown|systemctl|deb-systemd-\w+|invoke-rc\.d|userdel|deluser|wirebot\s+\w+)\b|>\s*[^&]|\/etc\/wirebot|\/var\/lib\/wirebot|\/data\b/);
    // POSIX sh: dash parses it.
    expect(spawnSync("dash", ["-n", path.join(control, "prerm")]).status).toBe(0);
  });

  it("lintian reports no error, and no warning the overrides file does not explain", () => {
    // lintian refuses nothing as root but says so on stderr; only its findings on stdout count.
    const r = spawnSync("lintian", ["--fail-on", "none", deb], { encoding: "utf8", timeout: 600_000 });
    expect(r.status, r.stderr).toBe(0);
    const findings = r.stdout.split("\n").filter((l) => /^[EW]: /.test(l));
    expect(findings).toEqual([]);
    // The ones fixed for this issue stay fixed (not overridden).
    const overrides = readFileSync(path.join(repo, "packaging/deb/lintian-overrides"), "utf8");
    for (const tag of ["bogus-mail-host", "no-manual-page", "privacy-breach-generic", "copyright-without-copyright-notice", "executable-not-elf-or-script"]) expect(overrides).not.toContain(tag);
  }, 600_000);
});

describe("wirebot .deb contents", () => {
  const entries = () =>
    execFileSync("dpkg-deb", ["--contents", deb], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
      .trim()
      .split("\n")
      .map((line) => {
        const [mode, owner, , , , name, , target] = line.split(/\s+/);
        return { mode: mode!, owner: owner!, name: name!, target };
      });

  it("installs only under /opt/wirebot plus the /usr/bin/wirebot link and its docs, all root-owned, nothing group/world-writable", () => {
    const all = entries();
    expect(all.length).toBeGreaterThan(100);
    for (const e of all) {
      expect(e.owner, e.name).toBe("root/root");
      // A symlink's own mode is always lrwxrwxrwx and grants nothing.
      if (!e.mode.startsWith("l")) expect(e.mode.slice(5, 6) + e.mode.slice(8, 9), `${e.name} ${e.mode}`).not.toContain("w");
      expect(e.name === "./" || /^\.\/(opt\/|opt\/wirebot\/|usr\/|usr\/bin\/|usr\/bin\/wirebot$|usr\/share\/(|doc\/|doc\/wirebot\/.*|man\/|man\/man1\/|man\/man1\/wirebot\.1\.gz|lintian\/|lintian\/overrides\/|lintian\/overrides\/wirebot)$)/.test(e.name), e.name).toBe(true);
    }
    const link = all.find((e) => e.name === "./usr/bin/wirebot");
    expect(link?.mode.startsWith("l")).toBe(true);
    expect(link?.target).toBe("/opt/wirebot/bin/wirebot");
    const mode = (name: string) => all.find((e) => e.name === name)?.mode;
    expect(mode("./opt/wirebot/bin/wirebot")).toBe("-rwxr-xr-x");
    expect(mode("./opt/wirebot/node/bin/node")).toBe("-rwxr-xr-x");
    expect(mode("./opt/wirebot/lib/package.json")).toBe("-rw-r--r--");
    // Native addons are loaded, not executed.
    expect(mode("./opt/wirebot/lib/node_modules/better-sqlite3/build/Release/better_sqlite3.node")).toBe("-rw-r--r--");
    expect(mode("./usr/share/doc/wirebot/copyright")).toBe("-rw-r--r--");
  });

  it("carries the CLI, templates, skills, docs and the native bindings", () => {
    const names = new Set(entries().map((e) => e.name));
    for (const want of [
      "./opt/wirebot/lib/bin/wirebot.js",
      "./opt/wirebot/lib/dist/main.js",
      "./opt/wirebot/lib/units/",
      "./opt/wirebot/lib/templates/",
      "./opt/wirebot/lib/skills/",
      "./opt/wirebot/lib/plugins/",
      "./opt/wirebot/lib/docs/",
      "./opt/wirebot/lib/examples/mixed.yaml",
      "./opt/wirebot/lib/scripts/sandbox-image.sh",
      "./opt/wirebot/lib/node_modules/better-sqlite3/build/Release/better_sqlite3.node",
      "./opt/wirebot/lib/node_modules/@bitwarden/sdk-napi-linux-x64-gnu/sdk-napi.linux-x64-gnu.node",
      "./opt/wirebot/node/LICENSE",
      // the npm that provisions the gateway runtime: a bare box has none
      "./opt/wirebot/npm/bin/npm-cli.js",
    ]) expect(names.has(want), want).toBe(true);
    // Dev tooling and the build's own output never ship; nor do files nothing reads at run time (stage.sh prunes them).
    for (const name of names) {
      expect(name, name).not.toMatch(/node_modules\/(vitest|typescript|tsx|esbuild)\/|\/dist\/pkg\/|^\.\/opt\/wirebot\/lib\/(installer|test|dist\/.*\.test\.js$)/);
      expect(name, name).not.toMatch(/\/node_modules\/.*(\.[mc]?ts|\.map|\/pino\/index\.html)$/);
    }
  });

  it("the man page is wirebot --help of the packaged CLI, and man renders it without a warning", () => {
    const page = path.join(tree, "usr/share/man/man1/wirebot.1.gz");
    const roff = execFileSync("zcat", [page], { encoding: "utf8" });
    expect(roff).toMatch(new RegExp(`^\\.TH WIREBOT 1 "\\d{4}-\\d{2}-\\d{2}" "wirebot ${version.replace(/\./g, "\\.")}"`));
    for (const command of ["install", "apply", "uninstall", "secrets"]) expect(roff).toContain(`.SS ${command}\n`);
    const r = spawnSync("man", ["--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", page], { encoding: "utf8", env: { ...process.env, MANROFFSEQ: "", MANWIDTH: "80" } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
  });

  it("the better-sqlite3 binding needs no newer glibc or libstdc++ than RHEL 8 has (2.28, GCC 8's 3.4.25)", () => {
    const binding = path.join(tree, "opt/wirebot/lib/node_modules/better-sqlite3/build/Release/better_sqlite3.node");
    expect(newestSymbolVersion(binding, "GLIBC")).toBe("2.28");
    expect(compareVersions(newestSymbolVersion(binding, "GLIBCXX"), "3.4.25")).toBeLessThanOrEqual(0);
  });

  it("the launcher runs the bundled Node on the bundled CLI, not a PATH node", () => {
    const launcher = readFileSync(path.join(tree, "opt/wirebot/bin/wirebot"), "utf8");
    expect(launcher).toMatch(/^exec \/opt\/wirebot\/node\/bin\/node \/opt\/wirebot\/lib\/bin\/wirebot\.js "\$@"$/m);
  });
});

describe("real dpkg in a throwaway root: upgrade leaves the appliance alone, remove refuses while it is installed, purge keeps data", () => {
  // dpkg --root chroots into the root to run the maintainer scripts, as on a host (script-root.ts gives it sh and grep).
  let root: string;
  const dpkg = (...args: string[]) => spawnSync("dpkg", [`--root=${root}`, ...args], { encoding: "utf8", env: { ...env, PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
  const status = () => spawnSync("dpkg-query", [`--admindir=${root}/var/lib/dpkg`, "-W", "-f=${Status}", "wirebot"], { encoding: "utf8" }).stdout;
  const snapshot = (...rel: string[]) => rel.map((r) => readFileSync(path.join(root, r), "utf8"));
  const RENDERED = ["etc/wirebot/wirebot.yaml", "etc/systemd/system/wirebot-secrets.service", "etc/systemd/system/clawdbot-gateway.service"];

  beforeAll(() => {
    root = makeScriptRoot(path.join(work, "dpkg-root"));
  });

  it("installs the files (--force-depends: the root has no libc6 package), first install prints nothing about upgrading", () => {
    const r = dpkg("--force-depends", "-i", deb);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("upgraded");
    expect(status()).toBe("install ok installed");
    expect(existsSync(path.join(root, "opt/wirebot/lib/bin/wirebot.js"))).toBe(true);
    expect(existsSync(path.join(root, "usr/share/man/man1/wirebot.1.gz"))).toBe(true);
  });

  it("with no wirebot unit, the prerm lets a remove through (checked by the script itself, without removing)", () => {
    const prerm = path.join(root, "var/lib/dpkg/info/wirebot.prerm");
    const r = spawnSync("chroot", [root, "/bin/sh", "/var/lib/dpkg/info/wirebot.prerm", "remove"], { encoding: "utf8" });
    expect(existsSync(prerm)).toBe(true);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("`wirebot install --root` with the package's own CLI renders units that run programs under /opt/wirebot", () => {
    const r = runInstalledCli(root, ["install", "--config", path.join(root, "opt/wirebot/lib/examples/mixed.yaml"), "--root", root, "--yes"], env);
    expect(r.code, r.err).toBe(0);
    expect(unitsReferencingOpt(root)).toEqual(expect.arrayContaining(["wirebot-secrets.service", "clawdbot-gateway.service"]));
  });

  it("dpkg -r refuses while those units exist: says what is installed and what to run, and leaves the package installed", () => {
    const before = snapshot(...RENDERED);
    const r = dpkg("-r", "wirebot");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("the appliance is installed");
    expect(r.stderr).toContain("/etc/systemd/system/wirebot-secrets.service");
    expect(r.stderr).toContain("Run `sudo wirebot uninstall` first (add --purge to delete data too), then remove the package.");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(status()).toBe("deinstall ok installed");
    expect(existsSync(path.join(root, "opt/wirebot/node/bin/node"))).toBe(true);
    expect(snapshot(...RENDERED)).toEqual(before);
  });

  it("dpkg -r refuses the same without a chroot (--force-script-chrootless: the script reads $DPKG_ROOT)", () => {
    const r = dpkg("--force-script-chrootless", "-r", "wirebot");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`${root}/etc/systemd/system/wirebot-secrets.service`);
    expect(status()).toMatch(/ installed$/);
  });

  it("an upgrade (the same .deb again: prerm upgrade, postinst configure <old>) passes, says to run `wirebot apply`, and touches no config, unit or state", () => {
    const before = snapshot(...RENDERED);
    const r = dpkg("--force-depends", "-i", deb);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`wirebot upgraded from ${version}: run \`sudo wirebot apply\``);
    expect(status()).toBe("install ok installed");
    expect(snapshot(...RENDERED)).toEqual(before);
  });

  it("after a plain `wirebot uninstall`, dpkg -P removes the package and keeps wirebot.yaml, the ledger dir and the data dir", () => {
    const u = runInstalledCli(root, ["uninstall", "--root", root], env);
    expect(u.code, u.err).toBe(0);
    expect(unitsReferencingOpt(root)).toEqual([]);
    const yaml = readFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), "utf8");
    const r = dpkg("-P", "wirebot");
    expect(r.status, r.stderr).toBe(0);
    expect(status()).toBe("");
    expect(existsSync(path.join(root, "opt/wirebot"))).toBe(false);
    expect(existsSync(path.join(root, "usr/bin/wirebot"))).toBe(false);
    expect(readFileSync(path.join(root, "etc/wirebot/wirebot.yaml"), "utf8")).toBe(yaml);
    expect(existsSync(path.join(root, "var/lib/wirebot"))).toBe(true);
    expect(existsSync(path.join(root, "data/wirebot/gateway"))).toBe(true);
  });
});

describe("the extracted package with no usable PATH node", () => {
  it("the test environment really has no working `node` on PATH", () => {
    const r = spawnSync("sh", ["-c", "node --version"], { env, encoding: "utf8" });
    expect(r.status).toBe(97);
  });

  it("bundled node is the runtime's major and runs `wirebot --version`", () => {
    const nodeVersion = execFileSync(bundledNode(), ["--version"], { env, encoding: "utf8" }).trim();
    const schema = readFileSync(path.join(repo, "installer/config/schema.ts"), "utf8");
    const runtimeNode = /node: z\.string\(\)[^\n]*default\("(\d+)\./.exec(schema)?.[1];
    expect(runtimeNode).toBeDefined();
    expect(nodeVersion).toMatch(new RegExp(`^v${runtimeNode}\\.`));
    const r = runBundled(["--version"]);
    expect(r.err).not.toContain("fake node");
    expect(r.code).toBe(0);
    expect(r.out).toContain(version);
  });

  it("loads better-sqlite3 under the bundled node", () => {
    const r = spawnSync(bundledNode(), ["-e", 'console.log(new (require("better-sqlite3"))(":memory:").prepare("select sqlite_version() v").get().v)'], {
      cwd: path.join(tree, "opt/wirebot/lib"),
      env,
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toMatch(/^3\.\d+\.\d+$/);
  });

  it("`install --config examples/mixed.yaml --root <tmp> --yes` renders, and `usage` reads the ledger", () => {
    const root = path.join(work, "root");
    mkdirSync(root);
    const installed = runBundled(["install", "--config", path.join(tree, "opt/wirebot/lib/examples/mixed.yaml"), "--root", root, "--yes"]);
    expect(installed.err).not.toContain("fake node");
    expect(installed.err).not.toMatch(/\n\s+at /);
    expect(installed.code, installed.err).toBe(0);
    expect(existsSync(path.join(root, "etc/wirebot/wirebot.yaml"))).toBe(true);
    const units = execFileSync("find", [path.join(root, "etc/systemd/system"), "-name", "wirebot*"], { encoding: "utf8" }).trim().split("\n");
    expect(units.length).toBeGreaterThan(1);

    // `reconcile --once` would need the pulled secrets and LiteLLM; the CLI's own ledger code creates the ledger instead.
    const ledger = path.join(root, "var/lib/wirebot/ledger.sqlite");
    const dbModule = path.join(tree, "opt/wirebot/lib/dist/meter/db.js");
    const created = spawnSync(bundledNode(), ["--input-type=module", "-e", `import { openLedgerDb } from ${JSON.stringify(dbModule)}; openLedgerDb(${JSON.stringify(ledger)}).close();`], {
      env,
      encoding: "utf8",
    });
    expect(created.status, created.stderr).toBe(0);
    const usage = runBundled(["usage", "--root", root, "--json"]);
    expect(usage.err).not.toMatch(/\n\s+at |NODE_MODULE_VERSION|ERR_DLOPEN/);
    expect(usage.code, usage.err).toBe(0);
    expect(JSON.parse(usage.out)).toMatchObject({ ok: true, outcome: "usage", agents: [] });
  });
});
