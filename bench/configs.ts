/** Large wirebot.yaml files for the CLI bench, grown from the shipped examples: N shared users, N dedicated users, one bad user. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseDocument } from "yaml";

type User = Record<string, unknown>;

// Ids, Telegram peers and WhatsApp numbers must be unique across the file (the schema refuses a peer two users have).
const id = (i: number) => `u${String(i).padStart(5, "0")}`;
const telegramPeer = (i: number) => String(100_000_000 + i);
const whatsappPeer = (i: number) => `+1555${String(1_000_000 + i).slice(-7)}`;

/** The example's text with `users` replaced, comments and the rest of the file kept; extra secrets.map entries added. */
function withUsers(example: string, users: User[], extraSecrets: Record<string, string> = {}): string {
  const doc = parseDocument(example);
  doc.set("users", doc.createNode(users));
  for (const [k, v] of Object.entries(extraSecrets)) doc.setIn(["secrets", "map", k], v);
  return doc.toString({ lineWidth: 0 });
}

const exampleText = (root: string, name: string) => readFileSync(path.join(root, "examples", `${name}.yaml`), "utf8");

/** examples/three-users.yaml with n shared users: a third on Telegram, a third on both channels, a third on WhatsApp only, as alice, bob and carol are. */
export function sharedUsersConfig(root: string, n: number): string {
  const users: User[] = [];
  for (let i = 1; i <= n; i++) {
    const kind = i % 3;
    const channels: User = {};
    if (kind !== 0) channels["telegram"] = { peer: telegramPeer(i) };
    if (kind !== 1) channels["whatsapp"] = { peer: whatsappPeer(i) };
    users.push({ id: id(i), name: `User ${i}`, channels, ...(kind === 0 ? { trust: "restricted" } : { budget: { monthlyUsd: 10 + (i % 40) } }) });
  }
  return withUsers(exampleText(root, "three-users"), users);
}

/** examples/mixed.yaml with its two shared users and n dedicated ones, each with its own Telegram bot mapped (as erin has). */
export function dedicatedUsersConfig(root: string, n: number): string {
  const users: User[] = [
    { id: "alice", name: "Alice", channels: { telegram: { peer: "123456789" } }, budget: { monthlyUsd: 20 } },
    { id: "bob", name: "Bob", channels: { telegram: { peer: "234567890" } }, budget: { monthlyUsd: 10 } },
  ];
  const bots: Record<string, string> = {};
  for (let i = 1; i <= n; i++) {
    users.push({ id: id(i), name: `User ${i}`, mode: "dedicated", trust: "trusted", channels: { telegram: { peer: telegramPeer(i) } }, budget: { monthlyUsd: 50 } });
    bots[`TELEGRAM_BOT_TOKEN_${id(i).toUpperCase()}`] = `wirebot/telegram-bot-token-${id(i)}`;
  }
  return withUsers(exampleText(root, "mixed"), users, bots);
}

/** sharedUsersConfig with one user id in the middle made invalid: the file must be refused (exit 78) and nothing written. */
export function oneBadUserConfig(root: string, n: number): string {
  const bad = id(Math.ceil(n / 2));
  const text = sharedUsersConfig(root, n);
  if (!text.includes(`id: ${bad}\n`)) throw new Error(`bench/configs.ts: no 'id: ${bad}' line to break`);
  return text.replace(`id: ${bad}\n`, `id: ../${bad}\n`);
}
