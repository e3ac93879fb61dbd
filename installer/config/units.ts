/** The names of wirebot's systemd units, and how a unit runs wirebot itself: names only, no I/O. */

export interface WirebotCommand {
  /** absolute path of the Node that runs wirebot itself */
  node: string;
  /** absolute path of wirebot's entry script */
  entry: string;
  /** the version of the wirebot at those paths (package.json) */
  version: string;
}

export const SECRETS_UNIT = "wirebot-secrets.service";
export const RECONCILE_UNIT = "wirebot-reconcile.service";
export const TUNNEL_UNIT = "cloudflared-wirebot.service";
export const GATEWAY_TEMPLATE_UNIT = "clawdbot-gateway@.service";
export const DRIFT_UNIT = "wirebot-drift.service";
export const DRIFT_TIMER = "wirebot-drift.timer";
