/** --json: stdout is exactly one JSON document for every command that has it, failures included, and logs never reach stdout. */
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { sampleStandin } from "../test/litellm-standin/fixtures.ts";
import { PACKAGE_ROOT } from "./assets.ts";
import { captureIo } from "./io.ts";
import { main } from "./main.ts";
import { examplePath, removeDir, tempDir } from "./testing/harness.ts";

let root: string;
let work: string;

/** The real CLI entry with the real context; the process's own stdout/stderr are recorded too, where loggers write. */
async function cli(args: string[], env: Record<string, string> = {}) {
  const io = captureIo();
  const processOut: string[] = [];
  const processErr: string[] = [];
  const outSpy = vi.spyOn(process.stdout, "write").mockImplementation((c) => (processOut.push(String(c)), true));
  const errSpy = vi.spyOn(process.stderr, "write").mockImplementation((c) => (processErr.push(String(c)), true));
  try {
    const code = await main(args, { io, env });
    return { code, stdout: io.stdout.join("\n"), stderr: io.stderr.join("\n"), processOut: processOut.join(""), processErr: processErr.join("") };
  } finally {
    outSpy.mockRestore();
    errSpy.mockRestore();
  }
}

/** Parses stdout as one document (JSON.parse refuses a second one, or any text around it). */
function oneDocument(r: { stdout: string; processOut: string; code: number }) {
  expect(r.processOut).toBe("");
  const doc = JSON.parse(r.stdout) as { ok: boolean; error?: Record<string, unknown> };
  expect(typeof doc.ok).toBe("boolean");
  if (!doc.ok && doc.error) {
    expect(Object.keys(doc.error).sort()).toEqual(["code", "hint", "issues", "message"]);
    expect(Array.isArray(doc.error["issues"])).toBe(true);
  }
  return doc;
}

beforeAll(async () => {
  root = tempDir();
  work = tempDir("wirebot-json-");
  expect((await cli(["install", "--config", examplePath("three-users"), "--root", root, "--yes"])).code).toBe(0);
});
afterAll(() => {
  removeDir(root);
  removeDir(work);
});

describe("--json success: one document", () => {
  it.each([
    ["plan", () => ["plan", "--root", root, "--json"]],
    ["plan --exit-code", () => ["plan", "--config", examplePath("mixed"), "--root", root, "--json", "--exit-code"]],
    ["status", () => ["status", "--root", root, "--json"]],
    ["doctor", () => ["doctor", "--root", root, "--json"]],
    ["user list", () => ["user", "list", "--root", root, "--json"]],
    ["uninstall --dry-run", () => ["uninstall", "--root", root, "--dry-run", "--json"]],
  ])("%s", async (_name, args) => {
    const r = await cli(args());
    expect(r.code, r.stderr).not.toBe(70);
    const doc = oneDocument(r);
    expect(doc.error, r.stderr).toBeUndefined();
  });

  it("reconcile --once, then usage: each one document", async () => {
    const s = await sampleStandin({});
    try {
      const env = { LITELLM_MASTER_KEY: s.masterKey, WIREBOT_LITELLM__BASE_URL: s.url };
      const r = await cli(["reconcile", "--once", "--json", "--root", root, "--backfill-from", "2026-10-20"], env);
      expect(r.code, r.stderr).toBe(0);
      expect(oneDocument(r)).toMatchObject({ ok: true, outcome: expect.any(String) });
      // the meter's logger wrote its lines, and only to stderr
      expect(r.processErr).toMatch(/^wirebot-reconcile: reconcile cycle done/m);
      const u = await cli(["usage", "--root", root, "--json"]);
      expect(u.code, u.stderr).toBe(0);
      expect(oneDocument(u)).toMatchObject({ ok: true });
    } finally {
      await s.close();
    }
  });

  it("text a command prints besides its document goes to stderr, not into stdout", async () => {
    const r = await cli(["plan", "--config", examplePath("mixed"), "--root", root, "--json"]);
    expect(r.code).toBe(0);
    const doc = oneDocument(r) as { ok: boolean; changes: unknown[] };
    expect(doc.changes.length).toBeGreaterThan(0);
  });
});

describe("--json failure: one document with code, message, issues, hint", () => {
  it.each([
    ["a config error (78)", () => ["plan", "--config", path.join(work, "bad.yaml"), "--root", root, "--json"], 78, "config.invalid"],
    ["a directory as --config (64)", () => ["plan", "--config", work, "--root", root, "--json"], 64, "config.directory"],
    ["an unknown option (64)", () => ["plan", "--bogus", "--json"], 64, "usage.unknownOption"],
    ["an unknown command (64)", () => ["frobnicate", "--json"], 64, "usage.unknownCommand"],
    ["exclusive flags (64)", () => ["usage", "--root", root, "--json", "--csv"], 64, "usage.format"],
    ["reconcile --once --daemon (64)", () => ["reconcile", "--once", "--daemon", "--json", "--root", root], 64, "reconcile.flags"],
    ["usage without a ledger", () => ["usage", "--root", path.join(work, "empty-root"), "--json", "--config", examplePath("one-user")], null, "ledger.open"],
    ["channels status with a missing --config (64)", () => ["channels", "status", "--json", "--config", path.join(work, "nope.yaml")], 64, "config.missing"],
    ["status with no wirebot.yaml (78)", () => ["status", "--root", path.join(work, "empty-root"), "--json"], 78, "config.missing"],
  ])("%s", async (_name, args, exit: number | null, code) => {
    const { writeFileSync } = await import("node:fs");
    writeFileSync(path.join(work, "bad.yaml"), "domain: Not A Domain\nusers: []\n");
    mkdirSync(path.join(work, "empty-root"), { recursive: true });
    const r = await cli(args());
    if (exit === null) expect([0, 70], r.stderr).not.toContain(r.code);
    else expect(r.code, r.stderr).toBe(exit);
    const doc = oneDocument(r);
    expect(doc.ok).toBe(false);
    expect(doc.error?.["code"]).toBe(code);
    expect(String(doc.error?.["message"])).not.toBe("");
    // The human form still reaches stderr, for the operator watching.
    expect(r.stderr + r.processErr).toMatch(/error/);
  });

  it("a config error's issues carry their paths, as on stderr", async () => {
    const { writeFileSync } = await import("node:fs");
    const bad = path.join(work, "bad-users.yaml");
    writeFileSync(bad, "domain: example.org\nusers: [{ id: Root, name: X }]\n");
    const doc = oneDocument(await cli(["plan", "--config", bad, "--root", root, "--json"])) as { ok: false; error: { issues: { path: string; message: string }[]; hint: string } };
    expect(doc.error.issues).toContainEqual({ path: "users[0].id", message: expect.stringMatching(/^must match/) });
    expect(doc.error.hint).toContain(bad);
  });

  it("without --json, stdout stays empty on failure and the error is text on stderr", async () => {
    const r = await cli(["plan", "--bogus"]);
    expect(r.code).toBe(64);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/unknown option '--bogus'/);
  });
});

describe("the real process: reconcile --once --json against the LiteLLM stand-in", () => {
  const run = promisify(execFile);
  const entry = "const m = await import('./installer/main.ts'); await m.runMain(process.argv.slice(1));";

  it("stdout parses as one document; the log lines are on stderr: text on a terminal or pipe, JSON under systemd", async () => {
    const s = await sampleStandin({});
    try {
      // Each run its own ledger, so the two can run at once.
      const roots = [tempDir(), tempDir()];
      const spawnWith = (ledgerRoot: string, extra: Record<string, string>) =>
        run(process.execPath, ["--import", "tsx", "-e", entry, "reconcile", "--once", "--json", "--config", examplePath("one-user"), "--root", ledgerRoot, "--backfill-from", "2026-10-20"], {
          cwd: PACKAGE_ROOT,
          encoding: "utf8",
          env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", LITELLM_MASTER_KEY: s.masterKey, WIREBOT_LITELLM__BASE_URL: s.url, ...extra },
        });
      const [plain, journal] = await Promise.all([spawnWith(roots[0]!, {}), spawnWith(roots[1]!, { INVOCATION_ID: "0123456789abcdef0123456789abcdef" })]);
      roots.forEach(removeDir);
      for (const r of [plain, journal]) {
        const doc = JSON.parse(r.stdout) as { ok: boolean; outcome: string };
        expect(doc).toMatchObject({ ok: true, outcome: expect.any(String) });
        expect(r.stdout).not.toContain("wirebot-reconcile");
        expect(r.stdout + r.stderr).not.toContain(s.masterKey);
      }
      // Under systemd every log line is a pino record; elsewhere a short line led by the logger's name.
      const records = journal.stderr.trim().split("\n").map((l) => JSON.parse(l) as { name?: string; msg: string });
      expect(records.some((rec) => rec.name === "wirebot-reconcile" && rec.msg === "reconcile cycle done")).toBe(true);
      expect(plain.stderr).toMatch(/^wirebot-reconcile: reconcile cycle done outcome=\w+/m);
      expect(plain.stderr).not.toMatch(/^\{/m);
    } finally {
      await s.close();
    }
  }, 120_000);
});
