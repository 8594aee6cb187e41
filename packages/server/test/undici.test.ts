// undici's WebSocket (7.x, the line that runs on Node 20; 8.x needs Node 22) over HTTP/2: with a
// dispatcher that allows h2 it opens the WebSocket with an extended CONNECT (RFC 8441) on our own
// HTTP/2 port. It sends a Sec-WebSocket-Key and checks a Sec-WebSocket-Accept even over HTTP/2,
// which the server answers when a key comes.
import { selfSignedCertificate } from "@ws/test-utils";
import { Agent, WebSocket, type CloseEvent, type MessageEvent } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { Connection } from "../src/index.js";
import { startEchoServer } from "./helpers.js";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function event<T>(ws: WebSocket, type: string): Promise<T> {
  return new Promise((resolve) => ws.addEventListener(type, (e) => resolve(e as T), { once: true }));
}

describe("undici WebSocket over HTTP/2", () => {
  it("opens on an extended CONNECT stream: text, binary, compression and a close code", async () => {
    const server = await startEchoServer({ perMessageDeflate: true }, "HTTP/2");
    cleanup.push(() => server.close({ timeout: 500 }));
    const seen: Array<{ httpVersion: string; compressed: boolean; closeCode?: number }> = [];
    server.on("connection", (conn: Connection) => {
      const entry: { httpVersion: string; compressed: boolean; closeCode?: number } = { httpVersion: conn.httpVersion, compressed: conn.compressed };
      seen.push(entry);
      conn.on("close", (code) => (entry.closeCode = code));
    });
    const dispatcher = new Agent({ allowH2: true, connect: { ca: selfSignedCertificate().cert } });
    cleanup.push(() => dispatcher.close());
    const ws = new WebSocket(server.url!, { dispatcher });
    ws.binaryType = "arraybuffer";
    await event(ws, "open");
    expect(ws.extensions).toContain("permessage-deflate");
    ws.send("hello from undici");
    expect((await event<MessageEvent>(ws, "message")).data).toBe("hello from undici");
    ws.send(new Uint8Array([1, 2, 3]));
    expect([...new Uint8Array((await event<MessageEvent>(ws, "message")).data as ArrayBuffer)]).toEqual([1, 2, 3]);
    const closed = event<CloseEvent>(ws, "close");
    ws.close(4002, "undici done");
    const close = await closed;
    expect([close.code, close.wasClean]).toEqual([4002, true]);
    await expect.poll(() => seen[0]?.closeCode).toBe(4002);
    expect(seen).toEqual([{ httpVersion: "2.0", compressed: true, closeCode: 4002 }]);
  });
});
