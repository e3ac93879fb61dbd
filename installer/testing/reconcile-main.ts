/** Standalone meter entry (`node --import tsx installer/testing/reconcile-main.ts --config F --ledger P --once|--daemon`), for tests that kill it. */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseConfig } from "../config/load.ts";
import { PATHS } from "../config/layout.ts";
import { formatError, WirebotError } from "../errors.ts";
import { processIo } from "../io.ts";
import { runReconcile } from "../meter/run.ts";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      config: { type: "string", default: PATHS.configFile },
      ledger: { type: "string", default: PATHS.ledger },
      once: { type: "boolean", default: false },
      daemon: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      "backfill-from": { type: "string" },
      "api-port": { type: "string" },
    },
  });
  const text = readFileSync(values.config, "utf8");
  const config = parseConfig(text, values.config, process.env);
  return runReconcile(
    {
      once: values.once,
      daemon: values.daemon,
      json: values.json,
      ledgerPath: values.ledger,
      ...(values["backfill-from"] ? { backfillFrom: values["backfill-from"] } : {}),
      ...(values["api-port"] ? { apiPort: Number(values["api-port"]) } : {}),
    },
    config,
    processIo,
  );
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof WirebotError) {
      process.stderr.write(formatError(err) + "\n");
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`internal error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 70;
    }
  },
);
