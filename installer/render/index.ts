/** Renders the whole desired state of the appliance: (config, package assets) → resources and units. Pure. */
import { PATHS, resolveLayout, SERVICE_USER, userDir, usersDir, workspaceDir, type Layout } from "../config/layout.ts";
import type { Config } from "../config/schema.ts";
import { planSecrets } from "../config/secret-plan.ts";
import { selectSkills } from "../runtime/skills.ts";
import type { Assets } from "../assets.ts";
import { ROOT, type Desired, type OwnerSpec, type Resource, type UnitSpec } from "../engine/resource.ts";
import { markerResource } from "../ownership/marker.ts";
import { renderTunnelConfig } from "../tunnel/tunnel-config.ts";
import type { AccessFacts } from "../tunnel/origin-access.ts";
import { gatewayPlugins, renderGatewayConfig, SHARED_LIVE_PATHS } from "./gateway-config.ts";
import { isSandboxed } from "./sandbox.ts";
import { SANDBOXED_WORKSPACE, sandboxResources } from "./sandbox-units.ts";
import { renderDedicatedDropIn, renderDedicatedTemplateUnit, renderDriftUnits, renderReconcileUnit, renderSecretsUnit, renderSharedGatewayUnit, renderSysusers, renderTmpfiles, renderTunnelUnit } from "./units.ts";
import { DRIFT_TIMER, DRIFT_UNIT, GATEWAY_TEMPLATE_UNIT, RECONCILE_UNIT, SECRETS_UNIT, TUNNEL_UNIT, type WirebotCommand } from "../config/units.ts";

export interface RenderContext {
  assets: Assets;
  wirebot: WirebotCommand;
  /** The text of wirebot.yaml as it will be installed at /etc/wirebot/wirebot.yaml. */
  configText: string;
  /** systemd-creds is available: the bootstrap token is stored encrypted. */
  encryptedCredential: boolean;
  /** What the last apply got from Cloudflare Access (team, AUD tags), read from PATHS.tunnelAccess; null before. */
  tunnelAccess?: AccessFacts | null;
  /** Extra resources from other capabilities (tunnel config), rendered by their own pure functions. */
  extra?: (c: Config, l: Layout) => Resource[];
}

const WANTS = "/etc/systemd/system/multi-user.target.wants";
const own = (user: string): OwnerSpec => ({ user, group: user });
const unitFile = (name: string, content: string, notify: string[]): Resource => ({
  kind: "file",
  path: `/etc/systemd/system/${name}`,
  content,
  mode: 0o644,
  owner: ROOT,
  notify,
});
const enableLink = (instance: string, unitFileName = instance): Resource => ({
  kind: "link",
  path: `${WANTS}/${instance}`,
  target: `/etc/systemd/system/${unitFileName}`,
  notify: [],
});

export function renderAll(c: Config, ctx: RenderContext): Desired {
  const l = resolveLayout(c);
  const secrets = planSecrets(c, l);
  const t = ctx.assets.templates;
  const r: Resource[] = [];
  const units: UnitSpec[] = [];
  const gatewayUnits = l.gateways.map((g) => g.unit);

  // Desired state itself and the system snippets.
  r.push({ kind: "dir", path: PATHS.etcDir, mode: 0o700, owner: ROOT, notify: [] });
  // Marked as made by wirebot: uninstall --purge deletes only marked trees (ownership/marker.ts).
  r.push(markerResource(PATHS.etcDir, ROOT));
  r.push({ kind: "dir", path: PATHS.credstore, mode: 0o700, owner: ROOT, notify: [] });
  r.push({ kind: "file", path: PATHS.configFile, content: ctx.configText, mode: 0o600, owner: ROOT, notify: [RECONCILE_UNIT] });
  r.push({ kind: "file", path: PATHS.sysusers, content: renderSysusers(c, l, t), mode: 0o644, owner: ROOT, notify: [] });
  r.push({ kind: "file", path: PATHS.tmpfiles, content: renderTmpfiles(t), mode: 0o644, owner: ROOT, notify: [] });

  // Skills, shared read-only by every gateway.
  r.push({ kind: "dir", path: "/opt/wirebot", mode: 0o755, owner: ROOT, notify: [] });
  r.push({ kind: "dir", path: PATHS.skillsDir, mode: 0o755, owner: ROOT, notify: [] });
  for (const skill of selectSkills(c, ctx.assets.skills)) {
    const base = `${PATHS.skillsDir}/${skill.name}`;
    r.push({ kind: "dir", path: base, mode: 0o755, owner: ROOT, notify: [] });
    const subdirs = new Set(skill.files.flatMap((f) => f.relPath.split("/").slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join("/"))));
    for (const d of [...subdirs].sort()) r.push({ kind: "dir", path: `${base}/${d}`, mode: 0o755, owner: ROOT, notify: [] });
    for (const f of skill.files) r.push({ kind: "file", path: `${base}/${f.relPath}`, content: f.content, mode: 0o644, owner: ROOT, notify: gatewayUnits });
  }

  // Gateway plugins (the tenant guard), read-only to every gateway; a change reaches a gateway on its next start.
  const pluginsWanted = new Set(l.gateways.flatMap((g) => gatewayPlugins(g)));
  if (pluginsWanted.size > 0) r.push({ kind: "dir", path: PATHS.pluginsDir, mode: 0o755, owner: ROOT, notify: [] });
  for (const plugin of ctx.assets.plugins.filter((p) => pluginsWanted.has(p.name))) {
    const base = `${PATHS.pluginsDir}/${plugin.name}`;
    r.push({ kind: "dir", path: base, mode: 0o755, owner: ROOT, notify: [] });
    const users = l.gateways.filter((g) => gatewayPlugins(g).includes(plugin.name)).map((g) => g.unit);
    for (const f of plugin.files) r.push({ kind: "file", path: `${base}/${f.relPath}`, content: f.content, mode: 0o644, owner: ROOT, notify: users });
  }

  // State directories: every user has one in both modes; its owner is the user's gateway's service user.
  r.push({ kind: "dir", path: c.paths.data, mode: 0o755, owner: ROOT, notify: [] });
  r.push(markerResource(c.paths.data, ROOT));
  r.push({ kind: "dir", path: usersDir(c), mode: 0o755, owner: ROOT, notify: [] });
  for (const g of l.gateways) {
    const owner = own(g.serviceUser);
    if (g.kind === "shared") r.push({ kind: "dir", path: g.stateDir, mode: 0o700, owner, notify: [] });
    for (const u of g.users) {
      r.push({ kind: "dir", path: userDir(c, u.id), mode: 0o700, owner, notify: [] });
      // A sandboxed user's workspace is shared with the sandbox user (sandbox-units.ts).
      const shared = g.kind === "shared" && isSandboxed(u);
      r.push({ kind: "dir", path: workspaceDir(c, u.id), mode: shared ? SANDBOXED_WORKSPACE.mode : 0o700, owner: shared ? { ...SANDBOXED_WORKSPACE.owner } : owner, notify: [] });
    }
    const live = g.kind === "shared" ? { liveReload: { prefixes: [...SHARED_LIVE_PATHS] }, afterSecrets: true } : {};
    r.push({ kind: "file", path: g.configPath, content: renderGatewayConfig(c, l, g), mode: 0o600, owner, notify: [g.unit], ...live });
  }
  r.push({ kind: "dir", path: PATHS.ledgerDir, mode: 0o700, owner: own(SERVICE_USER), notify: [] });
  r.push(markerResource(PATHS.ledgerDir, own(SERVICE_USER)));

  // Units.
  r.push(unitFile(SECRETS_UNIT, renderSecretsUnit(c, ctx.wirebot, t, ctx.encryptedCredential), [SECRETS_UNIT]));
  r.push(enableLink(SECRETS_UNIT));
  const shared = renderSharedGatewayUnit(c, l, t);
  if (shared && l.shared) {
    r.push(unitFile(l.shared.unit, shared, [l.shared.unit]));
    r.push(enableLink(l.shared.unit));
  }
  if (l.dedicated.length > 0) {
    r.push(unitFile(GATEWAY_TEMPLATE_UNIT, renderDedicatedTemplateUnit(c, l, t), l.dedicated.map((g) => g.unit)));
    for (const g of l.dedicated) {
      r.push({ kind: "dir", path: `/etc/systemd/system/${g.unit}.d`, mode: 0o755, owner: ROOT, notify: [] });
      r.push(unitFile(`${g.unit}.d/10-wirebot.conf`, renderDedicatedDropIn(c, g, t), [g.unit]));
      r.push(enableLink(g.unit, GATEWAY_TEMPLATE_UNIT));
    }
  }
  r.push(unitFile(RECONCILE_UNIT, renderReconcileUnit(c, ctx.wirebot, t), [RECONCILE_UNIT]));
  r.push(enableLink(RECONCILE_UNIT));
  if (c.tunnel.enabled) {
    r.push({ kind: "dir", path: PATHS.cloudflaredDir, mode: 0o755, owner: ROOT, notify: [] });
    r.push({ kind: "file", path: PATHS.tunnelConfig, content: renderTunnelConfig(c, l, undefined, ctx.tunnelAccess ?? null), mode: 0o644, owner: ROOT, notify: [TUNNEL_UNIT] });
    r.push(unitFile(TUNNEL_UNIT, renderTunnelUnit(c, t), [TUNNEL_UNIT]));
    r.push(enableLink(TUNNEL_UNIT));
  }
  const drift = renderDriftUnits(c, ctx.wirebot, t, ctx.encryptedCredential);
  if (drift) {
    r.push(unitFile(DRIFT_UNIT, drift.service, []));
    r.push(unitFile(DRIFT_TIMER, drift.timer, [DRIFT_TIMER]));
    r.push({ kind: "link", path: `${PATHS.unitDir}/timers.target.wants/${DRIFT_TIMER}`, target: `${PATHS.unitDir}/${DRIFT_TIMER}`, notify: [] });
  }
  const sandbox = sandboxResources(c, l, t, {
    unitFile,
    enableLink: (name, wantedBy) => ({ kind: "link", path: `/etc/systemd/system/${wantedBy}.wants/${name}`, target: `/etc/systemd/system/${name}`, notify: [] }),
  });
  r.push(...sandbox.resources);
  if (ctx.extra) r.push(...ctx.extra(c, l));

  units.push({ name: SECRETS_UNIT });
  units.push(...sandbox.units);
  for (const g of l.gateways) units.push({ name: g.unit, health: { url: `http://127.0.0.1:${g.port}/health`, expectJson: { ok: true } } });
  units.push({ name: RECONCILE_UNIT, health: { url: `http://127.0.0.1:${c.metering.api.port}/health`, expectJson: { ok: true } } });
  if (c.tunnel.enabled) units.push({ name: TUNNEL_UNIT });
  if (drift) units.push({ name: DRIFT_TIMER });

  assertUniquePaths(r);
  return { resources: r, units };
}

function assertUniquePaths(r: Resource[]): void {
  const seen = new Set<string>();
  for (const res of r) {
    if (seen.has(res.path)) throw new Error(`internal: two resources render ${res.path}`);
    seen.add(res.path);
  }
}
