/** The end of an install: what was written where, which vault secrets must exist by name, and what to run next. Pure. */
import { PATHS, type Layout } from "../config/layout.ts";
import { planSecrets } from "../config/secret-plan.ts";
import type { Config } from "../config/schema.ts";

export interface InstallOutcome {
  root: string;
  live: boolean;
  /** files written by apply; 0 when the host already matched */
  written: number;
  /** every unit wirebot runs */
  units: string[];
  /** where the Bitwarden access token was stored, or null when none was */
  credential: string | null;
}

interface VaultSecret {
  name: string;
  use: string[];
}

/** Vault names an operator has to create, and those wirebot creates itself (generated tokens and keys, a tunnel it provisions). */
export function vaultSecrets(c: Config, l: Layout): { required: VaultSecret[]; generated: string[] } {
  const plan = planSecrets(c, l);
  const required = new Map<string, Set<string>>();
  const generated = new Set<string>();
  const need = (name: string, use: string) => (required.get(name) ?? required.set(name, new Set()).get(name)!).add(use);
  for (const f of plan.envFiles)
    for (const v of f.vars) {
      if (v.generate) generated.add(v.vaultName);
      else need(v.vaultName, `${v.envVar} for ${f.consumer}`);
    }
  for (const v of plan.applyTime) need(v.vaultName, `${v.envVar}, used by wirebot apply`);
  if (plan.tunnelToken) {
    if (c.tunnel.accountId && c.tunnel.zoneId) generated.add(plan.tunnelToken.vaultName);
    else need(plan.tunnelToken.vaultName, "the tunnel token for cloudflared-wirebot.service");
  }
  for (const name of required.keys()) generated.delete(name);
  return { required: [...required].map(([name, use]) => ({ name, use: [...use] })), generated: [...generated] };
}

function vaultName(c: Config): string {
  const s = c.secrets;
  if (s.backend === "bitwarden") return `Bitwarden Secrets Manager (project ${s.bitwarden?.projectId ?? "unset"})`;
  if (s.backend === "rbw") return `the rbw vault${s.rbw?.folder ? ` (folder ${s.rbw.folder})` : ""}`;
  return `the development secrets file ${s.file?.path ?? "(unset)"}`;
}

const rows = (pairs: [string, string][]): string[] => {
  const width = Math.max(...pairs.map(([a]) => a.length));
  return pairs.map(([a, b]) => `  ${a.padEnd(width)}  ${b}`);
};

export function installSummary(c: Config, l: Layout, o: InstallOutcome): string[] {
  const under = o.live ? "" : ` (paths under ${o.root})`;
  const lines = [o.written > 0 ? `Installed${o.live ? "" : ` under ${o.root}`}: ${o.written} file(s) written.` : `Installed: the host already matched wirebot.yaml${o.live ? "" : ` under ${o.root}`}.`, ""];

  lines.push(`Written${under}:`);
  const written: [string, string][] = [
    [PATHS.configFile, "the desired state: edit it, then run `wirebot apply`"],
    [PATHS.manifest, "every file wirebot manages (uninstall reads it)"],
    [PATHS.unitDir, o.units.join(", ")],
    [l.dataDir, "gateway state, and users/<id>/workspace for each user"],
  ];
  if (o.credential) written.push([o.credential, "the Bitwarden access token (root only)"]);
  lines.push(...rows(written), "");

  const { required, generated } = vaultSecrets(c, l);
  if (required.length) {
    lines.push(`Secrets that must exist in ${vaultName(c)} before the services start (name: what reads it):`);
    lines.push(...rows(required.map((s) => [s.name, s.use.join("; ")])));
  }
  if (generated.length) lines.push(`Created there by wirebot when missing: ${generated.join(", ")}.`);
  if (c.secrets.backend === "bitwarden" && !o.credential)
    lines.push("No Bitwarden access token was stored: run `read -rs BWS_ACCESS_TOKEN && export BWS_ACCESS_TOKEN`, then `wirebot install --config /etc/wirebot/wirebot.yaml --yes`.");
  if (c.secrets.backend === "rbw")
    lines.push("After every reboot (and when rbw's lock_timeout has passed) run `sudo wirebot secrets unlock`, then `sudo systemctl restart wirebot-secrets`: rbw's vault needs its master password.");
  lines.push("");

  const root = o.live ? "" : ` --root ${o.root}`;
  lines.push("Next:");
  const next: [string, string][] = o.live
    ? [
        ["wirebot status", "units, gateways, ports, tunnel, secret freshness, ledger lag, budgets"],
        ["wirebot doctor", "the same, with a fix for each problem"],
      ]
    : [
        [`wirebot status${root}`, "the rendered files, modes and plan"],
        ["boot the image", "wirebot-secrets.service pulls the secrets, then the gateways start"],
      ];
  next.push([`wirebot plan${root} --exit-code`, "0 while the host matches wirebot.yaml"]);
  if (o.live) for (const u of c.users) if (u.channels.whatsapp) next.push([`wirebot channels login whatsapp --user ${u.id}`, `link ${u.channels.whatsapp.peer} for ${u.id} (scan the QR code)`]);
  if (c.tunnel.enabled) next.push([`https://${c.tunnel.hostnames.helm ?? `helm.${c.domain}`}`, "the Control UI (approve new browsers with `openclaw devices approve`)"]);
  lines.push(...rows(next));
  return lines;
}
