// SECURITY.md rows that apply to a client, through real sockets: a hostile server sends the input and
// the test checks the close code, the error code, that the process survives and that memory stays
// bounded. Rows 6, 7, 8 and 13 are also covered case by case in protocol.test.ts and
// handshake.test.ts; row 12 in transport.test.ts.
import { Socket } from "node:net";
import { describe, expect, it, afterEach, vi } from "vitest";
import { connect } from "../src/index.js";
import { closeCodeOf, deflateBomb, deflateMessage, frame, scriptedServer, type ScriptedServer } from "./helpers.js";

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const rss = () => process.memoryUsage().rss;

/** After an attack: the process still opens a fresh connection (nothing was left broken). */
async function stillConnects(): Promise<void> {
  const healthy = await scriptedServer(async (peer) => {
    await peer.accept();
  });
  try {
    const conn = await connect(healthy.url);
    expect(conn.readyState).toBe(1);
    conn.terminate();
  } finally {
    await healthy.close();
  }
}

describe("SECURITY row 5: floods of tiny fragments and chunks", () => {
  it("closes with 1008 or 1009 on a flood of empty fragments", async () => {
    let answer: number | undefined;
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      const flood = [frame({ opcode: 2, fin: false })];
      for (let i = 0; i < 2000; i++) flood.push(frame({ opcode: 0, fin: false }));
      peer.write(Buffer.concat(flood));
      const reply = await peer.readFrame();
      answer = closeCodeOf(reply!);
      peer.socket.end();
    });
    const before = rss();
    const conn = await connect(server.url, { maxFragments: 1000 });
    const info = await conn.closed;
    expect([1008, 1009]).toContain(answer);
    expect(info.error).toMatchObject({ code: "WS_ERR_TOO_MANY_FRAGMENTS" });
    expect(rss() - before).toBeLessThan(64 * 1024 * 1024);
    await stillConnects();
  });

  it("bounds one message sent as thousands of one-byte TCP writes", async () => {
    let answer: number | undefined;
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      peer.tcp.setNoDelay(true);
      // A 100 KiB message declared up front, then trickled; the client has maxPayload 1 KiB.
      const header = Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0x90, 0]);
      peer.write(header);
      for (let i = 0; i < 200 && !peer.socket.destroyed; i++) peer.write(Buffer.of(i));
      const reply = await peer.readFrame();
      answer = reply === null ? undefined : closeCodeOf(reply);
      peer.socket.end();
    });
    const before = rss();
    const conn = await connect(server.url, { maxPayload: 1024 });
    await conn.closed;
    expect(answer).toBe(1009);
    expect(rss() - before).toBeLessThan(64 * 1024 * 1024);
    await stillConnects();
  });
});

describe("SECURITY rows 6, 7 and 8: sizes", () => {
  it("row 6: a 256 MiB deflate bomb stops at maxPayload with 1009 and little memory", async () => {
    const bomb = await deflateBomb(256 * 1024 * 1024);
    expect(bomb.length).toBeLessThan(512 * 1024);
    let answer: number | undefined;
    server = await scriptedServer(async (peer) => {
      await peer.accept(["Sec-WebSocket-Extensions: permessage-deflate"]);
      peer.write(frame({ opcode: 2, rsv1: true, payload: bomb }));
      answer = closeCodeOf((await peer.readFrame())!);
      peer.socket.end();
    });
    const before = process.memoryUsage().rss;
    const conn = await connect(server.url, { maxPayload: 4 * 1024 * 1024 });
    const info = await conn.closed;
    expect(answer).toBe(1009);
    expect(info.error).toMatchObject({ code: "WS_ERR_MESSAGE_TOO_BIG" });
    expect(process.memoryUsage().rss - before).toBeLessThan(128 * 1024 * 1024);
  });

  // CPU-bound (30,000 inflates): the generous limits only catch a hang on a busy machine.
  it("a flood of small compressed messages pauses reading instead of piling up behind the inflater", { timeout: 90_000 }, async () => {
    // Input arrives far faster than 30,000 inflates consume it.
    const count = 30_000;
    const frames = Array.from({ length: count }, (_, i) =>
      frame({ opcode: 1, rsv1: true, payload: deflateMessage(Buffer.from(`message ${i}`)) }),
    );
    const consumed = [0]; // consumed[n]: wire bytes of the first n messages
    for (const f of frames) consumed.push(consumed[consumed.length - 1]! + f.length);
    let peerSocket: Socket | undefined;
    let handshakeBytes = 0;
    server = await scriptedServer(async (peer) => {
      peerSocket = peer.tcp;
      await peer.accept(["Sec-WebSocket-Extensions: permessage-deflate"]);
      handshakeBytes = peer.tcp.bytesWritten;
      peer.write(Buffer.concat(frames)); // about 480 KB
    });
    // The client's own socket is private: catch it when it is paused.
    const pausedSockets = new Set<Socket>();
    const originalPause = Socket.prototype.pause;
    const pause = vi.spyOn(Socket.prototype, "pause").mockImplementation(function (this: Socket) {
      pausedSockets.add(this);
      return originalPause.call(this);
    });
    const clientSocket = () => [...pausedSockets].find((socket) => socket !== peerSocket);
    try {
      const conn = await connect(server.url);
      const received: string[] = [];
      let held = 0;
      conn.on("message", (data) => received.push(String(data)));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${count} messages`)), 80_000);
        const sample = setInterval(() => {
          const socket = clientSocket();
          if (socket !== undefined) held = Math.max(held, socket.bytesRead - handshakeBytes - consumed[received.length]!);
          if (received.length === count) {
            clearInterval(sample);
            clearTimeout(timer);
            resolve();
          }
        }, 2);
      });
      expect(received.every((text, i) => text === `message ${i}`)).toBe(true);
      expect(clientSocket()).toBeDefined();
      // The codec's backlog limit (16 KiB), the read that crossed it and what Node reads into a
      // paused socket before it stops (16 KiB, overshot by one read).
      expect(held).toBeLessThanOrEqual(16 * 1024 + 64 * 1024 + 16 * 1024 + 64 * 1024);
      conn.terminate();
    } finally {
      pause.mockRestore();
    }
  });

  it("rows 7 and 8: a 2^63 length closes with 1002, a 2^53 length with 1009, before any allocation", async () => {
    for (const [declared, expected] of [
      [1n << 63n, 1002],
      [(1n << 53n) + 1n, 1009],
      [(1n << 32n) + 5n, 1009],
    ] as const) {
      let answer: number | undefined;
      server = await scriptedServer(async (peer) => {
        await peer.accept();
        peer.write(frame({ opcode: 2, declaredLength: declared }));
        answer = closeCodeOf((await peer.readFrame())!);
        peer.socket.end();
      });
      const before = rss();
      const conn = await connect(server.url);
      await conn.closed;
      expect(answer).toBe(expected);
      // Nothing near the declared size was allocated.
      expect(rss() - before).toBeLessThan(64 * 1024 * 1024);
      await server.close();
      server = undefined;
    }
    await stillConnects();
  });
});

describe("SECURITY row 15: a server that never reads", () => {
  it("send reports backpressure, then the connection fails at maxBufferedAmount", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      peer.socket.pause(); // never reads again
    });
    const conn = await connect(server.url, {
      perMessageDeflate: false,
      highWaterMark: 256 * 1024,
      maxBufferedAmount: 8 * 1024 * 1024,
    });
    const chunk = Buffer.alloc(256 * 1024);
    const before = rss();
    let sawBackpressure = false;
    let sent = 0;
    for (let i = 0; i < 1000 && conn.readyState === 1; i++) {
      if (!conn.send(chunk)) sawBackpressure = true;
      sent++;
    }
    expect(sawBackpressure).toBe(true);
    expect(sent).toBeLessThan(1000);
    const info = await conn.closed;
    expect(info.code).toBe(1006);
    expect(info.error).toMatchObject({ code: "WS_ERR_BUFFER_OVERFLOW" });
    // What we held for the peer stayed near maxBufferedAmount (8 MiB); the rest sits in kernel buffers.
    expect(rss() - before).toBeLessThan(64 * 1024 * 1024);
    await stillConnects();
  });

  it("rows 15 and 17: a server that pings and never reads the pongs gets only the latest one answered", async () => {
    const ping = frame({ opcode: 0x9, payload: Buffer.alloc(125, 7) });
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => ping));
    let done!: () => void;
    const flooded = new Promise<void>((resolve) => (done = resolve));
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      peer.socket.pause(); // never reads the pongs
      // 100,000 pings (about 13 MB of pongs if each were answered), in batches.
      for (let i = 0; i < 100 && !peer.socket.destroyed; i++) {
        if (!peer.socket.write(batch)) await new Promise((resolve) => peer.socket.once("drain", resolve).once("close", resolve));
      }
      done();
    });
    const conn = await connect(server.url, { perMessageDeflate: false, maxBufferedAmount: 256 * 1024 });
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, conn.bufferedAmount)), 1);
    await flooded;
    await new Promise((resolve) => setTimeout(resolve, 50));
    clearInterval(sampler);
    // Pongs stop queuing at highWaterMark (64 KiB): far under the limit, nothing to fail.
    expect(conn.readyState).toBe(1);
    expect(peak).toBeLessThanOrEqual(64 * 1024 + 131 + 16 * 512);
    conn.terminate();
    await stillConnects();
  });

  it("drain() resolves once the server reads again", async () => {
    let resume!: () => void;
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      peer.socket.pause();
      resume = () => peer.socket.resume();
    });
    const conn = await connect(server.url, { perMessageDeflate: false, highWaterMark: 64 * 1024 });
    const chunk = Buffer.alloc(64 * 1024);
    let ok = true;
    for (let i = 0; i < 500 && ok; i++) ok = conn.send(chunk);
    expect(ok).toBe(false);
    expect(conn.bufferedAmount).toBeGreaterThanOrEqual(64 * 1024);
    const drained = conn.drain();
    const drainEvent = new Promise<void>((resolve) => conn.once("drain", resolve));
    resume();
    await drained;
    await drainEvent;
    expect(conn.bufferedAmount).toBeLessThan(64 * 1024);
    conn.terminate();
  });
});

describe("timers after an event-loop stall", () => {
  it("reads the server's close that arrived during a stall before declaring a close timeout", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      await peer.readFrame(); // our close frame
      peer.write(frame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]) }));
      peer.socket.end();
      // The reply is on its way, then this process stalls well past closeTimeout, so the client's
      // close timer is due before the reply is read.
      const until = Date.now() + 300;
      while (Date.now() < until) {
        // busy: the event loop cannot run
      }
    });
    const conn = await connect(server.url, { closeTimeout: 50 });
    const info = await conn.close(1000);
    expect(info).toMatchObject({ code: 1000, wasClean: true });
    expect(info.error).toBeUndefined();
  });
});

describe("SECURITY row 16: a server that never answers the close frame", () => {
  it("destroys the socket after closeTimeout and reports 1006", async () => {
    let peerClosed!: Promise<void>;
    server = await scriptedServer(async (peer) => {
      peerClosed = peer.closed;
      await peer.accept();
      // Reads the close frame but never answers and never closes.
    });
    const conn = await connect(server.url, { closeTimeout: 300 });
    const info = await conn.close(1000);
    expect(info.code).toBe(1006);
    expect(info.wasClean).toBe(false);
    expect(info.error).toMatchObject({ code: "WS_ERR_CLOSE_TIMEOUT" });
    await peerClosed;
  });

  it("destroys the socket when the server echoes the close frame but keeps TCP open", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      const f = await peer.readFrame();
      peer.write(Buffer.from([0x88, 0x02, f!.payload[0]!, f!.payload[1]!]));
    });
    const conn = await connect(server.url, { closeTimeout: 300 });
    const info = await conn.close(1000);
    // Both close frames were exchanged, so the close is clean even though we had to drop TCP.
    expect(info).toEqual({ code: 1000, reason: "", wasClean: true });
  });
});
