/** status/doctor under --root: what is checked in the tree (plan, modes, owners) and which live probes are skipped, by name. */
import { PATHS, resolveLayout } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import type { CommandContext } from "../pipeline/context.ts";
import { RECONCILE_UNIT, TUNNEL_UNIT } from "../config/units.ts";
import { driftChecks, driftPaths, permissionChecks } from "./doctor-checks.ts";
import type { FixScope } from "../fix-scope.ts";
import { managedUnits } from "./probes.ts";
import type { Check, Skipped } from "./report.ts";

/** Every probe collectStatus runs on a live host, named as it would have been, with why it means nothing for a tree. */
export function skippedStatusProbes(c: Config): Skipped[] {
  const l = resolveLayout(c);
  const ports = [...l.gateways.map((g) => g.port), c.metering.api.port];
  return [
    { area: "unit", name: managedUnits(c, l).join(", "), reason: "unit state comes from the running systemd, not from files (their unit files are in the plan)" },
    { area: "gateway", name: l.gateways.map((g) => `${g.id} (127.0.0.1:${g.port})`).join(", "), reason: "health answers come from running gateways" },
    { area: "port", name: ports.join(", "), reason: "listening sockets belong to this machine" },
    ...(c.tunnel.enabled ? [{ area: "tunnel" as const, name: c.tunnel.name, reason: `the ${TUNNEL_UNIT} connection and ${PATHS.tunnelToken} exist only on a booted host (the ingress file is in the plan)` }] : []),
    { area: "secrets", name: "pull", reason: `${PATHS.runDir} is tmpfs, filled by wirebot-secrets.service at boot` },
    { area: "metering", name: "api", reason: `ledger lag comes from ${RECONCILE_UNIT} on 127.0.0.1:${c.metering.api.port}` },
    { area: "budget", name: c.users.map((u) => u.id).join(", "), reason: "month-to-date spend comes from the reconcile API" },
  ];
}

/** doctor's extra live probes: this machine's RAM and disk are not the target's. */
export const skippedResourceProbes = (): Skipped[] => [
  { area: "resources", name: "memory", reason: "this machine's RAM says nothing about the host the root is for" },
  { area: "resources", name: "disk", reason: "free space here says nothing about the host the root is for" },
];

/** The tree checks: the plan (every file, dir, link, mode and owner apply writes), then modes of what the plan does not hold. */
export async function treeChecks(ctx: CommandContext, c: Config, text: string, scope: FixScope): Promise<Check[]> {
  const drift = await driftChecks(ctx, c, text, scope);
  return [...drift, ...(await permissionChecks(ctx.host, c, { reported: driftPaths(drift), scope }))];
}
