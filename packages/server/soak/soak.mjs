#!/usr/bin/env node
/* global Buffer, URL, clearInterval, console, process, setInterval, setTimeout */
// Bounded soak test for @ws/server (not part of CI): `pnpm soak` from the repository root.
//
// The server runs in a child process (so its RSS is its own) with the built package; this process
// opens SOAK_CONNECTIONS (default 5,000) raw TCP peers on 127.0.0.1 with hand-made handshakes and
// frames, holds them all open at once, then lets each one behave as its kind says:
//
//   well-behaved   send messages, verify every echo, answer pings, close 1000
//   slow-reading   the same, but read in short bursts a few times a second
//   never-reading  flood echo requests and never read: the server closes it (1008, buffer overflow)
//   half-open      send a partial frame and go silent: the heartbeat destroys it (pong timeout)
//   slowloris      send half a request head and stop: the handshake timeout destroys it
//   fragment-flood empty continuation frames as fast as possible: 1008 (too many fragments)
//   ping-flood     thousands of pings in a burst, every one answered, then close 1000
//   oversize       a frame declaring 1 MiB over a 64 KiB maxPayload: 1009 before any payload
//   unmasked       an unmasked client frame: 1002
//   bad-utf8       a text frame with an overlong encoding: 1007
//
// Well-behaved and slow peers must lose no message and see no error; the others must be closed
// with the right code; what the server holds (JS heap + Buffers) must come back to its baseline
// once they are gone, and its RSS must not grow from one round to the next. glibc's malloc keeps
// most freed pages, so RSS itself stays up; SOAK_MALLOC=jemalloc runs the server on jemalloc, which
// returns them, and then RSS must come back to the baseline too.
// Every loop is bounded in count and time; the whole run is capped at MAX_RUN_MS.
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay } from "node:perf_hooks";

const SERVER_OPTIONS = {
  port: 0,
  host: "127.0.0.1",
  backlog: 4096,
  maxPayload: 64 * 1024,
  maxFragments: 1024,
  highWaterMark: 64 * 1024,
  maxBufferedAmount: 512 * 1024,
  backpressure: "close",
  pingInterval: 3_000,
  pongTimeout: 5_000,
  handshakeTimeout: 8_000,
  closeTimeout: 3_000,
};

// ---------------------------------------------------------------------------------------------
// The server child: an echo server reporting its figures over IPC.

async function runServer() {
  const { createServer } = await import(new URL("../dist/index.mjs", import.meta.url).href);
  const server = await createServer(SERVER_OPTIONS);
  const closes = {};
  let peak = 0;
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  let messages = 0;
  server.on("connection", (conn) => {
    peak = Math.max(peak, server.clients.size);
    conn.on("error", () => {});
    conn.on("message", (data, isBinary) => {
      messages++;
      conn.send(data, { binary: isBinary });
    });
    conn.on("close", (code) => {
      const key = `${code} ${conn.closeError?.code ?? "-"}`;
      closes[key] = (closes[key] ?? 0) + 1;
    });
  });
  const stats = () => {
    globalThis.gc?.();
    const memory = process.memoryUsage();
    const heap = memory.heapUsed + memory.external;
    return { rss: memory.rss, heap, clients: server.clients.size, peak, messages, closes, maxDelayMs: loopDelay.max / 1e6 };
  };
  process.on("message", (request) => {
    if (request === "stats") process.send({ type: "stats", ...stats() });
    else if (request === "exit") void server.close({ timeout: 1000 }).then(() => process.exit(0));
  });
  process.send({ type: "ready", port: server.address().port, ...stats() });
}

// ---------------------------------------------------------------------------------------------
// The peers.

const TOTAL = Number(process.env.SOAK_CONNECTIONS ?? 5000);
const MAX_RUN_MS = 180_000;
const ROUNDS = Number(process.env.SOAK_ROUNDS ?? 2);
/** How far RSS may sit above the mark it is compared with (first round, or baseline on jemalloc). */
const RSS_SLACK = 32 * 1048576;
/** SOAK_ONLY=<kind> makes every peer that kind (to look at one behaviour alone). */
const ONLY = process.env.SOAK_ONLY;
/**
 * SOAK_MALLOC=jemalloc (or a path to libjemalloc.so) preloads jemalloc in the server child, with
 * freed pages returned to the kernel after about a second (Debian: `apt-get install libjemalloc2`).
 */
const MALLOC = process.env.SOAK_MALLOC;
const JEMALLOC_PATHS = ["/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2"];

/** The server child's environment: the default allocator, or jemalloc when SOAK_MALLOC asks for it. */
function serverEnv() {
  if (MALLOC === undefined || MALLOC === "" || MALLOC === "glibc") return { env: process.env, allocator: "glibc malloc", returnsPages: false };
  const library = MALLOC === "jemalloc" ? JEMALLOC_PATHS.find((path) => existsSync(path)) : MALLOC;
  if (library === undefined || !existsSync(library)) {
    console.error(`soak: SOAK_MALLOC=${MALLOC}: no jemalloc library found (tried ${JEMALLOC_PATHS.join(", ")}); install libjemalloc2 or give its path`);
    process.exit(2);
  }
  const env = { ...process.env, LD_PRELOAD: library, MALLOC_CONF: "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0" };
  return { env, allocator: `jemalloc (${library})`, returnsPages: true };
}
const MIX = [
  ["well-behaved", 0.5],
  ["slow-reading", 0.08],
  ["never-reading", 0.04],
  ["half-open", 0.1],
  ["slowloris", 0.02],
  ["fragment-flood", 0.06],
  ["ping-flood", 0.06],
  ["oversize", 0.05],
  ["unmasked", 0.05],
  ["bad-utf8", 0.04],
];
/** What each kind must see: a close code from the server, or the TCP connection simply going away. */
const EXPECTED = {
  "well-behaved": "1000",
  "slow-reading": "1000",
  "never-reading": "closed",
  "half-open": "closed",
  slowloris: "closed",
  "fragment-flood": "1008",
  "ping-flood": "1000",
  oversize: "1009",
  unmasked: "1002",
  "bad-utf8": "1007",
};

const T0 = Date.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function mask(payload, fin = true, opcode = 0x2, masked = true) {
  const length = payload.length;
  const header = [(fin ? 0x80 : 0) | opcode];
  const bit = masked ? 0x80 : 0;
  if (length < 126) header.push(bit | length);
  else if (length < 65536) header.push(bit | 126, length >> 8, length & 0xff);
  else header.push(bit | 127, 0, 0, 0, 0, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
  if (!masked) return Buffer.concat([Buffer.from(header), payload]);
  const key = randomBytes(4);
  const body = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) body[i] = payload[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(header), key, body]);
}

// Flood frames are masked once and shared: masking in JS per write would starve this process, and a
// starved peer cannot answer the server's pings in time (it then rightly loses the connection).
const FLOOD_FRAME = mask(randomBytes(60 * 1024));
const PING_BURST = Buffer.concat(Array.from({ length: 500 }, () => mask(randomBytes(125), true, 0x9)));
const EMPTY_FRAGMENTS = Buffer.concat(Array.from({ length: 256 }, () => mask(Buffer.alloc(0), false, 0x0)));

const closePayload = (code) => Buffer.from([code >> 8, code & 0xff]);

/** Incremental parser of the server's (unmasked) frames. */
class FrameReader {
  buffer = Buffer.alloc(0);
  push(chunk, onFrame) {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      let length = b[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + length) return;
      onFrame(b[0] & 0x0f, b.subarray(offset, offset + length), (b[0] & 0x80) !== 0);
      this.buffer = b.subarray(offset + length);
    }
  }
}

class Peer {
  constructor(kind, port) {
    this.kind = kind;
    this.port = port;
    this.state = "new"; // new → open → done
    this.closeCode = null;
    this.sent = 0;
    this.verified = 0;
    this.lost = 0;
    this.errors = [];
    this.expected = [];
    this.pongs = 0;
    this.reader = new FrameReader();
    this.closedAt = 0;
    /** Timeline of notable events (ms since the run started), printed for peers that fail. */
    this.trace = [];
  }

  note(what) {
    if (this.trace.length < 40) this.trace.push(`${Date.now() - T0}:${what}`);
  }

  /** TCP connect and the opening handshake; resolves when the 101 arrived (or at once for slowloris). */
  open() {
    return new Promise((resolve) => {
      const socket = connect({ port: this.port, host: "127.0.0.1" });
      this.socket = socket;
      socket.setNoDelay(true);
      socket.on("error", (error) => {
        if (this.state !== "done" && !["never-reading", "half-open", "slowloris", "fragment-flood"].includes(this.kind)) {
          this.errors.push(error.code ?? error.message);
        }
      });
      socket.on("close", () => {
        this.note("tcp-close");
        if (this.state !== "done") this.finish();
        resolve(false);
      });
      const key = randomBytes(16).toString("base64");
      if (this.kind === "slowloris") {
        socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n");
        this.state = "open";
        resolve(true);
        return;
      }
      socket.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      let head = Buffer.alloc(0);
      const onHead = (chunk) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end === -1) return;
        socket.off("data", onHead);
        if (!head.subarray(0, 12).toString().startsWith("HTTP/1.1 101")) {
          this.errors.push(`handshake: ${head.subarray(0, 40).toString()}`);
          socket.destroy();
          return resolve(false);
        }
        this.state = "open";
        socket.on("data", (data) => this.reader.push(data, (op, payload) => this.onFrame(op, payload)));
        const rest = head.subarray(end + 4);
        if (rest.length > 0) this.reader.push(rest, (op, payload) => this.onFrame(op, payload));
        resolve(true);
      };
      socket.on("data", onHead);
    });
  }

  onFrame(opcode, payload) {
    if (opcode === 0x9) {
      this.note(this.silent ? "ping(ignored)" : "ping");
      // RFC 6455 §5.5.2: answer with the same payload (after a ping flood stops, or a half-open peer went silent, no more).
      if (this.silent) return;
      this.socket.write(mask(payload, true, 0xa));
    } else if (opcode === 0xa) {
      this.pongs++;
    } else if (opcode === 0x8) {
      this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.note(`close-frame ${this.closeCode}`);
      if (this.kind === "well-behaved" || this.kind === "slow-reading" || this.kind === "ping-flood") {
        if (!this.closing) this.errors.push(`unexpected close ${this.closeCode}`);
      }
      if (!this.closing && !this.socket.destroyed) this.socket.write(mask(closePayload(this.closeCode === 1005 ? 1000 : this.closeCode), true, 0x8));
    } else if (opcode === 0x1 || opcode === 0x2) {
      const want = this.expected.shift();
      if (want === undefined || !want.equals(payload)) {
        this.lost++;
        this.errors.push("echo mismatch");
      } else this.verified++;
    }
  }

  finish() {
    this.state = "done";
    this.closedAt = Date.now();
  }

  /** Sends one message and remembers what must come back. */
  send(payload, text) {
    this.expected.push(payload);
    this.sent++;
    return this.socket.write(mask(payload, true, text ? 0x1 : 0x2));
  }

  /** Closes with 1000 and waits for the server's echo and TCP close (bounded). */
  async closeNormally(deadline) {
    this.closing = true;
    this.note("send-close");
    if (!this.socket.destroyed) this.socket.write(mask(closePayload(1000), true, 0x8));
    while (this.state !== "done" && Date.now() < deadline) await sleep(50);
    if (this.state !== "done") {
      this.errors.push("close not completed");
      this.socket.destroy();
    }
  }

  /** The kind's behaviour, once every peer is connected. */
  async behave(deadline) {
    if (this.state !== "open") return;
    this.note("behave");
    const socket = this.socket;
    switch (this.kind) {
      case "well-behaved": {
        for (let i = 0; i < 10 && Date.now() < deadline && this.state === "open"; i++) {
          const text = i % 2 === 0;
          const size = 1 + Math.floor(Math.random() * 4096);
          this.send(text ? Buffer.from("é".repeat(size >> 1) + i) : randomBytes(size), text);
          await sleep(100 + Math.random() * 400);
        }
        while (this.expected.length > 0 && this.state === "open" && Date.now() < deadline) await sleep(50);
        this.lost += this.expected.length;
        return this.closeNormally(deadline);
      }
      case "slow-reading": {
        socket.pause();
        for (let i = 0; i < 30 && this.state === "open"; i++) this.send(randomBytes(8 * 1024), false);
        // Read in 10 ms bursts every 250 ms until everything came back.
        while (this.expected.length > 0 && this.state === "open" && Date.now() < deadline) {
          this.note(`read ${this.verified}`);
          socket.resume();
          await sleep(10);
          socket.pause();
          await sleep(240);
        }
        socket.resume();
        this.lost += this.expected.length;
        return this.closeNormally(deadline);
      }
      case "never-reading": {
        socket.pause();
        this.silent = true;
        for (let i = 0; i < 80 && this.state === "open" && !socket.destroyed && Date.now() < deadline; i++) {
          if (!socket.write(FLOOD_FRAME)) await Promise.race([new Promise((r) => socket.once("drain", r)), sleep(2000)]);
        }
        return;
      }
      case "half-open":
        this.silent = true;
        socket.pause();
        socket.write(Buffer.from([0x82, 0xfe, 0x10])); // a binary frame header, cut before its length ends
        return;
      case "slowloris":
        return; // already sent half a request head
      case "fragment-flood": {
        socket.write(mask(Buffer.alloc(0), false, 0x2));
        const empty = EMPTY_FRAGMENTS;
        for (let i = 0; i < 200 && this.state === "open" && !socket.destroyed; i++) {
          if (!socket.write(empty)) await Promise.race([new Promise((r) => socket.once("drain", r)), sleep(500)]);
        }
        return;
      }
      case "ping-flood": {
        const burst = PING_BURST;
        for (let i = 0; i < 6 && this.state === "open"; i++) {
          if (!socket.write(burst)) await Promise.race([new Promise((r) => socket.once("drain", r)), sleep(1000)]);
        }
        this.note("flood-written");
        while (this.pongs < 3000 && this.state === "open" && Date.now() < deadline) await sleep(50);
        if (this.pongs < 3000) this.errors.push(`only ${this.pongs} pongs for 3000 pings`);
        return this.closeNormally(deadline);
      }
      case "oversize": {
        const header = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 2, 3, 4]); // 1 MiB declared, masked
        socket.write(Buffer.concat([header, randomBytes(1000)]));
        return;
      }
      case "unmasked":
        socket.write(mask(Buffer.from("not masked"), true, 0x1, false));
        return;
      case "bad-utf8":
        socket.write(mask(Buffer.from([0x68, 0x69, 0xc0, 0x80]), true, 0x1));
        return;
    }
  }

  /** "ok" when the peer saw what its kind expects. */
  verdict() {
    const expected = EXPECTED[this.kind];
    if (this.errors.length > 0 || this.lost > 0) return false;
    if (this.state !== "done") return false;
    if (expected === "closed") return true;
    return String(this.closeCode) === expected;
  }
}

function vmRss(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

async function runSoak() {
  const started = Date.now();
  const hardStop = setTimeout(() => {
    console.error(`soak: aborted after ${MAX_RUN_MS / 1000} s`);
    process.exit(2);
  }, MAX_RUN_MS);
  hardStop.unref();

  // returnsPages: the allocator gives freed pages back, so RSS must come back to the baseline.
  const { env, allocator, returnsPages } = serverEnv();
  console.log(`soak: server allocator: ${allocator}`);
  const child = fork(fileURLToPath(import.meta.url), ["server"], { execArgv: ["--expose-gc"], stdio: "inherit", env });
  let pendingStats = null;
  const ready = new Promise((resolve) => {
    child.on("message", (message) => {
      if (message.type === "ready") resolve(message);
      else if (message.type === "stats") pendingStats?.(message);
    });
  });
  const stats = () =>
    new Promise((resolve) => {
      pendingStats = resolve;
      child.send("stats");
    });
  const { port } = await ready;
  await sleep(500);
  const baseline = await stats();

  let peakRss = baseline.rss;
  const peerLoopDelay = monitorEventLoopDelay({ resolution: 20 });
  peerLoopDelay.enable();
  const sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, vmRss(child.pid));
    } catch {
      // The child may have exited between two samples.
    }
  }, 100);

  // Each round: open every connection, hold them, let each peer behave, wait until all are gone.
  // A second round shows whether what the first one left behind grows (a leak) or is reused.
  const rounds = [];
  let peers = [];
  let held;
  let after;
  let openMs = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    // Phase 1: open every connection, 250 at a time, in random order of kinds.
    peers = [];
    for (const [kind, share] of MIX) for (let i = 0; i < Math.round(TOTAL * share); i++) peers.push(new Peer(ONLY ?? kind, port));
    peers.sort(() => Math.random() - 0.5);
    const openStart = Date.now();
    for (let i = 0; i < peers.length; i += 250) {
      await Promise.all(peers.slice(i, i + 250).map((peer) => peer.open()));
    }
    openMs = Date.now() - openStart;
    await sleep(300);
    held = await stats();
    const openPeers = peers.filter((peer) => peer.state === "open").length;
    console.log(`soak: round ${round}: ${openPeers} peers open (${held.clients} upgraded on the server) after ${openMs} ms`);

    // Phase 2: every peer behaves as its kind, all at once.
    const deadline = Date.now() + 60_000;
    await Promise.all(peers.map((peer) => peer.behave(deadline)));

    // Phase 3: the misbehaving ones must be gone by the server's timeouts (bounded wait).
    const waitUntil = Date.now() + 30_000;
    while (peers.some((peer) => peer.state !== "done") && Date.now() < waitUntil) await sleep(200);
    for (const peer of peers) if (peer.state !== "done") peer.socket.destroy();
    await sleep(500);

    // Phase 4: the server's memory after everyone left.
    after = await stats();
    for (let i = 0; i < 20 && after.clients > 0; i++) {
      await sleep(250);
      after = await stats();
    }
    await sleep(1000);
    after = await stats();
    // jemalloc returns freed pages within its decay time (1 s); give it a few more seconds.
    for (let i = 0; i < 10 && returnsPages && after.rss > baseline.rss + RSS_SLACK; i++) {
      await sleep(500);
      after = await stats();
    }
    rounds.push({ held, after, peers, peakRss });
    console.log(`soak: round ${round}: server RSS ${(after.rss / 1048576).toFixed(1)} MiB after, ${after.clients} connections left`);
  }
  clearInterval(sampler);
  child.send("exit");
  const allPeers = rounds.flatMap((r) => r.peers);

  // Figures.
  const byKind = {};
  for (const peer of allPeers) {
    const row = (byKind[peer.kind] ??= { peers: 0, ok: 0, sent: 0, verified: 0, lost: 0, errors: 0, codes: {} });
    row.peers++;
    if (peer.verdict()) row.ok++;
    row.sent += peer.sent;
    row.verified += peer.verified;
    row.lost += peer.lost;
    row.errors += peer.errors.length;
    const code = peer.closeCode ?? "none";
    row.codes[code] = (row.codes[code] ?? 0) + 1;
  }
  const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;
  const durationS = ((Date.now() - started) / 1000).toFixed(1);
  console.log("\n| peer kind | peers | as expected | messages sent / echoed | lost | errors | close code seen by the peer (count) | expected |");
  console.log("|---|---:|---:|---:|---:|---:|---|---|");
  for (const [kind] of MIX) {
    const row = byKind[kind];
    if (!row) continue;
    const codes = Object.entries(row.codes).map(([code, n]) => `${code === "none" ? "no close frame" : code} (${n})`).join(", ");
    const msgs = row.sent > 0 ? `${row.sent} / ${row.verified}` : "-";
    console.log(`| ${kind} | ${row.peers} | ${row.ok} | ${msgs} | ${row.lost} | ${row.errors} | ${codes} | ${EXPECTED[kind] === "closed" ? "closed by a timeout/limit" : EXPECTED[kind]} |`);
  }
  console.log("\n| figure | value |\n|---|---|");
  console.log(`| rounds | ${ROUNDS} × ${TOTAL} connections |`);
  console.log(`| server allocator | ${allocator} |`);
  console.log(`| connections held at once (server, upgraded) | ${rounds.map((r) => r.held.clients).join(" / ")} (+ ${peers.filter((p) => p.kind === "slowloris").length} slowloris mid-handshake per round) |`);
  console.log(`| messages echoed by the server | ${after.messages} |`);
  console.log(`| server closes (code, error) | ${Object.entries(after.closes).sort().map(([k, n]) => `${k}: ${n}`).join("; ")} |`);
  console.log(`| server RSS baseline / peak / after each round | ${mib(baseline.rss)} / ${mib(peakRss)} / ${rounds.map((r) => mib(r.after.rss)).join(" / ")} |`);
  console.log(`| server JS heap + external, baseline / held / after each round | ${mib(baseline.heap)} / ${mib(held.heap)} / ${rounds.map((r) => mib(r.after.heap)).join(" / ")} |`);
  console.log(`| connections left on the server | ${after.clients} |`);
  console.log(`| max event-loop delay, server / peers process | ${after.maxDelayMs.toFixed(0)} ms / ${(peerLoopDelay.max / 1e6).toFixed(0)} ms |`);
  console.log(`| duration | ${durationS} s (opening ${openMs} ms in the last round) |`);

  const failures = allPeers.filter((peer) => !peer.verdict());
  for (const peer of failures.slice(0, 10)) {
    console.log(`  failed: ${peer.kind} state=${peer.state} close=${peer.closeCode} lost=${peer.lost} errors=${peer.errors.join(",")}\n    ${peer.trace.join(" ")}`);
  }
  // Memory: the JS heap must come back to the baseline after every round, and RSS must not grow
  // from one round to the next (glibc keeps freed pages for reuse, so RSS settles above the
  // baseline; a leak would add to it each round). On jemalloc, RSS must come back to the baseline.
  const heapOk = rounds.every((r) => r.after.heap - baseline.heap <= 16 * 1048576);
  const first = rounds[0].after.rss;
  const rssOk = rounds.every((r) => r.after.rss <= first + RSS_SLACK);
  const rssBackOk = !returnsPages || after.rss <= baseline.rss + RSS_SLACK;
  const ok = failures.length === 0 && after.clients === 0 && rssOk && heapOk && rssBackOk;
  const rssBack = !returnsPages ? "" : `; RSS ${rssBackOk ? "back at" : "NOT back at"} baseline`;
  console.log(
    `\nsoak: ${ok ? "PASS" : "FAIL"} (${failures.length} peers not as expected; JS heap ${heapOk ? "back at" : "NOT back at"} baseline; RSS ${rssOk ? "flat" : "GROWING"} across rounds${rssBack})`,
  );
  await sleep(300);
  process.exit(ok ? 0 : 1);
}

if (process.argv[2] === "server") await runServer();
else await runSoak();
