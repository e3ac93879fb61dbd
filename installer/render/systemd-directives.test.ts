/** The systemd version table against every unit wirebot renders, and what systemd 239 (RHEL 8), 247 to 250 and 252 make of each unit. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PACKAGE_ROOT, readAssets } from "../assets.ts";
import { parseConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { exampleText, WIREBOT_CMD } from "../testing/harness.ts";
import { renderAll } from "./index.ts";
import { DIRECTIVES, droppedBy, ENV_REFS, envRefs, parseSystemdVersion, RULES, serviceLines, SPECIFIERS, SUPERSEDED, VALUES, type SystemdVersion } from "./systemd-directives.ts";

const assets = readAssets();

/** Every .service file of one render, by name. */
function units(c: Config, encryptedCredential = true): Map<string, string> {
  const d = renderAll(c, { assets, wirebot: WIREBOT_CMD, configText: "x", encryptedCredential });
  const out = new Map<string, string>();
  for (const r of d.resources) if (r.kind === "file" && r.path.startsWith("/etc/systemd/system/") && r.path.endsWith(".service")) out.set(path.basename(r.path), r.content.toString());
  return out;
}

const load = (name: string, env: Record<string, string> = {}) => parseConfig(exampleText(name), name, env);
const withBackend = (backend: "rbw" | "file"): Config => {
  const c = load("mixed");
  c.secrets = backend === "rbw" ? { ...c.secrets, backend } : { ...c.secrets, backend, file: { path: "/etc/wirebot/dev-secrets.yaml" } };
  return c;
};

/** Each variant that changes a unit's lines: the examples, the plain bootstrap credential, a sandboxed user, the other secrets backends. */
const VARIANTS: [string, Map<string, string>][] = [
  ["mixed", units(load("mixed"))],
  ["one-user", units(load("one-user"))],
  ["three-users", units(load("three-users"))],
  ["plain credential", units(load("mixed"), false)],
  ["sandboxed", units(load("three-users", { WIREBOT_USERS__0__TRUST: "sandboxed" }))],
  ["rbw", units(withBackend("rbw"))],
  ["file", units(withBackend("file"))],
];
const ALL = VARIANTS.flatMap(([variant, m]) => [...m].map(([name, text]) => ({ variant, name, text })));
const unit = (variant: string, name: string) => VARIANTS.find(([v]) => v === variant)![1].get(name)!;
const features = (v: SystemdVersion | number, text: string) => droppedBy(v, text).dropped.map((d) => d.feature);

describe("the table", () => {
  it("covers every [Service] key, value word, specifier and exec prefix of every rendered unit", () => {
    expect(ALL.map((u) => u.name)).toEqual(expect.arrayContaining(["wirebot-secrets.service", "clawdbot-gateway.service", "clawdbot-gateway@.service", "cloudflared-wirebot.service", "wirebot-reconcile.service", "wirebot-sandbox.service"]));
    for (const u of ALL) {
      expect(serviceLines(u.text).length, `${u.variant} ${u.name}`).toBeGreaterThan(10);
      expect(droppedBy(252, u.text).unknown, `${u.variant} ${u.name}`).toEqual([]);
    }
  });

  it("holds nothing the units do not use, but what earlier renderings used (kept for doctor)", () => {
    const used = new Set<string>();
    for (const u of ALL)
      for (const l of serviceLines(u.text)) {
        used.add(l.key).add(`${l.key}=${l.value}`);
        for (const w of l.value.replace(/^~/, "").split(/\s+/)) used.add(`${l.key}=${w}`);
        for (const s of l.value.match(/%[A-Za-z]/g) ?? []) used.add(s);
        for (const r of envRefs(l.value)) used.add(`\${${r}}`);
      }
    const unused = [...Object.keys(DIRECTIVES), ...Object.keys(VALUES), ...Object.keys(SPECIFIERS), ...Object.keys(ENV_REFS)].filter((k) => !used.has(k));
    expect(unused.sort()).toEqual(Object.keys(SUPERSEDED).filter((k) => !RULES.some((r) => r.feature === k)).sort());
    expect(unused).toEqual(expect.arrayContaining(["%d", "ProcSubset=pid"]));
  });

  it("no rendered unit carries what it superseded, or trips a rule", () => {
    for (const u of ALL) {
      expect(u.text, `${u.variant} ${u.name}`).not.toMatch(/%d|^ProcSubset=pid$/m);
      for (const v of [247, 248, 249, 250]) expect(droppedBy(v, u.text).dropped.filter((d) => RULES.some((r) => r.feature === d.feature)), `${u.variant} ${u.name}`).toEqual([]);
    }
  });

  it("names what it does not know, so a new directive cannot slip past it", () => {
    expect(droppedBy(252, "[Service]\nProtectFrobnicate=yes\nProtectHome=sideways\nExecStart=/bin/x %Q\n").unknown).toEqual(["ProtectFrobnicate=", "ProtectHome=sideways", "%Q"]);
    // a variable systemd does not set (an EnvironmentFile= one, say) is not judged; one the unit sets itself needs nothing
    expect(droppedBy(252, "[Service]\nEnvironment=A=1 \"B=2 3\"\nExecStart=/bin/x ${A} $B ${C} $D\n").unknown).toEqual(["${C}", "${D}"]);
    // only [Service] is judged
    expect(droppedBy(239, "[Unit]\nProtectClock=yes\n[Install]\nWantedBy=x\n").dropped).toEqual([]);
  });
});

describe("systemd 252 (Debian 12)", () => {
  it("applies every line of every unit", () => {
    for (const u of ALL) {
      expect(droppedBy(252, u.text).dropped, `${u.variant} ${u.name}`).toEqual([]);
      expect(droppedBy(252, u.text).needs).toBeLessThanOrEqual(252);
    }
  });
});

describe("systemd 239 (RHEL 8)", () => {
  const v239 = { major: 239 };

  it("ignores the newer hardening of the gateway, which still starts", () => {
    const d = droppedBy(v239, unit("mixed", "clawdbot-gateway.service"));
    // RestrictSUIDSGID=no and ProcSubset=all ask for the default: ignoring them costs nothing
    // OOMPolicy=stop (243): an older systemd leaves a unit whose process the OOM killer took running, half dead
    expect(d.dropped.map((x) => x.feature)).toEqual(["Type=exec", "OOMPolicy=", "ProtectKernelLogs=", "ProtectClock=", "ProtectHostname=", "ProtectProc="]);
    expect(d.dropped.filter((x) => x.effect === "broken")).toEqual([]);
    expect(d.dropped.every((x) => x.result === "line ignored")).toBe(true);
    expect(d.needs).toBe(247);
  });

  it("cannot run the units that read a credential: LoadCredential= is unknown and ${CREDENTIALS_DIRECTORY} expands to nothing", () => {
    for (const name of ["wirebot-reconcile.service", "cloudflared-wirebot.service"]) {
      const d = droppedBy(v239, unit("mixed", name));
      expect(d.dropped.filter((x) => x.effect === "broken").map((x) => `${x.feature} ${x.result}`)).toEqual(["LoadCredential= line ignored", "${CREDENTIALS_DIRECTORY} unit fails"]);
      expect(d.needs).toBe(247);
    }
    expect(features(v239, unit("mixed", "wirebot-secrets.service"))).toContain("LoadCredentialEncrypted=");
    expect(features(v239, unit("plain credential", "wirebot-secrets.service"))).toContain("LoadCredential=");
  });

  it("keeps the rbw backend's ProtectHome=tmpfs and BindReadOnlyPaths= (238 and 233)", () => {
    const text = unit("rbw", "wirebot-secrets.service");
    expect(text).toMatch(/^ProtectHome=tmpfs$/m);
    expect(text).toMatch(/^BindReadOnlyPaths=/m);
    expect(features(239, text)).not.toEqual(expect.arrayContaining(["ProtectHome=tmpfs"]));
    expect(features(237, text)).toEqual(expect.arrayContaining(["ProtectHome=tmpfs"]));
    expect(features(232, text)).toEqual(expect.arrayContaining(["BindReadOnlyPaths="]));
    expect(droppedBy(239, text).dropped.filter((x) => x.effect === "broken")).toEqual([]);
  });

  it("finds cloudflared by its bare name (239); 238 rejects the ExecStart= line", () => {
    const text = unit("mixed", "cloudflared-wirebot.service");
    expect(text).toMatch(/^ExecStart=cloudflared /m);
    expect(features(239, text)).not.toContain("ExecStart= without a path");
    expect(droppedBy(238, text).dropped.find((x) => x.feature === "ExecStart= without a path")).toMatchObject({ effect: "broken", result: "unit fails", since: 239 });
  });

  it("knows @system-service (239) but not older", () => {
    const text = unit("mixed", "clawdbot-gateway.service");
    expect(features(239, text)).not.toContain("SystemCallFilter=@system-service");
    expect(droppedBy(238, text).dropped.find((x) => x.feature === "SystemCallFilter=@system-service")).toMatchObject({ result: "word ignored", since: 239 });
  });

  it("RHEL 8's backports apply from the minor release that has them: Type=exec from 8.1, RestrictSUIDSGID= from 8.2", () => {
    const text = unit("mixed", "wirebot-reconcile.service");
    expect(features({ major: 239, rhel8Minor: 0 }, text)).toEqual(expect.arrayContaining(["Type=exec", "RestrictSUIDSGID="]));
    expect(features({ major: 239, rhel8Minor: 1 }, text)).not.toContain("Type=exec");
    expect(features({ major: 239, rhel8Minor: 1 }, text)).toContain("RestrictSUIDSGID=");
    expect(features({ major: 239, rhel8Minor: 10 }, text)).not.toEqual(expect.arrayContaining(["RestrictSUIDSGID="]));
    expect(features({ major: 239, rhel8Minor: 10 }, text)).toEqual(expect.arrayContaining(["ProtectClock=", "LoadCredential="]));
  });
});

describe("systemd 247 to 250 (Debian 11, Ubuntu 22.04)", () => {
  it("applies every line of every unit, the encrypted bootstrap credential aside (250, with systemd-creds)", () => {
    for (const v of [247, 249])
      for (const u of ALL) {
        const d = droppedBy(v, u.text).dropped.map((x) => x.feature);
        if (u.name === "wirebot-secrets.service" && u.text.includes("LoadCredentialEncrypted=")) expect(d, `${u.variant} ${u.name}`).toEqual(["LoadCredentialEncrypted="]);
        else expect(d, `${u.variant} ${u.name}`).toEqual([]);
      }
    expect(droppedBy(247, unit("mixed", "wirebot-reconcile.service")).needs).toBe(247);
    expect(droppedBy(247, unit("mixed", "wirebot-secrets.service")).needs).toBe(250);
    expect(droppedBy(247, unit("plain credential", "wirebot-secrets.service")).needs).toBe(247);
  });

  it("reads the credentials directory from ${CREDENTIALS_DIRECTORY} (247), not %d (251)", () => {
    expect(unit("mixed", "wirebot-reconcile.service")).toMatch(/^ExecStart=.* reconcile --daemon --config \$\{CREDENTIALS_DIRECTORY\}\/wirebot\.yaml$/m);
    expect(unit("mixed", "cloudflared-wirebot.service")).toMatch(/ --token-file \$\{CREDENTIALS_DIRECTORY\}\/tunnel-token$/m);
    expect(droppedBy(246, unit("mixed", "cloudflared-wirebot.service")).dropped.map((x) => `${x.feature} ${x.since}`)).toEqual(["LoadCredential= 247", "${CREDENTIALS_DIRECTORY} 247", "ProtectProc= 247"]);
  });
});

describe("units an earlier wirebot rendered (%d, ProcSubset=pid), as doctor finds them before `wirebot apply`", () => {
  const legacy = unit("mixed", "wirebot-reconcile.service").replace("${CREDENTIALS_DIRECTORY}", "%d").replace(/^ProtectProc=invisible$/m, "ProtectProc=invisible\nProcSubset=pid");
  const rules = (v: number, text: string) => droppedBy(v, text).dropped.filter((x) => RULES.some((r) => r.feature === x.feature));

  it("%d is rejected before 251 and fails the unit", () => {
    expect(droppedBy(250, legacy).dropped.find((x) => x.feature === "%d")).toMatchObject({ since: 251, effect: "broken", result: "unit fails" });
    expect(droppedBy(251, legacy).dropped).toEqual([]);
    expect(droppedBy(247, legacy).needs).toBe(251);
  });

  it("ProcSubset=pid with the /proc protections: started on 247 (measured on 247.3), fails on 248 and 249 (NEWS 250), runs from 250", () => {
    expect(rules(247, legacy)).toEqual([]);
    expect(rules(248, legacy)).toMatchObject([{ feature: "ProcSubset=pid with ProtectKernelTunables= or ProtectKernelLogs=", since: 250, effect: "broken", result: "unit fails" }]);
    expect(rules(249, legacy)).toHaveLength(1);
    expect(rules(250, legacy)).toEqual([]);
    expect(rules(246, legacy)).toEqual([]); // ProcSubset= itself is unknown there: ignored, no conflict
  });

  it("ProcSubset=pid with ProtectHostname= but without ProtectKernelTunables= fails from 247 (measured) to 250 (#22206)", () => {
    const bare = "[Service]\nExecStart=/bin/sleep infinity\nProcSubset=pid\nProtectHostname=yes\nProtectKernelLogs=yes\n";
    expect(rules(247, bare).map((x) => x.feature)).toEqual(["ProcSubset=pid with ProtectHostname= but not ProtectKernelTunables="]);
    expect(rules(249, bare).map((x) => x.feature)).toHaveLength(2);
    expect(rules(250, bare).map((x) => `${x.feature} ${x.since}`)).toEqual(["ProcSubset=pid with ProtectHostname= but not ProtectKernelTunables= 251"]);
    expect(rules(251, bare)).toEqual([]);
    expect(droppedBy(247, bare).needs).toBe(251);
    // with ProtectKernelTunables=yes, as every earlier wirebot unit had it, the hostname rule does not apply
    expect(rules(247, bare.replace("ProtectKernelLogs=yes", "ProtectKernelTunables=yes"))).toEqual([]);
  });

  it("names what replaced each of them", () => {
    expect(SUPERSEDED["%d"]).toContain("${CREDENTIALS_DIRECTORY}");
    for (const r of RULES) expect(SUPERSEDED[r.feature], r.feature).toBeDefined();
  });
});

describe("envRefs", () => {
  it("finds ${NAME} anywhere (quotes too, as systemd does) and $NAME as a word; $$ escapes", () => {
    expect(envRefs("/bin/x --config ${CREDENTIALS_DIRECTORY}/a.yaml")).toEqual(["CREDENTIALS_DIRECTORY"]);
    expect(envRefs("/bin/sh -c 'echo ${A}' $B")).toEqual(["A", "B"]);
    expect(envRefs("/bin/sh -ec 'grep -q x \"$f\"' $${C} $$D")).toEqual([]);
  });
});

describe("parseSystemdVersion", () => {
  it("reads systemctl --version's first line, and RHEL 8's minor release from os-release", () => {
    expect(parseSystemdVersion("systemd 252 (252.39-1~deb12u2)\n+PAM +AUDIT\n")).toEqual({ major: 252 });
    expect(parseSystemdVersion("systemd 239 (239-82.el8_10.2)\n+PAM\n", 'NAME="AlmaLinux"\nVERSION_ID="8.10"\n')).toEqual({ major: 239, rhel8Minor: 10 });
    // CentOS Stream 8 says only "8": no backport is assumed
    expect(parseSystemdVersion("systemd 239 (239-74.el8)\n", 'VERSION_ID="8"\n')).toEqual({ major: 239 });
    expect(parseSystemdVersion("systemd 239\n", 'VERSION_ID="8.10"\n')).toEqual({ major: 239 });
    expect(parseSystemdVersion("")).toBeNull();
    expect(parseSystemdVersion("bash: systemctl: command not found")).toBeNull();
  });
});

describe("docs/systemd-versions.md", () => {
  it("lists, per unit, exactly what systemd 239 drops", () => {
    const doc = readFileSync(path.join(PACKAGE_ROOT, "docs/systemd-versions.md"), "utf8");
    for (const [variant, name] of [
      ["mixed", "clawdbot-gateway.service"],
      ["mixed", "clawdbot-gateway@.service"],
      ["mixed", "wirebot-reconcile.service"],
      ["mixed", "cloudflared-wirebot.service"],
      ["mixed", "wirebot-secrets.service"],
      ["plain credential", "wirebot-secrets.service"],
      ["rbw", "wirebot-secrets.service"],
      ["sandboxed", "wirebot-sandbox.service"],
    ] as const) {
      const d = droppedBy(239, unit(variant, name));
      const cell = (effect: string) => d.dropped.filter((x) => x.effect === effect).map((x) => `\`${x.feature}\` (${x.since})`).join(", ") || "none";
      const row = `| ${name}${variant === "mixed" ? "" : ` (${variant})`} | ${cell("broken")} | ${cell("hardening")} | ${cell("behaviour")} | ${d.needs} |`;
      expect(doc, row).toContain(row);
    }
  });
});
