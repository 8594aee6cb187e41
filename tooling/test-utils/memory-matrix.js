// The memory test matrix of issue 12: {empty pings, empty messages, 125-byte pings, tiny (compressed)
// messages, 1-byte trickles of large frames} x {peer reads, peer never reads} x {compression on, off},
// for the server and for the client.
//
// The library side (an echo server, or a client that echoes) runs in a child process
// (memory-child.js) that imports the package's built dist, so that its RSS is its own; the hostile
// peer is raw sockets here, with frames encoded independently of @ws/codec. Each cell is bounded in
// bytes offered and in seconds, and stops early once the child's RSS is past the bound.
//
// A cell passes when (1) the child's peak RSS over its baseline, sampled right after a full GC and
// less V8's young generation (garbage space that V8 sizes by allocation rate, up to 2 x 16 MiB),
// stays within MATRIX_BOUND,
// (2) a fresh connection gets its echo afterwards, and (3) a peer that never reads was either held
// by TCP (its writes made no progress for 2 x STALL_MS while the connection stayed open) or got a
// 1008 close frame before the end of the stream; a peer that reads must not be cut off (issue 12
// item 8), though TCP may slow it. Trickles send next to nothing back, so (3) does not apply to
// them: what bounds a trickler is `idleTimeout` (server) or the application.
// A cell takes 1-8 s when it passes on an idle machine; a peer that never reads floods for at most
// 20 s (NON_READER_FLOOD_MS), so that a loaded machine still fills the kernel buffers.
import { fork } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { connect, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { encodeTestFrame } from "./frames.js";

const MiB = 1024 * 1024;
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The child's limits: small, so that the bound means something and cells end fast. */
export const MATRIX_LIMITS = { maxBufferedAmount: 1 * MiB, receiveHighWaterMark: 256 * 1024 };
/**
 * What a cell may grow the child by on top of its limits, measured after a full GC: V8 heap pages
 * kept committed after collection, zlib state, and the memory glibc keeps in the arenas of the
 * threads that ran zlib jobs. Measured (2026-12): about 7 MiB for most cells, about 17 MiB for
 * tiny messages with compression (mostly V8 heap and allocator pages, not live objects).
 */
export const MATRIX_SLACK = 24 * MiB;
export const MATRIX_BOUND = MATRIX_LIMITS.maxBufferedAmount + MATRIX_LIMITS.receiveHighWaterMark + MATRIX_SLACK;

export const MATRIX_KINDS = ["empty-pings", "empty-messages", "pings-125", "tiny-messages", "trickle"];

/** A flood stops after this many bytes offered, this long, or once the peer's writes stall. */
const FLOOD_BYTES = 48 * 1000 * 1000;
const FLOOD_MS = 6000;
/**
 * A peer that never reads floods until it is held (or closed, or past the bound), for at most
 * this long: the kernel's socket buffers take 10-20 MB of replies first, and on a loaded machine
 * that can take longer than FLOOD_MS.
 */
const NON_READER_FLOOD_MS = 20_000;
/** No `drain` for this long, then no progress for as long: the library stopped reading. */
const STALL_MS = 600;
/**
 * The trickle cell: this many connections each send a 1 MiB frame's header, then 1 byte at a time.
 * Its RSS is measured from after the connections opened (what idle connections cost is not what
 * the cell is about): a receive buffer sized from the declared length would be 400 x 64 KiB.
 */
const TRICKLE_CONNECTIONS = 400;
const TRICKLE_ROUNDS = 16;
const TRICKLE_DECLARED = 1 * MiB;

export function matrixCells() {
  const cells = [];
  for (const kind of MATRIX_KINDS) {
    for (const reads of [true, false]) {
      for (const compression of [false, true]) cells.push({ kind, reads, compression });
    }
  }
  return cells;
}

export function cellName({ kind, reads, compression }) {
  return `${kind}, peer ${reads ? "reads" : "never reads"}, compression ${compression ? "on" : "off"}`;
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The peer's frames: masked when the peer is a client (RFC 6455 §5.3). */
function peerFrame(side, spec) {
  const mask = side === "server" ? Uint8Array.of(0x12, 0x34, 0x56, 0x78) : null;
  return Buffer.from(encodeTestFrame({ ...spec, mask }));
}

/**
 * About 64 KiB of the cell's frames, repeated. With compression on, the tiny messages are empty
 * texts with a 2 KiB one (new hex text each time) every 64th: its echo is above the default 1 KiB threshold
 * and runs a deflate job, and the empty echoes queue behind it (issue 12 item 6). The peer sends
 * them uncompressed: compressed input makes the library pause reading behind its inflater, which
 * would hide the send queue (on the code before the fix, a variant with compressed input was held
 * by TCP at +10 MiB). With compression off, they are 1-byte texts.
 */
function floodBatch(side, kind, compression) {
  let group;
  if (kind === "empty-pings") group = [peerFrame(side, { opcode: 0x9 })];
  else if (kind === "empty-messages") group = [peerFrame(side, { opcode: 0x2 })];
  else if (kind === "pings-125") group = [peerFrame(side, { opcode: 0x9, payload: Buffer.alloc(125, 0x61) })];
  else if (compression) {
    // Each 2 KiB text is new hex (it compresses to about half, and repeats only beyond a 4 KiB
    // window), so that the echoes fill the kernel's socket buffers and TCP can push back.
    const empty = peerFrame(side, { opcode: 0x1 });
    const groups = [];
    for (let size = 0; size < 65536; ) {
      const large = peerFrame(side, { opcode: 0x1, payload: Buffer.from(randomBytes(1024).toString("hex")) });
      const one = Buffer.concat([large, ...Array.from({ length: 63 }, () => empty)]);
      groups.push(one);
      size += one.length;
    }
    return Buffer.concat(groups);
  } else group = [peerFrame(side, { opcode: 0x1, payload: Buffer.from("a") })];
  const one = Buffer.concat(group);
  return Buffer.concat(Array.from({ length: Math.ceil(65536 / one.length) }, () => one));
}

/** Counts the frames the library sends and keeps the code of its close frame. */
class FrameScanner {
  frames = 0;
  bytes = 0;
  /** The close frame's code (1005 without one), or null before it. */
  closeCode = null;
  texts = [];
  #rest = Buffer.alloc(0);
  #skip = 0;

  push(chunk) {
    this.bytes += chunk.length;
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, chunk.length);
      this.#skip -= n;
      chunk = chunk.subarray(n);
      if (chunk.length === 0) return;
    }
    const data = this.#rest.length > 0 ? Buffer.concat([this.#rest, chunk]) : chunk;
    let offset = 0;
    for (;;) {
      const left = data.length - offset;
      if (left < 2) break;
      const opcode = data[offset] & 0x0f;
      const masked = (data[offset + 1] & 0x80) !== 0;
      let length = data[offset + 1] & 0x7f;
      let header = 2;
      if (length === 126) {
        if (left < 4) break;
        length = data.readUInt16BE(offset + 2);
        header = 4;
      } else if (length === 127) {
        if (left < 10) break;
        length = Number(data.readBigUInt64BE(offset + 2));
        header = 10;
      }
      if (masked) header += 4;
      if (left < header) break;
      const small = opcode === 0x8 || (opcode === 0x1 && length <= 125);
      if (small) {
        // Close frames and short texts are read whole; everything else is skipped.
        if (left < header + length) break;
        const payload = Buffer.from(data.subarray(offset + header, offset + header + length));
        if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= data[offset + header - 4 + (i & 3)];
        if (opcode === 0x8) this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        else this.texts.push(payload.toString("utf8"));
      }
      this.frames++;
      if (left - header >= length) {
        offset += header + length;
      } else {
        this.#skip = length - (left - header);
        offset = data.length;
        break;
      }
    }
    this.#rest = offset < data.length ? Buffer.from(data.subarray(offset)) : Buffer.alloc(0);
  }
}

/** A raw peer connection after its handshake, not reading until told to. */
class PeerSocket {
  constructor(socket, rest) {
    this.socket = socket;
    this.scanner = new FrameScanner();
    this.ended = false;
    this.closed = new Promise((resolve) => socket.once("close", resolve));
    socket.once("close", () => (this.ended = true));
    socket.on("end", () => (this.ended = true));
    socket.on("error", () => (this.ended = true));
    socket.setNoDelay(true);
    socket.pause();
    if (rest.length > 0) this.scanner.push(rest);
  }

  startReading() {
    this.socket.on("data", (chunk) => this.scanner.push(chunk));
    this.socket.resume();
  }

  destroy() {
    this.socket.destroy();
  }
}

/** Reads an HTTP head from `socket`; resolves with the head and the bytes after it. */
function readHead(socket, timeout = 5000) {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error("no HTTP head in time")), timeout);
    const onData = (chunk) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf("\r\n\r\n");
      if (end === -1) return;
      cleanup();
      socket.pause();
      resolve({ head: data.subarray(0, end).toString("latin1"), rest: data.subarray(end + 4) });
    };
    const onEnd = () => fail(new Error("connection ended before an HTTP head"));
    function cleanup() {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", onEnd);
    }
    function fail(error) {
      cleanup();
      reject(error);
    }
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("error", onEnd);
  });
}

/** Server side: a raw client that performs the opening handshake. */
async function openClient(port, compression) {
  const socket = connect({ port, host: "127.0.0.1" });
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const key = randomBytes(16).toString("base64");
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      (compression ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "") +
      "\r\n",
  );
  const { head, rest } = await readHead(socket);
  if (!head.startsWith("HTTP/1.1 101")) throw new Error(`handshake refused: ${head.split("\r\n")[0]}`);
  if (compression !== /sec-websocket-extensions:\s*permessage-deflate/i.test(head)) {
    throw new Error(`compression ${compression ? "not" : "unexpectedly"} negotiated`);
  }
  return new PeerSocket(socket, rest);
}

/** Client side: a raw server that accepts each upgrade, with or without permessage-deflate. */
async function startPeerServer() {
  const accepted = [];
  const waiters = [];
  const sockets = new Set();
  const state = { compression: false };
  const server = createServer(async (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    try {
      const { head, rest } = await readHead(socket);
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? "";
      const offered = /sec-websocket-extensions:\s*permessage-deflate/i.test(head);
      const accept = createHash("sha1").update(key + GUID).digest("base64");
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Accept: ${accept}\r\n` +
          (state.compression && offered ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "") +
          "\r\n",
      );
      const peer = new PeerSocket(socket, rest);
      accepted.push(peer);
      waiters.shift()?.(peer);
    } catch {
      socket.destroy();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `ws://127.0.0.1:${server.address().port}/`,
    state,
    accepted,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The child process running the library. */
class Child {
  #process;
  #replies = new Map();
  latestRss = 0;
  peakRss = 0;
  exited = false;

  constructor(side, entry, compression) {
    const script = fileURLToPath(new URL("./memory-child.js", import.meta.url));
    const config = JSON.stringify({ side, entry, compression, limits: MATRIX_LIMITS });
    this.#process = fork(script, [config], { execArgv: ["--expose-gc", "--max-semi-space-size=1"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.#process.on("exit", (code, signal) => {
      this.exited = true;
      // Fail what waits now rather than at its timeout.
      for (const [type, list] of this.#replies) {
        for (const waiter of list.splice(0)) waiter(null, new Error(`child exited (${signal ?? code}) before sending ${type}`));
      }
    });
    this.#process.on("message", (message) => {
      if (message.type === "rss") {
        this.latestRss = message.rss;
        this.peakRss = Math.max(this.peakRss, message.rss);
        return;
      }
      this.#replies.get(message.type)?.shift()?.(message);
    });
  }

  /** The next message of `type`, within `timeout`. */
  next(type, timeout = 10_000) {
    return new Promise((resolve, reject) => {
      const list = this.#replies.get(type) ?? [];
      this.#replies.set(type, list);
      if (this.exited) return reject(new Error(`child exited before sending ${type}`));
      const timer = setTimeout(() => reject(new Error(`child sent no ${type} in time`)), timeout);
      list.push((message, error) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(message);
      });
    });
  }

  request(message, reply, timeout) {
    const answer = this.next(reply, timeout);
    this.#process.send(message);
    return answer;
  }

  kill() {
    this.#process.kill("SIGKILL");
  }
}

function waitDrain(socket, timeout) {
  return new Promise((resolve) => {
    const done = (drained) => {
      clearTimeout(timer);
      socket.off("drain", onDrain);
      socket.off("close", onClose);
      resolve(drained);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), timeout);
    socket.on("drain", onDrain);
    socket.on("close", onClose);
  });
}

/** Writes the cell's frames until the budget, the time, a stall, a close, or the bound. */
async function flood(peer, batch, overBound, reads) {
  const socket = peer.socket;
  const start = Date.now();
  const budgetMs = reads ? FLOOD_MS : NON_READER_FLOOD_MS;
  let offered = 0;
  let stalled = false;
  while (offered < FLOOD_BYTES && Date.now() - start < budgetMs && !peer.ended && !overBound()) {
    offered += batch.length;
    if (socket.write(batch)) {
      await new Promise((resolve) => setImmediate(resolve));
    } else if (!(await waitDrain(socket, STALL_MS)) && !peer.ended) {
      // Held only if the library took nothing more for another STALL_MS (not merely busy).
      const waiting = socket.writableLength;
      await delay(STALL_MS);
      if (!peer.ended && socket.writableLength >= waiting) {
        stalled = true;
        break;
      }
    }
  }
  return { offered, stalled, atBound: overBound(), ms: Date.now() - start };
}

/** Sends each peer a 1 MiB frame's header, then one byte per peer per round. */
async function trickle(peers, side, overBound) {
  const header = peerFrame(side, { opcode: 0x2, declaredLength: TRICKLE_DECLARED });
  const start = Date.now();
  let offered = 0;
  for (const peer of peers) {
    peer.socket.write(header);
    offered += header.length;
  }
  for (let round = 0; round < TRICKLE_ROUNDS && !overBound(); round++) {
    await delay(25);
    for (const peer of peers) {
      if (peer.ended) continue;
      peer.socket.write(Buffer.of(round));
      offered++;
    }
  }
  await delay(100);
  return { offered, stalled: false, atBound: overBound(), ms: Date.now() - start };
}

/** Waits until `check()` or `timeout`. */
async function until(check, timeout) {
  const deadline = Date.now() + timeout;
  while (!check() && Date.now() < deadline) await delay(10);
  return check();
}

/**
 * Runs one cell. `entry` is the URL of the built package (`@ws/server` or `@ws/client` dist) the
 * child imports. Resolves with what was seen; `pass` and `failures` apply the issue's criteria.
 */
export async function runMatrixCell(side, entry, cell) {
  const { kind, reads, compression } = cell;
  const started = Date.now();
  const child = new Child(side, entry, compression);
  const peers = [];
  let peerServer = null;
  try {
    const ready = await child.next("ready");
    let baseline = ready.baseline;
    const overBound = () => child.peakRss - baseline > MATRIX_BOUND;
    const count = kind === "trickle" ? TRICKLE_CONNECTIONS : 1;

    if (side === "server") {
      for (let i = 0; i < count; i++) peers.push(await openClient(ready.port, compression));
    } else {
      peerServer = await startPeerServer();
      peerServer.state.compression = compression;
      const { ok } = await child.request({ type: "connect", url: peerServer.url, count, compression }, "connected", 20_000);
      if (ok !== count) throw new Error(`only ${ok} of ${count} client connections opened`);
      await until(() => peerServer.accepted.length === count, 5000);
      peers.push(...peerServer.accepted);
    }
    if (reads) for (const peer of peers) peer.startReading();
    if (kind === "trickle") {
      ({ baseline } = await child.request({ type: "rebase" }, "rebased"));
      child.peakRss = baseline;
    }

    const sent =
      kind === "trickle" ? await trickle(peers, side, overBound) : await flood(peers[0], floodBatch(side, kind, compression), overBound, reads);
    const heldAtEnd = sent.stalled && !peers[0].ended;

    // Non-readers start reading now, to see whether a close frame came before the end.
    if (!reads) for (const peer of peers) peer.startReading();
    await until(() => peers.every((peer) => peer.ended), kind === "trickle" || heldAtEnd || reads ? 300 : 2000);
    const report = await child.request({ type: "report" }, "report");
    const growth = Math.max(report.peak, child.peakRss) - baseline;

    const main = peers[0];
    let outcome;
    if (main.scanner.closeCode !== null) outcome = `closed ${main.scanner.closeCode}`;
    else if (main.ended) outcome = `dropped, no close frame (library: ${[...report.closes, ...report.errors].join(" ") || "still open"})`;
    else if (heldAtEnd) outcome = "held by TCP";
    else outcome = "open";

    // The process serves a fresh connection afterwards: an echo round trip without compression.
    let fresh = false;
    try {
      let peer;
      if (side === "server") {
        peer = await openClient(ready.port, false);
      } else {
        peerServer.state.compression = false;
        const before = peerServer.accepted.length;
        const { ok } = await child.request({ type: "connect", url: peerServer.url, count: 1, compression: false }, "connected", 5000);
        if (ok === 1) await until(() => peerServer.accepted.length > before, 2000);
        peer = peerServer.accepted[before];
      }
      if (peer) {
        peers.push(peer);
        peer.startReading();
        peer.socket.write(peerFrame(side, { opcode: 0x1, payload: Buffer.from("fresh") }));
        fresh = await until(() => peer.scanner.texts.includes("fresh"), 3000);
      }
    } catch {
      fresh = false;
    }

    const failures = [];
    if (growth > MATRIX_BOUND) failures.push(`RSS +${mib(growth)} over the bound ${mib(MATRIX_BOUND)}`);
    if (!fresh) failures.push("no echo on a fresh connection");
    if (kind === "trickle" || reads) {
      // A peer that reads what it is sent must never be cut off (issue 12 item 8); TCP may slow it.
      if (outcome !== "open" && outcome !== "held by TCP") failures.push(`peer ${reads ? "that reads " : ""}cut off: ${outcome}`);
    } else if (side === "client" && kind.includes("pings") && outcome === "open") {
      // The client keeps reading a server that pings and never reads, answering only the latest
      // ping once its pong can leave (RFC 6455 §5.5.3), so nothing grows (checked above). It does
      // not stop reading while its own output is stuck: with our server doing the same, two peers
      // that both send faster than they read would then wait on each other for ever.
    } else if (outcome !== "closed 1008" && outcome !== "held by TCP") {
      const why = sent.atBound ? "when the flood stopped at the RSS bound" : "after all of it";
      failures.push(outcome === "open" ? `neither held by TCP nor closed ${why} (${mb(sent.offered)} offered)` : outcome);
    }
    return {
      side,
      cell,
      name: cellName(cell),
      baseline,
      growth,
      offered: sent.offered,
      floodMs: sent.ms,
      outcome,
      fresh,
      ms: Date.now() - started,
      pass: failures.length === 0,
      failures,
    };
  } finally {
    child.kill();
    for (const peer of peers) peer.destroy();
    await peerServer?.close();
  }
}

const mib = (bytes) => `${(bytes / MiB).toFixed(1)} MiB`;
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

/** A Markdown table of results. */
export function matrixTable(results) {
  const rows = results.map(
    (r) =>
      `| ${r.side} | ${r.cell.kind} | ${r.cell.reads ? "reads" : "never reads"} | ${r.cell.compression ? "on" : "off"} | ` +
      `${mb(r.offered)} | +${mib(r.growth)} | ${r.outcome} | ${r.fresh ? "yes" : "no"} | ${(r.ms / 1000).toFixed(1)} s | ` +
      `${r.pass ? "pass" : `FAIL: ${r.failures.join("; ")}`} |`,
  );
  return [
    `Bound: maxBufferedAmount ${mib(MATRIX_LIMITS.maxBufferedAmount)} + receiveHighWaterMark ${mib(MATRIX_LIMITS.receiveHighWaterMark)} + ${mib(MATRIX_SLACK)} = ${mib(MATRIX_BOUND)}`,
    "| side | cell | peer | deflate | offered | RSS growth | peer's connection | fresh conn | time | result |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}
