/** cloudflared install planning per distro, the preflight's verdicts through a fake Host, and the checksum gate. */
import { describe, expect, test } from "vitest";
import type { WirebotError } from "../errors.ts";
import type { ExecResult, Host } from "../host/host.ts";
import {
  APT_KEYRING,
  APT_SOURCE,
  applyCloudflaredInstall,
  candidateMethods,
  parseCloudflaredVersion,
  parseOsRelease,
  planCloudflaredInstall,
  preflightCloudflared,
  releaseArch,
  sha256Hex,
  versionAtLeast,
  type PinnedRelease,
} from "./cloudflared-install.ts";

const DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n';
const UBUNTU = 'PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n';
const ALMA = 'NAME="AlmaLinux"\nID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\nPRETTY_NAME="AlmaLinux 9.4 (Seafoam Ocelot)"\n';
const ALPINE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.0\nPRETTY_NAME="Alpine Linux v3.20"\n';
const PINNED: PinnedRelease = { version: "2026.7.2", sha256: { amd64: "a".repeat(64) } };

describe("planning (pure)", () => {
  test("os-release parsing and families", () => {
    expect(parseOsRelease(UBUNTU)).toEqual({ id: "ubuntu", idLike: ["debian"], versionId: "24.04", prettyName: "Ubuntu 24.04 LTS" });
    expect(candidateMethods(parseOsRelease(DEBIAN))).toEqual(["apt"]);
    expect(candidateMethods(parseOsRelease(UBUNTU), PINNED)).toEqual(["apt", "release"]);
    expect(candidateMethods(parseOsRelease(ALMA))).toEqual(["yum"]);
    expect(candidateMethods(parseOsRelease(ALPINE))).toEqual([]);
    expect(candidateMethods(parseOsRelease(ALPINE), PINNED)).toEqual(["release"]);
  });

  test("apt: keyring under /usr/share/keyrings, repo pkg.cloudflare.com signed-by that key only", () => {
    const plan = planCloudflaredInstall("apt");
    expect(plan.binary).toBe("/usr/bin/cloudflared");
    expect(plan.steps.map((s) => s.kind)).toEqual(["exec", "download", "write", "exec", "exec"]);
    expect(plan.steps[1]).toMatchObject({ url: "https://pkg.cloudflare.com/cloudflare-main.gpg", to: APT_KEYRING });
    expect(APT_SOURCE).toBe("deb [signed-by=/usr/share/keyrings/cloudflare-main.gpg] https://pkg.cloudflare.com/cloudflared any main");
    expect(plan.steps.at(-1)).toMatchObject({ cmd: "apt-get", args: ["install", "-y", "cloudflared"] });
  });

  test("yum: the repo file from pkg.cloudflare.com, then yum install", () => {
    const plan = planCloudflaredInstall("yum");
    expect(plan.steps).toMatchObject([{ kind: "download", url: "https://pkg.cloudflare.com/cloudflared.repo", to: "/etc/yum.repos.d/cloudflared.repo" }, { cmd: "yum" }]);
  });

  test("release: pinned version and sha256 per arch; refused without a checksum", () => {
    const plan = planCloudflaredInstall("release", { arch: "amd64", pinned: PINNED });
    expect(plan.steps).toEqual([
      {
        kind: "download",
        url: "https://github.com/cloudflare/cloudflared/releases/download/2026.7.2/cloudflared-linux-amd64",
        to: "/usr/local/bin/cloudflared",
        mode: 0o755,
        sha256: "a".repeat(64),
        why: "cloudflared 2026.7.2 (amd64), sha256-checked",
      },
    ]);
    expect(() => planCloudflaredInstall("release", { arch: "arm64", pinned: PINNED })).toThrow("no sha256 pinned for cloudflared 2026.7.2 on arm64");
  });

  test("versions and architectures", () => {
    expect(parseCloudflaredVersion("cloudflared version 2025.8.1 (built 2025-08-20-1200 UTC)")).toBe("2025.8.1");
    expect(versionAtLeast("2025.4.0", "2025.4.0")).toBe(true);
    expect(versionAtLeast("2025.10.0", "2025.4.0")).toBe(true);
    expect(versionAtLeast("2024.12.2", "2025.4.0")).toBe(false);
    expect(releaseArch("x86_64\n")).toBe("amd64");
    expect(releaseArch("aarch64")).toBe("arm64");
    expect(releaseArch("riscv64")).toBeNull();
  });
});

/** A Host whose exec answers from a table and records every call. */
function fakeHost(opts: { osRelease: string | null; exec: (cmd: string, args: string[]) => Partial<ExecResult> | undefined; files?: Map<string, Buffer> }) {
  const calls: string[] = [];
  const files = opts.files ?? new Map<string, Buffer>();
  const host = {
    root: "/",
    env: {},
    resolve: (p: string) => p,
    now: () => new Date(0),
    readFile: async (p: string) => (p === "/etc/os-release" ? (opts.osRelease === null ? null : Buffer.from(opts.osRelease)) : (files.get(p) ?? null)),
    writeFileAtomic: async (p: string, c: string | Buffer) => void files.set(p, Buffer.from(c)),
    remove: async (p: string) => void files.delete(p),
    exec: async (cmd: string, args: string[]): Promise<ExecResult> => {
      calls.push([cmd, ...args].join(" "));
      const r = opts.exec(cmd, args) ?? { code: 127, stderr: `${cmd}: not found` };
      return { code: 0, stdout: "", stderr: "", ...r };
    },
  } as unknown as Host;
  return { host, calls, files };
}

describe("preflightCloudflared", () => {
  test("a recent enough cloudflared is kept", async () => {
    const { host } = fakeHost({ osRelease: DEBIAN, exec: (cmd) => (cmd === "/usr/bin/cloudflared" ? { stdout: "cloudflared version 2026.7.2 (built x)" } : undefined) });
    expect(await preflightCloudflared(host)).toEqual({ outcome: "already-installed", version: "2026.7.2", binary: "/usr/bin/cloudflared" });
  });

  test("Debian with pkg.cloudflare.com reachable → apt", async () => {
    const { host, calls } = fakeHost({ osRelease: DEBIAN, exec: (cmd) => (cmd === "uname" ? { stdout: "x86_64\n" } : cmd === "curl" ? { code: 0 } : undefined) });
    const r = await preflightCloudflared(host);
    expect(r.outcome === "install" && r.plan.method).toBe("apt");
    expect(r.outcome === "install" && r.reason).toBe("cloudflared is not installed");
    expect(calls).toContain("curl -fsSIL --proto =https --max-time 15 -o /dev/null https://pkg.cloudflare.com/cloudflare-main.gpg");
  });

  test("an old cloudflared is reported as the reason to install", async () => {
    const { host } = fakeHost({
      osRelease: ALMA,
      exec: (cmd) => (cmd === "/usr/bin/cloudflared" ? { stdout: "cloudflared version 2024.1.5 (built x)" } : cmd === "uname" ? { stdout: "x86_64" } : cmd === "curl" ? { code: 0 } : undefined),
    });
    const r = await preflightCloudflared(host);
    expect(r.outcome === "install" && [r.plan.method, r.reason]).toEqual(["yum", "/usr/bin/cloudflared is 2024.1.5, older than 2025.4.0 (needed for --token-file)"]);
  });

  test("repository blocked, pinned release reachable → release", async () => {
    const { host } = fakeHost({
      osRelease: UBUNTU,
      exec: (cmd, args) => (cmd === "uname" ? { stdout: "x86_64" } : cmd === "curl" ? { code: args.at(-1)!.includes("github.com") ? 0 : 6, stderr: "curl: (6) Could not resolve host" } : undefined),
    });
    const r = await preflightCloudflared(host, { pinned: PINNED });
    expect(r.outcome === "install" && r.plan.method).toBe("release");
    expect(r.outcome === "install" && r.tried).toEqual([
      { path: "apt", message: "https://pkg.cloudflare.com/cloudflare-main.gpg is not reachable from this host (curl exit 6: curl: (6) Could not resolve host)" },
    ]);
  });

  test("nothing reachable: a PreflightError (exit 69) naming every path tried", async () => {
    const { host } = fakeHost({ osRelease: ALPINE, exec: (cmd) => (cmd === "uname" ? { stdout: "x86_64" } : undefined) });
    const err = (await preflightCloudflared(host).then(() => null, (e: unknown) => e)) as WirebotError;
    expect(err.code).toBe("cloudflared.install");
    expect(err.exitCode).toBe(69);
    expect(err.message).toBe("cloudflared is not installed, and no way to install it is usable on Alpine Linux v3.20");
    expect(err.issues).toEqual([
      { path: "package repository", message: "Alpine Linux v3.20 is neither Debian/Ubuntu nor RHEL/Alma/Rocky/Fedora" },
      { path: "pinned release", message: "no cloudflared release is pinned (version + sha256)" },
    ]);
  });

  test("curl missing is said plainly", async () => {
    const { host } = fakeHost({ osRelease: DEBIAN, exec: (cmd) => (cmd === "uname" ? { stdout: "x86_64" } : undefined) });
    const err = (await preflightCloudflared(host).then(() => null, (e: unknown) => e)) as WirebotError;
    expect(err.issues).toContainEqual({ path: "apt", message: "curl is not installed" });
  });
});

describe("applyCloudflaredInstall", () => {
  test("a download whose sha256 differs installs nothing", async () => {
    const { host, files } = fakeHost({ osRelease: DEBIAN, exec: () => ({ code: 0 }) });
    files.set("/usr/local/bin/cloudflared.wirebot-download", Buffer.from("tampered"));
    const plan = planCloudflaredInstall("release", { arch: "amd64", pinned: PINNED });
    await expect(applyCloudflaredInstall(host, plan)).rejects.toMatchObject({ code: "cloudflared.checksum" });
    expect(files.has("/usr/local/bin/cloudflared")).toBe(false);
    expect(files.has("/usr/local/bin/cloudflared.wirebot-download")).toBe(false);
  });

  test("a matching download is installed", async () => {
    const body = Buffer.from("the real binary");
    const { host, files } = fakeHost({ osRelease: DEBIAN, exec: () => ({ code: 0 }) });
    files.set("/usr/local/bin/cloudflared.wirebot-download", body);
    const plan = planCloudflaredInstall("release", { arch: "amd64", pinned: { version: "2026.7.2", sha256: { amd64: sha256Hex(body) } } });
    await applyCloudflaredInstall(host, plan);
    expect(files.get("/usr/local/bin/cloudflared")).toEqual(body);
  });
});
