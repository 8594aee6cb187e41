#!/usr/bin/env node
/* global URL, console, process */
// A chat server on every core: Node's cluster module runs N workers sharing one port, and each
// worker's @ws/server shares its topics with the others through Redis, so a message sent to any
// worker reaches the room's members on all of them.
//
//   redis-server --port 6379 --save "" --appendonly no &
//   node examples/cluster.mjs --port 8080 --workers 4 --redis redis://127.0.0.1:6379
//   # then, in two terminals (each lands on some worker): npx wscat -c "ws://127.0.0.1:8080/?room=lobby"
import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { createServer } from "@ws/server";
import { createRedisBroker } from "@ws/redis";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8080" },
    workers: { type: "string", default: String(availableParallelism()) },
    redis: { type: "string", default: "redis://127.0.0.1:6379" },
  },
});

if (cluster.isPrimary) {
  const workers = Number(values.workers);
  for (let i = 0; i < workers; i++) cluster.fork();
  // A worker that dies is replaced; its clients reconnect to another one.
  cluster.on("exit", (worker, code) => {
    console.log(`worker ${worker.process.pid} exited (${code}); starting another`);
    cluster.fork();
  });
  console.log(`chat on ws://127.0.0.1:${values.port}/?room=NAME with ${workers} workers`);
} else {
  const broker = await createRedisBroker({ url: values.redis });
  const server = await createServer({ port: Number(values.port), broker });
  server.on("brokerError", (error) => console.warn(`worker ${process.pid}: ${error.message}`));
  server.on("connection", (conn, req) => {
    const room = new URL(req.url ?? "/", "http://x").searchParams.get("room") ?? "lobby";
    conn.subscribe(room);
    conn.send(`worker ${process.pid}: you are in ${room} with ${server.subscriberCount(room)} here`);
    conn.on("message", (data, isBinary) => {
      const text = isBinary ? `<${data.length} bytes>` : data.toString();
      server.publish(room, `[${process.pid}] ${text}`);
    });
  });
  const stop = () => void server.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
