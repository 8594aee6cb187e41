// Echo server on Bun.serve (uWebSockets inside) for the benchmark, run by the Bun binary that the
// `bun` npm package ships. Plain JavaScript, not built by tsup: Bun runs this file as it is. Prints
// the same ready line as the Node servers. `--deflate` turns permessage-deflate on.
/* global Bun, process, Response */
const MiB = 1024 * 1024;
const deflate = process.argv.includes("--deflate");

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req, srv) {
    if (srv.upgrade(req)) return undefined;
    return new Response("Upgrade Required", { status: 426 });
  },
  websocket: {
    // Bun's defaults otherwise (idle timeout 120 s, pings on), as every server runs at its defaults.
    maxPayloadLength: 64 * MiB,
    backpressureLimit: 256 * MiB,
    perMessageDeflate: deflate,
    message(ws, message) {
      ws.send(message);
    },
  },
});

process.stdout.write(`${JSON.stringify({ ready: true, port: server.port, pid: process.pid, impl: "bun", version: Bun.version })}\n`);
process.on("SIGTERM", () => process.exit(0));
