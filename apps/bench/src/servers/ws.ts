// ws for the benchmark, run in its own process. ws uses bufferutil when it can load it; the parent
// sets WS_NO_BUFFER_UTIL=1 for the pure-JavaScript variant. The ready line says which one is really
// in effect. Echo on every path but two, which are the fan-out benchmark's: connections to /sub are
// the subscribers, and each message from a connection to /pub is sent to all of them with a loop,
// as ws users write it (ws has no topics). `--deflate` turns permessage-deflate on (threshold 0).
import { createRequire } from "node:module";
import { WebSocketServer, type WebSocket } from "ws";

const require = createRequire(import.meta.url);
const MiB = 1024 * 1024;
const deflate = process.argv.includes("--deflate");

const server = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  backlog: 4096,
  perMessageDeflate: deflate ? { threshold: 0 } : false,
  maxPayload: 64 * MiB,
});

const subscribers = new Set<WebSocket>();

server.on("connection", (socket, req) => {
  if (req.url === "/sub") {
    subscribers.add(socket);
    socket.on("close", () => subscribers.delete(socket));
  } else if (req.url === "/pub") {
    socket.on("message", (data, isBinary) => {
      for (const subscriber of subscribers) subscriber.send(data, { binary: isBinary });
    });
  } else {
    socket.on("message", (data, isBinary) => {
      socket.send(data, { binary: isBinary });
    });
  }
});

server.on("listening", () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : Number.NaN;
  const bufferutil = Object.keys(require.cache).some((key) => key.includes("/bufferutil/"));
  process.stdout.write(`${JSON.stringify({ ready: true, port, pid: process.pid, impl: "ws", bufferutil })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
