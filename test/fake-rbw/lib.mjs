// What the rbw stand-in's client (./rbw) and agent (./rbw-agent) share: rbw 1.15's paths, config, cache db, crypto and error texts.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** rbw 1.15's protocol::VERSION: its const adds major, minor and patch each times 1_000_000, so 1+15+0 millions. */
export const PROTOCOL_VERSION = 16_000_000;

/** rbw's errors print as anyhow's `{:#}`: every context, then its cause, joined by ": ". */
export class RbwError extends Error {
  constructor(message, cause) {
    super(cause === undefined ? message : `${message}: ${describe(cause)}`);
  }
}
export const fail = (message, cause) => new RbwError(message, cause);

/** What Rust's io::Error prints for the errnos the stand-in can meet. */
const OS_ERRORS = {
  EPERM: "Operation not permitted (os error 1)",
  ENOENT: "No such file or directory (os error 2)",
  EACCES: "Permission denied (os error 13)",
  EEXIST: "File exists (os error 17)",
  ENOTDIR: "Not a directory (os error 20)",
  EISDIR: "Is a directory (os error 21)",
  ENOSPC: "No space left on device (os error 28)",
  EROFS: "Read-only file system (os error 30)",
  EADDRINUSE: "Address already in use (os error 98)",
  ECONNREFUSED: "Connection refused (os error 111)",
};
export function describe(e) {
  if (e instanceof RbwError) return e.message;
  if (e && typeof e === "object" && "code" in e && OS_ERRORS[e.code]) return OS_ERRORS[e.code];
  return e instanceof Error ? e.message : String(e);
}

/** Appends this process's argv as JSON to $FAKE_RBW_ARGV_LOG: what `ps` showed, for the no-secret-in-argv checks. */
export function logArgv(name, args) {
  const log = process.env.FAKE_RBW_ARGV_LOG;
  if (!log) return;
  try {
    fs.appendFileSync(log, JSON.stringify([name, ...args]) + "\n");
  } catch {
    // an agent can outlive the test dir that held the log
  }
}

// ---- src/dirs.rs: the `directories` crate's ProjectDirs for "rbw" (or "rbw-<RBW_PROFILE>") ----

export function profile() {
  const p = process.env.RBW_PROFILE;
  return p ? `rbw-${p}` : "rbw";
}
/** The directories crate ignores an XDG variable that is unset, empty or relative. */
const xdg = (name, fallback) => {
  const v = process.env[name];
  return v && path.isAbsolute(v) ? v : fallback;
};
export const configDir = () => path.join(xdg("XDG_CONFIG_HOME", path.join(os.homedir(), ".config")), profile());
export const cacheDir = () => path.join(xdg("XDG_CACHE_HOME", path.join(os.homedir(), ".cache")), profile());
export const dataDir = () => path.join(xdg("XDG_DATA_HOME", path.join(os.homedir(), ".local", "share")), profile());
/** $XDG_RUNTIME_DIR/rbw, else std::env::temp_dir() ($TMPDIR or /tmp) + "/rbw-<uid>". */
export function runtimeDir() {
  const x = process.env.XDG_RUNTIME_DIR;
  if (x && path.isAbsolute(x)) return path.join(x, profile());
  return `${process.env.TMPDIR || "/tmp"}/${profile()}-${process.getuid()}`;
}
export const configFile = () => path.join(configDir(), "config.json");
export const pidFile = () => path.join(runtimeDir(), "pidfile");
export const socketFile = () => path.join(runtimeDir(), "socket");
export const agentStdoutFile = () => path.join(dataDir(), "agent.out");
export const agentStderrFile = () => path.join(dataDir(), "agent.err");

/** db_file: percent-encode the server (controls, non-ASCII, '/', '%', ':'), then "<server>:<email>.json" in the cache dir. */
export function dbFile(server, email) {
  let enc = "";
  for (const b of Buffer.from(server, "utf8")) {
    enc += b < 0x20 || b >= 0x7f || b === 0x2f || b === 0x25 || b === 0x3a ? `%${b.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(b);
  }
  return path.join(cacheDir(), `${enc}:${email}.json`);
}

/** make_all, run by rbw-agent at start: each dir created 0700 (parents too) and forced to 0700 if it existed. */
export function makeAll() {
  for (const dir of [cacheDir(), runtimeDir(), dataDir()]) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      fs.chmodSync(dir, 0o700);
    } catch (e) {
      throw fail(`failed to create directory at ${dir}`, e);
    }
  }
}

// ---- src/config.rs ----

const CONFIG_KEYS = ["email", "sso_id", "base_url", "identity_url", "ui_url", "notifications_url", "lock_timeout", "sync_interval", "pinentry", "client_cert_path"];
export const configDefaults = () => ({ email: null, sso_id: null, base_url: null, identity_url: null, ui_url: null, notifications_url: null, lock_timeout: 3600, sync_interval: 3600, pinentry: "pinentry", client_cert_path: null });

export function loadConfig() {
  const file = configFile();
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw fail(`failed to load config from ${file}`, e);
  }
  let json;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fail(`failed to load config from ${file}`, e);
  }
  const config = configDefaults();
  for (const k of CONFIG_KEYS) if (json[k] !== undefined) config[k] = json[k];
  if (config.lock_timeout === 0) {
    logLine("WARN", "lock_timeout must be greater than 0");
    config.lock_timeout = 3600;
  }
  return config;
}

/** Config::save: create_dir_all of the config dir, then the JSON in key order (serde's compact form). */
export function saveConfig(config) {
  const file = configFile();
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(Object.fromEntries(CONFIG_KEYS.map((k) => [k, config[k] ?? null]))));
  } catch (e) {
    throw fail(`failed to save config to ${file}`, e);
  }
}

/** server_name: the raw base_url, or "default"; it names the cache db. */
export const serverName = (config) => config.base_url ?? "default";

// ---- src/db.rs: the cache db, `<server>:<email>.json`, with every entry's strings encrypted ----

export function loadDb(config) {
  if (!config.email) throw fail("failed to find email address in config");
  const file = dbFile(serverName(config), config.email);
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw fail(`failed to load db from ${file}`, e);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw fail(`failed to load db from ${file}`, e);
  }
}

export function saveDb(config, db) {
  if (!config.email) throw fail("failed to find email address in config");
  const file = dbFile(serverName(config), config.email);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(db));
  } catch (e) {
    throw fail(`failed to save db to ${file}`, e);
  }
}

export const emptyDb = () => ({ access_token: null, refresh_token: null, kdf: null, iterations: null, memory: null, parallelism: null, protected_key: null, protected_private_key: null, protected_org_keys: {}, entries: [] });
export const needsLogin = (db) => !db.access_token || !db.refresh_token || db.iterations == null || db.kdf == null || !db.protected_key;

// ---- crypto: Bitwarden's identity (src/identity.rs) and type-2 cipherstrings (AES-256-CBC + HMAC-SHA256) ----

/** master key = PBKDF2-SHA256(password, trimmed lowercase email); the hash sent to the server = PBKDF2(master key, password, 1). */
export function identity(email, password, iterations) {
  const masterKey = crypto.pbkdf2Sync(password, email.trim().toLowerCase(), iterations, 32, "sha256");
  const masterPasswordHash = crypto.pbkdf2Sync(masterKey, password, 1, 32, "sha256").toString("base64");
  // HKDF-Expand with the master key as PRK: one block each for "enc" and "mac"
  const expand = (info) => crypto.createHmac("sha256", masterKey).update(Buffer.concat([Buffer.from(info), Buffer.from([1])])).digest();
  return { masterPasswordHash, keys: Buffer.concat([expand("enc"), expand("mac")]) };
}

/** A key is 64 bytes: 32 of AES key, 32 of HMAC key. */
export function encrypt(keys, plaintext) {
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv("aes-256-cbc", keys.subarray(0, 32), iv);
  const ct = Buffer.concat([cipher.update(Buffer.from(plaintext)), cipher.final()]);
  const mac = crypto.createHmac("sha256", keys.subarray(32)).update(iv).update(ct).digest();
  return `2.${iv.toString("base64")}|${ct.toString("base64")}|${mac.toString("base64")}`;
}

/** Errors as src/cipherstring.rs words them; a wrong key is "invalid mac". */
export function decrypt(keys, cipherstring) {
  const dot = cipherstring.indexOf(".");
  if (dot === -1) throw fail("invalid cipherstring: couldn't find type");
  const ty = cipherstring.slice(0, dot);
  if (ty !== "2") throw fail(`unimplemented cipherstring type: ${ty}`);
  const parts = cipherstring.slice(dot + 1).split("|");
  if (parts.length !== 3) throw fail("invalid cipherstring: type 2 cipherstring must have 3 parts");
  const [iv, ct, mac] = parts.map((p) => Buffer.from(p, "base64"));
  const want = crypto.createHmac("sha256", keys.subarray(32)).update(iv).update(ct).digest();
  if (mac.length !== want.length || !crypto.timingSafeEqual(mac, want)) throw fail("invalid mac");
  try {
    const d = crypto.createDecipheriv("aes-256-cbc", keys.subarray(0, 32), iv);
    return Buffer.concat([d.update(ct), d.final()]);
  } catch {
    throw fail("failed to decrypt");
  }
}

/** env_logger's line for the client ("LEVEL: message"). */
export function logLine(level, message) {
  process.stderr.write(`${level}: ${message}\n`);
}
