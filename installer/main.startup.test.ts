/** What each command loads: --version and --help load no command module and no heavy package; plan/apply under --root none of the live ones. */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "./assets.ts";
import { DEFAULT_WAIT_SECONDS } from "./pipeline/lock.ts";
import { HELP_DEFAULT_WAIT_SECONDS } from "./main.ts";
import { examplePath, removeDir, tempDir } from "./testing/harness.ts";

// Every module the ESM loader loads (the hook runs in the loader's thread and appends each URL to a file), and at
// exit every CommonJS module in require.cache: together, everything the process loaded.
const HOOKS = `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  appendFileSync(process.env.WIREBOT_TRACE_OUT, url + "\\n");
  return next(url, context);
}
`;
const REGISTER = `import { register, createRequire } from "node:module";
import { appendFileSync } from "node:fs";
register(new URL("./hooks.mjs", import.meta.url));
const cache = createRequire(import.meta.url).cache;
process.on("exit", () => appendFileSync(process.env.WIREBOT_TRACE_OUT, Object.keys(cache).map((f) => "file://" + f).join("\\n") + "\\n"));
`;

/** Packages no command may load unless it uses them: the Cloudflare and Bitwarden SDKs, SQLite, the prompts, the HTTP client, the logger, cron. */
const LIVE_ONLY = ["cloudflare", "@bitwarden/sdk-napi", "better-sqlite3", "@inquirer/prompts", "@inquirer/core", "undici", "pino", "node-cron"];

let dir: string;
let root: string;
beforeAll(() => {
  dir = tempDir("wirebot-trace-");
  root = tempDir();
  writeFileSync(path.join(dir, "hooks.mjs"), HOOKS);
  writeFileSync(path.join(dir, "register.mjs"), REGISTER);
});
afterAll(() => {
  removeDir(dir);
  removeDir(root);
});

interface Traced {
  code: number | null;
  stdout: string;
  stderr: string;
  /** npm packages loaded, by name */
  packages: Set<string>;
  /** modules of this project loaded, relative to the package root */
  own: Set<string>;
}

let traces = 0;
/** The CLI from source as the wizard's pty test runs it (tsx), under the trace hook. */
function traced(args: string[]): Promise<Traced> {
  const out = path.join(dir, `trace-${traces++}.txt`);
  writeFileSync(out, "");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--import", path.join(dir, "register.mjs"), "-e", "import('./installer/main.ts').then((m) => m.runMain(process.argv.slice(1)))", "--", ...args],
    { cwd: PACKAGE_ROOT, env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: dir, WIREBOT_TRACE_OUT: out }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      const urls = readFileSync(out, "utf8").split("\n").filter(Boolean);
      const packages = new Set<string>();
      const own = new Set<string>();
      for (const u of urls) {
        // the package is the one after the last node_modules/ (a dependency's own dependency counts as itself)
        const inPackage = /.*node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1];
        if (inPackage) packages.add(inPackage);
        else if (u.startsWith(`file://${PACKAGE_ROOT}/`)) own.add(u.slice(`file://${PACKAGE_ROOT}/`.length).replace(/\?.*$/, ""));
      }
      resolve({ code, stdout, stderr, packages, own });
    });
  });
}

const loadedOf = (t: Traced, names: readonly string[]) => names.filter((n) => t.packages.has(n));

describe("start-up loads only what the command runs", () => {
  it("--help's text names lock.ts's default wait, which main.ts keeps a copy of so as not to load the config schema", () => {
    expect(HELP_DEFAULT_WAIT_SECONDS).toBe(DEFAULT_WAIT_SECONDS);
  });

  it("--version and --help: commander, the error type and the console, no command module, no config schema, no heavy package", async () => {
    const [version, help] = await Promise.all([traced(["--version"]), traced(["--help"])]);
    const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string };
    expect(version.code).toBe(0);
    expect(version.stdout).toBe(`${pkg.version}\n`);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: wirebot/);
    for (const t of [version, help]) {
      // the trace works: it saw the CLI's own entry and commander
      expect(t.own).toContain("installer/main.ts");
      expect(t.packages).toContain("commander");
      expect(loadedOf(t, [...LIVE_ONLY, "zod", "yaml"])).toEqual([]);
      expect([...t.own].filter((f) => f.startsWith("installer/commands/") || f.startsWith("installer/config/") || f.startsWith("installer/lifecycle/"))).toEqual([]);
    }
  });

  it("install, plan and apply under --root: the config is parsed (zod, yaml), nothing live is loaded", async () => {
    const install = await traced(["install", "--config", examplePath("one-user"), "--root", root, "--yes"]);
    expect(install.code, install.stderr).toBe(0);
    const [plan, apply] = await Promise.all([traced(["plan", "--root", root, "--exit-code"]), traced(["apply", "--root", root, "--yes"])]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toBe("Nothing to do.\n");
    for (const t of [install, plan, apply]) {
      expect(t.packages).toContain("zod");
      expect(t.packages).toContain("yaml");
      expect(loadedOf(t, LIVE_ONLY)).toEqual([]);
      // the live steps (tunnel, secrets pull, LiteLLM keys) and the wizard's prompts stay unloaded
      expect([...t.own].filter((f) => /^installer\/(commands\/integrations|tunnel\/cloudflare|secrets\/bitwarden|meter\/|wizard\/prompter)/.test(f))).toEqual([]);
    }
  });
});
