// The request line and Host header of the upgrade request, through a raw socket (issue 12, items 10
// and 11): a repeated Host is refused however Node presents it, and an absolute-form request target
// (RFC 9112 §3.2.2) is matched by its path.
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer, type Connection } from "../src/index.js";
import { parseRequestTarget } from "../src/upgrade.js";
import { OP, RawClient, SERVER_PATHS, rawExchange, startServer, type ServerPath } from "./helpers.js";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const UPGRADE = `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n`;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  // Clients first, so that closing a server does not wait for raw peers that never answer.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(serverPath: ServerPath, options: Parameters<typeof startServer>[0] = {}) {
  const wss = await startServer(options, serverPath);
  const connections: Connection[] = [];
  wss.on("connection", (conn) => {
    connections.push(conn);
    conn.on("message", (data, isBinary) => conn.send(data, { binary: isBinary }));
  });
  cleanups.push(() => wss.close({ timeout: 1000 }));
  return Object.assign(wss, { connections });
}

/** Sends `head` (a request line and headers, without the blank line) and reads the response head. */
async function exchange(port: number, head: string): Promise<{ status: number; client: RawClient }> {
  const client = await RawClient.open(port);
  cleanups.push(async () => client.destroy());
  client.send(`${head}\r\n`);
  const response = await client.readHttpHead();
  return { status: response.status, client };
}

// Every test here runs on both paths a request head can take (see helpers.ts).
describe.each(SERVER_PATHS)("on the %s path", (serverPath) => {
  it("a head sent a byte per write, with a frame right behind it, is read whole and the frame echoed", async () => {
    const wss = await server(serverPath);
    const client = await RawClient.open(wss.port);
    cleanups.push(async () => client.destroy());
    const head = Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${"p".repeat(2000)}\r\n${UPGRADE}\r\n`, "latin1");
    for (let i = 0; i < head.length; i++) {
      client.send(head.subarray(i, i + 1));
      // Yield now and then, so that the bytes arrive in many reads.
      if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    client.sendFrame({ opcode: OP.text, payload: "behind the head" });
    expect((await client.readHttpHead()).status).toBe(101);
    expect((await client.readMessage()).data.toString()).toBe("behind the head");
  });

  it("an upgrade hook that reads the request's body gets its end at once, and frames sent behind the head wait for the connection", async () => {
    const bodies: number[] = [];
    const wss = await server(serverPath, {
      upgrade: async (req) => {
        let bytes = 0;
        for await (const chunk of req as unknown as AsyncIterable<Buffer>) bytes += chunk.length;
        bodies.push(bytes);
        return undefined;
      },
    });
    const client = await RawClient.open(wss.port);
    cleanups.push(async () => client.destroy());
    client.send(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}\r\n`);
    client.sendFrame({ opcode: OP.text, payload: "sent before the 101" });
    expect((await client.readHttpHead()).status).toBe(101);
    expect((await client.readMessage()).data.toString()).toBe("sent before the 101");
    expect(bodies).toEqual([0]);
  });

  it("a socket reset while the upgrade hook waits neither crashes the server nor opens a connection", async () => {
    let asked!: () => void;
    const hookRan = new Promise<void>((resolve) => (asked = resolve));
    let answered!: () => void;
    const hookDone = new Promise<void>((resolve) => (answered = resolve));
    const wss = await server(serverPath, {
      // The hook answers only once the reset has closed the server's side of the socket.
      upgrade: async (req) => {
        const closed = new Promise((resolve) => req.socket.once("close", resolve));
        asked();
        await closed;
        answered();
        return undefined;
      },
    });
    const client = await RawClient.open(wss.port);
    client.send(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}\r\n`);
    await hookRan;
    (client.socket as Socket).resetAndDestroy();
    await hookDone;
    await new Promise((resolve) => setImmediate(resolve));
    expect(wss.connections).toHaveLength(0);
    expect(wss.clients.size).toBe(0);
  });

  describe("Host (RFC 6455 §4.2.1 item 2: exactly one)", () => {
    it.each([
      ["two different values", "Host: a.example\r\nHost: b.example\r\n"],
      ["the same value twice", "Host: 127.0.0.1\r\nHost: 127.0.0.1\r\n"],
      ["names in other cases", "host: 127.0.0.1\r\nHOST: 127.0.0.1\r\n"],
      ["an empty second line", "Host: 127.0.0.1\r\nHost:\r\n"],
    ])("two Host lines (%s) get 400, not 101", async (_name, hosts) => {
      const wss = await server(serverPath);
      const response = await rawExchange(wss.port, `GET / HTTP/1.1\r\n${hosts}${UPGRADE}\r\n`);
      expect(response).toMatch(/^HTTP\/1\.1 400 /);
      expect(response).toContain("Host");
      expect(wss.connections).toHaveLength(0);
    });

    it("two Host lines get 400 on an attached server that joins duplicate headers", async () => {
      const http: Server = createHttpServer({ joinDuplicateHeaders: true });
      await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
      const wss = new WebSocketServer({ server: http });
      cleanups.push(async () => {
        await wss.close({ timeout: 1000 });
        await new Promise((resolve) => http.close(resolve));
      });
      const { port } = http.address() as AddressInfo;
      const response = await rawExchange(port, `GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n${UPGRADE}\r\n`);
      expect(response).toMatch(/^HTTP\/1\.1 400 /);
    });

    it("one Host line still gets 101", async () => {
      const wss = await server(serverPath);
      const { status } = await exchange(wss.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}`);
      expect(status).toBe(101);
    });
  });

  describe("the request target (RFC 9112 §3.2)", () => {
    it.each([
      ["http", "/ws", "/ws"],
      ["http", "/ws?token=1&x", "/ws?token=1&x"],
      ["ws", "/ws", "/ws"],
      ["HTTPS", "/ws?q", "/ws?q"],
    ])("an absolute-form target (%s://host%s) matches path \"/ws\"; conn.url is the path and query", async (scheme, rest, url) => {
      const wss = await server(serverPath, { path: "/ws" });
      const target = `${scheme}://127.0.0.1:${wss.port}${rest}`;
      const { status, client } = await exchange(wss.port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${wss.port}\r\n${UPGRADE}`);
      expect(status).toBe(101);
      client.sendFrame({ opcode: OP.text, payload: "hi" });
      expect((await client.readMessage()).data.toString()).toBe("hi");
      expect(wss.connections[0]!.url).toBe(url);
    });

    it("an absolute-form target with an empty path is \"/\"", async () => {
      const wss = await server(serverPath);
      const { status } = await exchange(wss.port, `GET http://127.0.0.1:${wss.port} HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}`);
      expect(status).toBe(101);
      expect(wss.connections[0]!.url).toBe("/");
    });

    it("an origin-form target keeps its query in conn.url", async () => {
      const wss = await server(serverPath, { path: "/ws" });
      const { status } = await exchange(wss.port, `GET /ws?a=b HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}`);
      expect(status).toBe(101);
      expect(wss.connections[0]!.url).toBe("/ws?a=b");
    });

    it("an absolute-form target on another path gets 400", async () => {
      const wss = await server(serverPath, { path: "/ws" });
      const response = await rawExchange(wss.port, `GET http://127.0.0.1:${wss.port}/other HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}\r\n`);
      expect(response).toMatch(/^HTTP\/1\.1 400 /);
    });

    it.each([
      ["asterisk-form", "*"],
      ["authority-form", "127.0.0.1:80"],
      ["an absolute-form with an empty authority", "http:///ws"],
      ["an absolute-form of another scheme", "ftp://127.0.0.1/ws"],
    ])("%s gets 400, with and without a path option", async (_name, target) => {
      for (const options of [{ path: "/ws" }, {}]) {
        const wss = await server(serverPath, options);
        const response = await rawExchange(wss.port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}\r\n`);
        expect(response).toMatch(/^HTTP\/1\.1 400 /);
        expect(wss.connections).toHaveLength(0);
      }
    });
  });

  describe("Sec-WebSocket-Extensions offers the server cannot read are never accepted", () => {
    it.each([
      "permessage-deflate; server_max_window_bits=1000",
      "permessage-deflate; server_max_window_bits=08",
      'permessage-deflate; server_max_window_bits="1""0"',
      "permessage-deflate; client_max_window_bits=16",
      "permessage-deflate; server_no_context_takeover=1",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; Server_No_Context_Takeover",
      "permessage-deflate; x-unknown",
      "permessage-deflate;",
      "permessage-deflate,",
      "permessage-deflate; =10",
      "x-unknown",
    ])("%s: 400, or 101 without the extension", async (offer) => {
      const wss = await server(serverPath, { perMessageDeflate: true });
      const client = await RawClient.open(wss.port);
      cleanups.push(async () => client.destroy());
      const response = await client.handshake({ extensions: offer });
      expect([101, 400]).toContain(response.status);
      if (response.status === 101) expect(response.headers["sec-websocket-extensions"]).toBeUndefined();
    });

    it("a valid offer after an unreadable one is accepted (RFC 7692 §5.1)", async () => {
      const wss = await server(serverPath, { perMessageDeflate: true });
      const client = await RawClient.open(wss.port);
      cleanups.push(async () => client.destroy());
      const response = await client.handshake({
        extensions: "permessage-deflate; server_max_window_bits=1000, permessage-deflate; server_max_window_bits=10",
      });
      expect(response.status).toBe(101);
      expect(response.headers["sec-websocket-extensions"]).toBe("permessage-deflate; server_max_window_bits=10");
    });
  });
});

describe("parseRequestTarget", () => {
  it.each([
    ["/ws", { path: "/ws", search: "" }],
    ["/ws?a=1?b", { path: "/ws", search: "?a=1?b" }],
    ["//ws", { path: "//ws", search: "" }],
    ["http://h/ws?q", { path: "/ws", search: "?q" }],
    ["wss://[::1]:8443/a/b", { path: "/a/b", search: "" }],
    ["http://h?q", { path: "/", search: "?q" }],
    ["http://user@h:80", { path: "/", search: "" }],
    [undefined, { path: "/", search: "" }],
  ])("%s", (target, expected) => {
    expect(parseRequestTarget(target)).toEqual(expected);
  });

  it.each(["*", "h:80", "127.0.0.1:80", "", "ws", "http:/ws", "http:///ws", "file://h/ws", "1http://h/ws", "http//h/ws"])(
    "%s is not a GET target",
    (target) => {
      expect(parseRequestTarget(target)).toBeNull();
    },
  );
});
