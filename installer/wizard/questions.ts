/** The guided install wizard: a short set of questions that produces the text of wirebot.yaml, each answer checked as it is typed. */
import { stringify } from "yaml";
import { dedicatedTelegramVar } from "../config/secret-plan.ts";
import { WirebotError } from "../errors.ts";
import { assertAccessToken } from "../secrets/bootstrap-token.ts";
import { problemAt, setAt, type Draft, type Key } from "./draft.ts";
import type { Prompter } from "./prompter.ts";

const splitList = (v: string) => v.split(",").map((s) => s.trim()).filter(Boolean);

export interface WizardResult {
  yaml: string;
  /** The Bitwarden access token typed by the operator, to be stored encrypted; never written into the YAML. */
  bwsAccessToken: string | null;
}

interface Field {
  default?: string;
  /** an empty answer leaves the key out */
  optional?: boolean;
  /** answer → the value written at the key; a string from `invalid` is shown instead of the config's check */
  parse?: (v: string) => unknown;
  invalid?: (v: string) => string | null;
}

/** Asks for the value at key and checks it against the config schema with everything answered so far. */
async function field(p: Prompter, draft: Draft, key: Key, message: string, f: Field = {}): Promise<string> {
  const skip = (v: string) => f.optional === true && v === "";
  const v = await p.input(message, {
    ...(f.default !== undefined ? { default: f.default } : {}),
    validate: (v) => (skip(v) ? true : (f.invalid?.(v) ?? problemAt(draft, key, f.parse ? f.parse(v) : v) ?? true)),
  });
  if (!skip(v)) setAt(draft, key, f.parse ? f.parse(v) : v);
  return v;
}

/** The access token's own format check (bootstrap-token.ts), worded as the later store would word it. */
export function tokenProblem(token: string): string | true {
  if (token === "") return true;
  try {
    assertAccessToken(token, "the prompt");
    return true;
  } catch (e) {
    if (e instanceof WirebotError) return e.message;
    throw e;
  }
}

export async function runWizard(p: Prompter): Promise<WizardResult> {
  const d: Draft = {};
  const domain = await field(p, d, ["domain"], "Domain the appliance is published under (helm.<domain>, api.<domain>)");
  const mode = await p.select("Default gateway mode for users", ["shared", "dedicated"] as const, "shared");
  d["mode"] = mode;
  await field(p, d, ["litellm", "baseUrl"], "LiteLLM proxy URL", { default: "http://127.0.0.1:4000" });
  const models = splitList(await field(p, d, ["litellm", "models"], "Models offered through LiteLLM (comma separated)", { default: "gpt-4o-mini", parse: splitList }));
  setAt(d, ["litellm", "defaultModel"], await p.select("Default model", models as readonly string[], models[0]));

  const backend = await p.select("Where do secrets live?", ["bitwarden", "rbw", "file"] as const, "bitwarden");
  const map: Record<string, string> = { TELEGRAM_BOT_TOKEN: "wirebot/telegram-bot-token", LITELLM_MASTER_KEY: "wirebot/litellm-master-key" };
  d["secrets"] = { backend, map };
  let bwsAccessToken: string | null = null;
  if (backend === "bitwarden") {
    await field(p, d, ["secrets", "bitwarden", "organizationId"], "Bitwarden organization id");
    await field(p, d, ["secrets", "bitwarden", "projectId"], "Bitwarden Secrets Manager project id");
    const token = await p.password("Bitwarden machine-account access token (not echoed; stored with systemd-creds encrypt where available, else as a root-only 0600 file; empty: use $BWS_ACCESS_TOKEN)", { validate: tokenProblem });
    bwsAccessToken = token === "" ? null : token;
  } else if (backend === "file") {
    await field(p, d, ["secrets", "file", "path"], "Development secrets file (YAML: vault name → value)", { default: "/etc/wirebot/dev-secrets.yaml" });
  }

  const tunnel = await p.confirm("Publish the Control UI and API through a Cloudflare tunnel?", true);
  d["tunnel"] = { enabled: tunnel, name: "wirebot", hostnames: { helm: `helm.${domain}`, api: `api.${domain}` } };
  let access = false;
  if (tunnel) {
    await field(p, d, ["tunnel", "accountId"], "Cloudflare account id (32 hex digits, from the dashboard)");
    await field(p, d, ["tunnel", "zoneId"], `Cloudflare zone id of ${domain}`);
    map["CLOUDFLARE_API_TOKEN"] = "wirebot/cloudflare-api-token";
    // The shared gateway's token is operator over every agent in it, so its UI is for the operator only.
    access = await p.confirm("Put Cloudflare Access (sign-in by e-mail) in front of each Control UI?", true);
    if (access) {
      setAt(d, ["tunnel", "access", "enabled"], true);
      await field(p, d, ["tunnel", "access", "emails"], `Admin e-mails, the only ones let into helm.${domain} (the shared gateway's Control UI; comma separated)`, { parse: splitList });
    }
  }

  const users: Record<string, unknown>[] = [];
  d["users"] = users;
  do {
    const i = users.length;
    users.push({});
    const id = await field(p, d, ["users", i, "id"], `User ${i + 1}: id (lower case, e.g. dana)`);
    await field(p, d, ["users", i, "name"], "  display name", { default: id });
    const userMode = await p.select("  gateway", ["shared", "dedicated"] as const, mode);
    if (userMode !== mode) users[i]!["mode"] = userMode;
    const dedicated = userMode === "dedicated";
    if (access && dedicated) await field(p, d, ["users", i, "email"], `  e-mail let into helm-${id}.${domain} (their own Control UI; nobody else gets in)`);
    // A dedicated gateway polls its own bot: one poller per bot token, so never the shared bot's.
    const ownBot = `wirebot/telegram-bot-token/${id}`;
    if (dedicated) map[dedicatedTelegramVar(id)] = ownBot;
    const tg = await field(p, d, ["users", i, "channels", "telegram", "peer"], dedicated ? `  Telegram user id (empty for none; their own bot, token in the vault as ${ownBot})` : "  Telegram user id (empty for none)", { default: "", optional: true });
    if (!tg) delete map[dedicatedTelegramVar(id)];
    await field(p, d, ["users", i, "channels", "whatsapp", "peer"], "  WhatsApp number in E.164 (empty for none)", { default: "", optional: true });
    await field(p, d, ["users", i, "budget", "monthlyUsd"], "  monthly budget in USD (empty for none)", {
      default: "",
      optional: true,
      parse: Number,
      invalid: (v) => (Number.isFinite(Number(v)) ? null : "must be a number of US dollars such as 20"),
    });
  } while (await p.confirm("Add another user?", false));

  return { yaml: `# wirebot.yaml written by \`wirebot install\`; edit and run \`wirebot apply\`.\n${stringify(d)}`, bwsAccessToken };
}
