// Close semantics with no data loss: every message sent before close() reaches the peer, in order,
// including large messages still being compressed when close() is called.
import type { AddressInfo } from "node:net";
import { connect } from "@ws/client";
import { createServer, type Connection, type WebSocketServer } from "@ws/server";
import { afterEach, describe, expect, it } from "vitest";

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close({ timeout: 2000 });
});

// Large, partly compressible payloads: zlib works on them asynchronously, so close() is called
// while compression jobs are still in flight.
function messages(): Array<string | Buffer> {
  const list: Array<string | Buffer> = [];
  for (let i = 0; i < 6; i++) {
    const binary = Buffer.alloc(1024 * 1024 + i * 4099);
    for (let j = 0; j < binary.length; j++) binary[j] = (j * (i + 3)) ^ (j >> 7);
    list.push(binary, `message ${i}: ` + "lorem ipsum dolor sit amet ".repeat(20_000 + i));
  }
  list.push(Buffer.alloc(0), "last");
  return list;
}

function sameMessages(received: Array<string | Buffer>, sent: Array<string | Buffer>): void {
  expect(received.length).toBe(sent.length);
  received.forEach((message, i) => {
    const want = sent[i]!;
    if (typeof want === "string") expect(message).toBe(want);
    else expect(Buffer.compare(message as Buffer, want)).toBe(0);
  });
}

async function start(compression: boolean) {
  const server = await createServer({
    port: 0,
    host: "127.0.0.1",
    maxPayload: 8 * 1024 * 1024,
    perMessageDeflate: compression ? { threshold: 0 } : false,
  });
  servers.push(server);
  return { server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

describe.each([
  ["compressed", true],
  ["uncompressed", false],
])("nothing sent before close() is lost (%s)", (_name, compression) => {
  it("client to server", async () => {
    const { server, url } = await start(compression);
    const received: Array<string | Buffer> = [];
    const closed = new Promise<number>((resolve) => {
      server.on("connection", (conn: Connection) => {
        // The server's message event gives bytes and the kind; text is decoded here.
        conn.on("message", (data: Buffer, isBinary: boolean) => received.push(isBinary ? data : data.toString()));
        conn.on("close", (code: number) => resolve(code));
      });
    });
    const conn = await connect(url, { perMessageDeflate: compression, maxPayload: 8 * 1024 * 1024 });
    const sent = messages();
    for (const message of sent) conn.send(message);
    const info = await conn.close(1000, "done");
    expect(await closed).toBe(1000);
    expect(info.wasClean).toBe(true);
    sameMessages(received, sent);
  });

  it("server to client", async () => {
    const { server, url } = await start(compression);
    const sent = messages();
    server.on("connection", (conn: Connection) => {
      for (const message of sent) conn.send(message);
      conn.close(1000, "done");
    });
    const conn = await connect(url, { perMessageDeflate: compression, maxPayload: 8 * 1024 * 1024 });
    const received: Array<string | Buffer> = [];
    conn.on("message", (data: string | Buffer) => received.push(data));
    const info = await conn.closed;
    expect(info).toMatchObject({ code: 1000, reason: "done", wasClean: true });
    sameMessages(received, sent);
  });
});
