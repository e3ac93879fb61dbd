/** The one persistent secret: the Bitwarden machine-account access token, kept by systemd-creds or as a root 0600 file. */
import path from "node:path";
import { PATHS } from "../config/layout.ts";
import { configError, writeError } from "../errors.ts";
import type { Host } from "../host/host.ts";

export const BWS_CREDENTIAL = "bws-access-token";
export const BWS_CRED_ENCRYPTED = `${PATHS.credstore}/${BWS_CREDENTIAL}.cred`;
export const BWS_CRED_PLAIN = `${PATHS.credstore}/${BWS_CREDENTIAL}`;

// Bitwarden's format (sdk crates/bitwarden-core/src/auth/access_token.rs): 0.<uuid>.<client secret>:<base64 16 bytes>.
const TOKEN_RE = /^0\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\.[^.:\s]+:([A-Za-z0-9+/]+={0,2})$/;

/** Throws a ConfigError that describes the problem without echoing any part of the token. */
export function assertAccessToken(token: string, source: string): void {
  const m = TOKEN_RE.exec(token);
  if (!m || Buffer.from(m[1]!, "base64").length !== 16) {
    throw configError("secrets.token-format", `the Bitwarden access token from ${source} is not in the machine-account format 0.<id>.<secret>:<key>`, {
      hint: "copy the access token of the machine account again (Bitwarden Secrets Manager → Machine accounts → Access tokens) and store it with `wirebot install`",
    });
  }
}

export interface StoredToken {
  outcome: "encrypted" | "plain";
  path: string;
  /** The line wirebot-secrets.service needs to receive the token as $CREDENTIALS_DIRECTORY/bws-access-token. */
  directive: string;
}

const directiveFor = (outcome: StoredToken["outcome"]): string =>
  outcome === "encrypted" ? `LoadCredentialEncrypted=${BWS_CREDENTIAL}:${BWS_CRED_ENCRYPTED}` : `LoadCredential=${BWS_CREDENTIAL}:${BWS_CRED_PLAIN}`;

/**
 * Stores the token with `systemd-creds encrypt` (host key, and the TPM when there is one), else as a root 0600 file.
 * The token goes to systemd-creds on stdin and comes back on stdout, so it is never on a command line and the
 * .cred file is created 0600 by us rather than under systemd-creds' umask. `encrypt: "auto"` encrypts only for
 * root "/": under --root the real host's key would seal a credential the target machine cannot open.
 * Exactly one of the two files remains afterwards, so a stale plain copy never outlives an encrypted one.
 */
export async function storeBootstrapToken(host: Host, token: string, opts: { encrypt?: "auto" | "always" | "never" } = {}): Promise<StoredToken> {
  const clean = token.trim();
  assertAccessToken(clean, "the prompt");
  const encrypt = opts.encrypt ?? "auto";
  try {
    await host.mkdir(PATHS.credstore, { mode: 0o700 });
    if (encrypt === "always" || (encrypt === "auto" && host.root === "/")) {
      const r = await host.exec("systemd-creds", ["encrypt", `--name=${BWS_CREDENTIAL}`, "-", "-"], { input: clean, timeoutMs: 30_000 });
      if (r.code === 0 && r.stdout.trim() !== "") {
        await host.writeFileAtomic(BWS_CRED_ENCRYPTED, r.stdout, { mode: 0o600 });
        await host.remove(BWS_CRED_PLAIN);
        return { outcome: "encrypted", path: BWS_CRED_ENCRYPTED, directive: directiveFor("encrypted") };
      }
    }
    await host.writeFileAtomic(BWS_CRED_PLAIN, clean, { mode: 0o600 });
    await host.remove(BWS_CRED_ENCRYPTED);
    return { outcome: "plain", path: BWS_CRED_PLAIN, directive: directiveFor("plain") };
  } catch (e) {
    // The error text of a failed write names paths only; the token never reaches it.
    throw writeError("secrets.token-store", `cannot store the Bitwarden access token under ${PATHS.credstore}: ${(e as Error).message}`, { cause: e });
  }
}

/** Which credential directive the unit needs, from what is on disk (null: no token stored yet). */
export async function readTokenDirective(host: Host): Promise<string | null> {
  if (await host.stat(BWS_CRED_ENCRYPTED)) return directiveFor("encrypted");
  if (await host.stat(BWS_CRED_PLAIN)) return directiveFor("plain");
  return null;
}

export interface BootstrapToken {
  token: string;
  source: "credentials" | "env" | "stored";
}

/**
 * $CREDENTIALS_DIRECTORY/bws-access-token (systemd decrypted it for the unit), else $BWS_ACCESS_TOKEN for a
 * manual run, as Bitwarden's own bws reads it. CREDENTIALS_DIRECTORY is a path on the box, joined onto root like
 * every other path.
 */
export async function readBootstrapToken(host: Host): Promise<BootstrapToken> {
  const dir = host.env["CREDENTIALS_DIRECTORY"];
  if (dir && path.isAbsolute(dir)) {
    const buf = await host.readFile(path.posix.join(dir, BWS_CREDENTIAL));
    if (buf) {
      const token = buf.toString("utf8").trim();
      assertAccessToken(token, `$CREDENTIALS_DIRECTORY/${BWS_CREDENTIAL}`);
      return { token, source: "credentials" };
    }
  }
  const env = host.env["BWS_ACCESS_TOKEN"]?.trim();
  if (env) {
    assertAccessToken(env, "$BWS_ACCESS_TOKEN");
    return { token: env, source: "env" };
  }
  // An operator's `wirebot apply` as root: open the stored credential the way systemd would for the unit.
  if (await host.stat(BWS_CRED_ENCRYPTED)) {
    const r = await host.exec("systemd-creds", ["decrypt", `--name=${BWS_CREDENTIAL}`, host.resolve(BWS_CRED_ENCRYPTED), "-"], { timeoutMs: 30_000 });
    if (r.code === 0 && r.stdout.trim() !== "") {
      const token = r.stdout.trim();
      assertAccessToken(token, BWS_CRED_ENCRYPTED);
      return { token, source: "stored" };
    }
  }
  const plain = await host.readFile(BWS_CRED_PLAIN);
  if (plain) {
    const token = plain.toString("utf8").trim();
    assertAccessToken(token, BWS_CRED_PLAIN);
    return { token, source: "stored" };
  }
  throw configError("secrets.no-token", `no Bitwarden access token: $CREDENTIALS_DIRECTORY/${BWS_CREDENTIAL} is absent and $BWS_ACCESS_TOKEN is not set`, {
    hint: `run \`systemctl restart wirebot-secrets\` (it loads ${BWS_CRED_ENCRYPTED} or ${BWS_CRED_PLAIN}); for a manual run use \`read -rs BWS_ACCESS_TOKEN; export BWS_ACCESS_TOKEN\` so the token stays out of shell history`,
  });
}
