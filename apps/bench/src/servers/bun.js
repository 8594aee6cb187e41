/* global Bun, Response, URL, process */
// Bun's own WebSocket server (Bun.serve, uWebSockets inside) for the benchmark, run by the bun
// binary of the npm package `bun` in its own process. Prints one JSON line with its port once
// listening, like the Node servers beside it. Echo on every path but two, which are the fan-out
// benchmark's: a connection to /sub is subscribed to the topic "fanout", each message from a
// connection to /pub is published to it with server.publish. `--deflate` turns permessage-deflate on.
const MiB = 1024 * 1024;
const deflate = process.argv.includes("--deflate");

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req, srv) {
    const path = new URL(req.url).pathname;
    if (srv.upgrade(req, { data: { path } })) return undefined;
    return new Response("WebSocket only\n", { status: 426 });
  },
  websocket: {
    maxPayloadLength: 64 * MiB,
    // As much room to queue as the Node servers get (maxBufferedAmount 256 MiB), and never a
    // silent drop: past it the connection is closed, which the load generator reports.
    backpressureLimit: 256 * MiB,
    closeOnBackpressureLimit: true,
    perMessageDeflate: deflate,
    open(ws) {
      if (ws.data.path === "/sub") ws.subscribe("fanout");
    },
    message(ws, message) {
      if (ws.data.path === "/pub") server.publish("fanout", message);
      else if (ws.data.path !== "/sub") ws.send(message);
    },
  },
});

process.stdout.write(`${JSON.stringify({ ready: true, port: server.port, pid: process.pid, impl: "bun", version: Bun.version })}\n`);
process.on("SIGTERM", () => process.exit(0));
