// @ws/server for the benchmark, run in its own process. Prints one JSON line with its port once
// listening. Echo on every path but two, which are the fan-out benchmark's: a connection to /sub is
// subscribed to the topic "fanout", each message from a connection to /pub is published to it.
// `--deflate` turns permessage-deflate on (threshold 0: every message); `--redis URL` shares the
// topic with the other processes on that Redis (the scale-out benchmark). `--diagnostics`
// subscribes to every diagnostics channel (see diagnostics.ts).
import { subscribe } from "node:diagnostics_channel";
import { parseArgs } from "node:util";
import { createRedisBroker } from "@ws/redis";
import { DiagnosticsChannel, createServer } from "@ws/server";

const MiB = 1024 * 1024;
const { values } = parseArgs({ options: { deflate: { type: "boolean" }, redis: { type: "string" }, diagnostics: { type: "boolean" } } });
const deflate = values.deflate === true;

if (values.diagnostics === true) {
  // What a metrics subscriber does at the least: look at the message and count it.
  const counts = new Map<string, number>();
  for (const name of Object.values(DiagnosticsChannel)) {
    counts.set(name, 0);
    subscribe(name, (message) => {
      if (message !== null && typeof message === "object") counts.set(name, counts.get(name)! + 1);
    });
  }
}
const broker = values.redis === undefined ? undefined : await createRedisBroker({ url: values.redis });

const server = await createServer({
  ...(broker ? { broker } : {}),
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

server.on("connection", (conn, req) => {
  if (req.url === "/sub") {
    conn.subscribe("fanout");
  } else if (req.url === "/pub") {
    conn.on("message", (data, isBinary) => {
      server.publish("fanout", data, { binary: isBinary });
    });
  } else {
    conn.on("message", (data, isBinary) => {
      conn.send(data, { binary: isBinary });
    });
  }
});

const address = server.url === null ? null : new URL(server.url);
process.stdout.write(`${JSON.stringify({ ready: true, port: Number(address?.port), pid: process.pid, impl: "ours" })}\n`);
process.on("SIGTERM", () => process.exit(0));
