// permessage-deflate (RFC 7692) through real sockets: negotiation, both directions, threshold, bombs.
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import type { Connection } from "../src/index.js";
import { OP, RawClient, TRANSPORTS, frame, once, startEchoServer, startServer, until } from "./helpers.js";

const cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
function deflate(data: Buffer): Buffer {
  const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4); // RFC 7692 §7.2.1: drop the tail
}
function inflate(data: Buffer): Buffer {
  return inflateRawSync(Buffer.concat([data, TAIL]), { finishFlush: constants.Z_SYNC_FLUSH });
}

describe.each(TRANSPORTS)("permessage-deflate over %s", (transport) => {
  it("is off by default: no extension in the 101, RSV1 fails with 1002", async () => {
    const server = await startEchoServer({}, transport);
    cleanup.push(() => server.close());
    const client = await RawClient.connectTo(server, { extensions: "permessage-deflate" });
    expect(client.handshake.headers["sec-websocket-extensions"]).toBeUndefined();
    client.sendFrame({ opcode: OP.text, payload: deflate(Buffer.from("x")), rsv1: true });
    expect((await client.readClose()).code).toBe(1002);
    client.destroy();
  });

  it("negotiates the parameters and round-trips compressed messages with a raw client", async () => {
    const server = await startEchoServer({ perMessageDeflate: { threshold: 0, serverNoContextTakeover: true } }, transport);
    cleanup.push(() => server.close());
    const client = await RawClient.connectTo(server, {
      extensions: "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
    });
    const header = client.handshake.headers["sec-websocket-extensions"]!;
    expect(header).toContain("permessage-deflate");
    expect(header).toContain("server_no_context_takeover");
    expect(header).toContain("server_max_window_bits=10");
    for (const text of ["hello", "hello", "x".repeat(100_000)]) {
      client.sendFrame({ opcode: OP.text, payload: deflate(Buffer.from(text)), rsv1: true });
      const reply = await client.readFrame();
      expect(reply.rsv1).toBe(true);
      expect(inflate(reply.payload).toString()).toBe(text);
    }
    // A compressed message in fragments: RSV1 on the first frame only.
    const body = deflate(Buffer.from("fragmented and compressed"));
    client.sendFrame({ opcode: OP.text, payload: body.subarray(0, 5), rsv1: true, fin: false });
    client.sendFrame({ opcode: OP.cont, payload: body.subarray(5) });
    expect(inflate((await client.readFrame()).payload).toString()).toBe("fragmented and compressed");
    // RSV1 on a continuation frame is a protocol error (SECURITY row 13).
    client.sendFrame({ opcode: OP.text, payload: body.subarray(0, 5), rsv1: true, fin: false });
    client.sendFrame({ opcode: OP.cont, payload: body.subarray(5), rsv1: true });
    expect((await client.readClose()).code).toBe(1002);
    client.destroy();
  });

  it("stops a decompression bomb at maxPayload with 1009 (SECURITY row 6)", async () => {
    const server = await startEchoServer({ perMessageDeflate: true, maxPayload: 1024 * 1024 }, transport);
    cleanup.push(() => server.close());
    const client = await RawClient.connectTo(server, { extensions: "permessage-deflate" });
    const bomb = deflate(Buffer.alloc(64 * 1024 * 1024)); // about 64 KiB on the wire
    const before = process.memoryUsage().rss;
    expect(bomb.length).toBeLessThan(128 * 1024);
    client.sendFrame({ opcode: OP.binary, payload: bomb, rsv1: true });
    expect((await client.readClose()).code).toBe(1009);
    expect(process.memoryUsage().rss - before).toBeLessThan(48 * 1024 * 1024);
    client.destroy();
  });

  it("fails data that does not inflate with 1007", async () => {
    const server = await startEchoServer({ perMessageDeflate: true }, transport);
    cleanup.push(() => server.close());
    const client = await RawClient.connectTo(server, { extensions: "permessage-deflate" });
    client.sendFrame({ opcode: OP.binary, payload: Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]), rsv1: true });
    expect((await client.readClose()).code).toBe(1007);
    client.destroy();
  });

  it("declines window bits outside 8..15 and answers without the extension (SECURITY row 7)", async () => {
    const server = await startEchoServer({ perMessageDeflate: true }, transport);
    cleanup.push(() => server.close());
    const client = await RawClient.connectTo(server, { extensions: "permessage-deflate; server_max_window_bits=1000" });
    expect(client.handshake.headers["sec-websocket-extensions"]).toBeUndefined();
    client.sendFrame({ opcode: OP.text, payload: "plain" });
    expect((await client.readMessage()).data.toString()).toBe("plain");
    client.destroy();
  });
});

describe("permessage-deflate", () => {
  it("interoperates with ws, including context takeover and the threshold", async () => {
    const server = await startServer({ perMessageDeflate: true });
    cleanup.push(() => server.close());
    let conn: Connection | undefined;
    server.on("connection", (c) => {
      conn = c;
      c.on("message", (data, isBinary) => c.send(data, { binary: isBinary }));
    });
    const ws = new WebSocket(server.url!, { perMessageDeflate: true });
    cleanup.push(() => ws.terminate());
    await once(ws, "open");
    expect(ws.extensions).toContain("permessage-deflate");
    expect(conn!.compressed).toBe(true);
    expect(conn!.extensions).toContain("permessage-deflate");
    const messages = ["small", "repeat ".repeat(1000), randomBytes(300_000), "repeat ".repeat(1000)];
    const received: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      ws.on("message", (data: Buffer) => {
        received.push(data);
        if (received.length === messages.length) resolve();
      });
    });
    for (const message of messages) ws.send(message);
    await done;
    expect(received.map((data) => data.toString("base64"))).toEqual(messages.map((m) => Buffer.from(m).toString("base64")));
  });

  it("stops reading while compressed messages wait to be inflated, and loses none", async () => {
    // Many tiny compressed messages in one write: each inflates on the thread pool, so input
    // arrives much faster than it is consumed. Reading must pause, not buffer the whole flood.
    const server = await startServer({ perMessageDeflate: true });
    cleanup.push(() => server.close({ timeout: 200 }));
    const received: string[] = [];
    let socket: Socket | undefined;
    let readBefore = 0;
    server.on("connection", (conn, req) => {
      socket = req.socket;
      readBefore = socket.bytesRead;
      conn.on("message", (data) => received.push(String(data)));
    });
    const client = await RawClient.connect(server.port, { extensions: "permessage-deflate" });
    cleanup.push(() => client.destroy());
    const count = 30_000;
    const frames = Array.from({ length: count }, (_, i) =>
      frame({ opcode: OP.text, rsv1: true, payload: deflate(Buffer.from(`message ${i}`)) }),
    );
    const consumed = [0]; // consumed[n]: wire bytes of the first n messages
    for (const f of frames) consumed.push(consumed[consumed.length - 1]! + f.length);
    client.send(Buffer.concat(frames)); // about 480 KB
    let held = 0;
    await until(() => {
      if (socket !== undefined) held = Math.max(held, socket.bytesRead - readBefore - consumed[received.length]!);
      return received.length === count;
    }, 30_000, 2);
    expect(received[0]).toBe("message 0");
    expect(received.every((text, i) => text === `message ${i}`)).toBe(true);
    // Read ahead of what was parsed, at most: the codec's backlog limit (16 KiB), the read that
    // crossed it (64 KiB), and what Node reads into a paused socket's buffer before it stops
    // (its 16 KiB high-water mark, overshot by up to one more read).
    expect(held).toBeLessThanOrEqual(16 * 1024 + 64 * 1024 + 16 * 1024 + 64 * 1024);
    expect(held).toBeGreaterThan(0);
  });

  it("broadcasts to a mix of compressed and plain connections", async () => {
    const server = await startServer({ perMessageDeflate: { threshold: 0 } });
    cleanup.push(() => server.close());
    const plain = await RawClient.connect(server.port);
    const compressed = await RawClient.connect(server.port, { extensions: "permessage-deflate" });
    cleanup.push(() => plain.destroy(), () => compressed.destroy());
    for (let i = 0; i < 100 && server.clients.size < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(server.broadcast("to everyone").sent).toBe(2);
    expect((await plain.readMessage()).data.toString()).toBe("to everyone");
    const frame = await compressed.readFrame();
    expect(frame.rsv1).toBe(true);
    expect(inflate(frame.payload).toString()).toBe("to everyone");
  });

  it("compresses a broadcast once for connections without context takeover, in order with their own sends", async () => {
    const server = await startServer({ perMessageDeflate: { threshold: 0, serverNoContextTakeover: true } });
    cleanup.push(() => server.close());
    const peers = await Promise.all([0, 1, 2].map(() => RawClient.connect(server.port, { extensions: "permessage-deflate" })));
    cleanup.push(...peers.map((peer) => () => peer.destroy()));
    for (let i = 0; i < 100 && server.clients.size < 3; i++) await new Promise((r) => setTimeout(r, 5));
    const text = "the same news for everyone, ".repeat(50);
    for (const conn of server.clients) conn.send("own message before");
    expect(server.broadcast(text).sent).toBe(3);
    for (const conn of server.clients) conn.send("own message after");
    const payloads: Buffer[] = [];
    for (const peer of peers) {
      expect(inflate((await peer.readFrame()).payload).toString()).toBe("own message before");
      const frame = await peer.readFrame();
      expect(frame.rsv1).toBe(true);
      expect(inflate(frame.payload).toString()).toBe(text);
      payloads.push(frame.payload);
      expect(inflate((await peer.readFrame()).payload).toString()).toBe("own message after");
    }
    // Compressed once: every peer got the very same compressed bytes.
    expect(payloads[1]).toEqual(payloads[0]);
    expect(payloads[2]).toEqual(payloads[0]);
  });
});
