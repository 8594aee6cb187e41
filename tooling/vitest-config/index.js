// Shared Vitest settings. Each package writes a JSON report next to its package.json so that the
// root test command can print one summary line for the whole workspace.
import { defineConfig } from "vitest/config";

export function vitestConfig(overrides = {}) {
  return defineConfig({
    ...overrides,
    test: {
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      environment: "node",
      passWithNoTests: true,
      testTimeout: 20_000,
      hookTimeout: 20_000,
      reporters: ["default", ["json", { outputFile: ".vitest-report.json" }]],
      ...overrides.test,
    },
  });
}
