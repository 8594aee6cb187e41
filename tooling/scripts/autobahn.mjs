#!/usr/bin/env node
// `pnpm autobahn ...` in this repository: builds the runner and the echo server, then runs the
// `ws-autobahn` bin. turbo's output goes to stderr, so that `pnpm --silent autobahn case|summary >
// page.txt` writes only the page. The published runner has no server of its own to test, so here
// `server` without --url or --command tests our echo server, started on a free port.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const args = process.argv.slice(2);

const build = spawnSync(
  "turbo",
  ["run", "build", "--filter=@ws/autobahn-runner...", "--filter=@ws/echo-server...", "--output-logs=errors-only"],
  { cwd: root, stdio: ["ignore", process.stderr, process.stderr], env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1" } },
);
if (build.status !== 0) process.exit(build.status ?? 1);

if (args[0] === "server" && !args.some((a) => /^--(url|command)(=|$)/.test(a))) {
  const echo = JSON.stringify(fileURLToPath(new URL("../../apps/echo-server/dist/main.mjs", import.meta.url)));
  args.push("--command", `${JSON.stringify(process.execPath)} ${echo} --port {port} --host 127.0.0.1`);
}
const cli = fileURLToPath(new URL("../../packages/autobahn-runner/dist/cli.mjs", import.meta.url));
const run = spawnSync(process.execPath, [cli, ...args], { cwd: process.cwd(), stdio: "inherit" });
process.exit(run.status ?? (run.signal === "SIGINT" ? 130 : 1));
