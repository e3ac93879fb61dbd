/** Slow-test support: a temp work dir that may hold paths.data; wirebot refuses /tmp there (the units' PrivateTmp hides it), so not os.tmpdir(). */
import { mkdirSync, mkdtempSync } from "node:fs";
import path from "node:path";

/** Where slow tests put data dirs: a directory wirebot accepts as paths.data (config/data-path.ts). */
export const testDataBase = (env: NodeJS.ProcessEnv = process.env) => env["WIREBOT_TEST_DATA"] ?? "/var/lib/wirebot-test";

/** mkdtemp under testDataBase(); the caller removes it. */
export function testWorkDir(prefix: string): string {
  const base = testDataBase();
  mkdirSync(base, { recursive: true, mode: 0o700 });
  return mkdtempSync(path.join(base, prefix));
}
