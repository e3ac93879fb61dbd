/** The guided install wizard: a short set of questions that produces the text of wirebot.yaml, nothing else. */
import { stringify } from "yaml";
import { z } from "zod";
import { USER_ID_RE } from "../config/schema.ts";
import type { Prompter } from "./prompter.ts";

const DOMAIN_RE = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const check = (re: RegExp, what: string) => (v: string) => re.test(v) || `must be ${what}`;
const isEmail = (v: string) => z.email().safeParse(v).success;
const splitList = (v: string) => v.split(",").map((s) => s.trim()).filter(Boolean);

export interface WizardResult {
  yaml: string;
  /** The Bitwarden access token typed by the operator, to be stored encrypted; never written into the YAML. */
  bwsAccessToken: string | null;
}

export async function runWizard(p: Prompter): Promise<WizardResult> {
  const domain = await p.input("Domain the appliance is published under (helm.<domain>, api.<domain>)", { validate: check(DOMAIN_RE, "a DNS name such as wirebot.example.org") });
  const mode = await p.select("Default gateway mode for users", ["shared", "dedicated"] as const, "shared");
  const baseUrl = await p.input("LiteLLM proxy URL", { default: "http://127.0.0.1:4000", validate: (v) => /^https?:\/\/\S+$/.test(v) || "must be an http(s) URL" });
  const models = (await p.input("Models offered through LiteLLM (comma separated)", { default: "gpt-4o-mini" })).split(",").map((s) => s.trim()).filter(Boolean);
  const defaultModel = await p.select("Default model", models as readonly string[], models[0]);

  const backend = await p.select("Where do secrets live?", ["bitwarden", "rbw", "file"] as const, "bitwarden");
  const secrets: Record<string, unknown> = { backend, map: { TELEGRAM_BOT_TOKEN: "wirebot/telegram-bot-token", LITELLM_MASTER_KEY: "wirebot/litellm-master-key" } };
  let bwsAccessToken: string | null = null;
  if (backend === "bitwarden") {
    secrets["bitwarden"] = {
      organizationId: await p.input("Bitwarden organization id", { validate: check(UUID_RE, "a UUID") }),
      projectId: await p.input("Bitwarden Secrets Manager project id", { validate: check(UUID_RE, "a UUID") }),
    };
    const token = await p.password("Bitwarden machine-account access token (not echoed; stored with systemd-creds encrypt where available, else as a root-only 0600 file)");
    bwsAccessToken = token.trim() === "" ? null : token.trim();
  } else if (backend === "file") {
    secrets["file"] = { path: await p.input("Development secrets file (YAML: vault name → value)", { default: "/etc/wirebot/dev-secrets.yaml" }) };
  }

  const tunnel = await p.confirm("Publish the Control UI and API through a Cloudflare tunnel?", true);
  const tunnelIds: Record<string, string> = {};
  let access: { enabled: boolean; emails: string[] } | null = null;
  if (tunnel) {
    const hex32 = check(/^[0-9a-f]{32}$/, "the 32-hex id from the Cloudflare dashboard");
    tunnelIds["accountId"] = await p.input("Cloudflare account id", { validate: hex32 });
    tunnelIds["zoneId"] = await p.input(`Cloudflare zone id of ${domain}`, { validate: hex32 });
    (secrets["map"] as Record<string, string>)["CLOUDFLARE_API_TOKEN"] = "wirebot/cloudflare-api-token";
    // The shared gateway's token is operator over every agent in it, so its UI is for the operator only.
    if (await p.confirm("Put Cloudflare Access (sign-in by e-mail) in front of each Control UI?", true)) {
      const emails = await p.input(`Admin e-mails, the only ones let into helm.${domain} (the shared gateway's Control UI; comma separated)`, {
        validate: (v) => (splitList(v).length === 0 ? "at least one e-mail address" : splitList(v).every(isEmail) || "comma-separated e-mail addresses such as ops@example.org"),
      });
      access = { enabled: true, emails: splitList(emails) };
    }
  }

  const users: Record<string, unknown>[] = [];
  do {
    const id = await p.input(`User ${users.length + 1}: id (lower case, e.g. dana)`, {
      validate: (v) => (!USER_ID_RE.test(v) ? "must match ^[a-z][a-z0-9-]{0,30}$" : users.some((u) => u["id"] === v) ? "that id is taken" : true),
    });
    const name = await p.input("  display name", { default: id });
    const user: Record<string, unknown> = { id, name };
    const userMode = await p.select("  gateway", ["shared", "dedicated"] as const, mode);
    if (userMode !== mode) user["mode"] = userMode;
    if (access && userMode === "dedicated")
      user["email"] = await p.input(`  e-mail let into helm-${id}.${domain} (their own Control UI; nobody else gets in)`, { validate: (v) => isEmail(v) || "an e-mail address such as dana@example.org" });
    const channels: Record<string, unknown> = {};
    const tg = await p.input("  Telegram user id (empty for none)", { default: "", validate: (v) => v === "" || /^[0-9]{1,20}$/.test(v) || "digits only" });
    if (tg) channels["telegram"] = { peer: tg };
    const wa = await p.input("  WhatsApp number in E.164 (empty for none)", { default: "", validate: (v) => v === "" || /^\+[1-9][0-9]{6,14}$/.test(v) || "e.g. +15551234567" });
    if (wa) channels["whatsapp"] = { peer: wa };
    if (Object.keys(channels).length) user["channels"] = channels;
    const budget = await p.input("  monthly budget in USD (empty for none)", { default: "", validate: (v) => v === "" || (Number(v) > 0 && Number.isFinite(Number(v))) || "a positive number" });
    if (budget) user["budget"] = { monthlyUsd: Number(budget) };
    users.push(user);
  } while (await p.confirm("Add another user?", false));

  const doc = {
    domain,
    mode,
    litellm: { baseUrl, models, defaultModel },
    secrets,
    tunnel: { enabled: tunnel, name: "wirebot", hostnames: { helm: `helm.${domain}`, api: `api.${domain}` }, ...tunnelIds, ...(access ? { access } : {}) },
    users,
  };
  return { yaml: `# wirebot.yaml written by \`wirebot install\`; edit and run \`wirebot apply\`.\n${stringify(doc)}`, bwsAccessToken };
}
