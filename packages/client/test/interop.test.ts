// Interop against `ws`'s server (a dev dependency), with and without permessage-deflate, text and
// binary, from 0 bytes to 16 MiB.
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer, type PerMessageDeflateOptions, type WebSocket as WsSocket } from "ws";
import { WebSocket, connect, type CloseEvent, type Connection } from "../src/index.js";
import { once } from "./helpers.js";

function echoServer(perMessageDeflate: boolean | PerMessageDeflateOptions): Promise<WebSocketServer> {
  return new Promise((resolve) => {
    const wss: WebSocketServer = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate, maxPayload: 64 * 1024 * 1024 }, () =>
      resolve(wss),
    );
    wss.on("connection", (socket: WsSocket) => {
      socket.on("message", (data: Buffer, isBinary: boolean) => socket.send(data, { binary: isBinary }));
    });
  });
}

const sizes = [0, 1, 125, 126, 65535, 65536, 1024 * 1024, 16 * 1024 * 1024];

function payload(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  let seed = size;
  for (let i = 0; i < size; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    bytes[i] = seed >> 16;
  }
  return bytes;
}

function next(conn: Connection): Promise<[unknown, boolean]> {
  return new Promise((resolve) => conn.once("message", (data, isBinary) => resolve([data, isBinary])));
}

describe.each([
  ["without compression", false],
  ["with compression", true],
])("interop with ws %s", (_name, deflate) => {
  let wss: WebSocketServer;
  let url: string;
  beforeAll(async () => {
    wss = await echoServer(deflate ? { threshold: 0 } : false);
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  });
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  );

  it("negotiates permessage-deflate only when the server has it", async () => {
    const conn = await connect(url);
    expect(conn.extensions).toBe(deflate ? "permessage-deflate" : "");
    await conn.close();
  });

  it.each(sizes)("echoes %i bytes of binary and of text", async (size) => {
    const conn = await connect(url);
    const bytes = payload(size);
    const binaryReply = next(conn);
    conn.send(bytes);
    const [data, isBinary] = await binaryReply;
    expect(isBinary).toBe(true);
    expect((data as Buffer).equals(bytes)).toBe(true);

    // 10 UTF-8 bytes per repeat, never cut inside a character; about half the binary size.
    const textValue = "é€😀a".repeat(Math.floor(size / 20)) + "z".repeat(size % 20 >> 1);
    const textReply = next(conn);
    conn.send(textValue);
    const [echoed, textIsBinary] = await textReply;
    expect(textIsBinary).toBe(false);
    expect(echoed).toBe(textValue);
    const info = await conn.close(1000, "done");
    expect(info).toMatchObject({ code: 1000, reason: "done", wasClean: true });
  });

  it("echoes many messages in order through async iteration", async () => {
    const conn = await connect(url);
    const count = 500;
    for (let i = 0; i < count; i++) conn.send(`message ${i}`);
    const received: unknown[] = [];
    for await (const message of conn) {
      received.push(message);
      if (received.length === count) break;
    }
    expect(received).toEqual(Array.from({ length: count }, (_, i) => `message ${i}`));
    await conn.close();
  });

  it("streams a 3 MiB message in 64 KiB fragments", async () => {
    const conn = await connect(url);
    const bytes = payload(3 * 1024 * 1024);
    const reply = next(conn);
    function* chunks(): Generator<Buffer> {
      for (let offset = 0; offset < bytes.length; offset += 65536) yield bytes.subarray(offset, offset + 65536);
    }
    expect(await conn.sendStream(chunks())).toBe(true);
    const [data] = await reply;
    expect((data as Buffer).equals(bytes)).toBe(true);
    await conn.close();
  });

  it("the README's example closes cleanly: messages sent, then close() at once (20 of 20)", async () => {
    // Issue 12, item 2: the server's last compressed echo, its close frame and its FIN arrive
    // together; the close must still be clean with compression on.
    for (let round = 0; round < 20; round++) {
      const conn = await connect(url);
      const received: unknown[] = [];
      conn.on("message", (data) => received.push(data));
      conn.send("text message");
      conn.send(Buffer.from([1, 2, 3]));
      conn.send("as binary", { binary: true, compress: false });
      conn.ping("heartbeat");
      const info = await conn.close(1000, "bye");
      expect(info).toEqual({ code: 1000, reason: "bye", wasClean: true });
      expect(received.length).toBeLessThanOrEqual(3);
    }
  });

  it("works through the WHATWG class", async () => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    await once(ws, "open");
    ws.send(Uint8Array.of(1, 2, 3));
    const event = await once<MessageEvent>(ws, "message");
    expect(new Uint8Array(event.data as ArrayBuffer)).toEqual(Uint8Array.of(1, 2, 3));
    ws.close(1000);
    const closed = await once<CloseEvent>(ws, "close");
    expect(closed.wasClean).toBe(true);
    expect(closed.code).toBe(1000);
  });
});

describe("interop with ws: server-initiated close and pings", () => {
  it("answers the server's ping and echoes its close", async () => {
    const wss = await echoServer(false);
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    const serverSide = new Promise<WsSocket>((resolve) => wss.once("connection", resolve));
    const conn = await connect(url);
    const socket = await serverSide;
    const pong = new Promise<Buffer>((resolve) => socket.once("pong", resolve));
    socket.ping("hello");
    expect((await pong).toString()).toBe("hello");
    socket.close(4002, "server bye");
    const info = await conn.closed;
    expect(info).toEqual({ code: 4002, reason: "server bye", wasClean: true });
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
});
