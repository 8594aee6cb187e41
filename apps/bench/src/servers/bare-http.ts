// The node:http floor: answers a WebSocket upgrade with a valid 101 and holds the socket, answering
// only pings and the close (no frame parser, no per-connection object of ours). What a Node server
// built on node:http cannot go below in handshakes/s and bytes per idle connection.
import { createServer } from "node:http";
import type { Socket } from "node:net";
import { answerControlFrames, switchingProtocols } from "./bare-accept.js";

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
  // Pings get pongs, a close gets a close (see bare-accept.ts).
  socket.on("data", (chunk: Buffer) => answerControlFrames(socket, chunk));
});

server.listen(0, "127.0.0.1", 4096, () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : Number.NaN;
  process.stdout.write(`${JSON.stringify({ ready: true, port, pid: process.pid, impl: "node:http bare" })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
