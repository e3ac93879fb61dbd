/** MIN_SYSTEMD is the systemd version table's floor for every unit wirebot renders, and preflight refuses below it saying why. */
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PACKAGE_ROOT, readAssets } from "../assets.ts";
import { resolveLayout } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { renderAll } from "../render/index.ts";
import { droppedBy } from "../render/systemd-directives.ts";
import { exampleText, WIREBOT_CMD } from "../testing/harness.ts";
import { judge, MIN_SYSTEMD, type HostFacts } from "./preflight.ts";

const assets = readAssets();
const EXAMPLES = readdirSync(path.join(PACKAGE_ROOT, "examples")).filter((f) => f.endsWith(".yaml")).map((f) => f.replace(/\.yaml$/, ""));

/** Every unit and drop-in of one render. */
function unitFiles(c: Config, encryptedCredential: boolean): { name: string; text: string }[] {
  return renderAll(c, { assets, wirebot: WIREBOT_CMD, configText: "x", encryptedCredential })
    .resources.flatMap((r) => (r.kind === "file" && r.path.startsWith("/etc/systemd/system/") && /\.(service|conf)$/.test(r.path) ? [{ name: r.path.slice("/etc/systemd/system/".length), text: r.content.toString() }] : []));
}

/** Each example, each with a sandboxed first user, and under each secrets backend. */
function configs(): { variant: string; c: Config }[] {
  const out: { variant: string; c: Config }[] = [];
  for (const ex of EXAMPLES) {
    out.push({ variant: ex, c: parseConfig(exampleText(ex), ex) }, { variant: `${ex} sandboxed`, c: parseConfig(exampleText(ex), ex, { WIREBOT_USERS__0__TRUST: "sandboxed" }) });
    for (const backend of ["rbw", "file"] as const) {
      const c = parseConfig(exampleText(ex), ex);
      c.secrets = backend === "rbw" ? { ...c.secrets, backend } : { ...c.secrets, backend, file: { path: "/etc/wirebot/dev-secrets.yaml" } };
      out.push({ variant: `${ex} ${backend}`, c });
    }
  }
  return out;
}

describe("MIN_SYSTEMD", () => {
  // The bootstrap token on a host without systemd-creds (before 250) is the plain file: LoadCredential=.
  const all = configs().flatMap(({ variant, c }) => unitFiles(c, false).map((u) => ({ ...u, variant })));

  it("is exactly the oldest systemd that applies every line of every unit rendered from every example", () => {
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(3);
    expect(all.map((u) => u.name)).toEqual(expect.arrayContaining(["wirebot-reconcile.service", "cloudflared-wirebot.service", "wirebot-secrets.service", "clawdbot-gateway.service", "wirebot-sandbox.service"]));
    for (const u of all) {
      const v = droppedBy(MIN_SYSTEMD, u.text);
      expect(v.unknown, `${u.variant} ${u.name}`).toEqual([]);
      expect(v.dropped, `${u.variant} ${u.name}`).toEqual([]);
    }
    // and not above it: something rendered needs MIN_SYSTEMD itself
    expect(Math.max(...all.map((u) => droppedBy(MIN_SYSTEMD, u.text).needs))).toBe(MIN_SYSTEMD);
  });

  it("one systemd older, the credential units do not run: the reason preflight gives", () => {
    const broken = all.filter((u) => droppedBy(MIN_SYSTEMD - 1, u.text).dropped.some((d) => d.effect === "broken")).map((u) => u.name);
    expect(new Set(broken)).toEqual(new Set(["wirebot-reconcile.service", "cloudflared-wirebot.service", "wirebot-secrets.service"]));
  });

  it("only the encrypted bootstrap credential asks for more (250): a host without systemd-creds stores the token as the plain file", () => {
    // storeBootstrapToken falls back to the plain file when `systemd-creds encrypt` fails (bootstrap-token.test.ts),
    // systemd-creds shipped with LoadCredentialEncrypted= in 250 (NEWS 250), and the plain file renders LoadCredential=.
    for (const ex of EXAMPLES) {
      const enc = unitFiles(parseConfig(exampleText(ex), ex), true);
      const over = enc.flatMap((u) => droppedBy(MIN_SYSTEMD, u.text).dropped.map((d) => `${u.name} ${d.feature} ${d.since}`));
      expect(over, ex).toEqual(["wirebot-secrets.service LoadCredentialEncrypted= 250"]);
    }
  });
});

describe("preflight's systemd check", () => {
  const c = parseConfig(exampleText("mixed"), "mixed");
  const l = resolveLayout(c);
  const facts = (systemdVersion: number | null): HostFacts => ({ osId: "ubuntu", osVersion: "22.04", systemdVersion, memTotalBytes: 8 * 1024 ** 3, diskFreeBytes: 50 * 1024 ** 3, busyPorts: [] });

  it("passes MIN_SYSTEMD (Debian 11's 247) and Ubuntu 22.04's 249", () => {
    expect(judge(c, l, facts(MIN_SYSTEMD))).toEqual([]);
    expect(judge(c, l, facts(249))).toEqual([]);
  });

  it("refuses anything older, naming what the units need and where the versions are", () => {
    for (const v of [MIN_SYSTEMD - 1, 239]) {
      const issues = judge(c, l, facts(v));
      expect(issues).toEqual([
        {
          path: "systemd",
          message: `systemd ${v} is too old: wirebot's units need ${MIN_SYSTEMD}+ (LoadCredential=, which hands the reconcile daemon its config, cloudflared its tunnel token and the secrets unit the Bitwarden token; see docs/systemd-versions.md)`,
        },
      ]);
    }
  });
});
