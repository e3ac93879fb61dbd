/** Reads `openclaw channels status --json` into one status per channel account. Pure. */

export interface ChannelAccountStatus {
  channel: string;
  accountId: string;
  configured: boolean;
  /** credentials present (WhatsApp creds.json, a Telegram token); null when the runtime does not say */
  linked: boolean | null;
  /** the listener/poller is up */
  connected: boolean | null;
  lastError: string | null;
}

export interface ChannelsStatus {
  gatewayReachable: boolean;
  /** why the gateway could not be asked (its own `error` text), null when it answered */
  gatewayError: string | null;
  accounts: ChannelAccountStatus[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const bool = (v: unknown): boolean | null => (typeof v === "boolean" ? v : null);
const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

function accountFrom(channel: string, accountId: string, a: Obj): ChannelAccountStatus {
  const err = str(a["lastError"]) ?? str(a["error"]) ?? (isObj(a["lastError"]) ? str((a["lastError"] as Obj)["message"]) : null);
  return {
    channel,
    accountId,
    configured: bool(a["configured"]) ?? bool(a["enabled"]) ?? true,
    linked: bool(a["linked"]) ?? bool(a["tokenConfigured"]) ?? (a["tokenSource"] !== undefined ? a["tokenSource"] !== "none" : null),
    connected: bool(a["connected"]) ?? bool(a["running"]) ?? (a["healthState"] === "not-running" ? false : null),
    lastError: err,
  };
}

/**
 * Accepts the shapes 2026.9.6 prints: a gateway-unreachable summary (`gatewayReachable:false`, `error`,
 * `configuredChannels`) and a live snapshot with per-channel accounts (`channelAccounts.<ch>[]` or
 * `channels.<ch>.accounts`). Anything unreadable becomes a gateway error rather than a throw.
 */
export function parseChannelsStatus(stdout: string): ChannelsStatus {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout.trim());
  } catch {
    return { gatewayReachable: false, gatewayError: `unreadable status output: ${stdout.trim().split("\n")[0]?.slice(0, 200) ?? ""}`, accounts: [] };
  }
  if (!isObj(doc)) return { gatewayReachable: false, gatewayError: "status output is not an object", accounts: [] };
  const reachable = doc["gatewayReachable"] !== false;
  const accounts: ChannelAccountStatus[] = [];
  const seen = new Set<string>();
  const add = (s: ChannelAccountStatus) => {
    const k = `${s.channel}/${s.accountId}`;
    if (seen.has(k)) return;
    seen.add(k);
    accounts.push(s);
  };
  const byChannel = doc["channelAccounts"];
  if (isObj(byChannel))
    for (const [ch, list] of Object.entries(byChannel))
      if (Array.isArray(list)) for (const a of list) if (isObj(a)) add(accountFrom(ch, str(a["accountId"]) ?? "default", a));
  const channels = doc["channels"];
  if (isObj(channels))
    for (const [ch, c] of Object.entries(channels)) {
      if (!isObj(c)) continue;
      const accs = c["accounts"];
      if (isObj(accs)) for (const [id, a] of Object.entries(accs)) isObj(a) && add(accountFrom(ch, id, a));
      else if (Array.isArray(accs)) for (const a of accs) isObj(a) && add(accountFrom(ch, str(a["accountId"]) ?? "default", a));
      else add(accountFrom(ch, "default", c));
    }
  // statusIssues carry the runtime's own explanation ("enabled and configured, but its runtime is not running").
  if (Array.isArray(doc["statusIssues"]))
    for (const issue of doc["statusIssues"]) {
      if (!isObj(issue)) continue;
      const a = accounts.find((x) => x.channel === issue["channel"] && x.accountId === (str(issue["accountId"]) ?? "default"));
      if (a && a.lastError === null) a.lastError = str(issue["message"]);
    }
  if (!reachable && Array.isArray(doc["configuredChannels"]))
    for (const ch of doc["configuredChannels"]) if (typeof ch === "string") add({ channel: ch, accountId: "default", configured: true, linked: null, connected: null, lastError: null });
  return { gatewayReachable: reachable, gatewayError: reachable ? null : (str(doc["error"])?.split("\n")[0] ?? "gateway not reachable"), accounts };
}
