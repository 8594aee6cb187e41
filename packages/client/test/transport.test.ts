// Transports and redirects: wss with a self-signed certificate made in the test, an HTTP CONNECT
// proxy written in the test, an http.Agent, and opt-in redirects that drop credentials across origins
// (SECURITY.md row 12).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { WebSocket, connect } from "../src/index.js";
import { once, Peer, scriptedServer, type ScriptedServer, type UpgradeRequest } from "./helpers.js";

let cert = "";
let key = "";
beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), "ws-client-cert-"));
  try {
    execFileSync(
      "openssl",
      [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "1",
        "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    cert = readFileSync(join(dir, "cert.pem"), "utf8");
    key = readFileSync(join(dir, "key.pem"), "utf8");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function listen(server: Server | HttpServer | HttpsServer): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

/** A `ws` echo server over HTTPS with the test certificate. */
async function wssEcho(): Promise<number> {
  const https = createHttpsServer({ cert, key });
  const wss = new WebSocketServer({ server: https });
  wss.on("connection", (socket) => socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary })));
  const port = await listen(https);
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        https.close(() => resolve());
      }),
  );
  return port;
}

/** A minimal HTTP CONNECT proxy that records the requests it tunnels. */
async function connectProxy(options: { auth?: string } = {}): Promise<{ port: number; requests: string[] }> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    sockets.add(client);
    client.on("error", () => {});
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf("\r\n\r\n");
      if (end === -1) return;
      client.off("data", onData);
      const head = buffer.toString("latin1", 0, end);
      requests.push(head);
      const [method, authority] = head.split(" ");
      if (options.auth !== undefined && !head.includes(`Proxy-Authorization: Basic ${options.auth}`)) {
        client.end("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
        return;
      }
      if (method !== "CONNECT") {
        client.end("HTTP/1.1 405 Method Not Allowed\r\n\r\n");
        return;
      }
      const colon = authority!.lastIndexOf(":");
      const upstream = netConnect(Number(authority!.slice(colon + 1)), authority!.slice(0, colon));
      sockets.add(upstream);
      upstream.on("error", () => client.destroy());
      upstream.on("connect", () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        const rest = buffer.subarray(end + 4);
        if (rest.length > 0) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
      });
    };
    client.on("data", onData);
  });
  const port = await listen(proxy);
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(() => resolve());
      }),
  );
  return { port, requests };
}

async function echo(conn: Awaited<ReturnType<typeof connect>>, message: string): Promise<unknown> {
  const reply = new Promise((resolve) => conn.once("message", resolve));
  conn.send(message);
  return reply;
}

describe("wss", () => {
  it("connects with the self-signed certificate as ca and echoes", async () => {
    const port = await wssEcho();
    const conn = await connect(`wss://localhost:${port}/`, { ca: cert });
    expect(await echo(conn, "secure")).toBe("secure");
    await conn.close();
  });

  it("connects to an IP address with servername for the certificate check", async () => {
    const port = await wssEcho();
    const conn = await connect(`wss://127.0.0.1:${port}/`, { ca: cert, servername: "localhost" });
    expect(await echo(conn, "ip")).toBe("ip");
    await conn.close();
  });

  it("refuses an untrusted certificate, and accepts it with rejectUnauthorized: false", async () => {
    const port = await wssEcho();
    await expect(connect(`wss://localhost:${port}/`)).rejects.toMatchObject({ code: "WS_ERR_CONNECTION_FAILED" });
    const conn = await connect(`wss://localhost:${port}/`, { rejectUnauthorized: false });
    await conn.close();
  });

  it("works from the WHATWG class with https: URLs mapped to wss:", async () => {
    const port = await wssEcho();
    const ws = new WebSocket(`https://localhost:${port}/`, { ca: cert });
    await once(ws, "open");
    ws.send("whatwg");
    const event = await once<MessageEvent>(ws, "message");
    expect(event.data).toBe("whatwg");
    ws.close();
    await once(ws, "close");
  });
});

describe("HTTP CONNECT proxy", () => {
  it("tunnels ws:// through the proxy", async () => {
    const proxy = await connectProxy();
    const target = await scriptedServer(async (peer) => {
      await peer.accept();
      peer.write(Buffer.from([0x81, 0x02, 0x6f, 0x6b]));
    });
    cleanups.push(() => target.close());
    const conn = await connect(target.url, { proxy: `http://127.0.0.1:${proxy.port}` });
    const message = await new Promise((resolve) => conn.once("message", resolve));
    expect(message).toBe("ok");
    expect(proxy.requests[0]).toMatch(new RegExp(`^CONNECT 127\\.0\\.0\\.1:${target.port} HTTP/1\\.1\\r\\nHost: 127\\.0\\.0\\.1:${target.port}`));
    conn.terminate();
  });

  it("tunnels wss:// with TLS end to end and sends Proxy-Authorization", async () => {
    const auth = Buffer.from("user:p@ss").toString("base64");
    const proxy = await connectProxy({ auth });
    const port = await wssEcho();
    const conn = await connect(`wss://localhost:${port}/`, {
      ca: cert,
      proxy: `http://user:p%40ss@127.0.0.1:${proxy.port}`,
    });
    expect(await echo(conn, "through")).toBe("through");
    await conn.close();
  });

  it("fails with WS_ERR_PROXY_FAILED when the proxy refuses", async () => {
    const proxy = await connectProxy({ auth: "nope" });
    await expect(connect("ws://127.0.0.1:9/", { proxy: `http://127.0.0.1:${proxy.port}` })).rejects.toMatchObject({
      code: "WS_ERR_PROXY_FAILED",
      statusCode: 407,
    });
  });
});

describe("http.Agent", () => {
  it("sends the upgrade request through the given agent", async () => {
    const server = await scriptedServer((peer) => void peer.accept(["Sec-WebSocket-Protocol: p"]));
    cleanups.push(() => server.close());
    const agent = new Agent();
    let created = 0;
    const original = agent.createConnection.bind(agent);
    agent.createConnection = ((...args: Parameters<typeof original>) => {
      created++;
      return original(...args);
    }) as typeof agent.createConnection;
    const conn = await connect(server.url, { agent, protocols: ["p"] });
    expect(created).toBe(1);
    expect(conn.protocol).toBe("p");
    conn.terminate();
    agent.destroy();
  });

  it("writes the first frames of a turn at once and the rest of a burst in one write", async () => {
    let settle!: (texts: string[]) => void;
    const received = new Promise<string[]>((resolve) => (settle = resolve));
    const server = await scriptedServer(async (peer) => {
      await peer.accept();
      const texts: string[] = [];
      while (texts.length < 20) {
        const next = await peer.readFrame();
        if (next === null) break;
        texts.push(next.payload.toString());
      }
      settle(texts);
    });
    cleanups.push(() => server.close());
    // A real socket, with its writes counted at the stream's two entry points to the kernel.
    const agent = new Agent();
    const writes: number[] = [];
    const original = agent.createConnection.bind(agent);
    agent.createConnection = ((...args: Parameters<typeof original>) => {
      const socket = original(...args) as Socket & { _write: Socket["_write"]; _writev?: Socket["_writev"] };
      const write = socket._write.bind(socket);
      socket._write = (chunk, encoding, callback) => {
        writes.push(1);
        write(chunk, encoding, callback);
      };
      const writev = socket._writev!.bind(socket);
      socket._writev = (chunks, callback) => {
        writes.push(chunks.length);
        writev(chunks, callback);
      };
      return socket;
    }) as typeof agent.createConnection;
    const conn = await connect(server.url, { agent, perMessageDeflate: false });
    // A fresh turn of the event loop: its direct writes are the process's, and none is taken yet.
    await new Promise((resolve) => setImmediate(resolve));
    writes.length = 0;
    for (let i = 0; i < 20; i++) conn.send(`m${i}`);
    // Eight frames left one by one as they were sent; the other twelve wait for the end of the tick.
    expect(writes).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    await new Promise((resolve) => setImmediate(resolve));
    // Then they leave together: one batch of copied small frames, one write.
    expect(writes).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(await received).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    conn.terminate();
    agent.destroy();
  });

  it("shares a turn's direct writes between connections: the frames past them are batched", async () => {
    const counts: number[][] = [[], []];
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    let finished = 0;
    const server = await scriptedServer(async (peer) => {
      await peer.accept();
      for (let i = 0; i < 10; i++) if ((await peer.readFrame()) === null) break;
      if (++finished === 2) settle();
    });
    cleanups.push(() => server.close());
    const agents = [0, 1].map((index) => {
      const agent = new Agent();
      const original = agent.createConnection.bind(agent);
      agent.createConnection = ((...args: Parameters<typeof original>) => {
        const socket = original(...args) as Socket & { _write: Socket["_write"]; _writev?: Socket["_writev"] };
        const write = socket._write.bind(socket);
        socket._write = (chunk, encoding, callback) => {
          counts[index]!.push(1);
          write(chunk, encoding, callback);
        };
        const writev = socket._writev!.bind(socket);
        socket._writev = (chunks, callback) => {
          counts[index]!.push(chunks.length);
          writev(chunks, callback);
        };
        return socket;
      }) as typeof agent.createConnection;
      return agent;
    });
    const conns = [];
    for (const agent of agents) conns.push(await connect(server.url, { agent, perMessageDeflate: false }));
    // A fresh turn of the event loop, then ten sends on each connection in it.
    await new Promise((resolve) => setImmediate(resolve));
    counts[0]!.length = 0;
    counts[1]!.length = 0;
    for (const conn of conns) for (let i = 0; i < 10; i++) conn.send(`m${i}`);
    // The first connection took the turn's eight direct writes; everything else waits for the end of the tick.
    expect(counts).toEqual([[1, 1, 1, 1, 1, 1, 1, 1], []]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(counts).toEqual([[1, 1, 1, 1, 1, 1, 1, 1, 1], [1]]);
    await done;
    // In a later turn the budget is back.
    counts[1]!.length = 0;
    conns[1]!.send("again");
    expect(counts[1]).toEqual([1]);
    for (const conn of conns) conn.terminate();
    for (const agent of agents) agent.destroy();
  });

  it("validates the response on the agent path too", async () => {
    const http = createHttpServer();
    http.on("upgrade", (_request, socket: Socket) => {
      socket.end("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n");
    });
    const port = await listen(http);
    cleanups.push(() => new Promise<void>((resolve) => http.close(() => resolve())));
    const agent = new Agent();
    await expect(connect(`ws://127.0.0.1:${port}/`, { agent })).rejects.toMatchObject({ code: "WS_ERR_INVALID_HANDSHAKE" });
    agent.destroy();
  });
});

describe("redirects", () => {
  /** A server that answers every request with `status` and `Location: location(request)`. */
  async function redirector(
    status: number,
    location: () => string,
  ): Promise<{ server: ScriptedServer; requests: UpgradeRequest[] }> {
    const requests: UpgradeRequest[] = [];
    const server = await scriptedServer(async (peer) => {
      const request = await peer.readRequest();
      requests.push(request);
      peer.socket.end(`HTTP/1.1 ${status} Moved\r\nLocation: ${location()}\r\nContent-Length: 0\r\n\r\n`);
    });
    cleanups.push(() => server.close());
    return { server, requests };
  }

  async function target(): Promise<{ server: ScriptedServer; requests: UpgradeRequest[] }> {
    const requests: UpgradeRequest[] = [];
    const server = await scriptedServer(async (peer) => {
      requests.push(await peer.accept());
    });
    cleanups.push(() => server.close());
    return { server, requests };
  }

  const credentials = { Authorization: "Bearer secret", Cookie: "session=1", "X-Other": "kept" };

  it("does not follow redirects unless asked", async () => {
    const end = await target();
    const start = await redirector(302, () => end.server.url);
    await expect(connect(start.server.url)).rejects.toMatchObject({ code: "WS_ERR_UNEXPECTED_STATUS", statusCode: 302 });
    expect(end.requests).toHaveLength(0);
  });

  it("drops Authorization and Cookie on a cross-origin redirect", async () => {
    const end = await target();
    const start = await redirector(302, () => `${end.server.url}/landing`);
    const conn = await connect(start.server.url, { followRedirects: true, headers: credentials });
    expect(conn.url).toBe(`${end.server.url}/landing`);
    expect(start.requests[0]!.headers.authorization).toBe("Bearer secret");
    const headers = end.requests[0]!.headers;
    expect(headers.authorization).toBeUndefined();
    expect(headers.cookie).toBeUndefined();
    expect(headers["x-other"]).toBe("kept");
    expect(headers.host).toBe(`127.0.0.1:${end.server.port}`);
    conn.terminate();
  });

  it("keeps them on a same-origin redirect, with http: locations mapped to ws:", async () => {
    let port = 0;
    let count = 0;
    const requests: UpgradeRequest[] = [];
    const server = await scriptedServer(async (peer) => {
      if (count++ === 0) {
        requests.push(await peer.readRequest());
        peer.socket.end(`HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:${port}/second\r\n\r\n`);
      } else {
        requests.push(await peer.accept());
      }
    });
    port = server.port;
    cleanups.push(() => server.close());
    const conn = await connect(server.url, { followRedirects: true, headers: credentials });
    expect(requests[1]!.path).toBe("/second");
    expect(requests[1]!.headers.authorization).toBe("Bearer secret");
    expect(requests[1]!.headers.cookie).toBe("session=1");
    conn.terminate();
  });

  it("drops them on a wss: to ws: redirect", async () => {
    const end = await target();
    const tlsServer = createTlsServer({ cert, key }, (socket: TLSSocket) => {
      const peer = new Peer(socket);
      void peer.readRequest().then(() => socket.end(`HTTP/1.1 301 Moved\r\nLocation: ${end.server.url}\r\n\r\n`));
    });
    const port = await listen(tlsServer as unknown as Server);
    cleanups.push(() => new Promise<void>((resolve) => tlsServer.close(() => resolve())));
    const conn = await connect(`wss://localhost:${port}/`, { ca: cert, followRedirects: true, headers: credentials });
    expect(end.requests[0]!.headers.authorization).toBeUndefined();
    expect(end.requests[0]!.headers.cookie).toBeUndefined();
    conn.terminate();
  });

  it("stops after maxRedirects", async () => {
    let url = "";
    const loop = await redirector(302, () => url);
    url = loop.server.url;
    await expect(connect(url, { followRedirects: true, maxRedirects: 3 })).rejects.toMatchObject({
      code: "WS_ERR_INVALID_REDIRECT",
    });
    expect(loop.requests).toHaveLength(4);
  });

  it("refuses a redirect to another scheme", async () => {
    const start = await redirector(302, () => "ftp://127.0.0.1/");
    await expect(connect(start.server.url, { followRedirects: true })).rejects.toMatchObject({
      code: "WS_ERR_INVALID_REDIRECT",
    });
  });
});
