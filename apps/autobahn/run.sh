#!/usr/bin/env bash
# Runs the Autobahn testsuite in Docker (docker-compose.yml) against our echo server and against our
# client, then judges each report with the runner. Leaves HTML and JSON reports in reports/servers
# and reports/clients at the repo root.
#
#   apps/autobahn/run.sh                 # both directions
#   apps/autobahn/run.sh server          # @ws/server only (through the echo server)
#   apps/autobahn/run.sh client --allow NON-STRICT   # extra options go to `ws-autobahn summary`
#
# Exit code: 0 when every case is accepted, 1 otherwise (see `ws-autobahn summary`).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

direction="${1:-both}"
case "$direction" in
  server | client | both) [[ $# -gt 0 ]] && shift ;;
  *) echo "usage: $0 [server|client|both] [summary options]" >&2; exit 2 ;;
esac

compose=(docker compose -f apps/autobahn/docker-compose.yml)
cli=(node packages/autobahn-runner/dist/cli.mjs)
port="${AUTOBAHN_CLIENT_PORT:-9002}"
export AUTOBAHN_USER="$(id -u):$(id -g)" AUTOBAHN_CLIENT_PORT="$port"

cleanup() { "${compose[@]}" down --remove-orphans --timeout 5 >/dev/null 2>&1 || true; }
trap cleanup EXIT

[[ -d node_modules ]] || pnpm install --frozen-lockfile
pnpm exec turbo run build --filter=@ws/autobahn-runner... --filter=@ws/echo-server... --output-logs=errors-only
mkdir -p reports/servers reports/clients

status=0
if [[ "$direction" != client ]]; then
  echo "== @ws/server (echo server) <- wstest fuzzingclient"
  rm -f reports/servers/index.json
  "${compose[@]}" run --rm fuzzingclient
  "${cli[@]}" summary reports/servers "$@" || status=1
  "${compose[@]}" stop echo-server >/dev/null
fi
if [[ "$direction" != server ]]; then
  echo "== @ws/client -> wstest fuzzingserver on 127.0.0.1:$port"
  rm -f reports/clients/index.json
  "${compose[@]}" up -d fuzzingserver
  "${cli[@]}" drive-client --url "ws://127.0.0.1:$port" --agent ws-client
  "${compose[@]}" stop fuzzingserver >/dev/null
  "${cli[@]}" summary reports/clients "$@" || status=1
fi
echo "reports: reports/servers/index.html, reports/clients/index.html"
exit "$status"
