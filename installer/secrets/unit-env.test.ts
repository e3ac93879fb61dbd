/** readUnitEnv/requireUnitEnv on a temp root: the environment first, then only the asked names from the tmpfs file, and a clear error for each way it can be missing. */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createNodeHost } from "../host/node-host.ts";
import type { Host } from "../host/host.ts";
import { removeDir, tempDir } from "../testing/harness.ts";
import { renderEnvFile } from "./env-file.ts";
import { readUnitEnv, requireUnitEnv } from "./unit-env.ts";

const FILE = "/run/wirebot/reconcile.env";
// a value with every character the env-file quoting has to carry
const MASTER = `sk-master-"q"$HOME\`x\`\\z-Lp4Wq9`;
const TOKEN = "api-token-Hn3Kd8Rt2Vb5";

let root: string;
let host: Host;
beforeEach(() => {
  root = tempDir();
  host = createNodeHost({ root, env: {} });
});
afterEach(() => removeDir(root));

function pulled(entries: { name: string; value: string }[]) {
  mkdirSync(path.join(root, "run/wirebot"), { recursive: true, mode: 0o700 });
  writeFileSync(path.join(root, FILE), renderEnvFile(entries), { mode: 0o600 });
}

const req = (env: Record<string, string>, names = ["LITELLM_MASTER_KEY"]) => ({ file: FILE, names, env, unit: "wirebot-reconcile.service", command: "wirebot reconcile --once" });

describe("readUnitEnv", () => {
  it("takes only the asked names from the file, byte for byte, and keeps what the environment already has", async () => {
    pulled([
      { name: "WIREBOT_API_TOKEN", value: TOKEN },
      { name: "LITELLM_MASTER_KEY", value: MASTER },
      { name: "NODE_OPTIONS", value: "--require /tmp/evil.js" },
    ]);
    const r = await readUnitEnv(host, req({ WIREBOT_API_TOKEN: "from-the-shell" }, ["LITELLM_MASTER_KEY", "WIREBOT_API_TOKEN"]));
    expect(r.outcome).toBe("complete");
    expect(r.env).toEqual({ WIREBOT_API_TOKEN: "from-the-shell", LITELLM_MASTER_KEY: MASTER });
    expect(r.outcome === "complete" && r.fromFile).toEqual(["LITELLM_MASTER_KEY"]);
  });

  it("does not read the file at all when the environment has everything", async () => {
    const r = await readUnitEnv(host, req({ LITELLM_MASTER_KEY: "sk-exported" }));
    expect(r).toEqual({ outcome: "complete", env: { LITELLM_MASTER_KEY: "sk-exported" }, fromFile: [] });
  });

  it("a file this process may not read (EACCES) is the outcome not-root, not a stack trace", async () => {
    pulled([{ name: "LITELLM_MASTER_KEY", value: MASTER }]);
    // root reads any mode, so the refusal a non-root operator gets from /run/wirebot (0700) is made by the host
    const denied: Host = { ...host, readFile: async () => Promise.reject(Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" })) };
    expect(await readUnitEnv(denied, req({}))).toMatchObject({ outcome: "not-root", missing: ["LITELLM_MASTER_KEY"] });
  });
});

describe("requireUnitEnv", () => {
  it("no file: exit 69 naming the resolved path, secrets pull with this --root, and no value", async () => {
    const err = await requireUnitEnv(host, req({})).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 69, code: "secrets.not-pulled" });
    expect((err as Error).message).toBe(`LITELLM_MASTER_KEY is not set, and ${root}${FILE} does not exist: the secrets have not been pulled into tmpfs since boot`);
    expect((err as { hint: string }).hint).toBe(`run \`wirebot secrets pull --root ${root}\``);
  });

  it("on `/` the hint names both ways to pull: the command and the unit", async () => {
    const live = { ...host, root: "/", resolve: (p: string) => p, readFile: async () => null };
    const err = await requireUnitEnv(live, req({})).catch((e: unknown) => e);
    expect((err as { hint: string }).hint).toBe("run `sudo wirebot secrets pull`, or `sudo systemctl start wirebot-secrets.service` (it pulls them at boot)");
  });

  it("the file without the name: exit 78 saying to map it", async () => {
    pulled([{ name: "WIREBOT_API_TOKEN", value: TOKEN }]);
    const err = await requireUnitEnv(host, req({})).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 78, code: "secrets.env-missing" });
    expect((err as { hint: string }).hint).toMatch(/^map LITELLM_MASTER_KEY in secrets\.map of wirebot\.yaml/);
  });

  it("not readable: exit 78 telling the operator to use sudo (and the unit to map it), without any value", async () => {
    pulled([{ name: "LITELLM_MASTER_KEY", value: MASTER }]);
    chmodSync(path.join(root, FILE), 0o600);
    const denied: Host = { ...host, readFile: async () => Promise.reject(Object.assign(new Error("EACCES"), { code: "EACCES" })) };
    const err = await requireUnitEnv(denied, req({})).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 78, code: "secrets.env-needs-root" });
    expect((err as { hint: string }).hint).toContain("`sudo wirebot reconcile --once`");
    expect(JSON.stringify({ m: (err as Error).message, h: (err as { hint: string }).hint })).not.toContain("sk-master");
  });
});
