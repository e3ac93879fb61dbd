/** The end of an install names the vault secrets an operator must create (and only those), what was written, and what to run next. */
import { describe, expect, it } from "vitest";
import { resolveLayout } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import { exampleText } from "../testing/harness.ts";
import { installSummary, vaultSecrets } from "./next-steps.ts";

const mixed = parseConfig(exampleText("mixed"), "mixed.yaml");

describe("install summary", () => {
  it("lists the secrets to create by vault name, apart from those wirebot generates", () => {
    const { required, generated } = vaultSecrets(mixed, resolveLayout(mixed));
    expect(required.map((s) => s.name).sort()).toEqual(["wirebot/cloudflare-api-token", "wirebot/litellm-master-key", "wirebot/telegram-bot-token", "wirebot/telegram-bot-token-erin"]);
    expect(required.find((s) => s.name === "wirebot/telegram-bot-token-erin")?.use).toEqual(["TELEGRAM_BOT_TOKEN for clawdbot-gateway@erin.service"]);
    // The master key is read by the reconcile daemon and by apply itself: one line, both uses.
    expect(required.find((s) => s.name === "wirebot/litellm-master-key")?.use).toEqual(["LITELLM_MASTER_KEY for wirebot-reconcile.service", "LITELLM_MASTER_KEY, used by wirebot apply"]);
    expect(generated).toEqual(expect.arrayContaining(["wirebot/gateway-token", "wirebot/gateway-token/erin", "wirebot/litellm-key/alice", "wirebot/litellm-key/wirebot", "wirebot/api-token", "wirebot/tunnel-token/wirebot"]));
    expect(generated.filter((g) => required.some((r) => r.name === g))).toEqual([]);
  });

  it("a tunnel made by hand needs its token in the vault", () => {
    const text = exampleText("one-user").replace(", accountId: 0123456789abcdef0123456789abcdef, zoneId: fedcba9876543210fedcba9876543210", "").replace("    CLOUDFLARE_API_TOKEN:", "    TUNNEL_TOKEN: ops/tunnel\n    CLOUDFLARE_API_TOKEN:");
    const c = parseConfig(text, "hand-tunnel.yaml");
    const { required, generated } = vaultSecrets(c, resolveLayout(c));
    expect(required.map((s) => s.name)).toContain("ops/tunnel");
    expect(generated).not.toContain("ops/tunnel");
  });

  it("live: what was written, the vault, status and doctor next; no token stored is said with the way to store one", () => {
    const out = installSummary(mixed, resolveLayout(mixed), { root: "/", live: true, written: 40, units: ["wirebot-secrets.service", "clawdbot-gateway.service"], credential: null }).join("\n");
    expect(out).toMatch(/^Installed: 40 file\(s\) written\./);
    expect(out).toMatch(/\/etc\/wirebot\/wirebot\.yaml +the desired state/);
    expect(out).toMatch(/\/etc\/systemd\/system +wirebot-secrets\.service, clawdbot-gateway\.service/);
    expect(out).toContain("Secrets that must exist in Bitwarden Secrets Manager (project 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d) before the services start");
    expect(out).toMatch(/wirebot\/telegram-bot-token-erin +TELEGRAM_BOT_TOKEN for clawdbot-gateway@erin\.service/);
    expect(out).toContain("No Bitwarden access token was stored");
    expect(out).toMatch(/\n {2}wirebot status +units/);
    expect(out).toMatch(/\n {2}wirebot doctor +/);
    expect(out).toContain("https://helm.wirebot.example.org");
    expect(out).not.toContain("--root");
  });

  it("--root: paths are said to be under the root, and every next command carries --root", () => {
    const out = installSummary(mixed, resolveLayout(mixed), { root: "/tmp/img", live: false, written: 3, units: [], credential: "/etc/wirebot/credstore/bws-access-token" });
    expect(out[0]).toBe("Installed under /tmp/img: 3 file(s) written.");
    expect(out).toContain("Written (paths under /tmp/img):");
    expect(out.join("\n")).toMatch(/\/etc\/wirebot\/credstore\/bws-access-token +the Bitwarden access token/);
    expect(out.join("\n")).not.toContain("No Bitwarden access token was stored");
    const next = out.slice(out.indexOf("Next:") + 1).filter((l) => l.trim().startsWith("wirebot "));
    expect(next.length).toBeGreaterThan(1);
    for (const l of next) expect(l).toContain("--root /tmp/img");
  });
});
