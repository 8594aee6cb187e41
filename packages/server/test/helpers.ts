// A hand-made WebSocket client for tests: raw `net` sockets, hand-built handshakes and frames, so
// that what the server puts on the wire is asserted byte for byte, independent of the codec.
import { createHash, randomBytes } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import { connect as connectHttp2, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from "node:http2";
import { connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import {
  SocketReader,
  encodeTestFrame,
  readTestFrame,
  selfSignedCertificate,
  type TestFrameRead,
  type TestFrameSpec,
} from "@ws/test-utils";
import { WebSocketServer, createServer, type Connection, type ServerOptions } from "../src/index.js";

export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface FrameSpec extends Omit<TestFrameSpec, "mask" | "declaredLength"> {
  /** A 4-byte key; default a fixed non-trivial one. `false` sends the frame unmasked. */
  mask?: Uint8Array | false;
  /** Declares this length instead of the payload's (for limit tests). */
  declaredLength?: number;
}

const DEFAULT_MASK = Uint8Array.of(0x12, 0x34, 0x56, 0x78);

export function bytes(value: Uint8Array | string | undefined): Buffer {
  if (value === undefined) return Buffer.alloc(0);
  return typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** A client frame: masked unless `mask: false` (RFC 6455 §5.3). */
export function frame(spec: FrameSpec): Buffer {
  const encoded = encodeTestFrame({ ...spec, mask: spec.mask === false ? null : (spec.mask ?? DEFAULT_MASK) });
  return Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
}

export function closePayload(code: number, reason = ""): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

export type ReceivedFrame = TestFrameRead;

export interface HandshakeResponse {
  status: number;
  statusLine: string;
  headers: Record<string, string>;
  raw: string;
}

export interface ConnectOptions {
  path?: string;
  headers?: Record<string, string>;
  protocols?: string;
  extensions?: string;
  origin?: string;
}

/**
 * How the protocol tests reach the server: a TCP socket upgraded with HTTP/1.1, or an HTTP/2 stream
 * opened with an extended CONNECT (RFC 8441) over TLS. The same frames go over either.
 */
export const TRANSPORTS = ["HTTP/1.1", "HTTP/2"] as const;
export type TestTransport = (typeof TRANSPORTS)[number];

/** A server started by these helpers: its port and the transport its raw clients use. */
export interface TestServer {
  port: number;
  transport: TestTransport;
}

/** Opens an HTTP/2 session to 127.0.0.1 over TLS (the test certificate trusted) and waits for its SETTINGS. */
export async function openHttp2Session(port: number, { cleartext = false } = {}): Promise<ClientHttp2Session> {
  const session = cleartext
    ? connectHttp2(`http://127.0.0.1:${port}`)
    : connectHttp2(`https://127.0.0.1:${port}`, { ca: selfSignedCertificate().cert });
  session.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    session.once("remoteSettings", () => resolve());
    session.once("error", reject);
    session.once("close", () => reject(new Error("the HTTP/2 session closed before its SETTINGS")));
  });
  return session;
}

/** Reads from a socket (or an HTTP/2 stream) in exact-size pieces with a timeout, tracking EOF. */
export class RawClient {
  readonly socket: Duplex;
  private readonly reader: SocketReader;
  readonly closed: Promise<void>;
  /** The HTTP/2 session of a client opened with `connectHttp2`. */
  session: ClientHttp2Session | null = null;

  constructor(socket: Duplex) {
    this.socket = socket;
    this.reader = new SocketReader(socket);
    this.closed = this.reader.closed;
  }

  /** The TCP socket of a client opened over HTTP/1.1 (for tests of TCP itself). */
  get tcp(): Socket {
    if (this.session !== null) throw new Error("this client is an HTTP/2 stream");
    return this.socket as Socket;
  }

  /** Opens a raw client the way `server` is reached: an HTTP/1.1 upgrade, or an extended CONNECT. */
  static connectTo(server: TestServer, options: ConnectOptions = {}): Promise<RawClient & { handshake: HandshakeResponse }> {
    return server.transport === "HTTP/2" ? RawClient.connectHttp2(server.port, options) : RawClient.connect(server.port, options);
  }

  /** The opening handshake over HTTP/2 (RFC 8441 §4-5) on a session of its own (or `session`); rejects unless 200. */
  static async connectHttp2(
    port: number,
    options: ConnectOptions & { session?: ClientHttp2Session } = {},
  ): Promise<RawClient & { handshake: HandshakeResponse }> {
    const { stream, handshake, session } = await RawClient.requestHttp2(port, options);
    if (handshake.status !== 200) {
      stream.destroy();
      if (options.session === undefined) session.close();
      throw new Error(`handshake failed: ${handshake.statusLine}`);
    }
    const client = new RawClient(stream);
    client.session = session;
    if (options.session === undefined) stream.once("close", () => session.close());
    return Object.assign(client, { handshake });
  }

  /** Sends an extended CONNECT and returns the stream and the response, whatever its status. */
  static async requestHttp2(
    port: number,
    options: ConnectOptions & { session?: ClientHttp2Session; rawHeaders?: Record<string, string | string[]> } = {},
  ): Promise<{ stream: ClientHttp2Stream; handshake: HandshakeResponse; session: ClientHttp2Session }> {
    const session = options.session ?? (await openHttp2Session(port));
    const headers: Record<string, string | string[]> = {
      ":method": "CONNECT",
      ":protocol": "websocket",
      ":scheme": session.encrypted ? "https" : "http",
      ":path": options.path ?? "/",
      ":authority": `127.0.0.1:${port}`,
      "sec-websocket-version": "13",
    };
    if (options.protocols !== undefined) headers["sec-websocket-protocol"] = options.protocols;
    if (options.extensions !== undefined) headers["sec-websocket-extensions"] = options.extensions;
    if (options.origin !== undefined) headers.origin = options.origin;
    for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
    Object.assign(headers, options.rawHeaders);
    const stream = session.request(headers, { endStream: false });
    stream.on("error", () => {});
    const response = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      stream.once("response", resolve);
      stream.once("close", () => reject(new Error(`the stream closed before a response (RST code ${stream.rstCode})`)));
    });
    const status = Number(response[":status"]);
    const fields: Record<string, string> = {};
    for (const [name, value] of Object.entries(response)) {
      if (!name.startsWith(":") && value !== undefined) fields[name] = Array.isArray(value) ? value.join(", ") : String(value);
    }
    return { stream, session, handshake: { status, statusLine: `HTTP/2 ${status}`, headers: fields, raw: "" } };
  }

  /** The server ended, or the socket failed or closed. */
  get ended(): boolean {
    return this.reader.ended;
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: "127.0.0.1" }, () => resolve(new RawClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Opens a connection and performs the opening handshake; rejects unless the answer is 101. */
  static async connect(port: number, options: ConnectOptions = {}): Promise<RawClient & { handshake: HandshakeResponse }> {
    const client = await RawClient.open(port);
    const handshake = await client.handshake(options);
    if (handshake.status !== 101) throw new Error(`handshake failed: ${handshake.statusLine}`);
    return Object.assign(client, { handshake });
  }

  get buffered(): number {
    return this.reader.buffered;
  }

  async handshake(options: ConnectOptions = {}): Promise<HandshakeResponse> {
    const key = randomBytes(16).toString("base64");
    let request =
      `GET ${options.path ?? "/"} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;
    if (options.protocols !== undefined) request += `Sec-WebSocket-Protocol: ${options.protocols}\r\n`;
    if (options.extensions !== undefined) request += `Sec-WebSocket-Extensions: ${options.extensions}\r\n`;
    if (options.origin !== undefined) request += `Origin: ${options.origin}\r\n`;
    for (const [name, value] of Object.entries(options.headers ?? {})) request += `${name}: ${value}\r\n`;
    this.socket.write(`${request}\r\n`);
    const response = await this.readHttpHead();
    if (response.status === 101) {
      const expected = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
      if (response.headers["sec-websocket-accept"] !== expected) throw new Error("bad Sec-WebSocket-Accept");
    }
    return response;
  }

  /** Reads an HTTP response head (up to the blank line). */
  async readHttpHead(timeout = 5000): Promise<HandshakeResponse> {
    const head = await this.reader.readUntil("\r\n\r\n", Date.now() + timeout);
    if (head === null) {
      throw new Error(`connection ended before a response head: ${JSON.stringify(this.reader.take(this.reader.buffered).toString("latin1"))}`);
    }
    const raw = head.toString("latin1");
    const [statusLine, ...lines] = raw.split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status: Number(statusLine!.split(" ")[1]), statusLine: statusLine!, headers, raw };
  }

  /** Everything until the server closes the connection. */
  readAll(timeout = 5000): Promise<Buffer> {
    return this.reader.readAll(Date.now() + timeout);
  }

  async read(n: number, timeout = 5000): Promise<Buffer> {
    if (!(await this.reader.need(n, Date.now() + timeout))) {
      throw new Error(`connection ended with ${this.reader.buffered} of ${n} bytes`);
    }
    return this.reader.take(n);
  }

  async readFrame(timeout = 5000): Promise<ReceivedFrame> {
    const frame = await readTestFrame(this.reader, Date.now() + timeout);
    if (frame === null) throw new Error(`connection ended inside or before a frame (${this.reader.buffered} bytes left)`);
    return frame;
  }

  /** Reads frames until a whole data message; control frames before it are returned too. */
  async readMessage(timeout = 5000): Promise<{ opcode: number; data: Buffer; frames: ReceivedFrame[] }> {
    const frames: ReceivedFrame[] = [];
    const parts: Buffer[] = [];
    let opcode = -1;
    for (let i = 0; i < 1_000_000; i++) {
      const f = await this.readFrame(timeout);
      frames.push(f);
      if (f.opcode >= 0x8) {
        if (f.opcode === OP.close) throw new Error(`close frame ${f.payload.length >= 2 ? f.payload.readUInt16BE(0) : "(empty)"} instead of a message`);
        continue;
      }
      if (opcode === -1) opcode = f.opcode;
      parts.push(f.payload);
      if (f.fin) return { opcode, data: Buffer.concat(parts), frames };
    }
    throw new Error("too many frames");
  }

  /** Reads frames until a close frame and returns its code (1005 for none), skipping data. */
  async readClose(timeout = 5000): Promise<{ code: number; reason: string; skipped: ReceivedFrame[] }> {
    const skipped: ReceivedFrame[] = [];
    for (let i = 0; i < 1_000_000; i++) {
      const f = await this.readFrame(timeout);
      if (f.opcode === OP.close) {
        return {
          code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005,
          reason: f.payload.subarray(2).toString("utf8"),
          skipped,
        };
      }
      skipped.push(f);
    }
    throw new Error("too many frames");
  }

  send(data: Uint8Array | string): void {
    this.socket.write(data);
  }

  sendFrame(spec: FrameSpec): void {
    this.socket.write(frame(spec));
  }

  /** Waits until the server closed TCP; throws after `timeout`. */
  async waitClosed(timeout = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("socket not closed in time")), timeout);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Waits for the server's FIN or the socket closing. */
  waitEnded(timeout = 5000): Promise<void> {
    return this.reader.waitEnded(Date.now() + timeout);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Sends raw bytes on a fresh connection and returns everything the server answers until it closes. */
export async function rawExchange(port: number, data: string | Buffer, timeout = 5000): Promise<string> {
  const client = await RawClient.open(port);
  client.send(data);
  return (await client.readAll(timeout)).toString("latin1");
}

/**
 * Starts a server on 127.0.0.1:0. `"HTTP/1.1"` (the default) and `"standalone"`: on its own port,
 * where our head parser on a net.Server reads the request. `"HTTP/2"`: our own HTTP/2 server over TLS
 * with the test certificate, which takes HTTP/1.1 upgrades too. `"node:http"`: attached to an
 * http.Server, whose parser reads the request. Handshake tests run on both head paths.
 */
export type ServerPath = "standalone" | "node:http";
export const SERVER_PATHS: readonly ServerPath[] = ["standalone", "node:http"];

export async function startServer<T = unknown>(
  options: Omit<ServerOptions<T>, "port" | "server" | "noServer"> = {},
  variant: TestTransport | ServerPath = "HTTP/1.1",
): Promise<WebSocketServer<T> & TestServer> {
  if (variant === "node:http") return Object.assign(await startAttachedServer(options), { transport: "HTTP/1.1" as const });
  const transport: TestTransport = variant === "HTTP/2" ? "HTTP/2" : "HTTP/1.1";
  const http2 = transport === "HTTP/2" ? { ...selfSignedCertificate(), allowHTTP1: true } : undefined;
  const server = await createServer<T>({ port: 0, host: "127.0.0.1", ...(http2 === undefined ? {} : { http2 }), ...options });
  const port = (server.address() as AddressInfo).port;
  return Object.assign(server, { port, transport });
}

/**
 * A WebSocket server attached to an http.Server configured as a careful user would: the same head
 * limits (bytes, lines, time), and 426 for plain requests. Closing it closes both.
 */
async function startAttachedServer<T>(options: Omit<ServerOptions<T>, "port" | "server" | "noServer">): Promise<WebSocketServer<T> & { port: number }> {
  const timeout = options.handshakeTimeout ?? 10_000;
  const http = createHttpServer({
    maxHeaderSize: options.maxHeaderSize ?? 16 * 1024,
    headersTimeout: timeout || undefined,
    requestTimeout: timeout || undefined,
    // Node checks those timeouts on this interval (30 s by default).
    connectionsCheckingInterval: Math.max(10, Math.min(timeout, 1000) / 4),
  });
  http.maxHeadersCount = (options.maxHeaderCount ?? 100) + 1;
  http.on("request", (_req, res) => {
    res.writeHead(426, { Connection: "close", Upgrade: "websocket", "Content-Type": "text/plain" }).end("Upgrade Required");
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const server = new WebSocketServer<T>({ ...options, server: http });
  const close = server.close.bind(server);
  server.close = (closeOptions) => {
    const closing = close(closeOptions);
    return closing.then(() => new Promise<void>((resolve) => {
      http.closeAllConnections();
      http.close(() => resolve());
    }));
  };
  return Object.assign(server, { port: (http.address() as AddressInfo).port });
}

/**
 * A server on 127.0.0.1:0 and a `connect()` that opens a raw client and resolves with it and its
 * server-side connection. Both are closed through `cleanup` (run in reverse after each test).
 */
export async function startServerWithPeers(
  cleanup: Array<() => unknown>,
  options: Omit<ServerOptions, "port" | "server" | "noServer"> = {},
  transport: TestTransport = "HTTP/1.1",
): Promise<{ server: WebSocketServer & TestServer; connect: (options?: ConnectOptions) => Promise<{ client: RawClient; conn: Connection }> }> {
  const server = await startServer(options, transport);
  cleanup.push(() => server.close({ timeout: 500 }));
  const connect = async (connectOptions: ConnectOptions = {}): Promise<{ client: RawClient; conn: Connection }> => {
    const next = once<[Connection]>(server, "connection");
    const client = await RawClient.connectTo(server, connectOptions);
    cleanup.push(() => client.destroy());
    return { client, conn: (await next)[0] };
  };
  return { server, connect };
}

/** An echo server: text as text, binary as binary. */
export async function startEchoServer(options: Omit<ServerOptions, "port" | "server" | "noServer"> = {}, variant: TestTransport | ServerPath = "HTTP/1.1") {
  const server = await startServer(options, variant);
  server.on("connection", (conn) => {
    conn.on("message", (data, isBinary) => conn.send(data, { binary: isBinary }));
  });
  return server;
}

export function once<T extends unknown[]>(emitter: { once(event: string, listener: (...args: T) => void): unknown }, event: string, timeout = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event in time`)), timeout);
    emitter.once(event, (...args: T) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true (bounded). */
export async function until(check: () => boolean, timeout = 5000, step = 5): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await delay(step);
  }
}
