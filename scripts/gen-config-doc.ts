/** Writes docs/configuration.md from the zod schema (run: npx tsx scripts/gen-config-doc.ts; --check exits 1 on drift). */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderConfigDoc } from "../installer/lifecycle/config-doc.ts";

const target = fileURLToPath(new URL("../docs/configuration.md", import.meta.url));
const doc = renderConfigDoc();
if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(target, "utf8");
  } catch {
    /* missing counts as drift */
  }
  if (current !== doc) {
    process.stderr.write("docs/configuration.md is out of date: run `npx tsx scripts/gen-config-doc.ts`\n");
    process.exitCode = 1;
  }
} else {
  writeFileSync(target, doc);
  process.stdout.write(`wrote ${target}\n`);
}
