// A hand-made WebSocket client for tests: raw `net` sockets, hand-built handshakes and frames, so
// that what the server puts on the wire is asserted byte for byte, independent of the codec.
import { createHash, randomBytes } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import { connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { SocketReader, encodeTestFrame, readTestFrame, type TestFrameRead, type TestFrameSpec } from "@ws/test-utils";
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

/** Reads from a socket in exact-size pieces with a timeout, tracking EOF. */
export class RawClient {
  readonly socket: Socket;
  private readonly reader: SocketReader;
  readonly closed: Promise<void>;

  constructor(socket: Socket) {
    this.socket = socket;
    this.reader = new SocketReader(socket);
    this.closed = this.reader.closed;
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
 * The two ways a request head reaches the handshake: "standalone", our own head parser on a
 * net.Server (`createServer({ port })`), and "node:http", Node's parser on an http.Server the
 * WebSocket server is attached to. Handshake tests run on both.
 */
export type ServerPath = "standalone" | "node:http";
export const SERVER_PATHS: readonly ServerPath[] = ["standalone", "node:http"];

/** Starts a server on 127.0.0.1:0, on its own port (default) or attached to an http.Server. */
export async function startServer<T = unknown>(
  options: Omit<ServerOptions<T>, "port" | "server" | "noServer"> = {},
  path: ServerPath = "standalone",
): Promise<WebSocketServer<T> & { port: number }> {
  if (path === "standalone") {
    const server = await createServer<T>({ port: 0, host: "127.0.0.1", ...options });
    const port = (server.address() as AddressInfo).port;
    return Object.assign(server, { port });
  }
  return startAttachedServer(options);
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
): Promise<{ server: WebSocketServer & { port: number }; connect: (options?: ConnectOptions) => Promise<{ client: RawClient; conn: Connection }> }> {
  const server = await startServer(options);
  cleanup.push(() => server.close({ timeout: 500 }));
  const connect = async (connectOptions: ConnectOptions = {}): Promise<{ client: RawClient; conn: Connection }> => {
    const next = once<[Connection]>(server, "connection");
    const client = await RawClient.connect(server.port, connectOptions);
    cleanup.push(() => client.destroy());
    return { client, conn: (await next)[0] };
  };
  return { server, connect };
}

/** An echo server: text as text, binary as binary. */
export async function startEchoServer(options: Omit<ServerOptions, "port" | "server" | "noServer"> = {}, path: ServerPath = "standalone") {
  const server = await startServer(options, path);
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
