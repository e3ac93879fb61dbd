/** The .deb from `npm run package:deb`: its metadata and tree, and its bundled Node running the CLI with no other Node usable. */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = path.resolve(import.meta.dirname, "../..");
const version: string = JSON.parse(readFileSync(path.join(repo, "package.json"), "utf8")).version;
// Every one is in Debian 12 and Ubuntu 22.04/24.04; util-linux (flock) and tar are Essential, so not listed.
// glibc 2.34 and libstdc++ 11: what the better-sqlite3 binding built on Debian 12 links against.
const ALLOWED_DEPENDS = ["libc6 (>= 2.34)", "libstdc++6 (>= 11)", "libgcc-s1", "systemd", "ca-certificates", "passwd", "curl"];

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
  // WIREBOT_TEST_DEB reuses a package built earlier in the same run; otherwise this builds one (minutes).
  deb = process.env["WIREBOT_TEST_DEB"] ?? path.join(repo, `dist/pkg/wirebot_${version}_amd64.deb`);
  if (!process.env["WIREBOT_TEST_DEB"]) {
    const t0 = Date.now();
    execFileSync("bash", [path.join(repo, "packaging/deb/build.sh")], { cwd: repo, stdio: ["ignore", "inherit", "inherit"] });
    console.log(`package:deb built ${deb}: ${(readFileSync(deb).length / 1e6).toFixed(1)} MB in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  work = mkdtempSync(path.join(os.tmpdir(), "wirebot-deb-"));
  tree = path.join(work, "tree");
  execFileSync("dpkg-deb", ["-x", deb, tree]);

  // A `node` first on PATH that fails loudly: any use of a PATH Node (this machine has /usr/bin/node) breaks the run.
  const fakeBin = path.join(work, "fake-bin");
  mkdirSync(fakeBin);
  writeFileSync(path.join(fakeBin, "node"), "#!/bin/sh\necho 'fake node: the package must not use a PATH node' >&2\nexit 97\n");
  chmodSync(path.join(fakeBin, "node"), 0o755);
  env = { PATH: `${fakeBin}:/usr/bin:/bin`, HOME: work, LANG: "C.UTF-8" };
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("wirebot .deb metadata", () => {
  it("names the package, version, architecture and only dependencies the target distributions have", () => {
    const field = (name: string) => execFileSync("dpkg-deb", ["-f", deb, name], { encoding: "utf8" }).trim();
    expect(field("Package")).toBe("wirebot");
    expect(field("Version")).toBe(version);
    expect(field("Architecture")).toBe("amd64");
    expect(field("Maintainer")).not.toBe("");
    expect(field("Description")).toContain("OpenClaw");
    expect(field("Depends").split(/,\s*/)).toEqual(ALLOWED_DEPENDS);
  });

  it("has no maintainer script that could touch /etc/wirebot, state or services", () => {
    const control = path.join(work, "control");
    execFileSync("dpkg-deb", ["-e", deb, control]);
    for (const script of ["preinst", "prerm", "postrm"]) expect(existsSync(path.join(control, script))).toBe(false);
    const postinst = readFileSync(path.join(control, "postinst"), "utf8");
    expect(postinst).toContain("wirebot apply");
    // Only printing is allowed: every line is a comment, a shell keyword or an echo.
    for (const line of postinst.split("\n").map((l) => l.trim())) {
      expect(line, line).toMatch(/^(#.*|set -e|if \[[^;]*\]; then|fi|exit 0|echo "([^"$`\\]|\\.|\$\d)*"|)$/);
    }
  });
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
      expect(e.name === "./" || /^\.\/(opt\/|opt\/wirebot\/|usr\/|usr\/bin\/|usr\/bin\/wirebot$|usr\/share\/(|doc\/|doc\/wirebot\/.*|lintian\/|lintian\/overrides\/|lintian\/overrides\/wirebot)$)/.test(e.name), e.name).toBe(true);
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
    ]) expect(names.has(want), want).toBe(true);
    // Dev tooling and the build's own output never ship.
    for (const name of names) expect(name, name).not.toMatch(/node_modules\/(vitest|typescript|tsx|esbuild)\/|\/dist\/pkg\/|^\.\/opt\/wirebot\/lib\/(installer|test|dist\/.*\.test\.js$)/);
  });

  it("the launcher runs the bundled Node on the bundled CLI, not a PATH node", () => {
    const launcher = readFileSync(path.join(tree, "opt/wirebot/bin/wirebot"), "utf8");
    expect(launcher).toMatch(/^exec \/opt\/wirebot\/node\/bin\/node \/opt\/wirebot\/lib\/bin\/wirebot\.js "\$@"$/m);
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
