/** Real runtime: `openclaw skills list` sees the four shipped Wirebot skills as loaded and eligible for every agent. */
import { testWorkDir } from "../../test/support/work-dir.ts";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { resolveLayout } from "../config/layout.ts";
import { parseConfig } from "../config/load.ts";
import { createNodeHost } from "../host/node-host.ts";
import { renderGatewayConfig } from "../render/gateway-config.ts";
import { getTestRuntime, type TestRuntime } from "../../test/support/runtime.ts";
import { openclawCli } from "./openclaw-cli.ts";
import { readShippedSkills } from "../assets.ts";
import { shippedSkillsDir } from "./skills.ts";

const WIREBOT_SKILLS = ["wirebot-accountability", "wirebot-core", "wirebot-memory", "wirebot-network"];
const work = testWorkDir("wb-skills-slow-");
const host = createNodeHost();
let rt: TestRuntime;

beforeAll(async () => {
  rt = await getTestRuntime();
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface ListedSkill {
  name: string;
  eligible: boolean;
  disabled: boolean;
  source: string;
  missing: Record<string, string[]>;
}

test("the rendered shared config, with extraDirs on the repo's skills/, lists all four skills as eligible for every agent", async () => {
  const base = parseConfig(readFileSync(fileURLToPath(new URL("../../examples/three-users.yaml", import.meta.url)), "utf8"), "three-users.yaml");
  const config = { ...base, paths: { ...base.paths, data: path.join(work, "data") } };
  const layout = resolveLayout(config);
  const shared = layout.shared!;
  const doc = JSON.parse(renderGatewayConfig(config, layout, shared).replace(/^\/\/.*\n/, "")) as { skills?: { load?: { extraDirs?: string[] } } };
  // The appliance loads them from /opt/wirebot/skills, which only exists after apply; point at the source.
  expect(doc.skills?.load?.extraDirs).toContain("/opt/wirebot/skills");
  doc.skills = { ...doc.skills, load: { ...doc.skills?.load, extraDirs: [shippedSkillsDir()] } };
  mkdirSync(shared.stateDir, { recursive: true });
  writeFileSync(shared.configPath, JSON.stringify(doc, null, 2));

  // The CLI resolves the gateway token ref before it lists anything, so it needs a value.
  const env = { OPENCLAW_GATEWAY_TOKEN: randomBytes(24).toString("hex") };
  for (const user of shared.users) {
    const started = Date.now();
    const r = await openclawCli(host, rt, ["skills", "list", "--agent", user.id, "--json"], { stateDir: shared.stateDir, configPath: shared.configPath, env });
    expect(r.code, r.stderr).toBe(0);
    const listed = (JSON.parse(r.stdout) as { skills: ListedSkill[] }).skills.filter((s) => s.name.startsWith("wirebot-"));
    console.log(`[skills] agent ${user.id}: ${listed.map((s) => `${s.name}(${s.source}, eligible=${s.eligible})`).join(", ")} in ${Date.now() - started} ms`);
    expect(listed.map((s) => s.name).sort()).toEqual(WIREBOT_SKILLS);
    for (const s of listed) {
      expect(s, s.name).toMatchObject({ eligible: true, disabled: false, source: "openclaw-extra" });
      expect(Object.values(s.missing).flat(), s.name).toEqual([]);
    }
  }
}, 120_000);

test("readShippedSkills returns the same four skills the runtime loads", async () => {
  const skills = readShippedSkills();
  expect(skills.map((s) => s.name)).toEqual(WIREBOT_SKILLS);
  for (const s of skills) expect(s.files.map((f) => f.relPath)).toContain("SKILL.md");
});
