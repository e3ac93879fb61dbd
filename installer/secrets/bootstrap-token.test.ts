/** The bootstrap token: systemd-creds on stdin (never argv), the plain 0600 fallback, and the run-time lookup order. */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import type { ExecOptions, ExecResult } from "../host/host.ts";
import { createNodeHost } from "../host/node-host.ts";
import { BWS_CRED_ENCRYPTED, BWS_CRED_PLAIN, readBootstrapToken, readTokenDirective, storeBootstrapToken } from "./bootstrap-token.ts";
import { tmpfsRoot } from "../../test/bitwarden-standin/fixtures.ts";

const TOKEN = "0.ec2c1d46-6a4b-4751-a310-af9601317f2d.C2IgxjjLF7qSshsbwe8JGcbM075YXw:X8vbvA0bduihIDe/qrzIQQ==";
let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ root, cleanup } = await tmpfsRoot()));
afterEach(async () => cleanup());

const mode = async (p: string) => ((await stat(path.join(root, p))).mode & 0o777).toString(8);
const exists = async (p: string) => (await stat(path.join(root, p)).catch(() => null)) !== null;

test("systemd-creds gets the token on stdin only; the .cred is 0600 and the plain copy is gone", async () => {
  const calls: { cmd: string; args: string[]; opts?: ExecOptions }[] = [];
  const host = createNodeHost({
    root,
    exec: async (cmd, args, opts): Promise<ExecResult> => {
      calls.push({ cmd, args, ...(opts ? { opts } : {}) });
      return { code: 0, stdout: "SEALED-BASE64\n", stderr: "" };
    },
  });
  await mkdir(path.join(root, "/etc/wirebot/credstore"), { recursive: true });
  await writeFile(path.join(root, BWS_CRED_PLAIN), "old");
  const r = await storeBootstrapToken(host, TOKEN, { encrypt: "always" });
  expect(r).toEqual({ outcome: "encrypted", path: BWS_CRED_ENCRYPTED, directive: `LoadCredentialEncrypted=bws-access-token:${BWS_CRED_ENCRYPTED}` });
  expect(calls).toHaveLength(1);
  expect(calls[0]!.cmd).toBe("systemd-creds");
  expect(calls[0]!.args).toEqual(["encrypt", "--name=bws-access-token", "-", "-"]);
  expect(calls[0]!.args.join(" ")).not.toContain("C2IgxjjLF7qSshsbwe8JGcbM075YXw");
  expect(calls[0]!.opts?.input).toBe(TOKEN);
  expect(await readFile(path.join(root, BWS_CRED_ENCRYPTED), "utf8")).toBe("SEALED-BASE64\n");
  expect(await mode(BWS_CRED_ENCRYPTED)).toBe("600");
  expect(await mode("/etc/wirebot/credstore")).toBe("700");
  expect(await exists(BWS_CRED_PLAIN)).toBe(false);
  expect(await readTokenDirective(host)).toBe(`LoadCredentialEncrypted=bws-access-token:${BWS_CRED_ENCRYPTED}`);
});

test("the real systemd-creds seals a credential that decrypts back to the token", async () => {
  const host = createNodeHost({ root });
  const probe = await host.exec("systemd-creds", ["--version"]);
  if (probe.code !== 0) return; // not every dev machine has systemd 250+
  const r = await storeBootstrapToken(host, TOKEN, { encrypt: "always" });
  expect(r.outcome).toBe("encrypted");
  const sealed = await readFile(path.join(root, BWS_CRED_ENCRYPTED), "utf8");
  expect(sealed).not.toContain("C2IgxjjLF7qSshsbwe8JGcbM075YXw");
  const back = await host.exec("systemd-creds", ["decrypt", "--name=bws-access-token", host.resolve(BWS_CRED_ENCRYPTED), "-"]);
  expect(back.code, back.stderr).toBe(0);
  expect(back.stdout).toBe(TOKEN);
});

test("without systemd-creds (or under --root) the token is a root 0600 file and any old .cred is removed", async () => {
  const host = createNodeHost({ root, exec: async () => ({ code: 127, stdout: "", stderr: "spawn systemd-creds ENOENT" }) });
  await mkdir(path.join(root, "/etc/wirebot/credstore"), { recursive: true });
  await writeFile(path.join(root, BWS_CRED_ENCRYPTED), "old");
  const r = await storeBootstrapToken(host, `  ${TOKEN}\n`, { encrypt: "always" });
  expect(r).toEqual({ outcome: "plain", path: BWS_CRED_PLAIN, directive: `LoadCredential=bws-access-token:${BWS_CRED_PLAIN}` });
  expect(await readFile(path.join(root, BWS_CRED_PLAIN), "utf8")).toBe(TOKEN);
  expect(await mode(BWS_CRED_PLAIN)).toBe("600");
  expect(await exists(BWS_CRED_ENCRYPTED)).toBe(false);
  // "auto" under a root other than "/" never calls systemd-creds
  let called = false;
  const rooted = createNodeHost({ root, exec: async () => ((called = true), { code: 0, stdout: "x", stderr: "" }) });
  expect((await storeBootstrapToken(rooted, TOKEN)).outcome).toBe("plain");
  expect(called).toBe(false);
});

test("a malformed token is refused without echoing it", async () => {
  const host = createNodeHost({ root });
  const err = await storeBootstrapToken(host, "0.nope.TopSecretPart:short").catch((e: Error) => e);
  expect(String(err)).toContain("not in the machine-account format");
  expect(String(err)).not.toContain("TopSecretPart");
});

test("run time: $CREDENTIALS_DIRECTORY first, then $BWS_ACCESS_TOKEN, else a config error", async () => {
  await mkdir(path.join(root, "/run/credentials/wirebot-secrets.service"), { recursive: true });
  await writeFile(path.join(root, "/run/credentials/wirebot-secrets.service/bws-access-token"), `${TOKEN}\n`);
  const other = TOKEN.replace("X8vbvA0bduihIDe/qrzIQQ==", "AAAAAAAAAAAAAAAAAAAAAA==");
  const both = createNodeHost({ root, env: { CREDENTIALS_DIRECTORY: "/run/credentials/wirebot-secrets.service", BWS_ACCESS_TOKEN: other } });
  expect(await readBootstrapToken(both)).toEqual({ token: TOKEN, source: "credentials" });
  expect(await readBootstrapToken(createNodeHost({ root, env: { BWS_ACCESS_TOKEN: other } }))).toEqual({ token: other, source: "env" });
  await expect(readBootstrapToken(createNodeHost({ root, env: {} }))).rejects.toMatchObject({ code: "secrets.no-token", kind: "config" });
});
