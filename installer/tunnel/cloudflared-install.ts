/** How cloudflared gets onto a VPS: Cloudflare's apt/yum repository or a pinned, sha256-checked release; pure planning plus a preflight through the Host port. */
import { createHash } from "node:crypto";
import { preflightError, type ErrorIssue } from "../errors.ts";
import type { Host } from "../host/host.ts";

export const APT_KEYRING = "/usr/share/keyrings/cloudflare-main.gpg";
export const APT_KEY_URL = "https://pkg.cloudflare.com/cloudflare-main.gpg";
export const APT_LIST = "/etc/apt/sources.list.d/cloudflared.list";
// Cloudflare publishes one suite, "any", for every Debian/Ubuntu release (the binary is static).
export const APT_SOURCE = `deb [signed-by=${APT_KEYRING}] https://pkg.cloudflare.com/cloudflared any main`;
export const YUM_REPO_URL = "https://pkg.cloudflare.com/cloudflared.repo";
export const YUM_REPO_FILE = "/etc/yum.repos.d/cloudflared.repo";
export const RELEASE_BINARY = "/usr/local/bin/cloudflared";
export const PACKAGE_BINARY = "/usr/bin/cloudflared";
/** `tunnel run --token-file` exists from 2025.4.0 on (installers.md §2.3); older builds would need the token on the command line. */
export const MIN_CLOUDFLARED_VERSION = "2025.4.0";

export const releaseUrl = (version: string, arch: string) => `https://github.com/cloudflare/cloudflared/releases/download/${version}/cloudflared-linux-${arch}`;

export interface OsRelease {
  id: string;
  idLike: string[];
  versionId: string;
  prettyName: string;
}

export type InstallMethod = "apt" | "yum" | "release";

export type InstallStep =
  | { kind: "exec"; cmd: string; args: string[]; why: string }
  | { kind: "download"; url: string; to: string; mode: number; sha256?: string; why: string }
  | { kind: "write"; path: string; content: string; mode: number; why: string };

export interface CloudflaredInstallPlan {
  method: InstallMethod;
  /** absolute path of the binary afterwards: the unit's ExecStart uses it */
  binary: string;
  /** fetched (HEAD) by preflight to prove this path is reachable from the box */
  probeUrl: string;
  steps: InstallStep[];
}

/** A release pinned in wirebot's config or build: version and the sha256 of `cloudflared-linux-<arch>`. */
export interface PinnedRelease {
  version: string;
  sha256: Partial<Record<string, string>>;
}

export function parseOsRelease(text: string): OsRelease {
  const kv = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!;
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1).replace(/\\(["\\$`])/g, "$1");
    kv.set(m[1]!, v);
  }
  return {
    id: (kv.get("ID") ?? "linux").toLowerCase(),
    idLike: (kv.get("ID_LIKE") ?? "").toLowerCase().split(/\s+/).filter(Boolean),
    versionId: kv.get("VERSION_ID") ?? "",
    prettyName: kv.get("PRETTY_NAME") ?? kv.get("NAME") ?? "Linux",
  };
}

export function distroFamily(os: OsRelease): "debian" | "rhel" | null {
  const ids = [os.id, ...os.idLike];
  if (ids.some((i) => i === "debian" || i === "ubuntu")) return "debian";
  if (ids.some((i) => ["rhel", "fedora", "centos", "almalinux", "rocky"].includes(i))) return "rhel";
  return null;
}

/** `uname -m` → the arch suffix of cloudflared's release assets. */
export function releaseArch(machine: string): string | null {
  const m = machine.trim();
  return ({ x86_64: "amd64", amd64: "amd64", aarch64: "arm64", arm64: "arm64", armv7l: "arm", armv6l: "arm", i686: "386", i386: "386" } as Record<string, string>)[m] ?? null;
}

/** Methods worth trying on this OS, best first: the distro's package repository, then a pinned release. */
export function candidateMethods(os: OsRelease | null, pinned?: PinnedRelease): InstallMethod[] {
  const family = os ? distroFamily(os) : null;
  const out: InstallMethod[] = [];
  if (family === "debian") out.push("apt");
  if (family === "rhel") out.push("yum");
  if (pinned) out.push("release");
  return out;
}

export function planCloudflaredInstall(method: InstallMethod, opts: { arch?: string; pinned?: PinnedRelease } = {}): CloudflaredInstallPlan {
  if (method === "apt")
    return {
      method,
      binary: PACKAGE_BINARY,
      probeUrl: APT_KEY_URL,
      steps: [
        { kind: "exec", cmd: "mkdir", args: ["-p", "--mode=0755", "/usr/share/keyrings"], why: "keyring directory" },
        { kind: "download", url: APT_KEY_URL, to: APT_KEYRING, mode: 0o644, why: "Cloudflare's package signing key" },
        { kind: "write", path: APT_LIST, content: `${APT_SOURCE}\n`, mode: 0o644, why: "Cloudflare's apt repository, signed-by the key above only" },
        { kind: "exec", cmd: "apt-get", args: ["update"], why: "read the new repository" },
        { kind: "exec", cmd: "apt-get", args: ["install", "-y", "cloudflared"], why: "install cloudflared" },
      ],
    };
  if (method === "yum")
    return {
      method,
      binary: PACKAGE_BINARY,
      probeUrl: YUM_REPO_URL,
      steps: [
        { kind: "download", url: YUM_REPO_URL, to: YUM_REPO_FILE, mode: 0o644, why: "Cloudflare's yum repository definition" },
        { kind: "exec", cmd: "yum", args: ["install", "-y", "cloudflared"], why: "install cloudflared" },
      ],
    };
  const pinned = opts.pinned;
  const arch = opts.arch;
  if (!pinned || !arch) throw new Error("a release install needs a pinned release and the machine architecture");
  const sha256 = pinned.sha256[arch];
  if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`no sha256 pinned for cloudflared ${pinned.version} on ${arch}`);
  const url = releaseUrl(pinned.version, arch);
  return {
    method,
    binary: RELEASE_BINARY,
    probeUrl: url,
    steps: [{ kind: "download", url, to: RELEASE_BINARY, mode: 0o755, sha256, why: `cloudflared ${pinned.version} (${arch}), sha256-checked` }],
  };
}

/** "cloudflared version 2025.8.1 (built …)" → "2025.8.1". */
export function parseCloudflaredVersion(output: string): string | null {
  return /cloudflared version (\d+\.\d+\.\d+)/.exec(output)?.[1] ?? null;
}

export function versionAtLeast(v: string, min: string): boolean {
  const a = v.split(".").map(Number);
  const b = min.split(".").map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

export type CloudflaredPreflight =
  | { outcome: "already-installed"; version: string; binary: string }
  | { outcome: "install"; plan: CloudflaredInstallPlan; reason: string; os: string; tried: ErrorIssue[] };

/**
 * Decide how cloudflared reaches this box: keep a recent enough installed binary, else the first
 * install path whose source answers from here. Throws a PreflightError naming every path tried
 * when none is usable. Reads /etc/os-release and runs `cloudflared --version`, `uname -m` and
 * `curl -I` through the Host port; changes nothing.
 */
export async function preflightCloudflared(host: Host, opts: { pinned?: PinnedRelease } = {}): Promise<CloudflaredPreflight> {
  let reason = "cloudflared is not installed";
  for (const bin of [PACKAGE_BINARY, RELEASE_BINARY]) {
    const r = await host.exec(bin, ["--version"], { timeoutMs: 10_000 });
    const version = r.code === 0 ? parseCloudflaredVersion(r.stdout + r.stderr) : null;
    if (!version) continue;
    if (versionAtLeast(version, MIN_CLOUDFLARED_VERSION)) return { outcome: "already-installed", version, binary: bin };
    reason = `${bin} is ${version}, older than ${MIN_CLOUDFLARED_VERSION} (needed for --token-file)`;
  }

  const osText = await host.readFile("/etc/os-release");
  const os = osText ? parseOsRelease(osText.toString("utf8")) : null;
  const uname = await host.exec("uname", ["-m"]);
  const arch = uname.code === 0 ? releaseArch(uname.stdout) : null;
  const tried: ErrorIssue[] = [];
  const methods = candidateMethods(os, opts.pinned);
  if (os && !distroFamily(os)) tried.push({ path: "package repository", message: `${os.prettyName} is neither Debian/Ubuntu nor RHEL/Alma/Rocky/Fedora` });
  if (!opts.pinned) tried.push({ path: "pinned release", message: "no cloudflared release is pinned (version + sha256)" });

  for (const method of methods) {
    let plan: CloudflaredInstallPlan;
    try {
      plan = planCloudflaredInstall(method, { ...(arch ? { arch } : {}), ...(opts.pinned ? { pinned: opts.pinned } : {}) });
    } catch (e) {
      tried.push({ path: method, message: (e as Error).message });
      continue;
    }
    const probe = await host.exec("curl", ["-fsSIL", "--proto", "=https", "--max-time", "15", "-o", "/dev/null", plan.probeUrl], { timeoutMs: 20_000 });
    if (probe.code === 0) return { outcome: "install", plan, reason, os: os?.prettyName ?? "unknown Linux", tried };
    tried.push({
      path: method,
      message: probe.code === 127 ? "curl is not installed" : `${plan.probeUrl} is not reachable from this host (curl exit ${probe.code}: ${probe.stderr.trim().split("\n")[0] ?? ""})`,
    });
  }
  throw preflightError("cloudflared.install", `${reason}, and no way to install it is usable on ${os?.prettyName ?? "this host (no /etc/os-release)"}`, {
    issues: tried,
    hint: "install cloudflared ≥ " + MIN_CLOUDFLARED_VERSION + " yourself (see docs/tunnel.md), or allow HTTPS to pkg.cloudflare.com / github.com, then run 'wirebot install' again",
  });
}

/** sha256 (hex) of downloaded bytes, compared before anything is installed. */
export const sha256Hex = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/**
 * Carry out a plan through the Host port. Downloads land in a temp file next to the target and
 * reach their final path only after the checksum matched.
 */
export async function applyCloudflaredInstall(host: Host, plan: CloudflaredInstallPlan): Promise<void> {
  for (const step of plan.steps) {
    if (step.kind === "exec") {
      const r = await host.exec(step.cmd, step.args, { timeoutMs: 600_000, env: { ...host.env, DEBIAN_FRONTEND: "noninteractive" } });
      if (r.code !== 0)
        throw preflightError("cloudflared.install-step", `installing cloudflared failed at '${step.cmd} ${step.args.join(" ")}' (${step.why}): exit ${r.code}`, {
          issues: [{ path: step.cmd, message: r.stderr.trim().split("\n").slice(-3).join(" | ") }],
        });
    } else if (step.kind === "write") {
      await host.writeFileAtomic(step.path, step.content, { mode: step.mode, owner: { uid: 0, gid: 0 } });
    } else {
      const tmp = `${step.to}.wirebot-download`;
      const r = await host.exec("curl", ["-fsSL", "--proto", "=https", "--max-time", "300", "-o", host.resolve(tmp), step.url], { timeoutMs: 320_000 });
      const data = r.code === 0 ? await host.readFile(tmp) : null;
      await host.remove(tmp).catch(() => undefined);
      if (!data) throw preflightError("cloudflared.download", `could not download ${step.url} (curl exit ${r.code})`, { hint: "check HTTPS access from this host" });
      if (step.sha256 && sha256Hex(data) !== step.sha256)
        throw preflightError("cloudflared.checksum", `${step.url} does not match the pinned sha256 (got ${sha256Hex(data)})`, {
          hint: "nothing was installed; check the pinned version and checksum against Cloudflare's release page",
        });
      await host.writeFileAtomic(step.to, data, { mode: step.mode, owner: { uid: 0, gid: 0 } });
    }
  }
}
