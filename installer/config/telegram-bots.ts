/** Which bot each gateway polls Telegram with: one poller per bot token, so a gateway with Telegram peers needs a bot of its own. */

export const SHARED_BOT_VAR = "TELEGRAM_BOT_TOKEN";

/** The secrets.map key of a dedicated user's own bot (config/secret-plan.ts writes it into their env file). */
export const ownBotVar = (id: string) => `${SHARED_BOT_VAR}_${id.toUpperCase().replace(/-/g, "_")}`;

/** The parts of wirebot.yaml the rule reads (structural, so the schema can call it on its own output). */
export interface BotConfig {
  mode: "shared" | "dedicated";
  secrets: { map: Readonly<Record<string, string>> };
  users: readonly { id: string; mode?: "shared" | "dedicated" | undefined; channels: { telegram?: { peer: string } | undefined } }[];
}

export interface BotIssue {
  path: (string | number)[];
  message: string;
}

const howToMap = (envVar: string, whose: string) =>
  `create ${whose} with @BotFather, store its token in the vault, and map it under secrets.map as ${envVar}: <vault name of that token>`;

/** A dedicated user with a Telegram peer and no bot mapped: the sentence the file, `user add` and the wizard all show. */
export const noOwnBotMessage = (id: string) =>
  `'${id}' has a dedicated gateway, and Telegram allows one poller per bot token, so the shared bot cannot serve it: ${howToMap(ownBotVar(id), `a bot for ${id}`)}; or remove this Telegram peer`;

/** Shared users with Telegram peers and no shared bot mapped. */
export const noSharedBotMessage = () =>
  `the shared gateway polls Telegram with the bot mapped as ${SHARED_BOT_VAR} in secrets.map, and there is none: ${howToMap(SHARED_BOT_VAR, "a bot")}; or remove this Telegram peer`;

/**
 * Every gateway that would enable Telegram without a token its env file will hold, or with a token
 * another gateway polls too (Telegram answers the second poller `409 Conflict` in a loop). Reported at
 * `users[i].channels.telegram`, the peer that makes the gateway poll.
 */
export function telegramBotIssues(c: BotConfig): BotIssue[] {
  const issues: BotIssue[] = [];
  const map = c.secrets.map;
  const at = (i: number) => ["users", i, "channels", "telegram"];
  const isDedicated = (u: BotConfig["users"][number]) => (u.mode ?? c.mode) === "dedicated";

  const firstShared = c.users.findIndex((u) => u.channels.telegram && !isDedicated(u));
  const sharedVault = firstShared >= 0 ? map[SHARED_BOT_VAR] : undefined;
  if (firstShared >= 0 && sharedVault === undefined) issues.push({ path: at(firstShared), message: noSharedBotMessage() });

  const polledBy = new Map<string, number>();
  c.users.forEach((u, i) => {
    if (!u.channels.telegram || !isDedicated(u)) return;
    const envVar = ownBotVar(u.id);
    const vault = map[envVar];
    if (vault === undefined) return void issues.push({ path: at(i), message: noOwnBotMessage(u.id) });
    const other = polledBy.get(vault);
    if (vault === sharedVault)
      issues.push({ path: at(i), message: `secrets.map.${envVar} names the shared gateway's bot (${vault}, as ${SHARED_BOT_VAR} does), and Telegram allows one poller per bot token: ${howToMap(envVar, `a bot of ${u.id}'s own`)}` });
    else if (other !== undefined)
      issues.push({ path: at(i), message: `secrets.map.${envVar} names the same bot (${vault}) as ${ownBotVar(c.users[other]!.id)} of users[${other}], and Telegram allows one poller per bot token: ${howToMap(envVar, `a bot of ${u.id}'s own`)}` });
    else polledBy.set(vault, i);
  });
  return issues;
}
