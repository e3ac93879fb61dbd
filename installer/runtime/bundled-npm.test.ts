/** bundledNpm finds /opt/wirebot/{node,npm} beside the package root, and nothing in a checkout. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, expect, test } from "vitest";
import { PACKAGE_ROOT } from "../assets.ts";
import { bundledNpm } from "./bundled-npm.ts";

let dir: string | undefined;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

test("the packaged layout: lib's siblings node/bin/node and npm/bin/npm-cli.js", () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "wirebot-npm-"));
  for (const f of ["node/bin/node", "npm/bin/npm-cli.js", "lib/package.json"]) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), "");
  }
  expect(bundledNpm(path.join(dir, "lib"))).toEqual({ node: path.join(dir, "node/bin/node"), cli: path.join(dir, "npm/bin/npm-cli.js") });
  rmSync(path.join(dir, "npm"), { recursive: true });
  expect(bundledNpm(path.join(dir, "lib"))).toBeNull();
});

test("a checkout has no bundled npm", () => {
  expect(bundledNpm(PACKAGE_ROOT)).toBeNull();
});
