// Our client against our own server, both front doors, with and without permessage-deflate, text
// and binary, 0 bytes to 16 MiB. Lives here because this app is the one place that may depend on
// both packages (neither package may depend on the other).
import type { AddressInfo } from "node:net";
import { WebSocket, connect, type CloseEvent } from "@ws/client";
import { createServer, type WebSocketServer } from "@ws/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const LIMIT = 32 * 1024 * 1024;
const sizes = [0, 1, 125, 126, 65535, 65536, 1024 * 1024, 16 * 1024 * 1024];

function pattern(size: number, text: boolean): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = text ? 0x20 + ((i * 7) % 95) : (i * 31 + (i >> 8)) & 0xff;
  return bytes;
}

let server: WebSocketServer;
let url: string;

beforeAll(async () => {
  server = await createServer({
    port: 0,
    host: "127.0.0.1",
    maxPayload: LIMIT,
    perMessageDeflate: { threshold: 0 },
  });
  server.on("connection", (conn) => {
    conn.on("message", (data, isBinary) => conn.send(data, { binary: isBinary }));
  });
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await server.close({ timeout: 2000 });
});

describe.each([
  ["with permessage-deflate", true],
  ["without compression", false],
])("@ws/client against @ws/server %s", (_name, compression) => {
  it("connect(): echoes text and binary from 0 bytes to 16 MiB intact", async () => {
    const conn = await connect(url, { perMessageDeflate: compression, maxPayload: LIMIT });
    expect(conn.extensions.includes("permessage-deflate")).toBe(compression);
    const received: Array<{ data: string | Buffer; isBinary: boolean }> = [];
    conn.on("message", (data: string | Buffer, isBinary: boolean) => received.push({ data, isBinary }));
    const expected: Array<string | Buffer> = [];
    for (const size of sizes) {
      const text = pattern(size, true).toString("latin1");
      const binary = pattern(size, false);
      conn.send(text);
      conn.send(binary);
      expected.push(text, binary);
    }
    for (let i = 0; i < 3000 && received.length < expected.length; i++) await new Promise((r) => setTimeout(r, 10));
    expect(received.length).toBe(expected.length);
    received.forEach((message, i) => {
      const want = expected[i]!;
      expect(message.isBinary).toBe(typeof want !== "string");
      if (typeof want === "string") expect(message.data).toBe(want);
      else expect(Buffer.compare(message.data as Buffer, want)).toBe(0);
    });
    const info = await conn.close(1000, "done");
    expect(info).toMatchObject({ code: 1000, wasClean: true });
  });

  it("WebSocket: echoes text and binary and closes cleanly", async () => {
    const ws = new WebSocket(url, { perMessageDeflate: compression, maxPayload: LIMIT });
    ws.binaryType = "arraybuffer";
    const messages: Array<string | ArrayBuffer> = [];
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("connection failed"));
    });
    expect(ws.extensions.includes("permessage-deflate")).toBe(compression);
    ws.onmessage = (event) => {
      messages.push((event as MessageEvent).data as string | ArrayBuffer);
    };
    const big = pattern(4 * 1024 * 1024, false);
    ws.send("héllo ✓");
    ws.send(new Uint8Array(big));
    ws.send(new ArrayBuffer(0));
    for (let i = 0; i < 3000 && messages.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(messages[0]).toBe("héllo ✓");
    expect(Buffer.compare(Buffer.from(messages[1] as ArrayBuffer), big)).toBe(0);
    expect((messages[2] as ArrayBuffer).byteLength).toBe(0);
    const closed = new Promise<CloseEvent>((resolve) => (ws.onclose = (event) => resolve(event as CloseEvent)));
    ws.close(3001, "bye");
    const event = await closed;
    // The server echoes our code; the reason is the one in the close frame it sent back (none).
    expect([event.code, event.reason, event.wasClean]).toEqual([3001, "", true]);
  });
});
