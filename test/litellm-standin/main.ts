/** Runs the stand-in as its own process (benchmarks, manual runs): generates rows, prints one JSON line with url and ground truth. */
import { parseArgs } from "node:util";
import { benchAgents, generateRows } from "./generate.ts";
import { seedKey, startStandin } from "./server.ts";
import { groundTruthNusd, sha256, type StoredRow } from "./store.ts";


const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "100000" },
    seed: { type: "string", default: "42" },
    agents: { type: "string", default: "8" },
    "span-ms": { type: "string", default: String(30 * 86_400_000) },
    "end-ms": { type: "string" },
    "tie-share": { type: "string", default: "0.02" },
  },
});
const count = Number(values.rows);
const spanMs = Number(values["span-ms"]);
const endMs = values["end-ms"] ? Number(values["end-ms"]) : Date.now() - 20 * 60_000;
const agents = benchAgents(Number(values.agents));
const s = await startStandin();
for (const a of agents) seedKey(s.store, a.key, `wirebot/${a.agentId}`);
const batch: StoredRow[] = [];
for (const r of generateRows({ seed: Number(values.seed), count, agents, fromMs: endMs - spanMs, spanMs, tieShare: Number(values["tie-share"]) })) {
  batch.push(r);
  if (batch.length === 100_000) s.store.addSorted(batch.splice(0));
}
s.store.addSorted(batch);
const truth = Object.fromEntries([...groundTruthNusd(s.store.rows)].map(([h, v]) => [h, v.toString()]));
process.stdout.write(
  JSON.stringify({ url: s.url, masterKey: s.masterKey, rows: s.store.rows.length, fromMs: endMs - spanMs, endMs, truth, agents: agents.map((a) => ({ agentId: a.agentId, hash: sha256(a.key) })) }) + "\n",
);
const stop = () => void s.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
