/** The origin's own Access check: each rule of an Access-protected hostname makes cloudflared verify the Access JWT (team, AUD tag). Pure. */
import type { IngressRule } from "./ingress-validate.ts";

/** What cloudflared needs to check a request came through Access: the team and each protected hostname's application AUD tag. */
export interface AccessFacts {
  /** the Zero Trust team name: `<teamName>.cloudflareaccess.com` signs the JWTs */
  teamName: string;
  /** hostname → AUD tag of the Access application wirebot made for it */
  aud: Record<string, string>;
}

/** `team.cloudflareaccess.com` → `team`; null for anything else. */
export function teamNameOf(authDomain: string | undefined): string | null {
  const m = /^([a-z0-9-]+)\.cloudflareaccess\.com$/i.exec(authDomain ?? "");
  return m ? m[1]!.toLowerCase() : null;
}

/**
 * The ingress with `originRequest.access` on every rule whose hostname has an AUD tag: a request that reached
 * the tunnel without passing Access (its application deleted by hand, the tunnel's hostname leaked) is refused
 * by cloudflared itself. Rules of hostnames without a tag are left as they are.
 */
export function withOriginAccess(ingress: readonly IngressRule[], facts: AccessFacts | null): IngressRule[] {
  if (!facts) return ingress.map((r) => ({ ...r }));
  return ingress.map((r) => {
    const aud = r.hostname ? facts.aud[r.hostname.toLowerCase()] : undefined;
    if (!aud) return { ...r };
    return { ...r, originRequest: { ...r.originRequest, access: { required: true, teamName: facts.teamName, audTag: [aud] } } };
  });
}

/** Two facts are the same when they would render the same ingress. */
export const sameFacts = (a: AccessFacts | null, b: AccessFacts | null) =>
  JSON.stringify(a && { t: a.teamName, a: Object.entries(a.aud).sort() }) === JSON.stringify(b && { t: b.teamName, a: Object.entries(b.aud).sort() });
