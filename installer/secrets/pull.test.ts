/** secrets pull end to end: real SDK over HTTP to the stand-in, the file backend, tmpfs rule, failure and cleanup. */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { secretsPullCommand } from "../commands/secrets.ts";
import { PATHS } from "../config/layout.ts";
import { createNodeHost } from "../host/node-host.ts";
import { captureIo } from "../io.ts";
import { createLogger } from "../log.ts";
import { parseEnvFile } from "./env-file.ts";
import { openBitwardenBackend, pickPerKey } from "./bitwarden.ts";
import { PULL_STATUS_PATH, readPullStatus } from "./pull.ts";
import { startStandin, type Standin } from "../../test/bitwarden-standin/server.ts";
import { deriveToken, traceLabel } from "../transparency/tokens.ts";
import { captureLog, CRED_DIR, diskRoot, FAST_RETRY, GENERATED_NAMES, KNOWN, seedToken, startSeededVault, testConfig, tmpfsRoot } from "../../test/bitwarden-standin/fixtures.ts";


const readEnv = async (root: string, p: string) => parseEnvFile(await readFile(path.join(root, p), "utf8"));
const exists = async (root: string, p: string) => (await stat(path.join(root, p)).catch(() => null)) !== null;
const ALL_FILES = [PATHS.gatewayEnv, `${PATHS.runUsersDir}/eli.env`, PATHS.reconcileEnv, PATHS.tunnelToken, PATHS.gatewayKeys];

describe("bitwarden backend (real SDK, stand-in server)", () => {
  let s: Standin;
  let root: string;
  let cleanup: () => Promise<void>;
  let token: string;

  beforeEach(async () => {
    vi.stubEnv("NO_PROXY", "127.0.0.1");
    ({ s, token, root, close: cleanup } = await startSeededVault());
  });
  afterEach(async () => {
    await s.close();
    await cleanup();
  });

  const config = () => testConfig({ backend: "bitwarden", organizationId: s.organizationId, projectId: s.projectId, serverUrl: s.url });
  const run = async (r = root, extra: { allowNonTmpfs?: boolean; env?: Record<string, string> } = {}) => {
    const io = captureIo();
    const log = captureLog();
    const host = createNodeHost({ root: r, env: { CREDENTIALS_DIRECTORY: CRED_DIR, ...extra.env } });
    const code = await secretsPullCommand({ root: r, ...(extra.allowNonTmpfs ? { allowNonTmpfs: true } : {}) }, config(), host, io, {
      retry: FAST_RETRY,
      logger: createLogger({ name: "test", level: "debug", destination: log.destination }),
    });
    return { code, io, log };
  };

  test("first pull: generates the missing secrets into the vault and writes each consumer only its variables, 0600 on tmpfs", async () => {
    const { code, io } = await run();
    expect(code, io.text()).toBe(0);

    const vault = new Map(s.plainSecrets().map((x) => [x.key, x]));
    for (const name of GENERATED_NAMES) expect(vault.get(name)?.projectId, name).toBe(s.projectId);
    const v = (name: string) => vault.get(name)!.value;

    const gw = await readEnv(root, PATHS.gatewayEnv);
    expect([...gw.keys()].sort()).toEqual(["BRAVE_API_KEY", "OPENCLAW_GATEWAY_TOKEN", "TELEGRAM_BOT_TOKEN", "WIREBOT_TRACE_TOKEN"]);
    expect(gw.get("OPENCLAW_GATEWAY_TOKEN")).toBe(v("wirebot/gateway-token"));
    // The shared gateway's agents' keys: one JSON object the runtime reads through a file SecretRef.
    const keys = JSON.parse(await readFile(path.join(root, PATHS.gatewayKeys), "utf8")) as Record<string, string>;
    expect(Object.keys(keys).sort()).toEqual(["LITELLM_KEY_DANA", "LITELLM_KEY_WIREBOT"]);
    expect(keys["LITELLM_KEY_WIREBOT"]).toMatch(/^sk-[A-Za-z0-9_-]{22}$/);
    expect(keys["LITELLM_KEY_DANA"]).toBe(v("wirebot/litellm-key/dana"));
    expect(gw.get("TELEGRAM_BOT_TOKEN")).toBe(KNOWN["wirebot/telegram-bot-token"]);
    expect(gw.get("BRAVE_API_KEY")).toBe(KNOWN["wirebot/brave-api-key"]); // quotes, $, ` and \ survive

    const eli = await readEnv(root, `${PATHS.runUsersDir}/eli.env`);
    expect([...eli.keys()].sort()).toEqual(["LITELLM_KEY_ELI", "OPENCLAW_GATEWAY_TOKEN", "TELEGRAM_BOT_TOKEN", "WIREBOT_TRACE_TOKEN"]);
    expect(eli.get("OPENCLAW_GATEWAY_TOKEN")).toBe(v("wirebot/gateway-token/eli"));
    expect(eli.get("OPENCLAW_GATEWAY_TOKEN")).not.toBe(gw.get("OPENCLAW_GATEWAY_TOKEN"));
    expect(eli.get("TELEGRAM_BOT_TOKEN")).toBe(KNOWN["wirebot/telegram-bot-token/eli"]);

    const rec = await readEnv(root, PATHS.reconcileEnv);
    expect([...rec.keys()].sort()).toEqual(["LITELLM_MASTER_KEY", "WIREBOT_API_TOKEN"]);
    expect(rec.get("WIREBOT_API_TOKEN")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // each gateway's trace token is derived from the API token, one per gateway, never the API token itself
    expect(gw.get("WIREBOT_TRACE_TOKEN")).toBe(deriveToken(rec.get("WIREBOT_API_TOKEN")!, traceLabel("shared")));
    expect(eli.get("WIREBOT_TRACE_TOKEN")).toBe(deriveToken(rec.get("WIREBOT_API_TOKEN")!, traceLabel("eli")));
    expect(await readFile(path.join(root, PATHS.tunnelToken), "utf8")).toBe(KNOWN["wirebot/tunnel-token/wirebot"]);

    for (const f of [...ALL_FILES, PATHS.secretsState]) expect(((await stat(path.join(root, f))).mode & 0o777).toString(8), f).toBe("600");
    for (const d of [PATHS.runDir, PATHS.runUsersDir]) expect(((await stat(path.join(root, d))).mode & 0o777).toString(8), d).toBe("700");
    // The test root has no wirebot user: the file stays root's, the directory root's and closed.
    expect(((await stat(path.join(root, PATHS.gatewayKeysDir))).mode & 0o777).toString(8)).toBe("700");
    expect(await readPullStatus(createNodeHost({ root }))).toMatchObject({ ok: true, backend: "bitwarden", generated: GENERATED_NAMES });
    expect(await exists(root, PATHS.pulledStamp)).toBe(true);
  });

  test("a reboot and a second host pull the same values and create nothing", async () => {
    expect((await run()).code).toBe(0);
    const first = await Promise.all(ALL_FILES.map((f) => readFile(path.join(root, f), "utf8")));
    const creates = () => s.requests.filter((r) => r.method === "POST" && r.path.endsWith("/secrets") && r.path.includes("/organizations/")).length;
    expect(creates()).toBe(GENERATED_NAMES.length);

    expect((await run()).code).toBe(0); // reboot: state file reused
    const second = await tmpfsRoot();
    try {
      await seedToken(second.root, token);
      expect((await run(second.root)).code).toBe(0); // another host: fresh login
      for (const r of [root, second.root]) {
        const again = await Promise.all(ALL_FILES.map((f) => readFile(path.join(r, f), "utf8")));
        expect(again).toEqual(first);
      }
    } finally {
      await second.cleanup();
    }
    expect(creates()).toBe(GENERATED_NAMES.length);
    expect(s.requests.filter((r) => r.path === "/identity/connect/token")).toHaveLength(2);
  });

  test("a missing mapped secret fails with 78 naming it, creates nothing, and removes the previous env files", async () => {
    expect((await run()).code).toBe(0);
    const bare = await startStandin({ organizationId: s.organizationId, projectId: s.projectId });
    const t = bare.addMachineAccount().text;
    for (const [k, v] of Object.entries(KNOWN)) if (k !== "wirebot/telegram-bot-token/eli") bare.addSecret(k, v);
    await seedToken(root, t);
    const io = captureIo();
    const host = createNodeHost({ root, env: { CREDENTIALS_DIRECTORY: CRED_DIR } });
    const code = await secretsPullCommand({}, testConfig({ backend: "bitwarden", organizationId: s.organizationId, projectId: s.projectId, serverUrl: bare.url }), host, io, { retry: FAST_RETRY });
    await bare.close();

    expect(code).toBe(78);
    expect(io.text()).toContain("'wirebot/telegram-bot-token/eli'");
    expect(io.text()).toContain("TELEGRAM_BOT_TOKEN");
    expect(bare.plainSecrets().map((x) => x.key)).not.toContain("wirebot/gateway-token");
    for (const f of [...ALL_FILES, PATHS.pulledStamp]) expect(await exists(root, f), f).toBe(false);
    const status = await readPullStatus(host);
    expect(status).toMatchObject({ ok: false, error: { code: "secrets.missing" } });
    expect(status?.error?.message).toContain("wirebot/telegram-bot-token/eli");
  });

  test("5xx answers are retried with backoff, then the pull succeeds", async () => {
    s.failNext(2, 503);
    const { code, io } = await run();
    expect(code, io.text()).toBe(0);
    expect(io.stderr.join("\n")).toMatch(/temporary failure \(secrets\.vault-unavailable\), retry 1\/2/);
  });

  test("an unreachable vault ends in 75 after the retries, with nothing left to start on", async () => {
    expect((await run()).code).toBe(0);
    await s.close();
    const { code, io } = await run();
    expect(code).toBe(75);
    expect(io.text()).toMatch(/error\[secrets\.vault-unreachable\]/);
    for (const f of ALL_FILES) expect(await exists(root, f), f).toBe(false);
    expect(await readPullStatus(createNodeHost({ root }))).toMatchObject({ ok: false, error: { code: "secrets.vault-unreachable" } });
    s = await startStandin(); // afterEach closes it
  });

  test("a session the server revoked is replaced by a fresh login instead of failing on 401", async () => {
    expect((await run()).code).toBe(0);
    s.revokeSessions();
    const { code, io } = await run();
    expect(code, io.text()).toBe(0);
    expect(s.requests.filter((r) => r.path === "/identity/connect/token")).toHaveLength(2);
  });

  test("a rejected access token is a configuration error (78)", async () => {
    await seedToken(root, token.replace(/\.([^.:]+):/, ".NotTheRealSecret000:"));
    const { code, io } = await run();
    expect(code).toBe(78);
    expect(io.text()).toContain("secrets.token-rejected");
  });

  test("no token anywhere is 78; $BWS_ACCESS_TOKEN serves a manual run", async () => {
    const io = captureIo();
    const bare = createNodeHost({ root, env: {} });
    expect(await secretsPullCommand({}, config(), bare, io, { retry: FAST_RETRY })).toBe(78);
    expect(io.text()).toContain("secrets.no-token");
    expect((await run(root, { env: { CREDENTIALS_DIRECTORY: "/nonexistent", BWS_ACCESS_TOKEN: token } })).code).toBe(0);
  });

  test("a root that is not tmpfs is refused (73) before anything is written", async () => {
    const disk = await diskRoot();
    try {
      await seedToken(disk.root, token);
      const { code, io } = await run(disk.root);
      expect(code).toBe(73);
      expect(io.text()).toMatch(/refusing to write secrets to .* \((ext4|xfs|btrfs|overlay)/);
      expect(await exists(disk.root, PATHS.runDir)).toBe(false);
      expect(s.requests).toHaveLength(0);

      const dev = await run(disk.root, { allowNonTmpfs: true });
      expect(dev.code).toBe(0);
      expect(dev.io.stderr.join("\n")).toContain("WARNING: --allow-non-tmpfs is for DEVELOPMENT ONLY");
    } finally {
      await disk.cleanup();
    }
  });

  test("env files of users no longer in the config and leftover temp files are removed", async () => {
    await mkdir(path.join(root, PATHS.runUsersDir), { recursive: true });
    await writeFile(path.join(root, PATHS.runUsersDir, "gone.env"), "OPENCLAW_GATEWAY_TOKEN=old\n");
    await writeFile(path.join(root, PATHS.runDir, ".gateway.env.wirebot-1-2.tmp"), "half");
    expect((await run()).code).toBe(0);
    expect(await exists(root, `${PATHS.runUsersDir}/gone.env`)).toBe(false);
    expect(await exists(root, `${PATHS.runDir}/.gateway.env.wirebot-1-2.tmp`)).toBe(false);
  });

  test("a value with a line break is refused (78) by name, not by value", async () => {
    s.addSecret("wirebot/brave-api-key", "line1\nline2", { creationDate: "2000-01-01T00:00:00.000Z" });
    const { code, io } = await run();
    expect(code).toBe(78);
    expect(io.text()).toContain("'wirebot/brave-api-key'");
    expect(io.text()).not.toContain("line1");
    expect(await exists(root, PATHS.gatewayEnv)).toBe(false);
  });
});

describe("bitwarden backend update (real SDK, stand-in server)", () => {
  test("replaces the value of the secret get picked, keeps its note and project, and needs write access", async () => {
    const v = await startSeededVault();
    try {
      const name = "wirebot/tunnel-token/wirebot";
      // two secrets with one key: get reads the oldest, so update must change that one and no other
      const picked = v.s.addSecret(name, "OLD-token-value", { note: "set by hand", creationDate: "2026-01-01T00:00:00.000Z" });
      const other = v.s.addSecret(name, "NEWER-duplicate-value", { creationDate: "2026-02-01T00:00:00.000Z" });
      const settings = testConfig({ backend: "bitwarden", organizationId: v.s.organizationId, projectId: v.s.projectId, serverUrl: v.s.url }).secrets.bitwarden!;
      await mkdir(path.join(v.root, PATHS.runDir), { recursive: true }); // the SDK state file's tmpfs dir, made by a pull
      const host = createNodeHost({ root: v.root });
      const backend = await openBitwardenBackend({ host, settings, token: v.token });
      await backend.update(name, "NEW-token-value");
      expect((await backend.get([name])).get(name)).toBe("NEW-token-value");
      const byId = new Map(v.s.plainSecrets().map((x) => [x.id, x]));
      expect(byId.get(picked)).toMatchObject({ value: "NEW-token-value", note: "set by hand", projectId: v.s.projectId });
      expect(byId.get(other)?.value).toBe("NEWER-duplicate-value");
      expect(v.s.requests.filter((r) => r.method === "PUT").map((r) => r.path)).toEqual([`/api/secrets/${picked}`]);
      await backend.close?.();

      // a read-only machine account gets the fix, and the vault keeps its value
      const readOnly = v.s.addMachineAccount({ read: [v.s.projectId], write: [] }).text;
      const ro = await openBitwardenBackend({ host: createNodeHost({ root: v.root }), settings, token: readOnly });
      await expect(ro.update(name, "REFUSED-token-value")).rejects.toMatchObject({ code: "secrets.no-write-access" });
      expect(v.s.plainSecrets().find((x) => x.id === picked)?.value).toBe("NEW-token-value");
      await ro.close?.();
    } finally {
      await v.close();
    }
  });
});

describe("pickPerKey", () => {
  test("duplicates resolve alike on every host: configured project first, then the oldest", () => {
    const p = "p1";
    const picked = pickPerKey(
      [
        { id: "c", key: "k", value: "newer", projectId: p, creationDate: "2026-02-01T00:00:00Z" },
        { id: "b", key: "k", value: "older", projectId: p, creationDate: "2026-01-01T00:00:00Z" },
        { id: "a", key: "k", value: "other-project", projectId: "p2", creationDate: "2025-01-01T00:00:00Z" },
      ],
      p,
    );
    expect(picked.get("k")?.value).toBe("older");
  });
});

describe("file backend (development only)", () => {
  let root: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ root, cleanup } = await tmpfsRoot()));
  afterEach(async () => cleanup());

  test("is labelled loudly, writes generated values back into the YAML file, and a second pull matches", async () => {
    const file = "/etc/wirebot/dev-secrets.yaml";
    await mkdir(path.join(root, "/etc/wirebot"), { recursive: true });
    await writeFile(path.join(root, file), "# dev\n" + Object.entries(KNOWN).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join("\n") + "\n", { mode: 0o600 });
    const host = createNodeHost({ root, env: {} });
    const io = captureIo();
    expect(await secretsPullCommand({}, testConfig({ backend: "file", filePath: file }), host, io, { retry: FAST_RETRY }), io.text()).toBe(0);
    expect(io.stderr.join("\n")).toContain("WARNING: secrets backend 'file' is for DEVELOPMENT ONLY");

    const text = await readFile(path.join(root, file), "utf8");
    expect(text.startsWith("# dev\n")).toBe(true);
    for (const n of GENERATED_NAMES) expect(text).toContain(n);
    expect(((await stat(path.join(root, file))).mode & 0o777).toString(8)).toBe("600");

    const before = await readFile(path.join(root, PATHS.gatewayEnv), "utf8");
    expect(await secretsPullCommand({}, testConfig({ backend: "file", filePath: file }), host, captureIo(), { retry: FAST_RETRY })).toBe(0);
    expect(await readFile(path.join(root, PATHS.gatewayEnv), "utf8")).toBe(before);
    expect(await readFile(path.join(root, file), "utf8")).toBe(text);
    expect(await exists(root, PULL_STATUS_PATH)).toBe(true);
  });
});
