#!/usr/bin/env node
// The root test command: runs `turbo run test` across the workspace (every package, even after a
// failure), then reads the JSON report each package's Vitest run wrote and prints one summary line,
// `Tests: N passed, N failed`, so CI and people see the whole workspace's result last.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const reportName = ".vitest-report.json";
const workspaceDirs = ["packages", "apps", "tooling"].flatMap((group) => {
  const dir = join(root, group);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(dir, entry.name));
});

// A report left from an earlier run must not be counted again.
for (const dir of workspaceDirs) rmSync(join(dir, reportName), { force: true });

const turbo = spawnSync("turbo", ["run", "test", "--continue", ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" },
});

let passed = 0;
let failed = 0;
let skipped = 0;
const rows = [];
for (const dir of workspaceDirs) {
  const file = join(dir, reportName);
  if (!existsSync(file)) continue;
  const report = JSON.parse(readFileSync(file, "utf8"));
  const pending = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // A suite that fails to load has no tests in it but is still a failure.
  const brokenSuites = (report.testResults ?? []).filter(
    (suite) => suite.status === "failed" && (suite.assertionResults ?? []).length === 0,
  ).length;
  passed += report.numPassedTests;
  failed += report.numFailedTests + brokenSuites;
  skipped += pending;
  rows.push(
    `  ${relative(root, dir).padEnd(28)} ${String(report.numPassedTests).padStart(5)} passed  ${String(report.numFailedTests + brokenSuites).padStart(3)} failed`,
  );
}

console.log("\nTest summary by package:");
for (const row of rows) console.log(row);
const turboFailed = turbo.status !== 0;
if (turboFailed && failed === 0) {
  // turbo failed before or outside the tests (a build, a crash): count it so the line is not green.
  failed = 1;
  console.log("  (a task failed outside the test runner; see the output above)");
}
console.log(`\nTests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(turboFailed || failed > 0 ? 1 : 0);
