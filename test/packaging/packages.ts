/** The .deb and .rpm under test: built once per test run from one staged tree (packaging/build.sh), or given by WIREBOT_TEST_DEB / WIREBOT_TEST_RPM. */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

export type PackageKind = "deb" | "rpm";

export const repo = path.resolve(import.meta.dirname, "../..");
export const pkg: { version: string; author: string } = JSON.parse(readFileSync(path.join(repo, "package.json"), "utf8"));

const ENV: Record<PackageKind, string> = { deb: "WIREBOT_TEST_DEB", rpm: "WIREBOT_TEST_RPM" };
const OUTPUT: Record<PackageKind, string> = {
  deb: path.join(repo, `dist/pkg/wirebot_${pkg.version}_amd64.deb`),
  rpm: path.join(repo, `dist/pkg/wirebot-${pkg.version}-1.x86_64.rpm`),
};
// Which packages this test run (the vitest process, every file's fork's parent) built already.
const MARKER = path.join(repo, "dist/pkg/.built-by-test-run.json");

/** The vitest process: its pid and start time (field 22 of /proc/PID/stat), so a reused pid is another run. */
function runId(): string {
  const stat = readFileSync(`/proc/${process.ppid}/stat`, "utf8");
  return `${process.ppid}:${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`;
}

function builtThisRun(): PackageKind[] {
  try {
    const m = JSON.parse(readFileSync(MARKER, "utf8")) as { run: string; kinds: PackageKind[] };
    return m.run === runId() ? m.kinds : [];
  } catch {
    return [];
  }
}

/** Fails with the fix when a tool the packaging tests run is missing, rather than with a spawn error. */
export function requireTool(command: string, debianPackage: string): void {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
  } catch {
    throw new Error(`${command} is missing: install it with \`sudo bash scripts/test-prereqs.sh\` (Debian: apt-get install ${debianPackage})`);
  }
}

/**
 * The package file for `kind`. The first test file that asks builds every package not given by its variable
 * from one staged tree (one compile, about 5 min here); the other reuses it in the same run.
 */
export function packageFile(kind: PackageKind): string {
  const given = process.env[ENV[kind]];
  if (given) return given;
  if (builtThisRun().includes(kind) && existsSync(OUTPUT[kind])) return OUTPUT[kind];
  const kinds = (["deb", "rpm"] as const).filter((k) => k === kind || !process.env[ENV[k]]);
  if (kinds.includes("rpm")) requireTool("rpmbuild", "rpm");
  const t0 = Date.now();
  execFileSync("bash", [path.join(repo, "packaging/build.sh"), ...kinds], { cwd: repo, stdio: ["ignore", "inherit", "inherit"] });
  const sizes = kinds.map((k) => `${path.basename(OUTPUT[k])} ${(readFileSync(OUTPUT[k]).length / 1e6).toFixed(1)} MB`).join(", ");
  console.log(`packaging/build.sh ${kinds.join(" ")}: ${sizes} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  writeFileSync(MARKER, JSON.stringify({ run: runId(), kinds }));
  return OUTPUT[kind];
}

/** Runs the CLI a package installed under `root` with that package's own Node, as `wirebot <args>` would. */
export function runInstalledCli(root: string, args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(path.join(root, "opt/wirebot/node/bin/node"), [path.join(root, "opt/wirebot/lib/bin/wirebot.js"), ...args], { env, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Names the units under root's /etc/systemd/system that reference /opt/wirebot/, as the packages' removal check reads them. */
export function unitsReferencingOpt(root: string): string[] {
  const dir = path.join(root, "etc/systemd/system");
  return readdirSync(dir).filter((n) => /\.(service|socket)$/.test(n) && statSync(path.join(dir, n)).isFile() && readFileSync(path.join(dir, n), "utf8").includes("/opt/wirebot/"));
}

/** Compares dotted versions numerically: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** The newest symbol version (GLIBC, GLIBCXX, …) an ELF file needs, from its dynamic symbol table. */
export function newestSymbolVersion(file: string, prefix: string): string {
  const found = [...execFileSync("objdump", ["-T", file], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }).matchAll(new RegExp(`\\(${prefix}_([0-9.]+)\\)`, "g"))].map((m) => m[1]!);
  if (found.length === 0) throw new Error(`${file} needs no ${prefix}_ symbol version`);
  return found.reduce((a, b) => (compareVersions(a, b) >= 0 ? a : b));
}
