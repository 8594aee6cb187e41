// The library side of one memory-matrix cell, in a process of its own so that its RSS is its own.
// Started by memory-matrix.js with `node --expose-gc memory-child.js <config>`; speaks over IPC.
//
// config: { side: "server" | "client", entry: URL of the built package, compression: boolean,
//           limits: { maxBufferedAmount, receiveHighWaterMark } }
// It echoes every message it receives (a text as text, bytes as bytes) and answers pings (the
// libraries do that by themselves), as an application that trusts its limits would.
import { getHeapSpaceStatistics } from "node:v8";

const config = JSON.parse(process.argv[2]);
const library = await import(config.entry);

/** V8's young generation: garbage space that V8 sizes by allocation rate (up to 2 x 16 MiB on Node 20). */
const YOUNG_SPACES = new Set(["new_space", "new_large_object_space"]);
function youngGeneration() {
  let bytes = 0;
  for (const space of getHeapSpaceStatistics()) if (YOUNG_SPACES.has(space.space_name)) bytes += space.physical_space_size;
  return bytes;
}

let peak = 0;
const closes = [];
const errors = [];
let open = 0;
// RSS without V8's young generation: a flood of tiny messages makes garbage fast, and V8 then grows
// its semi-spaces towards their maximum whatever the library holds; what the library retains (old
// space, external buffers, zlib, allocator slack) is all still counted.
const rss = () => {
  const value = process.memoryUsage.rss() - youngGeneration();
  if (value > peak) peak = value;
  return value;
};
// Sampled on a timer, right after a full garbage collection: what is measured is what the process
// holds, not garbage that V8 has not collected yet. (Without it, RSS under a flood of tiny messages
// also holds up to about 64 MiB of dead 64 KiB socket reads: V8 collects array buffers once that
// much external memory has piled up, whatever library reads the socket.) A flood that starves the
// timers also starves the peer's traffic, which the peer sees as backpressure, and the final
// report re-reads the peak.
setInterval(() => {
  globalThis.gc();
  process.send({ type: "rss", rss: rss() });
}, 50);

function settle() {
  globalThis.gc();
  globalThis.gc();
  return new Promise((resolve) => setTimeout(resolve, 50));
}

function attach(conn) {
  open++;
  conn.on("message", (data, isBinary) => conn.send(data, { binary: isBinary }));
  conn.on("error", (error) => errors.push(error.code ?? error.message));
  conn.on("close", (info) => {
    open--;
    closes.push(typeof info === "number" ? info : info.code);
  });
}

const limits = config.limits;
/**
 * Longer than a cell's flood: a peer that never reads gets our 1008 close frame only once it reads
 * what was queued before it, which the cell does after the flood; the default 10 s could destroy
 * the socket first on a loaded machine. What the cell checks is that the close frame was queued.
 */
const CLOSE_TIMEOUT = 60_000;
let server = null;
if (config.side === "server") {
  server = await library.createServer({
    port: 0,
    host: "127.0.0.1",
    perMessageDeflate: config.compression,
    maxBufferedAmount: limits.maxBufferedAmount,
    receiveHighWaterMark: limits.receiveHighWaterMark,
    closeTimeout: CLOSE_TIMEOUT,
  });
  server.on("connection", attach);
}

await settle();
const baseline = rss();
peak = baseline;
process.send({ type: "ready", baseline, port: server?.address().port });

process.on("message", async (message) => {
  if (message.type === "connect") {
    // Client side: open `count` connections to the test's peer server.
    let ok = 0;
    const opening = [];
    for (let i = 0; i < message.count; i++) {
      opening.push(
        library
          .connect(message.url, {
            perMessageDeflate: message.compression,
            maxBufferedAmount: limits.maxBufferedAmount,
            closeTimeout: CLOSE_TIMEOUT,
          })
          .then((conn) => {
            ok++;
            attach(conn);
          }, () => {}),
      );
    }
    await Promise.all(opening);
    process.send({ type: "connected", ok });
  } else if (message.type === "rebase") {
    // After the trickle cell's connections opened: measure from here, so that the cell measures
    // what the trickle costs, not what 400 idle connections cost.
    await settle();
    peak = rss();
    process.send({ type: "rebased", baseline: peak });
  } else if (message.type === "report") {
    rss();
    process.send({ type: "report", rss: rss(), peak, open, closes, errors });
  }
});
