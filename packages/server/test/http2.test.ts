// WebSockets over HTTP/2 (RFC 8441): the handshake as a raw HTTP/2 client sees it, the server's
// settings and modes, and what is particular to streams: several WebSockets on one session, flow
// control per stream, RST_STREAM, the per-session limit. The frame-level groups run over HTTP/2 in
// protocol.test.ts, compression.test.ts and security.test.ts.
import { createSecureServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { selfSignedCertificate } from "@ws/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer, createServer, type Connection, type UpgradeRequest } from "../src/index.js";
import { OP, RawClient, closePayload, delay, once, openHttp2Session, startEchoServer, startServer, until } from "./helpers.js";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function h2Server(options: Parameters<typeof startServer>[0] = {}) {
  const server = await startServer(options, "HTTP/2");
  cleanup.push(() => server.close({ timeout: 500 }));
  return server;
}

async function h2Session(port: number, cleartext = false) {
  const session = await openHttp2Session(port, { cleartext });
  cleanup.push(() => session.destroy());
  return session;
}

function nextConnection(server: WebSocketServer): Promise<[Connection, UpgradeRequest]> {
  return once<[Connection, UpgradeRequest]>(server, "connection");
}

describe("HTTP/2 extended CONNECT handshake", () => {
  it("advertises SETTINGS_ENABLE_CONNECT_PROTOCOL and accepts with 200, no Sec-WebSocket-Accept", async () => {
    const server = await startEchoServer({}, "HTTP/2");
    cleanup.push(() => server.close({ timeout: 500 }));
    expect(server.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    const session = await h2Session(server.port);
    expect(session.remoteSettings.enableConnectProtocol).toBe(true);
    const connected = nextConnection(server);
    const client = await RawClient.connectHttp2(server.port, { session, path: "/chat?room=1" });
    const [conn, req] = await connected;
    expect(client.handshake.status).toBe(200);
    expect(client.handshake.headers["sec-websocket-accept"]).toBeUndefined();
    expect(conn.httpVersion).toBe("2.0");
    expect(conn.url).toBe("/chat?room=1");
    expect(conn.remoteAddress).toBe("127.0.0.1");
    expect(req.httpVersion).toBe("2.0");
    expect(req.method).toBe("CONNECT");
    client.sendFrame({ opcode: OP.text, payload: "over h2" });
    expect((await client.readMessage()).data.toString()).toBe("over h2");
    client.destroy();
  });

  it("runs the same upgrade hook, origin check, subprotocol choice and deflate negotiation", async () => {
    const seen: Array<{ protocols: readonly string[]; origin: string | undefined; version: string }> = [];
    const server = await h2Server({
      allowedOrigins: ["https://good.example"],
      handleProtocols: (protocols) => protocols.includes("chat") ? "chat" : false,
      perMessageDeflate: true,
      upgrade: (req, info) => {
        seen.push({ ...info, version: req.httpVersion });
        if (req.headers.authorization !== "Bearer yes") return { status: 401, reason: "who are you", headers: { "WWW-Authenticate": "Bearer" } };
        return { data: { user: "ann" }, headers: { "X-Served-By": "h2" } };
      },
    });
    const refusedOrigin = await RawClient.requestHttp2(server.port, { origin: "https://evil.example" });
    expect(refusedOrigin.handshake.status).toBe(403);
    refusedOrigin.session.destroy();

    const refused = await RawClient.requestHttp2(server.port, { origin: "https://good.example" });
    expect(refused.handshake.status).toBe(401);
    expect(refused.handshake.headers["www-authenticate"]).toBe("Bearer");
    const body: Buffer[] = [];
    for await (const chunk of refused.stream) body.push(chunk as Buffer);
    expect(Buffer.concat(body).toString()).toBe("who are you");
    refused.session.destroy();

    const connected = nextConnection(server);
    const client = await RawClient.connectHttp2(server.port, {
      origin: "https://good.example",
      protocols: "other, chat",
      extensions: "permessage-deflate; client_max_window_bits",
      headers: { Authorization: "Bearer yes" },
    });
    const [conn] = await connected;
    expect(client.handshake.headers["sec-websocket-protocol"]).toBe("chat");
    expect(client.handshake.headers["sec-websocket-extensions"]).toContain("permessage-deflate");
    expect(client.handshake.headers["x-served-by"]).toBe("h2");
    expect(conn.protocol).toBe("chat");
    expect(conn.compressed).toBe(true);
    expect(conn.data).toEqual({ user: "ann" });
    expect(seen).toEqual([
      { protocols: [], origin: "https://good.example", version: "2.0" },
      { protocols: ["other", "chat"], origin: "https://good.example", version: "2.0" },
    ]);
    client.destroy();
  });

  it("refuses bad extended CONNECTs with the status RFC 6455 would, and other requests on its own port", async () => {
    const server = await h2Server({ path: "/ws" });
    const errors: number[] = [];
    server.on("handshakeError", (error) => errors.push(error.status!));
    const session = await h2Session(server.port);
    const version = await RawClient.requestHttp2(server.port, { session, path: "/ws", rawHeaders: { "sec-websocket-version": "8" } });
    expect(version.handshake.status).toBe(426);
    expect(version.handshake.headers["sec-websocket-version"]).toBe("13");
    const badList = await RawClient.requestHttp2(server.port, { session, path: "/ws", protocols: "a, , b" });
    expect(badList.handshake.status).toBe(400);
    const otherPath = await RawClient.requestHttp2(server.port, { session, path: "/elsewhere" });
    expect(otherPath.handshake.status).toBe(404);
    const get = session.request({ ":path": "/ws" });
    const [getHeaders] = await once<[Record<string, unknown>]>(get, "response");
    expect(getHeaders[":status"]).toBe(405);
    expect(getHeaders.allow).toBe("CONNECT");
    get.resume();
    expect(errors).toEqual(expect.arrayContaining([426, 400, 404, 405]));
    // The session is still good for a WebSocket.
    const client = await RawClient.connectHttp2(server.port, { session, path: "/ws" });
    client.destroy();
  });

  it("counts pseudo-headers apart: maxHeaderCount extra fields get 431", async () => {
    const server = await h2Server({ maxHeaderCount: 10 });
    const many: Record<string, string> = {};
    for (let i = 0; i < 20; i++) many[`x-${i}`] = "1";
    const refused = await RawClient.requestHttp2(server.port, { rawHeaders: many });
    expect(refused.handshake.status).toBe(431);
    refused.session.destroy();
    const client = await RawClient.connectHttp2(server.port, { headers: { "x-one": "1" } });
    client.destroy();
  });
});

describe("WebSockets on one HTTP/2 session", () => {
  it("carries several WebSockets on one session, each with its own messages and close", async () => {
    const server = await startEchoServer({}, "HTTP/2");
    cleanup.push(() => server.close({ timeout: 500 }));
    const session = await h2Session(server.port);
    const clients = await Promise.all(Array.from({ length: 5 }, () => RawClient.connectHttp2(server.port, { session })));
    await until(() => server.clients.size === 5);
    clients.forEach((client, i) => client.sendFrame({ opcode: OP.text, payload: `stream ${i}` }));
    for (const [i, client] of clients.entries()) expect((await client.readMessage()).data.toString()).toBe(`stream ${i}`);
    // A clean close on one ends its stream (END_STREAM), and leaves the others open.
    clients[0]!.sendFrame({ opcode: OP.close, payload: closePayload(1000, "bye") });
    expect((await clients[0]!.readClose()).code).toBe(1000);
    await clients[0]!.waitEnded();
    clients[0]!.socket.end();
    await clients[0]!.waitClosed();
    clients[1]!.sendFrame({ opcode: OP.binary, payload: "still here" });
    expect((await clients[1]!.readMessage()).data.toString()).toBe("still here");
    expect(session.closed).toBe(false);
    await until(() => server.clients.size === 4);
  });

  it("a server close ends the stream after the close handshake, and reports the peer's code", async () => {
    const server = await h2Server();
    const connected = nextConnection(server);
    const client = await RawClient.connectHttp2(server.port);
    const [conn] = await connected;
    const closed = once<[number, string]>(conn, "close");
    conn.close(4000, "done");
    const close = await client.readClose();
    expect(close).toMatchObject({ code: 4000, reason: "done" });
    client.sendFrame({ opcode: OP.close, payload: closePayload(4000, "done") });
    await client.waitEnded();
    client.socket.end();
    expect(await closed).toEqual([4000, "done"]);
  });

  it("an RST_STREAM from the client is a 1006, and the session's other streams go on", async () => {
    const server = await startEchoServer({}, "HTTP/2");
    cleanup.push(() => server.close({ timeout: 500 }));
    const session = await h2Session(server.port);
    const connected = nextConnection(server);
    const doomed = await RawClient.connectHttp2(server.port, { session });
    const [conn] = await connected;
    const other = await RawClient.connectHttp2(server.port, { session });
    const closed = once<[number, string]>(conn, "close");
    (doomed.socket as unknown as { close(code: number): void }).close(8); // NGHTTP2_CANCEL
    expect((await closed)[0]).toBe(1006);
    other.sendFrame({ opcode: OP.text, payload: "unaffected" });
    expect((await other.readMessage()).data.toString()).toBe("unaffected");
  });

  it("terminate() resets only its stream, with CANCEL", async () => {
    const server = await h2Server();
    const session = await h2Session(server.port);
    const connected = nextConnection(server);
    const client = await RawClient.connectHttp2(server.port, { session });
    const [conn] = await connected;
    conn.terminate();
    await client.waitClosed();
    expect((client.socket as unknown as { rstCode: number }).rstCode).toBe(8);
    expect(session.closed || session.destroyed).toBe(false);
  });

  it("takes at most maxStreamsPerSession WebSockets on one session (503), and more on another", async () => {
    const server = await h2Server({ maxStreamsPerSession: 2 });
    const session = await h2Session(server.port);
    const first = await RawClient.connectHttp2(server.port, { session });
    await RawClient.connectHttp2(server.port, { session });
    const third = await RawClient.requestHttp2(server.port, { session });
    expect(third.handshake.status).toBe(503);
    // Another session has its own budget.
    const elsewhere = await RawClient.connectHttp2(server.port);
    elsewhere.destroy();
    // Once one stream closes, its place is free again.
    first.destroy();
    await until(() => server.clients.size === 1);
    await delay(20);
    const again = await RawClient.connectHttp2(server.port, { session });
    again.destroy();
  });

  it("a WebSocket whose peer does not read fills its stream window: send returns false, then drain; the others flow", async () => {
    const server = await h2Server({ highWaterMark: 64 * 1024 });
    const session = await h2Session(server.port);
    const connected = nextConnection(server);
    const slow = await RawClient.connectHttp2(server.port, { session });
    const [conn] = await connected;
    server.on("connection", (other) => other.on("message", (data, isBinary) => other.send(data, { binary: isBinary })));
    const fast = await RawClient.connectHttp2(server.port, { session });
    slow.socket.pause();
    const chunk = Buffer.alloc(32 * 1024, 1);
    let sent = 0;
    while (conn.send(chunk) && sent < 1000) sent++;
    // The stream's window (64 KiB by default) took part; the rest waits in our buffer.
    expect(conn.bufferedAmount).toBeGreaterThanOrEqual(64 * 1024);
    await delay(50);
    expect(conn.bufferedAmount).toBeGreaterThanOrEqual(64 * 1024);
    // The session is not stalled: another WebSocket on it echoes a 256 KiB message.
    fast.sendFrame({ opcode: OP.binary, payload: Buffer.alloc(256 * 1024, 2) });
    expect((await fast.readMessage(10_000)).data.length).toBe(256 * 1024);
    const drained = once(conn, "drain");
    slow.socket.resume();
    await drained;
    for (let i = 0; i <= sent; i++) expect((await slow.readMessage(10_000)).data.length).toBe(chunk.length);
  });

  it("conn.pause() stops reading its stream only: the client's writes back up, other streams flow", async () => {
    const server = await startEchoServer({}, "HTTP/2");
    cleanup.push(() => server.close({ timeout: 500 }));
    const session = await h2Session(server.port);
    const connected = nextConnection(server);
    const paused = await RawClient.connectHttp2(server.port, { session });
    const [conn] = await connected;
    const other = await RawClient.connectHttp2(server.port, { session });
    conn.pause();
    const big = Buffer.alloc(64 * 1024, 3);
    for (let i = 0; i < 64 && paused.socket.writableLength < 512 * 1024; i++) {
      paused.sendFrame({ opcode: OP.binary, payload: big });
      await delay(1);
    }
    await delay(50);
    // HTTP/2 flow control held the client's frames back (its stream window stays closed).
    expect(paused.socket.writableLength).toBeGreaterThan(256 * 1024);
    other.sendFrame({ opcode: OP.text, payload: "flowing" });
    expect((await other.readMessage()).data.toString()).toBe("flowing");
    conn.resume();
    await until(() => paused.socket.writableLength === 0, 10_000);
  });
});

describe("HTTP/2 server modes", () => {
  it("with allowHTTP1, the same TLS port takes HTTP/1.1 upgrades (ALPN http/1.1)", async () => {
    const server = await startEchoServer({}, "HTTP/2");
    cleanup.push(() => server.close({ timeout: 500 }));
    const connected = nextConnection(server);
    const socket = tlsConnect({ host: "127.0.0.1", port: server.port, ca: selfSignedCertificate().cert, ALPNProtocols: ["http/1.1"] });
    await once(socket, "secureConnect");
    expect(socket.alpnProtocol).toBe("http/1.1");
    const client = new RawClient(socket);
    cleanup.push(() => client.destroy());
    expect((await client.handshake()).status).toBe(101);
    const [conn] = await connected;
    expect(conn.httpVersion).toBe("1.1");
    client.sendFrame({ opcode: OP.text, payload: "over 1.1" });
    expect((await client.readMessage()).data.toString()).toBe("over 1.1");
  });

  it("cleartext h2c with `http2: true`", async () => {
    const server = await createServer({ port: 0, host: "127.0.0.1", http2: true });
    cleanup.push(() => server.close({ timeout: 500 }));
    server.on("connection", (conn) => conn.on("message", (data) => conn.send(data)));
    expect(server.url).toMatch(/^ws:\/\//);
    const port = (server.address() as AddressInfo).port;
    const session = await h2Session(port, true);
    const client = await RawClient.connectHttp2(port, { session });
    client.sendFrame({ opcode: OP.binary, payload: "h2c" });
    expect((await client.readMessage()).data.toString()).toBe("h2c");
    client.destroy();
  });

  it("attaches to an http2.createSecureServer that serves pages, and leaves its other requests and CONNECTs alone", async () => {
    const http2Server = createSecureServer({ ...selfSignedCertificate() }, (req, res) => {
      res.end(`page ${req.url}`);
    });
    await new Promise<void>((resolve) => http2Server.listen(0, "127.0.0.1", resolve));
    cleanup.push(() => new Promise((resolve) => http2Server.close(resolve)));
    const wss = new WebSocketServer({ server: http2Server, path: "/ws" });
    cleanup.push(() => wss.close({ timeout: 500 }));
    wss.on("connection", (conn) => conn.on("message", (data) => conn.send(data)));
    const port = (http2Server.address() as AddressInfo).port;
    const session = await h2Session(port);
    expect(session.remoteSettings.enableConnectProtocol).toBe(true);
    const page = session.request({ ":path": "/index.html" });
    let text = "";
    page.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
    await once(page, "end");
    expect(text).toBe("page /index.html");
    // A plain CONNECT (a proxy tunnel) gets Node's own 405, a WebSocket elsewhere a 404.
    const tunnel = session.request({ ":method": "CONNECT", ":authority": "example.com:443" });
    tunnel.on("error", () => {});
    expect((await once<[Record<string, unknown>]>(tunnel, "response"))[0][":status"]).toBe(405);
    const elsewhere = await RawClient.requestHttp2(port, { session, path: "/other" });
    expect(elsewhere.handshake.status).toBe(404);
    const client = await RawClient.connectHttp2(port, { session, path: "/ws" });
    client.sendFrame({ opcode: OP.text, payload: "beside pages" });
    expect((await client.readMessage()).data.toString()).toBe("beside pages");
    client.destroy();
  });

  it("an HTTP/2 stream that never gets its answer is reset at handshakeTimeout", async () => {
    const server = await h2Server({ handshakeTimeout: 100, upgrade: () => new Promise(() => {}) });
    const timeouts: string[] = [];
    server.on("handshakeError", (error) => timeouts.push(error.code));
    await expect(RawClient.requestHttp2(server.port)).rejects.toThrow(/closed before a response/);
    expect(timeouts).toEqual(["WS_ERR_HANDSHAKE_TIMEOUT"]);
  });

  it("close() ends the WebSockets and the own-port sessions", async () => {
    const server = await startServer({}, "HTTP/2");
    const session = await openHttp2Session(server.port);
    const client = await RawClient.connectHttp2(server.port, { session });
    const closing = server.close({ timeout: 2000 });
    const close = await client.readClose();
    expect(close.code).toBe(1001);
    client.sendFrame({ opcode: OP.close, payload: closePayload(1001) });
    client.socket.end();
    await closing;
    await until(() => session.closed || session.destroyed);
  });
});

