/** No secret value escapes: output, logs, errors, status, child argv, the wrong env file, or the SDK's own stderr. */
import { execFile } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { secretsPullCommand } from "../commands/secrets.ts";
import { PATHS, resolveLayout } from "../config/layout.ts";
import { planSecrets } from "../config/secret-plan.ts";
import type { Config } from "../config/schema.ts";
import type { ExecOptions } from "../host/host.ts";
import { createNodeHost } from "../host/node-host.ts";
import { captureIo } from "../io.ts";
import { createLogger } from "../log.ts";
import { startStandin, type Standin } from "../../test/bitwarden-standin/server.ts";
import { captureLog, CRED_DIR, diskRoot, FAST_RETRY, KNOWN, startSeededVault, testConfig, tmpfsRoot } from "../../test/bitwarden-standin/fixtures.ts";
import { tokenParts } from "./backend.ts";


/** Everything a run could leak through, gathered as text. */
interface Observed {
  io: string;
  log: string;
  status: string;
  argv: string[];
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

function assertClean(what: string, obs: Observed, secrets: readonly string[]) {
  for (const s of secrets) {
    expect(obs.io, `${what}: io`).not.toContain(s);
    expect(obs.log, `${what}: log`).not.toContain(s);
    expect(obs.status, `${what}: status`).not.toContain(s);
    for (const a of obs.argv) expect(a, `${what}: argv`).not.toContain(s);
  }
}

/** Each value lands only in the files planned to carry it; nothing under /run/wirebot besides them holds one. */
async function assertPlacement(root: string, config: Config, vault: Map<string, string>) {
  const plan = planSecrets(config, resolveLayout(config));
  const allowed = new Map<string, Set<string>>();
  for (const f of plan.envFiles) allowed.set(f.path, new Set(f.vars.map((v) => vault.get(v.vaultName)!)));
  if (plan.tunnelToken) allowed.set(plan.tunnelToken.path, new Set([vault.get(plan.tunnelToken.vaultName)!]));
  const stateFile = path.join(root, PATHS.secretsState);
  for (const file of await walk(path.join(root, PATHS.runDir))) {
    if (file === stateFile) continue; // EncString under the access-token key
    const text = await readFile(file, "utf8");
    const ok = allowed.get("/" + path.relative(root, file)) ?? new Set<string>();
    for (const v of vault.values()) if (!ok.has(v)) expect(text, `${file} must not hold the value of another consumer`).not.toContain(v);
  }
}

describe("bitwarden and file backends", () => {
  let s: Standin;
  let root: string;
  let cleanup: () => Promise<void>;
  let token: string;
  let secrets: string[];

  beforeEach(async () => {
    vi.stubEnv("NO_PROXY", "127.0.0.1");
    ({ s, token, root, close: cleanup } = await startSeededVault());
    secrets = [...Object.values(KNOWN), ...tokenParts(token)];
  });
  afterEach(async () => {
    await s.close();
    await cleanup();
  });

  async function run(config: Config, r = root, env: Record<string, string> = { CREDENTIALS_DIRECTORY: CRED_DIR }): Promise<Observed & { code: number }> {
    const io = captureIo();
    const log = captureLog();
    const argv: string[] = [];
    const base = createNodeHost({ root: r, env });
    const host = createNodeHost({
      root: r,
      env,
      exec: async (cmd: string, args: string[], opts?: ExecOptions) => {
        argv.push([cmd, ...args].join(" "));
        return base.exec(cmd, args, opts);
      },
    });
    const code = await secretsPullCommand({}, config, host, io, { retry: FAST_RETRY, logger: createLogger({ name: "t", level: "trace", destination: log.destination }) });
    const status = await readFile(path.join(r, "/run/wirebot/pull-status.json"), "utf8").catch(() => "");
    return { code, io: io.text(), log: log.lines.join(""), status, argv };
  }

  const bw = (serverUrl = s.url) => testConfig({ backend: "bitwarden", organizationId: s.organizationId, projectId: s.projectId, serverUrl });

  test("success and every failure path stay clean", async () => {
    const ok = await run(bw());
    expect(ok.code).toBe(0);
    const vault = new Map(s.plainSecrets().map((x) => [x.key, x.value]));
    const all = [...secrets, ...vault.values()];
    assertClean("success", ok, all);
    await assertPlacement(root, bw(), vault);

    s.failNext(5, 502); // retries exhausted
    const flaky = await run(bw());
    expect(flaky.code).toBe(75);
    assertClean("5xx", flaky, all);

    const missingCfg = testConfig({ backend: "bitwarden", organizationId: s.organizationId, projectId: s.projectId, serverUrl: s.url });
    missingCfg.secrets.map["EXTRA_THING"] = "wirebot/not-in-vault";
    const missing = await run(missingCfg);
    expect(missing.code).toBe(78);
    expect(missing.io).toContain("wirebot/not-in-vault");
    assertClean("missing", missing, all);

    const wrong = token.replace(/\.([^.:]+):/, ".WrongClientSecret1234:");
    await writeFile(path.join(root, CRED_DIR, "bws-access-token"), wrong);
    // The state file is sealed by the key part alone, which this token shares: without removing it the SDK
    // would reuse the stored session and never show the server the wrong secret.
    await rm(path.join(root, PATHS.secretsState));
    const rejected = await run(bw());
    expect(rejected.code).toBe(78);
    assertClean("wrong token", rejected, [...all, wrong, "WrongClientSecret1234"]);

    const malformed = "0.not-a-uuid.SuperSecretMalformed:AAAA";
    await writeFile(path.join(root, CRED_DIR, "bws-access-token"), malformed);
    const bad = await run(bw());
    expect(bad.code).toBe(78);
    assertClean("malformed token", bad, [...all, "SuperSecretMalformed"]);

    await writeFile(path.join(root, CRED_DIR, "bws-access-token"), token);
    const down = await run(bw("http://127.0.0.1:9"));
    expect(down.code).toBe(75);
    assertClean("unreachable", down, all);

    const disk = await diskRoot();
    try {
      const refused = await run(bw(), disk.root, { BWS_ACCESS_TOKEN: token });
      expect(refused.code).toBe(73);
      assertClean("not tmpfs", refused, all);
    } finally {
      await disk.cleanup();
    }
  });

  test("file backend: success and a broken file stay clean", async () => {
    const file = "/etc/wirebot/dev-secrets.yaml";
    await mkdir(path.join(root, "/etc/wirebot"), { recursive: true });
    const yaml = Object.entries(KNOWN).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join("\n") + "\n";
    await writeFile(path.join(root, file), yaml);
    const cfg = testConfig({ backend: "file", filePath: file });
    const ok = await run(cfg);
    expect(ok.code).toBe(0);
    const { parse } = await import("yaml");
    const vault = new Map(Object.entries(parse(await readFile(path.join(root, file), "utf8")) as Record<string, string>));
    const all = [...vault.values()];
    assertClean("file success", ok, all);
    await assertPlacement(root, cfg, vault);

    // A YAML error message would normally quote the offending line, value included.
    await writeFile(path.join(root, file), `${yaml}"wirebot/broken": "UnterminatedSecretValue42\n  : [\n`);
    const broken = await run(cfg);
    expect(broken.code).toBe(78);
    assertClean("file broken", broken, [...all, "UnterminatedSecretValue42"]);
  });
});

test("a separate process with RUST_LOG asking for SDK debug output prints no secret (stdout, stderr, argv)", async () => {
  const s = await startStandin();
  const { root, cleanup } = await tmpfsRoot();
  try {
    for (const [k, v] of Object.entries(KNOWN)) s.addSecret(k, v);
    const tok = s.addMachineAccount();
    const config = testConfig({ backend: "bitwarden", organizationId: s.organizationId, projectId: s.projectId, serverUrl: s.url });
    const args = ["--import", "tsx", path.resolve("test/bitwarden-standin/pull-child.ts")];
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        process.execPath,
        args,
        {
          env: {
            ...process.env,
            NO_PROXY: "127.0.0.1",
            // Module directives survive the level the SDK is given: this alone made the SDK print client_secret.
            RUST_LOG: "debug,bitwarden_core=debug,bitwarden=debug",
            WIREBOT_LOG_LEVEL: "trace",
            BWS_ACCESS_TOKEN: tok.text,
            WB_TEST_ROOT: root,
            WB_TEST_CONFIG: JSON.stringify(config),
          },
        },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr }),
      );
    });
    expect(result.code, result.out).toBe(0);
    const values = [...s.plainSecrets().map((x) => x.value), tok.text, tok.clientSecret, tok.key16.toString("base64")];
    for (const v of values) {
      expect(result.out).not.toContain(v);
      for (const a of args) expect(a).not.toContain(v);
    }
  } finally {
    await s.close();
    await cleanup();
  }
});
