/** Test helpers shared by the lifecycle command tests: seeded service users and a live converge with a scripted verify. */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { CommandContext } from "../pipeline/context.ts";
import { buildDesired } from "../pipeline/desired.ts";
import type { Config } from "../config/schema.ts";
import { applyPlan } from "../engine/apply.ts";
import { isEmptyPlan, plan, type Plan } from "../engine/plan.ts";
import type { ErrorIssue } from "../errors.ts";
import type { ConvergeFn } from "../pipeline/deps.ts";

/** /etc/passwd and /etc/group under root, as systemd-sysusers would leave them; extra users get their own uids. */
export function seedUsers(root: string, extra: Record<string, number> = {}): void {
  mkdirSync(path.join(root, "etc"), { recursive: true });
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const users: [string, number, number][] = [["wirebot", uid, gid], ["wb-erin", uid, gid], ...Object.entries(extra).map(([n, id]): [string, number, number] => [n, id, id])];
  writeFileSync(path.join(root, "etc/passwd"), ["root:x:0:0::/root:/bin/sh", ...users.map(([n, u, g]) => `${n}:x:${u}:${g}::/nonexistent:/usr/sbin/nologin`)].join("\n") + "\n");
  writeFileSync(path.join(root, "etc/group"), ["root:x:0:", ...users.map(([n, , g]) => `${n}:x:${g}:`)].join("\n") + "\n");
}

/**
 * The engine's converge as on a live host (systemctl through the recording exec), with verify
 * replaced: the real verifier would poll loopback HTTP ports for minutes.
 */
export function liveConverge(verify: (p: Plan, c: Config) => Promise<ErrorIssue[]> = async () => []): ConvergeFn & { configs: Config[] } {
  const configs: Config[] = [];
  const fn = async (ctx: CommandContext, config: Config, text: string, opts: { start?: boolean }) => {
    configs.push(config);
    const p = await plan(ctx.host, await buildDesired(ctx, config, text));
    const start = opts.start !== false;
    const result = await applyPlan(ctx.host, p, { io: ctx.io, live: true, start, verify: (pl) => verify(pl, config) });
    return { result, changed: !isEmptyPlan(p) };
  };
  return Object.assign(fn, { configs });
}
