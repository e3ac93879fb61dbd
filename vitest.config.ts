/** Fast suite: everything but the slow real-component tests (*.slow.test.ts) and e2e. */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["installer/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["**/*.slow.test.ts", "**/*.e2e.test.ts", "node_modules/**"],
    pool: "forks",
    unstubEnvs: true,
    testTimeout: 20_000,
  },
});
