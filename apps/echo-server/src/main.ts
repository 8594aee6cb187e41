// The echo server `pnpm start` runs, and the one Autobahn tests: every message comes back as it was
// sent (text as text, binary as binary), with permessage-deflate on unless --no-compression.
import { parseArgs } from "node:util";
import { createServer } from "@ws/server";

const MiB = 1024 * 1024;

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: echo-server [--port N] [--host H] [--no-compression]\n`);
  process.exit(2);
}

let values: { port?: string; host?: string; "no-compression"?: boolean; help?: boolean };
try {
  // `pnpm start -- --port 1` passes the "--" through, and parseArgs would take every flag after
  // it for a positional.
  const args = process.argv.slice(2);
  if (args[0] === "--") args.shift();
  let positionals: string[];
  ({ values, positionals } = parseArgs({
    args,
    options: {
      port: { type: "string", short: "p" },
      host: { type: "string", short: "h" },
      "no-compression": { type: "boolean" },
      help: { type: "boolean" },
    },
    allowPositionals: true,
  }));
  if (positionals.length > 0) usage(`unexpected argument: ${positionals[0]}`);
} catch (error) {
  usage((error as Error).message);
}
if (values.help) usage("An echo server for WebSocket clients and the Autobahn testsuite.");

const port = Number(values.port ?? 9001);
if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`invalid port: ${values.port}`);
const host = values.host ?? "127.0.0.1";

const server = await createServer({
  port,
  host,
  perMessageDeflate: values["no-compression"] ? false : { threshold: 0 },
  // Autobahn case 9 sends messages up to 16 MiB, in fragments down to 64 bytes (262,144 of them).
  maxPayload: 64 * MiB,
  maxFragments: 1_048_576,
  maxBufferedChunks: 1_048_576,
  maxBufferedAmount: 256 * MiB,
  receiveHighWaterMark: 64 * MiB,
}).catch((error: Error) => usage(`cannot listen on ${host}:${port}: ${error.message}`));

server.on("connection", (conn) => {
  conn.on("message", (data, isBinary) => {
    // Backpressure: a peer that sends faster than its echoes leave (it reads slowly, or compression
    // lags) is read no faster than they do.
    if (!conn.send(data, { binary: isBinary })) conn.pause();
  });
  conn.on("drain", () => conn.resume());
});

process.stdout.write(`${server.url}\n`);

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  server.close({ code: 1001, timeout: 5000 }).then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
