/** Shared test fixtures for the secrets tests: a config with shared + dedicated users, known vault values, tmpfs roots. */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseConfig } from "../../installer/config/load.ts";
import type { Config } from "../../installer/config/schema.ts";
import { startStandin, type Standin } from "./server.ts";

/** Values a test seeds into the vault; every leak check looks for these (and for generated values). */
export const KNOWN = {
  "wirebot/telegram-bot-token": "tg-9f8e7d6c5b4a-SHARED-BOT-TOKEN",
  "wirebot/telegram-bot-token/eli": "tg-1a2b3c4d5e6f-ELI-BOT-TOKEN",
  "wirebot/litellm-master-key": "sk-master-0123456789abcdefXYZ",
  "wirebot/brave-api-key": "brv-$ecret`with\"quotes\\and$(dollar)",
  "wirebot/tunnel-token/wirebot": "eyJhIjoiY2xvdWRmbGFyZWQtdHVubmVsLXRva2VuIn0=",
} as const;

export interface ConfigOpts {
  backend: "bitwarden" | "rbw" | "file";
  organizationId?: string;
  projectId?: string;
  serverUrl?: string;
  filePath?: string;
  rbwFolder?: string;
  tunnel?: boolean;
}

export function testConfig(o: ConfigOpts): Config {
  const secrets: Record<string, unknown> = {
    backend: o.backend,
    map: {
      TELEGRAM_BOT_TOKEN: "wirebot/telegram-bot-token",
      TELEGRAM_BOT_TOKEN_ELI: "wirebot/telegram-bot-token/eli",
      LITELLM_MASTER_KEY: "wirebot/litellm-master-key",
      BRAVE_API_KEY: "wirebot/brave-api-key",
    },
  };
  if (o.backend === "bitwarden") {
    secrets["bitwarden"] = {
      organizationId: o.organizationId ?? "00000000-0000-4000-8000-000000000001",
      projectId: o.projectId ?? "00000000-0000-4000-8000-000000000002",
      ...(o.serverUrl ? { serverUrl: o.serverUrl } : {}),
    };
  }
  if (o.backend === "file") secrets["file"] = { path: o.filePath ?? "/etc/wirebot/dev-secrets.yaml" };
  if (o.backend === "rbw" && o.rbwFolder) secrets["rbw"] = { folder: o.rbwFolder };
  const doc = {
    domain: "wirebot.example.org",
    mode: "shared",
    litellm: { baseUrl: "http://127.0.0.1:4000", models: ["gpt-4o-mini"], defaultModel: "gpt-4o-mini" },
    secrets,
    tunnel: { enabled: o.tunnel ?? true, name: "wirebot", hostnames: { helm: "helm.wirebot.example.org" }, accountId: "0123456789abcdef0123456789abcdef", zoneId: "fedcba9876543210fedcba9876543210" },
    users: [
      { id: "dana", name: "Dana", channels: { telegram: { peer: "100200300" } } },
      { id: "eli", name: "Eli", mode: "dedicated", channels: { telegram: { peer: "100200301" } } },
    ],
  };
  return parseConfig(JSON.stringify(doc), "test config");
}

/** A root on tmpfs: /dev/shm is tmpfs on Linux, which the pull insists on. */
export async function tmpfsRoot(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp("/dev/shm/wirebot-secrets-test-");
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** A root on the ordinary disk (the os temp dir), which pull must refuse. */
export async function diskRoot(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(path.join(os.tmpdir(), "wirebot-secrets-disk-"));
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** Vault names wirebot generates for this config (planSecrets' defaults). */
export const GENERATED_NAMES = [
  "wirebot/gateway-token",
  // the gateways' trace tokens are derived from it, so the first gateway file needs it
  "wirebot/api-token",
  "wirebot/litellm-key/dana",
  // the shared gateway's system agent
  "wirebot/litellm-key/wirebot",
  "wirebot/gateway-token/eli",
  "wirebot/litellm-key/eli",
];

/** A pino destination that keeps every line, for asserting on what would reach the journal. */
export function captureLog(): { lines: string[]; destination: { write(s: string): void } } {
  const lines: string[] = [];
  return { lines, destination: { write: (s: string) => void lines.push(s) } };
}

export const FAST_RETRY = { attempts: 3, baseMs: 1, maxMs: 2 };

/** Where systemd hands wirebot-secrets.service its credentials (LoadCredential*=), joined onto a test root. */
export const CRED_DIR = "/run/credentials/wirebot-secrets.service";

/** Puts the access token where the unit would find it: $CREDENTIALS_DIRECTORY/bws-access-token. */
export async function seedToken(root: string, token: string): Promise<void> {
  await mkdir(path.join(root, CRED_DIR), { recursive: true });
  await writeFile(path.join(root, CRED_DIR, "bws-access-token"), token + "\n", { mode: 0o600 });
}

/** A running stand-in holding KNOWN, a machine account, and a tmpfs root whose credstore holds that account's token. */
export async function startSeededVault(): Promise<{ s: Standin; token: string; root: string; close: () => Promise<void> }> {
  const s = await startStandin();
  for (const [k, v] of Object.entries(KNOWN)) s.addSecret(k, v);
  const token = s.addMachineAccount().text;
  const { root, cleanup } = await tmpfsRoot();
  await seedToken(root, token);
  return {
    s,
    token,
    root,
    close: async () => {
      await s.close();
      await cleanup();
    },
  };
}
