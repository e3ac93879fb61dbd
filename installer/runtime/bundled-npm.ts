/** The npm the .deb ships beside wirebot (/opt/wirebot/npm, run by /opt/wirebot/node): a bare box has no other. */
import { existsSync } from "node:fs";
import path from "node:path";
import { PACKAGE_ROOT } from "../assets.ts";

export interface BundledNpm {
  node: string;
  cli: string;
}

/**
 * The packaged layout is /opt/wirebot/{lib,node,npm}: lib is wirebot's package root. Outside the package
 * (a checkout, an npm -g install) there is none, and the system's npm is used. These are wirebot's own
 * program files, like its templates, so they are looked up where this code runs, not under --root.
 */
export function bundledNpm(packageRoot = PACKAGE_ROOT): BundledNpm | null {
  const base = path.dirname(packageRoot);
  const npm = { node: path.join(base, "node/bin/node"), cli: path.join(base, "npm/bin/npm-cli.js") };
  return existsSync(npm.cli) && existsSync(npm.node) ? npm : null;
}
