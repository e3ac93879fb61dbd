/** `wirebot usage [--agent ID] [--from D] [--to D] [--json|--csv]`: spend per agent from the ledger. */
import { csvCell } from "../csv.ts";
import type { Config } from "../config/schema.ts";
import { meteredAgents, PATHS } from "../config/layout.ts";
import { EXIT, usageError } from "../errors.ts";
import type { Host } from "../host/host.ts";
import { createNodeHost } from "../host/node-host.ts";
import type { Io } from "../io.ts";
import { ApiError, parseUsageQuery, readUsage } from "../meter/api.ts";
import { readBudgets } from "../meter/budgets.ts";
import { ledgerPathFor, openLedgerDb } from "../meter/db.ts";
import { Ledger, type UsageRow } from "../meter/ledger.ts";
import { formatUsd } from "../meter/money.ts";

export interface UsageOptions {
  agent?: string;
  from?: string;
  to?: string;
  json?: boolean;
  csv?: boolean;
  /** rows per day or month instead of one total per agent */
  group?: "day" | "month";
  root?: string;
  ledgerPath?: string;
  now?: () => number;
}


/**
 * The ledger is the wirebot user's (0600 under /var/lib/wirebot 0700), so as an operator types it this runs
 * under sudo; anyone else is told so, instead of SQLite's "unable to open database file".
 */
export async function assertLedgerReadable(host: Host, command = "usage"): Promise<void> {
  try {
    const chunks = await host.readFileStream(PATHS.ledger);
    if (chunks) for await (const _ of chunks) break;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EPERM") throw e;
    throw usageError(`${command}.ledger-unreadable`, `cannot read the ledger ${host.resolve(PATHS.ledger)}: permission denied`, `run it as root (\`sudo wirebot ${command} …\`): only root and the wirebot user can read the ledger`);
  }
}

export async function usageCommand(opts: UsageOptions, config: Config, io: Io, host: Host = createNodeHost({ root: opts.root ?? "/" })): Promise<number> {
  if (opts.json && opts.csv) throw usageError("usage.format", "--json and --csv exclude each other");
  const now = (opts.now ?? Date.now)();
  let q;
  try {
    q = parseUsageQuery({ agent: opts.agent ?? null, from: opts.from ?? null, to: opts.to ?? null, group: opts.group ?? "month" }, now);
  } catch (err) {
    if (err instanceof ApiError) throw usageError("usage.query", err.message, "dates are YYYY-MM-DD (UTC), both inclusive");
    throw err;
  }
  const known = meteredAgents(config).map((a) => a.id);
  if (q.agent !== null && !known.includes(q.agent) && q.agent !== "(unattributed)")
    throw usageError("usage.agent", `no agent '${q.agent}' in the configuration`, `known: ${known.join(", ")}`);
  if (opts.ledgerPath === undefined) await assertLedgerReadable(host);
  const db = openLedgerDb(opts.ledgerPath ?? ledgerPathFor(opts.root), { readonly: true });
  try {
    const ledger = new Ledger(db, config.litellm.instanceId);
    const { rows, totals } = readUsage(ledger, q);
    const budgets = new Map(readBudgets(ledger, config, now).map((b) => [b.agentId, b]));
    const lines = opts.group ? rows : totals;
    if (opts.json) {
      io.json({
        ok: true,
        outcome: "usage",
        from: q.from,
        to: q.to,
        currency: "USD",
        agents: totals.map((t) => ({ ...json(t), budget: budgetJson(budgets.get(t.agent)) })),
        ...(opts.group ? { rows: rows.map(json) } : {}),
      });
      return EXIT.ok;
    }
    if (opts.csv) {
      io.out(["agent", "period", "requests", "prompt_tokens", "completion_tokens", "total_tokens", "spend_usd", "spend_nusd"].join(","));
      for (const r of lines) io.out([r.agent, r.period, r.requests, r.promptTokens, r.completionTokens, r.totalTokens, formatUsd(r.spendNusd), r.spendNusd].map(csvCell).join(","));
      return EXIT.ok;
    }
    io.out(`Spend ${q.from} to ${q.to} (UTC), from the ledger`);
    const header = ["AGENT", ...(opts.group ? ["PERIOD"] : []), "REQUESTS", "TOKENS", "SPEND USD", "BUDGET/MONTH", "USED"];
    const body = lines.map((r) => {
      const b = budgets.get(r.agent);
      return [
        r.agent,
        ...(opts.group ? [r.period] : []),
        r.requests.toLocaleString("en-US"),
        r.totalTokens.toLocaleString("en-US"),
        formatUsd(r.spendNusd, 4),
        b?.monthlyUsd != null ? b.monthlyUsd.toFixed(2) : "-",
        b?.percent != null ? `${b.percent.toFixed(1)} %${b.state === "over" ? " !" : b.state === "warn" ? " ~" : ""}` : "-",
      ];
    });
    if (body.length === 0) {
      io.out("(no spend recorded in this range)");
      return EXIT.ok;
    }
    const all = totals.reduce((s, t) => ({ req: s.req + t.requests, tok: s.tok + t.totalTokens, nusd: s.nusd + t.spendNusd }), { req: 0, tok: 0, nusd: 0 });
    const foot = ["TOTAL", ...(opts.group ? [""] : []), all.req.toLocaleString("en-US"), all.tok.toLocaleString("en-US"), formatUsd(all.nusd, 4), "", ""];
    const table = [header, ...body, foot];
    const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    const numeric = (i: number) => i > (opts.group ? 1 : 0);
    for (const row of table) io.out(row.map((c, i) => (numeric(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd());
    io.out("USED is month-to-date against the monthly budget (~ past a warn threshold, ! over budget).");
    return EXIT.ok;
  } finally {
    db.close();
  }
}

const json = (r: UsageRow) => ({
  agent: r.agent,
  period: r.period,
  requests: r.requests,
  promptTokens: r.promptTokens,
  completionTokens: r.completionTokens,
  totalTokens: r.totalTokens,
  spendUsd: formatUsd(r.spendNusd),
  spendNusd: r.spendNusd,
});

function budgetJson(b: ReturnType<typeof readBudgets>[number] | undefined) {
  if (!b || b.monthlyUsd === null) return null;
  return { month: b.month, monthlyUsd: b.monthlyUsd, monthSpendUsd: formatUsd(b.spentNusd), percent: b.percent, reached: b.reached, state: b.state };
}

