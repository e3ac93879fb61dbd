/** `wirebot usage`: readable table by default, --json and --csv with exact amounts, usage errors exit 64. */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureLogger, meterConfig, sampleStandin, SAMPLE_DAY, SAMPLE_NOON } from "../../test/litellm-standin/fixtures.ts";
import type { Config } from "../config/schema.ts";
import type { Host } from "../host/host.ts";
import { createNodeHost } from "../host/node-host.ts";
import { captureIo } from "../io.ts";
import { Meter } from "../meter/daemon.ts";
import { usageCommand } from "./usage.ts";

let ledgerPath: string;
let config: Config;
beforeAll(async () => {
  const s = await sampleStandin({ now: () => SAMPLE_NOON });
  config = meterConfig(s.url, { users: [{ id: "scout", name: "Scout", budget: { monthlyUsd: 0.008 } }, { id: "builder", name: "Builder" }, { id: "reviewer", name: "Reviewer" }] });
  ledgerPath = path.join(mkdtempSync(path.join(tmpdir(), "wb-usage-")), "ledger.sqlite");
  const m = new Meter({ config, ledgerPath, adminKey: s.masterKey, log: captureLogger().log, now: () => SAMPLE_NOON, backfillFromMs: SAMPLE_DAY });
  await m.cycle();
  await m.close();
  await s.close();
});
afterAll(() => undefined);
const now = () => SAMPLE_NOON;

describe("usage", () => {
  it("prints a table per agent with a total line", async () => {
    const io = captureIo();
    expect(await usageCommand({ ledgerPath, now }, config, io)).toBe(0);
    const out = io.stdout.join("\n");
    expect(out).toContain("Spend 2026-10-01 to 2026-10-20 (UTC)");
    expect(out).toMatch(/^AGENT\s+REQUESTS\s+TOKENS\s+SPEND USD\s+BUDGET\/MONTH\s+USED$/m);
    expect(out).toMatch(/^builder\s+7\s+[\d,]+\s+0\.2928\s+-\s+-$/m);
    expect(out).toMatch(/^scout\s+7\s+[\d,]+\s+0\.0066\s+0\.01\s+82\.8 % ~$/m);
    expect(out).toMatch(/^TOTAL\s+20\s+[\d,]+\s+0\.4902$/m);
  });

  it("emits JSON and CSV with exact nano-dollar amounts, filtered by agent", async () => {
    const j = captureIo();
    await usageCommand({ ledgerPath, now, json: true, agent: "reviewer" }, config, j);
    expect(JSON.parse(j.stdout[0]!)).toMatchObject({ ok: true, outcome: "usage", agents: [{ agent: "reviewer", spendUsd: "0.190791840", spendNusd: 190_791_840, budget: null }] });
    const c = captureIo();
    await usageCommand({ ledgerPath, now, csv: true, group: "day" }, config, c);
    expect(c.stdout[0]).toBe("agent,period,requests,prompt_tokens,completion_tokens,total_tokens,spend_usd,spend_nusd");
    expect(c.stdout).toContainEqual(expect.stringMatching(/^scout,2026-10-20,7,\d+,\d+,\d+,0\.006627300,6627300$/));
  });

  it("exits 64 on bad flags, 69 when there is no ledger", async () => {
    await expect(usageCommand({ ledgerPath, now, json: true, csv: true }, config, captureIo())).rejects.toMatchObject({ exitCode: 64 });
    await expect(usageCommand({ ledgerPath, now, from: "20-10-2026" }, config, captureIo())).rejects.toMatchObject({ exitCode: 64 });
    await expect(usageCommand({ ledgerPath, now, agent: "ghost" }, config, captureIo())).rejects.toMatchObject({ exitCode: 64 });
    await expect(usageCommand({ ledgerPath: "/nonexistent/ledger.sqlite", now }, config, captureIo())).rejects.toMatchObject({ exitCode: 69 });
  });

  it("a ledger this user may not read (not under sudo): exit 64 saying to use sudo, not SQLite's 'unable to open'", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "wb-usage-root-"));
    mkdirSync(path.join(root, "var/lib/wirebot"), { recursive: true });
    copyFileSync(ledgerPath, path.join(root, "var/lib/wirebot/ledger.sqlite"));
    const host = createNodeHost({ root });
    expect(await usageCommand({ root, now, json: true }, config, captureIo(), host)).toBe(0);
    // root reads any mode, so the refusal /var/lib/wirebot (wirebot 0700) gives everyone else is made by the host
    const denied: Host = { ...host, readFileStream: () => Promise.reject(Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" })) };
    const err = await usageCommand({ root, now }, config, captureIo(), denied).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 64, code: "usage.ledger-unreadable", message: `cannot read the ledger ${root}/var/lib/wirebot/ledger.sqlite: permission denied` });
    expect((err as { hint: string }).hint).toContain("sudo wirebot usage");
    rmSync(root, { recursive: true, force: true });
  });
});
