/** The Access facts the last apply got from Cloudflare, kept on the host so rendering the tunnel config stays pure and repeatable. */
import { PATHS } from "../config/layout.ts";
import type { Host } from "../host/host.ts";
import type { AccessFacts } from "./origin-access.ts";

export async function readAccessFacts(host: Host): Promise<AccessFacts | null> {
  const raw = await host.readFile(PATHS.tunnelAccess);
  if (!raw) return null;
  try {
    const f = JSON.parse(raw.toString("utf8")) as Partial<AccessFacts>;
    if (typeof f.teamName !== "string" || typeof f.aud !== "object" || f.aud === null) return null;
    const aud = Object.fromEntries(Object.entries(f.aud).filter(([, v]) => typeof v === "string")) as Record<string, string>;
    return { teamName: f.teamName, aud };
  } catch {
    // A damaged file is rewritten by the next apply's tunnel step; until then no origin check is rendered.
    return null;
  }
}

/** null removes the file (Access turned off). AUD tags and the team name are not secrets (both are in every Access JWT). */
export async function writeAccessFacts(host: Host, facts: AccessFacts | null): Promise<void> {
  if (facts === null) await host.remove(PATHS.tunnelAccess);
  else {
    await host.mkdir(PATHS.etcDir, { mode: 0o700 });
    await host.writeFileAtomic(PATHS.tunnelAccess, JSON.stringify(facts, null, 2) + "\n", { mode: 0o644 });
  }
}
