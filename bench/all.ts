/** Every performance figure of issue 16 in one run, each bench printing its figures beside its own same-run baseline: CLI start-up and everyday path, the meter, the gateway's footprint, and (with --live) the booted-container install against its floor. */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    // The footprint at 100 and 200 agents takes an hour on 2 cores: ask for it.
    agents: { type: "string", default: "1,10,50" },
    scale: { type: "string" },
    // The e2e boots a Debian container and installs the .deb: about 10 minutes (root, systemd-nspawn).
    live: { type: "boolean", default: false },
  },
});

interface Part {
  name: string;
  cmd: string;
  args: string[];
  /** keep only these lines of the output (the e2e prints far more than its figures) */
  pick?: (out: string) => string;
}

const tsx = (script: string, ...args: string[]): Pick<Part, "cmd" | "args"> => ({ cmd: process.execPath, args: ["--import", "tsx", path.join("bench", script), ...args] });

const parts: Part[] = [
  { name: "CLI start-up, everyday path and scale (`npm run bench:cli`)", ...tsx("cli.ts", ...(values.scale ? ["--scale", values.scale] : [])) },
  { name: "the meter (`npm run bench`)", ...tsx("run.ts") },
  { name: "the trace plugin per tool call (`node --import tsx bench/trace-plugin.ts`)", ...tsx("trace-plugin.ts") },
  { name: `the gateway's footprint, ${values.agents} agents (\`npm run bench:footprint\`)`, ...tsx("gateway-footprint.ts", "--agents", values.agents) },
];
if (values.live)
  parts.push({
    name: "live: install against its floor, no-op apply, shared user add (`npm run test:e2e`)",
    cmd: "bash",
    args: ["scripts/e2e.sh"],
    pick: (out) => {
      const at = out.indexOf("[e2e] figures:");
      return at < 0 ? "(the e2e printed no figures: see its output above)" : out.slice(at).split("\n\n")[0]!;
    },
  });

const failed: string[] = [];
for (const p of parts) {
  process.stderr.write(`\n===== ${p.name}\n`);
  const r = spawnSync(p.cmd, p.args, { cwd: ROOT, stdio: p.pick ? ["ignore", "pipe", "pipe"] : "inherit", encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (p.pick) process.stdout.write(`${p.pick(`${r.stdout ?? ""}\n${r.stderr ?? ""}`)}\n`);
  if (r.status !== 0) failed.push(`${p.name}: exit ${r.status ?? r.signal}`);
}
if (failed.length > 0) {
  process.stderr.write(`\nbench:all: ${failed.length} part(s) failed:\n${failed.map((f) => `  ${f}`).join("\n")}\n`);
  process.exitCode = 1;
}
