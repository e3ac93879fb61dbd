/** End-to-end suite: boots a Debian 12 container with systemd-nspawn and installs wirebot in it (*.e2e.test.ts). */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    // One container at a time: they share the host's network namespace and its loopback ports.
    fileParallelism: false,
    pool: "forks",
    // A debootstrap on a cold cache, or npm compiling better-sqlite3 inside the container, takes minutes.
    testTimeout: 30 * 60_000,
    hookTimeout: 30 * 60_000,
    teardownTimeout: 120_000,
    // Steps build on one another (install, then reboot, then uninstall): a retry would replay half a story.
    retry: 0,
    reporters: ["default"],
  },
});
