/** Renders the systemd units, drop-ins, sysusers.d and tmpfiles.d snippets from units/ and templates/. Pure. */
import { dedicatedServiceUser, PATHS, SERVICE_USER, usersDir, type GatewayLayout, type Layout } from "../config/layout.ts";
import { gatewayBudget, type GatewayBudget } from "../config/capacity.ts";
import type { Config } from "../config/schema.ts";
import type { Templates } from "../assets.ts";
import { RBW_ROOT_DIRS, RBW_XDG_RUNTIME_DIR } from "../secrets/rbw-place.ts";
import { BWS_CRED_ENCRYPTED, BWS_CRED_PLAIN, BWS_CREDENTIAL } from "../secrets/bootstrap-token.ts";
import { renderPolicy } from "./unit-policy.ts";
import { gatewaySandboxLines, sandboxedSharedUsers, sandboxSysusersLine } from "./sandbox-units.ts";
import { MANAGED_HEADER, renderTemplate } from "./template.ts";
import { DRIFT_TIMER, DRIFT_UNIT, type WirebotCommand } from "../config/units.ts";



function tmpl(t: Templates, name: string): string {
  const text = t[name];
  if (text === undefined) throw new Error(`missing template ${name}.tmpl in the package`);
  return text;
}

const blocks = { blocks: ["hardening", "credential", "lines", "memory"] };

// The rbw agent runs outside the unit (`wirebot secrets unlock` starts it): the unit sees root's rbw files
// read-only and the rest of /root and /home stays hidden (ProtectHome=tmpfs). rbw finds the agent's socket under
// /run/wirebot, already writable here, because wirebot sets XDG_RUNTIME_DIR for every rbw it runs
// (secrets/rbw.ts), in a shell and in this unit alike. A missing directory (rbw never logged in) is skipped
// ("-"); rbw then says what is missing.
const RBW_LINES = [
  `# backend 'rbw': root's rbw config and vault cache; the agent \`wirebot secrets unlock\` started listens under ${RBW_XDG_RUNTIME_DIR}/rbw`,
  `BindReadOnlyPaths=${RBW_ROOT_DIRS.map((d) => `-${d}`).join(" ")}`,
].join("\n");

export function renderSecretsUnit(c: Config, cmd: WirebotCommand, t: Templates, encryptedCredential: boolean): string {
  const staleFiles = [`${PATHS.runDir}/*.env`, `${PATHS.runUsersDir}/*.env`, PATHS.tunnelToken, PATHS.gatewayKeys];
  const credential = encryptedCredential ? `LoadCredentialEncrypted=${BWS_CREDENTIAL}:${BWS_CRED_ENCRYPTED}` : `LoadCredential=${BWS_CREDENTIAL}:${BWS_CRED_PLAIN}`;
  // The file backend writes generated secrets back into its vault file.
  const writePaths = [PATHS.runDir, PATHS.gatewayKeysDir, ...(c.secrets.backend === "file" && c.secrets.file ? [c.secrets.file.path.replace(/\/[^/]+$/, "") || "/"] : [])];
  return renderTemplate(
    "wirebot-secrets.service",
    tmpl(t, "wirebot-secrets.service"),
    {
      header: MANAGED_HEADER,
      wirebotNode: cmd.node,
      wirebotEntry: cmd.entry,
      staleFiles: staleFiles.join(" "),
      credential: c.secrets.backend === "bitwarden" ? credential : c.secrets.backend === "rbw" ? RBW_LINES : `# backend '${c.secrets.backend}': no bootstrap credential`,
      writePaths: writePaths.join(" "),
      // CAP_CHOWN and the chown calls (which ~@privileged denies) alone: the shared gateway's key file must
      // belong to the user the runtime runs as, and the pull hands it over.
      hardening: [renderPolicy("secretsOneshot", { CapabilityBoundingSet: "CAP_CHOWN", ...(c.secrets.backend === "rbw" ? { ProtectHome: "tmpfs" } : {}) }), "SystemCallFilter=@chown"].join("\n"),
    },
    blocks,
  );
}

/**
 * A gateway's memory budget as unit lines (config/capacity.ts): MemoryHigh= throttles, MemoryMax= has the
 * OOM killer stop the gateway (OOMPolicy=stop: the whole unit, which Restart= brings back), and the main V8
 * heap is capped below MemoryHigh so the runtime collects garbage before the kernel acts.
 */
function memoryLines(b: GatewayBudget): string {
  return [
    `# Memory budget (${b.source === "model" ? `capacity model, ${b.agents} agent(s): docs/gateway-footprint.md` : "gateway.memory / users[].memory in wirebot.yaml"})`,
    `MemoryHigh=${b.highMiB}M`,
    `MemoryMax=${b.maxMiB}M`,
    "OOMPolicy=stop",
    `TasksMax=${b.tasksMax}`,
    `Environment=NODE_OPTIONS=--max-old-space-size=${b.heapMiB}`,
  ].join("\n");
}

export function renderSharedGatewayUnit(c: Config, l: Layout, t: Templates): string | null {
  const g = l.shared;
  if (!g) return null;
  return renderTemplate(
    "clawdbot-gateway.service",
    tmpl(t, "clawdbot-gateway.service"),
    {
      header: MANAGED_HEADER,
      stateDir: g.stateDir,
      configPath: g.configPath,
      nodeBin: l.nodeBin,
      gatewayEntry: l.gatewayEntry,
      port: g.port,
      // The state dir and the users' tree, not one entry per user: a user added later must not change this
      // unit, or the gateway would restart for every tenant. Other users' directories there stay closed by
      // their owners and modes (a dedicated user's is its own service user's, 0700).
      writePaths: [g.stateDir, usersDir(c)].join(" "),
      // With sandboxed users: the sandbox service's socket, and files the sandbox user can share (sandbox-units.ts).
      hardening: renderPolicy("gateway") + (sandboxedSharedUsers(l).length > 0 ? `\n${gatewaySandboxLines()}` : ""),
      memory: memoryLines(gatewayBudget(c, g)),
    },
    blocks,
  );
}

export function renderDedicatedTemplateUnit(c: Config, l: Layout, t: Templates): string {
  return renderTemplate(
    "clawdbot-gateway@.service",
    tmpl(t, "clawdbot-gateway@.service"),
    { header: MANAGED_HEADER, dataDir: c.paths.data, nodeBin: l.nodeBin, gatewayEntry: l.gatewayEntry, hardening: renderPolicy("gateway") },
    blocks,
  );
}

export function renderDedicatedDropIn(c: Config, g: GatewayLayout, t: Templates): string {
  return renderTemplate("clawdbot-gateway@.dropin.conf", tmpl(t, "clawdbot-gateway@.dropin.conf"), {
    header: MANAGED_HEADER,
    serviceUser: dedicatedServiceUser(g.users[0]!.id),
    memory: memoryLines(gatewayBudget(c, g)),
  }, blocks);
}

export function renderTunnelUnit(c: Config, t: Templates): string {
  return renderTemplate(
    "cloudflared-wirebot.service",
    tmpl(t, "cloudflared-wirebot.service"),
    { header: MANAGED_HEADER, tunnelName: c.tunnel.name, hardening: renderPolicy("goDaemon") },
    blocks,
  );
}

export function renderReconcileUnit(c: Config, cmd: WirebotCommand, t: Templates): string {
  return renderTemplate(
    "wirebot-reconcile.service",
    tmpl(t, "wirebot-reconcile.service"),
    { header: MANAGED_HEADER, apiPort: c.metering.api.port, wirebotNode: cmd.node, wirebotEntry: cmd.entry, wirebotVersion: cmd.version, hardening: renderPolicy("nodeDaemon") },
    blocks,
  );
}

/**
 * The drift check (drift.schedule): a root oneshot that runs `wirebot plan --record`. It reads every file the
 * appliance renders (state dirs are 0700 of their service users: CAP_DAC_READ_SEARCH, read only) and the
 * vault through the same bootstrap credential as the secrets unit; it writes only its StateDirectory.
 */
export function renderDriftUnits(c: Config, cmd: WirebotCommand, t: Templates, encryptedCredential: boolean): { service: string; timer: string } | null {
  const schedule = c.drift.schedule;
  if (schedule === undefined) return null;
  const credential =
    c.secrets.backend === "bitwarden"
      ? encryptedCredential
        ? `LoadCredentialEncrypted=${BWS_CREDENTIAL}:${BWS_CRED_ENCRYPTED}`
        : `LoadCredential=${BWS_CREDENTIAL}:${BWS_CRED_PLAIN}`
      : c.secrets.backend === "rbw"
        ? RBW_LINES
        : `# backend '${c.secrets.backend}': no bootstrap credential`;
  const service = renderTemplate(
    DRIFT_UNIT,
    tmpl(t, DRIFT_UNIT),
    {
      header: MANAGED_HEADER,
      wirebotNode: cmd.node,
      wirebotEntry: cmd.entry,
      credential,
      hardening: renderPolicy("secretsOneshot", { CapabilityBoundingSet: "CAP_DAC_READ_SEARCH", ...(c.secrets.backend === "rbw" ? { ProtectHome: "tmpfs" } : {}) }),
    },
    blocks,
  );
  return { service, timer: renderTemplate(DRIFT_TIMER, tmpl(t, DRIFT_TIMER), { header: MANAGED_HEADER, schedule }) };
}

export function renderSysusers(c: Config, l: Layout, t: Templates): string {
  const lines = [`u ${SERVICE_USER} - "Wirebot gateway and metering" ${PATHS.ledgerDir} /usr/sbin/nologin`];
  for (const g of l.dedicated) lines.push(`u ${g.serviceUser} - "Wirebot dedicated gateway (${g.id})" ${g.stateDir} /usr/sbin/nologin`);
  if (sandboxedSharedUsers(l).length > 0) lines.push(sandboxSysusersLine());
  return renderTemplate("sysusers.conf", tmpl(t, "sysusers.conf"), { header: MANAGED_HEADER, lines: lines.join("\n") }, blocks);
}

export function renderTmpfiles(t: Templates): string {
  return renderTemplate("tmpfiles.conf", tmpl(t, "tmpfiles.conf"), { header: MANAGED_HEADER });
}
