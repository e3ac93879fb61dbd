/** Preflight for `trust: sandboxed`: the container runtime and the sandbox image exist, or sandboxed users are a configuration error (78). */
import type { Config } from "../config/schema.ts";
import { userMode } from "../config/layout.ts";
import { configError, type ErrorIssue } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { isSandboxed } from "../render/sandbox.ts";

/** What the box has for sandboxes; read only when some user is sandboxed. */
export interface SandboxFacts {
  /** `podman --version` output, or null when podman is not on PATH */
  podman: string | null;
  /** podman's --init helper (openclaw creates every sandbox with --init) */
  initHelper: boolean;
  /** newuidmap and newgidmap: the rootless sandbox service maps its subordinate ids with them */
  uidmap: boolean;
  /** `podman image exists <sandbox.image>` in root's store; null when podman is missing */
  image: boolean | null;
}

// prettier-ignore
const INIT_HELPERS = ["/usr/libexec/podman/catatonit", "/usr/bin/catatonit", "/usr/lib/podman/catatonit", "/usr/bin/tini", "/usr/bin/dumb-init"];
const UIDMAP = ["/usr/bin/newuidmap", "/usr/bin/newgidmap"];
export const SANDBOX_PACKAGES = "podman runc catatonit uidmap";

export const sandboxedUserIndexes = (c: Config) => c.users.flatMap((u, i) => (isSandboxed(u) ? [i] : []));

/** Pure judgement; every problem names the sandboxed users it blocks and says what to do. */
export function judgeSandbox(c: Config, f: SandboxFacts | null): ErrorIssue[] {
  const idx = sandboxedUserIndexes(c);
  if (idx.length === 0) return [];
  const issues: ErrorIssue[] = [];
  const who = idx.map((i) => `'${c.users[i]!.id}'`).join(", ");
  // The sandbox service is shared by the agents of the shared gateway; a dedicated gateway's owner is `trusted`.
  for (const i of idx)
    if (userMode(c, c.users[i]!) === "dedicated")
      issues.push({ path: `users[${i}].trust`, message: "'sandboxed' is for users of the shared gateway; a dedicated gateway's owner is 'trusted' (its tools run as its own service user)" });
  if (!f) return issues;
  const path = `users[${idx[0]}].trust`;
  if (f.podman === null) {
    issues.push({ path, message: `user(s) ${who} are sandboxed but the container runtime is missing: podman is not on PATH (apt-get install ${SANDBOX_PACKAGES})` });
    return issues;
  }
  if (!f.initHelper) issues.push({ path, message: `podman's init helper is missing: sandboxes are created with --init (apt-get install catatonit)` });
  if (!f.uidmap) issues.push({ path, message: `newuidmap/newgidmap are missing: the rootless sandbox service needs them (apt-get install uidmap)` });
  if (f.image === false)
    issues.push({
      path: "sandbox.image",
      message: `the sandbox image ${c.sandbox.image} is not in podman's image store (podman image exists ${c.sandbox.image} failed): build it with scripts/sandbox-image.sh, see docs/trust.md "Sandbox image"`,
    });
  return issues;
}

export async function readSandboxFacts(host: Host, c: Config): Promise<SandboxFacts | null> {
  if (sandboxedUserIndexes(c).length === 0) return null;
  const exists = async (paths: string[]) => (await Promise.all(paths.map((p) => host.stat(p)))).map((s) => s !== null && s.kind !== "dir");
  const version = await host.exec("podman", ["--version"], { timeoutMs: 15_000 });
  const podman = version.code === 0 ? version.stdout.trim() : null;
  const initHelper = (await exists(INIT_HELPERS)).some(Boolean);
  const uidmap = (await exists(UIDMAP)).every(Boolean);
  let image: boolean | null = null;
  if (podman !== null) {
    // Root's own store, whatever CONTAINER_HOST the operator's shell has: the sandbox service loads the image from there.
    const env = { ...host.env, CONTAINER_HOST: undefined, CONTAINER_CONNECTION: undefined };
    image = (await host.exec("podman", ["image", "exists", c.sandbox.image], { env, timeoutMs: 30_000 })).code === 0;
  }
  return { podman, initHelper, uidmap, image };
}

/** Throws the configuration error (exit 78) listing every missing piece; a config without sandboxed users passes untouched. */
export async function assertSandboxReady(host: Host, c: Config): Promise<SandboxFacts | null> {
  const facts = await readSandboxFacts(host, c);
  const issues = judgeSandbox(c, facts);
  if (issues.length > 0)
    throw configError("sandbox.unavailable", `'trust: sandboxed' needs a container runtime and the sandbox image, and this host lacks them (${issues.length} problem(s))`, {
      issues,
      hint: `apt-get install ${SANDBOX_PACKAGES}; then scripts/sandbox-image.sh ${c.sandbox.image} (docs/trust.md, "Sandbox image"); or set those users to 'trust: restricted'. Nothing was changed`,
    });
  return facts;
}
