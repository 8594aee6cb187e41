// Our client over HTTP/2 (RFC 8441) against our server over HTTP/2: the handshake, shared sessions,
// falling back to HTTP/1.1, the WHATWG class, close codes, backpressure and order. The frame-level
// groups run over HTTP/2 against a scripted server in protocol.test.ts.
import { connect as http2Connect, createSecureServer } from "node:http2";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { selfSignedCertificate } from "@ws/test-utils";
import { WebSocketServer, createServer, type Connection as ServerConnection } from "@ws/server";
import { afterEach, describe, expect, it } from "vitest";
import { ClientErrorCode, Http2Agent, WebSocket, connect, type CloseEvent, type Connection, type MessageEvent } from "../src/index.js";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const { key, cert } = selfSignedCertificate();

/** Our server on its own HTTP/2 port (TLS, HTTP/1.1 too), echoing every message. */
async function h2EchoServer(options: Parameters<typeof createServer>[0] = {}) {
  const server = await createServer({ port: 0, host: "127.0.0.1", http2: { key, cert, allowHTTP1: true }, perMessageDeflate: true, ...options });
  cleanup.push(() => server.close({ timeout: 500 }));
  server.on("connection", (conn) => conn.on("message", (data, isBinary) => conn.send(data, { binary: isBinary })));
  return server;
}

function nextServerConnection(server: WebSocketServer): Promise<ServerConnection> {
  return new Promise((resolve) => server.once("connection", resolve));
}

function nextMessage(conn: Connection): Promise<string | Buffer> {
  return new Promise((resolve) => conn.once("message", resolve));
}

async function open(url: string, options: Parameters<typeof connect>[1] = {}): Promise<Connection> {
  const conn = await connect(url, { ca: cert, ...options });
  cleanup.push(() => conn.terminate());
  return conn;
}

describe("connect(url, { http2 })", () => {
  it("opens the WebSocket on an HTTP/2 stream: text, binary, compression and close codes", async () => {
    const server = await h2EchoServer();
    const serverSide = nextServerConnection(server);
    const agent = new Http2Agent();
    const conn = await open(server.url!, { http2: agent });
    const peer = await serverSide;
    expect(conn.httpVersion).toBe("2.0");
    expect(peer.httpVersion).toBe("2.0");
    expect(conn.extensions).toContain("permessage-deflate");
    expect(peer.compressed).toBe(true);
    conn.send("hello over h2");
    expect(await nextMessage(conn)).toBe("hello over h2");
    const big = Buffer.alloc(256 * 1024, 7);
    conn.send(big);
    expect(((await nextMessage(conn)) as Buffer).equals(big)).toBe(true);
    const serverClosed = new Promise<[number, string]>((resolve) => peer.once("close", (code, reason) => resolve([code, reason])));
    const info = await conn.close(4001, "bye");
    // RFC 6455 §5.5.1: the server echoes the code (without the reason).
    expect(info).toMatchObject({ code: 4001, wasClean: true });
    expect(await serverClosed).toEqual([4001, "bye"]);
    // The last WebSocket gone, the agent closes its session.
    expect(agent.sessionCount).toBe(0);
  });

  it("shares one session between WebSockets to one origin, and closes it after the last", async () => {
    const server = await h2EchoServer();
    const ports = new Set<number | undefined>();
    server.on("connection", (conn) => ports.add(conn.remotePort));
    const agent = new Http2Agent();
    const conns = await Promise.all(Array.from({ length: 10 }, () => open(server.url!, { http2: agent })));
    expect(agent.sessionCount).toBe(1);
    // One TCP connection: every server-side WebSocket sees the same client port.
    expect(ports.size).toBe(1);
    const replies = await Promise.all(
      conns.map((conn, i) => {
        const reply = nextMessage(conn);
        conn.send(`ws ${i}`);
        return reply;
      }),
    );
    expect(replies).toEqual(conns.map((_, i) => `ws ${i}`));
    await Promise.all(conns.slice(0, 9).map((conn) => conn.close()));
    expect(agent.sessionCount).toBe(1);
    conns[9]!.send("last one standing");
    expect(await nextMessage(conns[9]!)).toBe("last one standing");
    await conns[9]!.close();
    expect(agent.sessionCount).toBe(0);
  });

  it("uses a session passed in, and leaves it open", async () => {
    const server = await h2EchoServer();
    const session = http2Connect(`https://127.0.0.1:${(server.address() as AddressInfo).port}`, { ca: cert });
    cleanup.push(() => session.destroy());
    const first = await open(server.url!, { http2: session });
    const second = await open(server.url!, { http2: session });
    expect([first.httpVersion, second.httpVersion]).toEqual(["2.0", "2.0"]);
    await first.close();
    await second.close();
    expect(session.closed).toBe(false);
    const third = await open(server.url!, { http2: session });
    third.send("again");
    expect(await nextMessage(third)).toBe("again");
  });

  it("falls back to HTTP/1.1 when ALPN picks it, on that same TLS connection", async () => {
    const https = createHttpsServer({ key, cert });
    await new Promise<void>((resolve) => https.listen(0, "127.0.0.1", resolve));
    cleanup.push(() => new Promise((resolve) => https.close(resolve)));
    let tlsConnections = 0;
    https.on("secureConnection", () => tlsConnections++);
    const wss = new WebSocketServer({ server: https });
    cleanup.push(() => wss.close({ timeout: 500 }));
    wss.on("connection", (conn) => conn.on("message", (data, isBinary) => conn.send(data, { binary: isBinary })));
    const conn = await open(`wss://127.0.0.1:${(https.address() as AddressInfo).port}`, { http2: new Http2Agent() });
    expect(conn.httpVersion).toBe("1.1");
    conn.send("fallback");
    expect(await nextMessage(conn)).toBe("fallback");
    expect(tlsConnections).toBe(1);
  });

  it("falls back to HTTP/1.1 when the HTTP/2 server does not enable the connect protocol", async () => {
    const plain = createSecureServer({ key, cert, allowHTTP1: true });
    const wss = new WebSocketServer({ noServer: true });
    cleanup.push(() => wss.close({ timeout: 500 }));
    plain.on("upgrade", (req, socket, head) => void wss.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
    cleanup.push(() => new Promise((resolve) => plain.close(resolve)));
    wss.on("connection", (conn) => conn.on("message", (data, isBinary) => conn.send(data, { binary: isBinary })));
    const conn = await open(`wss://127.0.0.1:${(plain.address() as AddressInfo).port}`, { http2: new Http2Agent() });
    expect(conn.httpVersion).toBe("1.1");
    conn.send("no extended CONNECT here");
    expect(await nextMessage(conn)).toBe("no extended CONNECT here");
  });

  it("speaks h2c with prior knowledge on ws:, and falls back when the server is HTTP/1.1 only", async () => {
    const h2c = await createServer({ port: 0, host: "127.0.0.1", http2: true });
    cleanup.push(() => h2c.close({ timeout: 500 }));
    h2c.on("connection", (conn) => conn.on("message", (data, isBinary) => conn.send(data, { binary: isBinary })));
    const over2 = await open(h2c.url!, { http2: new Http2Agent() });
    expect(over2.httpVersion).toBe("2.0");
    over2.send("h2c");
    expect(await nextMessage(over2)).toBe("h2c");

    const http1 = await createServer({ port: 0, host: "127.0.0.1" });
    cleanup.push(() => http1.close({ timeout: 500 }));
    const over1 = await open(http1.url!, { http2: new Http2Agent() });
    expect(over1.httpVersion).toBe("1.1");
  });

  it("reports a refusal's status, and a reset stream as 1006", async () => {
    const server = await h2EchoServer({ upgrade: (req) => (req.url === "/no" ? { status: 403, reason: "not you" } : undefined) });
    await expect(connect(`${server.url}/no`, { ca: cert, http2: new Http2Agent() })).rejects.toMatchObject({
      code: ClientErrorCode.UnexpectedStatus,
      statusCode: 403,
    });
    const serverSide = nextServerConnection(server);
    const conn = await open(server.url!, { http2: new Http2Agent() });
    (await serverSide).terminate();
    const info = await conn.closed;
    expect(info).toMatchObject({ code: 1006, wasClean: false });
  });

  it("delivers 10,000 messages in order both ways, and pushes back through the stream's window", async () => {
    const server = await h2EchoServer({ perMessageDeflate: false });
    const serverSide = nextServerConnection(server);
    const conn = await open(server.url!, { http2: new Http2Agent(), perMessageDeflate: false });
    const peer = await serverSide;
    const received: string[] = [];
    const all = new Promise<void>((resolve) => {
      conn.on("message", (data) => {
        received.push(data as string);
        if (received.length === 10_000) resolve();
      });
    });
    for (let i = 0; i < 10_000; i++) {
      if (!conn.send(`message ${i}`)) await conn.drain();
    }
    await all;
    expect(received.every((text, i) => text === `message ${i}`)).toBe(true);

    // The server stops reading: our frames wait behind the stream's flow-control window.
    peer.pause();
    const chunk = Buffer.alloc(64 * 1024, 1);
    let accepted = 0;
    while (conn.send(chunk) && accepted < 100) accepted++;
    expect(accepted).toBeLessThan(100);
    expect(conn.bufferedAmount).toBeGreaterThanOrEqual(64 * 1024);
    const drained = conn.drain();
    peer.resume();
    await drained;
    expect(conn.bufferedAmount).toBeLessThan(64 * 1024);
  });
});

describe("the WHATWG WebSocket with { http2 }", () => {
  it("opens over HTTP/2 and fires open, message and close", async () => {
    const server = await h2EchoServer();
    const ws = new WebSocket(server.url!, { http2: new Http2Agent(), ca: cert });
    cleanup.push(() => ws.close());
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    expect(ws.extensions).toContain("permessage-deflate");
    const message = new Promise<MessageEvent>((resolve) => (ws.onmessage = resolve));
    ws.send("whatwg over h2");
    expect((await message).data).toBe("whatwg over h2");
    const closed = new Promise<CloseEvent>((resolve) => (ws.onclose = resolve));
    ws.close(1000, "done");
    const event = await closed;
    expect([event.code, event.wasClean]).toEqual([1000, true]);
  });
});
