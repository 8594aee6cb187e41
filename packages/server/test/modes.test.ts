import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { WebSocketServer, createServer, safeEqual, type Connection } from "../src/index.js";
import { RawClient, SERVER_PATHS, delay, once, rawExchange, startServer } from "./helpers.js";

const cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function listen(http: Server): Promise<number> {
  return new Promise((resolve) => http.listen(0, "127.0.0.1", () => resolve((http.address() as AddressInfo).port)));
}

function wsClient(url: string, protocols?: string | string[], options?: ConstructorParameters<typeof WebSocket>[2]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
    cleanup.push(() => ws.terminate());
  });
}

function wsReject(url: string, options?: ConstructorParameters<typeof WebSocket>[2]): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once("open", () => reject(new Error("unexpectedly opened")));
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once("error", () => undefined);
  });
}

describe("own port", () => {
  it("listens, reports its address and url, and echoes through a ws client", async () => {
    const server = await createServer({ port: 0, host: "127.0.0.1" });
    cleanup.push(() => server.close());
    const address = server.address() as AddressInfo;
    expect(address.port).toBeGreaterThan(0);
    expect(server.url).toBe(`ws://127.0.0.1:${address.port}`);
    server.on("connection", (conn) => conn.on("message", (data, isBinary) => conn.send(data, { binary: isBinary })));
    const ws = await wsClient(server.url!);
    ws.send("hi");
    const [data, isBinary] = await once<[Buffer, boolean]>(ws, "message");
    expect(data.toString()).toBe("hi");
    expect(isBinary).toBe(false);
  });

  it("emits listening, and the constructor form works too", async () => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    cleanup.push(() => server.close());
    await once(server, "listening");
    expect(server.address()).not.toBeNull();
  });

  it("rejects createServer when the port is taken", async () => {
    const first = await startServer();
    cleanup.push(() => first.close());
    await expect(createServer({ port: first.port, host: "127.0.0.1" })).rejects.toThrow(/EADDRINUSE/);
  });

  it.each(SERVER_PATHS)("answers plain HTTP requests with 426 (%s path)", async (serverPath) => {
    const server = await startServer({}, serverPath);
    cleanup.push(() => server.close());
    const response = await rawExchange(server.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(response).toMatch(/^HTTP\/1\.1 426 /);
    expect(response).toMatch(/Upgrade: websocket/i);
  });

  it.each(SERVER_PATHS)("matches the path, ignoring the query string (%s path)", async (serverPath) => {
    const server = await startServer({ path: "/ws" }, serverPath);
    cleanup.push(() => server.close());
    const ok = await RawClient.connect(server.port, { path: "/ws?token=1" });
    ok.destroy();
    const client = await RawClient.open(server.port);
    const response = await client.handshake({ path: "/other" });
    expect(response.status).toBe(400);
    client.destroy();
  });

  it("rejects invalid option combinations", () => {
    expect(() => new WebSocketServer({})).toThrow(TypeError);
    expect(() => new WebSocketServer({ noServer: true, port: 0 })).toThrow(TypeError);
    expect(() => new WebSocketServer({ noServer: true, maxPayload: 0 })).toThrow(RangeError);
    expect(() => new WebSocketServer({ noServer: true, perMessageDeflate: { serverMaxWindowBits: 20 } })).toThrow(RangeError);
  });
});

describe("attached to an http.Server", () => {
  it("shares the port with HTTP routes and leaves other upgrade paths to other listeners", async () => {
    const http = createHttpServer((req, res) => res.end(`http ${req.url}`));
    const wss = new WebSocketServer({ server: http, path: "/ws" });
    const other = new WebSocketServer({ noServer: true });
    http.on("upgrade", (req, socket, head) => {
      if (req.url === "/other") void other.handleUpgrade(req, socket, head);
    });
    const port = await listen(http);
    cleanup.push(() => new Promise((resolve) => http.close(resolve)), () => wss.close(), () => other.close());

    const page = await fetch(`http://127.0.0.1:${port}/page`);
    expect(await page.text()).toBe("http /page");

    const seen: string[] = [];
    wss.on("connection", (conn) => seen.push(`wss ${conn.url}`));
    other.on("connection", (conn) => seen.push(`other ${conn.url}`));
    const a = await wsClient(`ws://127.0.0.1:${port}/ws`);
    const b = await wsClient(`ws://127.0.0.1:${port}/other`);
    expect(seen).toEqual(["wss /ws", "other /other"]);
    a.close();
    b.close();
  });

  it("answers 400 on a non-matching path when nobody else handles upgrades", async () => {
    const http = createHttpServer((_req, res) => res.end("ok"));
    const wss = new WebSocketServer({ server: http, path: "/ws" });
    const port = await listen(http);
    cleanup.push(() => new Promise((resolve) => http.close(resolve)), () => wss.close());
    expect(await wsReject(`ws://127.0.0.1:${port}/nope`)).toBe(400);
  });

  it("stops handling upgrades after close but leaves the http server running", async () => {
    const http = createHttpServer((_req, res) => res.end("still here"));
    const wss = new WebSocketServer({ server: http });
    const port = await listen(http);
    cleanup.push(() => new Promise((resolve) => http.close(resolve)));
    await wss.close();
    expect(http.listenerCount("upgrade")).toBe(0);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("still here");
  });
});

describe("noServer", () => {
  it("completes upgrades passed to handleUpgrade and resolves the connection", async () => {
    const wss = new WebSocketServer<{ user: string }>({ noServer: true, upgrade: () => ({ data: { user: "ann" } }) });
    const http = createHttpServer();
    let accepted: Promise<Connection<{ user: string }> | null> | undefined;
    http.on("upgrade", (req, socket, head) => {
      accepted = wss.handleUpgrade(req, socket, head, (conn) => conn.send(`hello ${conn.data.user}`));
    });
    const port = await listen(http);
    cleanup.push(() => new Promise((resolve) => http.close(resolve)), () => wss.close());
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    cleanup.push(() => ws.terminate());
    const [data] = await once<[Buffer]>(ws, "message");
    expect(data.toString()).toBe("hello ann");
    const conn = await accepted!;
    expect(conn?.data.user).toBe("ann");
    expect(wss.clients.size).toBe(1);
    expect(wss.address()).toBeNull();
  });
});

describe.each(SERVER_PATHS)("upgrade hook, origin, subprotocols, headers (%s path)", (serverPath) => {
  it("rejects with the hook's status and headers and accepts with per-connection data", async () => {
    const server = await startServer<{ token: string }>({
      upgrade: async (req) => {
        await delay(5);
        const token = new URL(req.url!, "http://x").searchParams.get("token") ?? "";
        if (!safeEqual(token, "s3cret")) return { status: 401, reason: "bad token", headers: { "WWW-Authenticate": "Bearer" } };
        return { data: { token }, headers: { "X-Hello": "1" } };
      },
    }, serverPath);
    cleanup.push(() => server.close());
    const refused = await RawClient.open(server.port);
    const response = await refused.handshake({ path: "/?token=wrong" });
    expect(response.status).toBe(401);
    expect(response.headers["www-authenticate"]).toBe("Bearer");
    await refused.waitEnded();
    refused.destroy();

    const connected = once<[Connection<{ token: string }>]>(server, "connection");
    const client = await RawClient.connect(server.port, { path: "/?token=s3cret" });
    expect(client.handshake.headers["x-hello"]).toBe("1");
    const [conn] = await connected;
    expect(conn.data.token).toBe("s3cret");
    expect(conn.remoteAddress).toBe("127.0.0.1");
    client.destroy();
  });

  it("answers 500 when the hook throws, and reports it", async () => {
    const server = await startServer({
      upgrade: () => {
        throw new Error("boom");
      },
    }, serverPath);
    cleanup.push(() => server.close());
    const errors: Error[] = [];
    server.on("error", (error) => errors.push(error));
    const client = await RawClient.open(server.port);
    expect((await client.handshake()).status).toBe(500);
    client.destroy();
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error & { code: string }).code).toBe("WS_ERR_UPGRADE_HOOK_FAILED");
  });

  it("drops a client that leaves while the hook runs, without crashing", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let called = 0;
    const server = await startServer({
      upgrade: async () => {
        called++;
        await gate;
      },
    }, serverPath);
    cleanup.push(() => server.close());
    const client = await RawClient.open(server.port);
    void client.handshake().catch(() => undefined);
    await until(() => called === 1);
    client.destroy();
    await delay(20);
    release();
    await delay(20);
    expect(server.clients.size).toBe(0);
  });

  it("checks the Origin against the allow-list", async () => {
    const server = await startServer({ allowedOrigins: ["https://good.example"] }, serverPath);
    cleanup.push(() => server.close());
    const good = await RawClient.connect(server.port, { origin: "https://good.example" });
    good.destroy();
    for (const origin of ["https://evil.example", undefined]) {
      const client = await RawClient.open(server.port);
      expect((await client.handshake({ origin })).status).toBe(403);
      client.destroy();
    }
  });

  it("selects a subprotocol with handleProtocols, or none", async () => {
    const server = await startServer({
      handleProtocols: (protocols) => (protocols.includes("chat.v2") ? "chat.v2" : false),
    }, serverPath);
    cleanup.push(() => server.close());
    const connections: Connection[] = [];
    server.on("connection", (conn) => connections.push(conn));
    const ws = await wsClient(server.url!, ["chat.v1", "chat.v2"]);
    expect(ws.protocol).toBe("chat.v2");
    const client = await RawClient.connect(server.port, { protocols: "other" });
    expect(client.handshake.headers["sec-websocket-protocol"]).toBeUndefined();
    client.destroy();
    expect(connections[0]!.protocol).toBe("chat.v2");
    expect(connections[1]!.protocol).toBe("");
  });

  it("adds configured response headers", async () => {
    const server = await startServer({ headers: (req) => ({ "X-Path": req.url ?? "" }) }, serverPath);
    cleanup.push(() => server.close());
    const client = await RawClient.connect(server.port, { path: "/p" });
    expect(client.handshake.headers["x-path"]).toBe("/p");
    client.destroy();
  });

  it("answers 503 past maxConnections", async () => {
    const server = await startServer({ maxConnections: 1 }, serverPath);
    cleanup.push(() => server.close());
    const first = await RawClient.connect(server.port);
    await until(() => server.clients.size === 1);
    const second = await RawClient.open(server.port);
    expect((await second.handshake()).status).toBe(503);
    first.destroy();
    second.destroy();
  });
});

async function until(check: () => boolean, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met");
    await delay(5);
  }
}

describe("close edge cases", () => {
  it("close() right after construction closes the port once it is bound", async () => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await server.close();
    expect(server.address()).toBeNull();
  });

  it.each(SERVER_PATHS)("close() ends the sockets still sending their head and those waiting for the upgrade hook (%s path)", async (serverPath) => {
    let hookCalls = 0;
    const server = await startServer(
      {
        upgrade: () => {
          hookCalls++;
          return new Promise(() => undefined);
        },
      },
      serverPath,
    );
    const halfHead = await RawClient.open(server.port);
    halfHead.send("GET / HTTP/1.1\r\nHost: x\r\n");
    const waiting = [await RawClient.open(server.port), await RawClient.open(server.port)];
    const answers = waiting.map((client) => client.handshake().catch((error: Error) => error.message));
    await until(() => hookCalls === 2);
    await server.close({ timeout: 500 });
    for (const answer of await Promise.all(answers)) expect(answer).toMatch(/ended|closed|reset/i);
    await halfHead.waitClosed();
  });

  it("close() after a failed listen resolves", async () => {
    const first = await startServer();
    cleanup.push(() => first.close());
    const second = new WebSocketServer({ port: first.port, host: "127.0.0.1" });
    await expect(second.listening()).rejects.toThrow(/EADDRINUSE/);
    await second.close();
  });
});

describe.each(SERVER_PATHS)("handshake validation (%s path)", (serverPath) => {
  const key = "dGhlIHNhbXBsZSBub25jZQ==";
  it.each([
    ["an unsupported version", `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 8\r\n\r\n`, 426, /Sec-WebSocket-Version: 13/i],
    ["a POST", `POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n`, 405, /Allow: GET/i],
    ["a short key", `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n\r\n`, 400, /Connection: close/i],
    ["no Host", `GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`, 400, /Connection: close/i],
    ["HTTP/1.0", `GET / HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`, 400, /Connection: close/i],
  ])("answers %s with the right status and closes", async (_name, text, status, header) => {
    const server = await startServer({}, serverPath);
    cleanup.push(() => server.close());
    const response = await rawExchange(server.port, text);
    expect(response.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
    expect(response).toMatch(header);
    expect(server.clients.size).toBe(0);
  });

  it("answers the RFC 6455 §1.3 sample key with the sample accept value", async () => {
    const server = await startServer({}, serverPath);
    cleanup.push(() => server.close());
    const client = await RawClient.open(server.port);
    client.send(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const head = await client.readHttpHead();
    expect(head.status).toBe(101);
    expect(head.headers["sec-websocket-accept"]).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    client.destroy();
  });
});

describe("a throwing connection handler", () => {
  it("is reported, and the connection is dropped without leaking", async () => {
    const server = await startServer({ handshakeTimeout: 100 });
    cleanup.push(() => server.close());
    const errors: Error[] = [];
    const handshakeErrors: Error[] = [];
    server.on("error", (error) => errors.push(error));
    server.on("handshakeError", (error) => handshakeErrors.push(error));
    server.on("connection", () => {
      throw new Error("handler bug");
    });
    const client = await RawClient.connect(server.port);
    await client.waitClosed();
    await until(() => server.clients.size === 0);
    expect(errors.map((error) => error.message)).toEqual(["handler bug"]);
    // The handshake's deadline went with it: no timeout is reported later for that socket.
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(handshakeErrors).toEqual([]);
  });
});

describe("handshakeError event", () => {
  type Seen = { code: string; status: number | undefined; url: string | undefined; cause: unknown };
  async function watched(options: Parameters<typeof startServer>[0] = {}) {
    const server = await startServer(options);
    cleanup.push(() => server.close({ timeout: 200 }));
    const seen: Seen[] = [];
    server.on("handshakeError", (error, req) => {
      seen.push({ code: error.code, status: error.status, url: req?.url, cause: error.cause });
    });
    return { server, seen };
  }
  const upgradeHead = (path: string, extra = "") =>
    `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

  it("reports a refused handshake with the status sent and its request", async () => {
    const { server, seen } = await watched({ allowedOrigins: ["https://good.example"] });
    const response = await rawExchange(server.port, upgradeHead("/chat?room=1", "Origin: https://evil.example\r\n"));
    expect(response).toMatch(/^HTTP\/1\.1 403 /);
    expect(seen).toEqual([{ code: "WS_ERR_HANDSHAKE_REFUSED", status: 403, url: "/chat?room=1", cause: undefined }]);
  });

  it("reports the status actually sent when the upgrade hook's status cannot be written", async () => {
    const { server, seen } = await watched({ upgrade: () => ({ status: 200 }) });
    const response = await rawExchange(server.port, upgradeHead("/"));
    expect(response).toMatch(/^HTTP\/1\.1 500 /);
    expect(seen.map((s) => s.status)).toEqual([500]);
  });

  it("reports a malformed request head (no request) and a plain HTTP request", async () => {
    const { server, seen } = await watched();
    expect(await rawExchange(server.port, "GET / HTTP/1.1\r\nHost x\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 /);
    expect(await rawExchange(server.port, "GET /page HTTP/1.1\r\nHost: x\r\n\r\n")).toMatch(/^HTTP\/1\.1 426 /);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({ code: "WS_ERR_HANDSHAKE_REFUSED", status: 400, url: undefined });
    // The codec's head parser names what it refused (the own port skips node:http and its HPE_ codes).
    expect((seen[0]!.cause as { code?: string }).code).toBe("WS_ERR_HEAD_FIELD");
    expect(seen[1]).toMatchObject({ code: "WS_ERR_HANDSHAKE_REFUSED", status: 426, url: "/page" });
  });

  it("reports a handshake cut by handshakeTimeout, with the request once it arrived", async () => {
    const { server, seen } = await watched({ handshakeTimeout: 100, upgrade: () => new Promise(() => undefined) });
    const slowloris = await RawClient.open(server.port);
    slowloris.send("GET / HTTP/1.1\r\nHost: x\r\n");
    const stalled = await RawClient.open(server.port);
    stalled.send(upgradeHead("/waiting"));
    await Promise.all([slowloris.waitClosed(), stalled.waitClosed()]);
    expect(seen).toHaveLength(2);
    expect(seen).toContainEqual(expect.objectContaining({ code: "WS_ERR_HANDSHAKE_TIMEOUT", url: "/waiting" }));
    expect(seen).toContainEqual(expect.objectContaining({ code: "WS_ERR_HANDSHAKE_TIMEOUT", url: undefined }));
  });

  it("reports nothing for a handshake that succeeds, and never warns without a listener", async () => {
    const { server, seen } = await watched();
    const client = await RawClient.connect(server.port);
    cleanup.push(() => client.destroy());
    expect(seen).toEqual([]);

    const quiet = await startServer();
    cleanup.push(() => quiet.close());
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    cleanup.push(() => void process.off("warning", onWarning));
    expect(await rawExchange(quiet.port, upgradeHead("/", "Sec-WebSocket-Version: 8\r\n"))).toMatch(/^HTTP\/1\.1 426 /);
    await delay(20);
    expect(warnings).toEqual([]);
  });
});
