// Echo server on @ws/server for the benchmark, run in its own process. Prints one JSON line with its
// port once listening. `--deflate` turns permessage-deflate on (threshold 0: every message).
// `--diagnostics` subscribes to every diagnostics channel (see diagnostics.ts).
import { subscribe } from "node:diagnostics_channel";
import { DiagnosticsChannel, createServer } from "@ws/server";

const MiB = 1024 * 1024;
const deflate = process.argv.includes("--deflate");

if (process.argv.includes("--diagnostics")) {
  // What a metrics subscriber does at the least: look at the message and count it.
  const counts = new Map<string, number>();
  for (const name of Object.values(DiagnosticsChannel)) {
    counts.set(name, 0);
    subscribe(name, (message) => {
      if (message !== null && typeof message === "object") counts.set(name, counts.get(name)! + 1);
    });
  }
}

const server = await createServer({
  port: 0,
  host: "127.0.0.1",
  backlog: 4096,
  perMessageDeflate: deflate ? { threshold: 0 } : false,
  maxPayload: 64 * MiB,
  maxFragments: 1_048_576,
  maxBufferedChunks: 1_048_576,
  maxBufferedAmount: 256 * MiB,
  receiveHighWaterMark: 64 * MiB,
});

server.on("connection", (conn) => {
  conn.on("message", (data, isBinary) => {
    conn.send(data, { binary: isBinary });
  });
});

const address = server.url === null ? null : new URL(server.url);
process.stdout.write(`${JSON.stringify({ ready: true, port: Number(address?.port), pid: process.pid, impl: "ours" })}\n`);
process.on("SIGTERM", () => process.exit(0));
