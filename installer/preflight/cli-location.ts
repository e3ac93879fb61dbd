/** Preflight: the units run wirebot from where it ran now, so it must not live where their sandbox hides it (issue 14 point 4). */
import { preflightError, type ErrorIssue } from "../errors.ts";
import type { Io } from "../io.ts";
import type { WirebotCommand } from "../config/units.ts";

/** What the hardened units (render/unit-policy.ts COMMON) cannot see, and the setting that hides it. */
// prettier-ignore
const HIDDEN: ReadonlyArray<{ tree: string; by: string }> = [
  { tree: "/root",     by: "ProtectHome=yes" },
  { tree: "/home",     by: "ProtectHome=yes" },
  { tree: "/run/user", by: "ProtectHome=yes" },
  { tree: "/tmp",      by: "PrivateTmp=yes" },
  { tree: "/var/tmp",  by: "PrivateTmp=yes" },
];

const FIX =
  "install the wirebot package (`sudo apt install ./wirebot_<version>_amd64.deb`: the CLI and its own Node under /opt/wirebot, which the units run), then run `sudo wirebot …`; for development, a global npm install with a system Node (`npm pack`, then `npm install -g ./wirebot-<version>.tgz` under /usr/lib or /usr/local/lib) is accepted too";

const SHORT_FIX = {
  node: "run the packaged wirebot (/usr/bin/wirebot → /opt/wirebot), or a system Node under /usr, not one under a home directory such as nvm's",
  entry: "run the packaged wirebot (/opt/wirebot/lib), or a global npm install under /usr/lib/node_modules or /usr/local/lib/node_modules",
} as const;

const hiddenBy = (p: string) => HIDDEN.find((h) => p === h.tree || p.startsWith(`${h.tree}/`));

/** Pure judgement of the paths the rendered ExecStart= lines will carry. */
export function judgeCliLocation(cmd: Pick<WirebotCommand, "node" | "entry">): ErrorIssue[] {
  const issues: ErrorIssue[] = [];
  for (const [what, p] of [["node", cmd.node], ["entry", cmd.entry]] as const) {
    const h = hiddenBy(p);
    if (h) issues.push({ path: `wirebot ${what}`, message: `${p} is under ${h.tree}, which wirebot-secrets.service and wirebot-reconcile.service cannot see (${h.by}), so their ExecStart= would fail: ${SHORT_FIX[what]}` });
  }
  return issues;
}

/**
 * On a live host a hidden CLI is refused (69) before anything is written; under --root (rendering an
 * image, or a test) the tree may be booted elsewhere, so it is a warning.
 */
export function checkCliLocation(cmd: Pick<WirebotCommand, "node" | "entry">, live: boolean, io: Io): void {
  const issues = judgeCliLocation(cmd);
  if (issues.length === 0) return;
  if (live)
    throw preflightError("preflight.cli-location", "the units would run wirebot from where it runs now, which their sandbox hides", {
      issues,
      hint: `${FIX}; nothing was changed`,
    });
  io.err("! warning: the rendered units run wirebot from a place their sandbox hides; a host booted from this tree cannot start them:");
  for (const i of issues) io.err(`  - ${i.message}`);
  io.err(`  fix: ${FIX}`);
}
