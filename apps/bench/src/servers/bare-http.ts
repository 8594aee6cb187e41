// The node:http floor: answers a WebSocket upgrade with a valid 101 and holds the socket, nothing
// else (no frame parser, no per-connection object of ours). What a Node server built on node:http
// cannot go below in handshakes/s and bytes per idle connection.
import { createServer } from "node:http";
import type { Socket } from "node:net";
import { CLOSE_1000, switchingProtocols } from "./bare-accept.js";

const server = createServer((_req, res) => {
  res.writeHead(426).end();
});

server.on("upgrade", (req, socket: Socket) => {
  const key = req.headers["sec-websocket-key"];
  if (typeof key !== "string") {
    socket.destroy();
    return;
  }
  socket.on("error", () => socket.destroy());
  socket.write(switchingProtocols(key));
  // Anything after the 101 is the client's close (see bare-accept.ts); pings in idle mode are
  // 6 bytes with opcode 0x9 and are left unanswered, which wsbench tolerates.
  socket.on("data", (chunk: Buffer) => {
    if ((chunk[0]! & 0x0f) === 0x8) socket.end(CLOSE_1000);
  });
});

server.listen(0, "127.0.0.1", 4096, () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : Number.NaN;
  process.stdout.write(`${JSON.stringify({ ready: true, port, pid: process.pid, impl: "node:http bare" })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
