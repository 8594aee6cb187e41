// Echo server on ws for the benchmark, run in its own process. ws uses bufferutil when it can load
// it; the parent sets WS_NO_BUFFER_UTIL=1 for the pure-JavaScript variant. The ready line says which
// one is really in effect. `--deflate` turns permessage-deflate on (threshold 0: every message).
import { createRequire } from "node:module";
import { WebSocketServer } from "ws";

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

server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => {
    socket.send(data, { binary: isBinary });
  });
});

server.on("listening", () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : Number.NaN;
  const bufferutil = Object.keys(require.cache).some((key) => key.includes("/bufferutil/"));
  process.stdout.write(`${JSON.stringify({ ready: true, port, pid: process.pid, impl: "ws", bufferutil })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
