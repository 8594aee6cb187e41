import { defineConfig } from "vitest/config";

// One file, run alone: it publishes to a registry and installs from it, so nothing runs beside it.
export default defineConfig({
  test: {
    include: ["src/**/*.test.mjs"],
    environment: "node",
    fileParallelism: false,
    // npm installs from the local registry (and @types/node from the public one) take seconds each.
    testTimeout: 120_000,
    hookTimeout: 600_000,
  },
});
