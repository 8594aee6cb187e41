// The net.Server floor: reads the request head itself (just far enough to find Sec-WebSocket-Key),
// answers a valid 101 and holds the socket, answering only pings and the close. What a Node server
// that skips node:http cannot go below in handshakes/s and bytes per idle connection.
import { createServer, type Socket } from "node:net";
import { answerControlFrames, switchingProtocols } from "./bare-accept.js";

const KEY = /\r\nsec-websocket-key:[ \t]*([A-Za-z0-9+/=]+)/i;

function onConnection(socket: Socket): void {
  let head = "";
  socket.on("error", () => socket.destroy());
  const onData = (chunk: Buffer): void => {
    head += chunk.toString("latin1");
    if (!head.includes("\r\n\r\n")) {
      if (head.length > 16384) socket.destroy();
      return;
    }
    const key = KEY.exec(head)?.[1];
    if (key === undefined) {
      socket.destroy();
      return;
    }
    socket.write(switchingProtocols(key));
    // The listener below shares this closure's scope: drop the head so that it is not held.
    head = "";
    socket.off("data", onData);
    // Pings get pongs, a close gets a close (see bare-accept.ts).
    socket.on("data", (next: Buffer) => answerControlFrames(socket, next));
  };
  socket.on("data", onData);
}

const server = createServer(onConnection);
server.listen(0, "127.0.0.1", 4096, () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : Number.NaN;
  process.stdout.write(`${JSON.stringify({ ready: true, port, pid: process.pid, impl: "net.Server bare" })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
