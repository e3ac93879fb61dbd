/** Slow suite: real OpenClaw runtime, real gateway, real systemd-analyze (*.slow.test.ts). */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["installer/**/*.slow.test.ts", "test/**/*.slow.test.ts"],
    pool: "forks",
    unstubEnvs: true,
    testTimeout: 300_000,
    hookTimeout: 600_000,
    fileParallelism: false,
  },
});
