// Test helpers: a scripted raw TCP WebSocket server that speaks through hand-made frames, and a frame
// encoder/decoder written independently of @ws/codec so that a codec bug cannot hide a client bug.
import { createHash } from "node:crypto";
import { createSecureServer, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { constants, createDeflateRaw, deflateRawSync, inflateRawSync } from "node:zlib";
import {
  SocketReader,
  encodeTestFrame,
  readTestFrame,
  selfSignedCertificate,
  type TestFrameRead,
  type TestFrameSpec,
} from "@ws/test-utils";
import { Http2Agent, connect, type ClientOptions, type Connection } from "../src/index.js";

export const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export function acceptFor(key: string): string {
  return createHash("sha1").update(key + GUID).digest("base64");
}

export interface TestFrame extends Omit<TestFrameSpec, "mask" | "declaredLength"> {
  /** Mask with a fixed key (a server must not; for negative tests). */
  mask?: boolean;
  /** Lie about the length (the 64-bit form is used). */
  declaredLength?: bigint;
}

/** A server frame: unmasked unless `mask: true`. */
export function frame(f: TestFrame): Buffer {
  const encoded = encodeTestFrame({ ...f, mask: f.mask ? Uint8Array.of(0x11, 0x22, 0x33, 0x44) : null });
  return Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
}

export const text = (value: string | Buffer, options: Partial<TestFrame> = {}): Buffer =>
  frame({ opcode: 1, payload: Buffer.from(value), ...options });
export const binary = (value: Uint8Array, options: Partial<TestFrame> = {}): Buffer =>
  frame({ opcode: 2, payload: value, ...options });
export const closeFrame = (code?: number, reason = ""): Buffer => {
  if (code === undefined) return frame({ opcode: 8 });
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code);
  payload.write(reason, 2);
  return frame({ opcode: 8, payload });
};

/** Compresses one message as permessage-deflate does (RFC 7692 §7.2.1): raw deflate minus 00 00 ff ff. */
export function deflateMessage(data: Uint8Array): Buffer {
  const out = deflateRawSync(data, { finishFlush: 2 /* Z_SYNC_FLUSH */ });
  return out.subarray(0, out.length - 4);
}

export function inflateMessage(data: Uint8Array): Buffer {
  return inflateRawSync(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: 2 });
}

export type DecodedFrame = TestFrameRead;

/** The close code of a decoded close frame, or undefined when it has none. */
export function closeCodeOf(f: DecodedFrame): number | undefined {
  return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined;
}

export interface UpgradeRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  raw: string;
}

/**
 * How the scripted server is reached: a TCP socket upgraded with HTTP/1.1, or an HTTP/2 stream
 * opened with an extended CONNECT (RFC 8441) over TLS. The frames are the same over either.
 */
export const TRANSPORTS = ["HTTP/1.1", "HTTP/2"] as const;
export type TestTransport = (typeof TRANSPORTS)[number];

/** One accepted TCP connection (or HTTP/2 stream) of the scripted server, read frame by frame. */
export class Peer {
  readonly socket: Duplex;
  readonly #reader: SocketReader;
  readonly closed: Promise<void>;
  /** The HTTP/2 stream and its request, for a peer reached over HTTP/2. */
  readonly #http2: { stream: ServerHttp2Stream; request: UpgradeRequest } | null;

  constructor(socket: Duplex, http2: { stream: ServerHttp2Stream; request: UpgradeRequest } | null = null) {
    this.socket = socket;
    this.#reader = new SocketReader(socket);
    this.closed = this.#reader.closed;
    this.#http2 = http2;
  }

  /** The TCP socket of a peer reached over HTTP/1.1 (for tests of TCP itself). */
  get tcp(): Socket {
    if (this.#http2 !== null) throw new Error("this peer is an HTTP/2 stream");
    return this.socket as Socket;
  }

  /** Refuses the handshake with `status` and ends the connection (or the stream). */
  refuse(status: number): void {
    if (this.#http2 !== null) {
      this.#http2.stream.respond({ ":status": status });
      this.#http2.stream.end();
    } else {
      this.socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Length: 0\r\n\r\n`);
    }
  }

  async readRequest(): Promise<UpgradeRequest> {
    if (this.#http2 !== null) return this.#http2.request;
    const head = await this.#reader.readUntil("\r\n\r\n");
    if (head === null) throw new Error("EOF before the request head");
    const raw = head.toString("latin1");
    const [requestLine, ...lines] = raw.split("\r\n");
    const [method, path] = requestLine!.split(" ");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    return { method: method!, path: path!, headers, raw };
  }

  /** Reads the request and answers 101 (with `extra` header lines). Returns the request. */
  async accept(extra: string[] = []): Promise<UpgradeRequest> {
    const request = await this.readRequest();
    if (this.#http2 !== null) {
      // RFC 8441 §5: a 200 with the same negotiation fields, no Upgrade, Connection or Accept.
      const fields: Record<string, string | string[] | number> = { ":status": 200 };
      for (const line of extra) {
        const colon = line.indexOf(":");
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        const previous = fields[name];
        fields[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [String(previous)]), value];
      }
      this.#http2.stream.respond(fields, { endStream: false });
      return request;
    }
    this.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Accept: ${acceptFor(request.headers["sec-websocket-key"]!)}\r\n` +
        extra.map((line) => `${line}\r\n`).join("") +
        "\r\n",
    );
    return request;
  }

  /** Answers 101 with a close frame in the same write, so that both arrive in one read; returns the request. */
  async acceptWithClose(code: number, reason: string): Promise<UpgradeRequest> {
    const request = await this.readRequest();
    const response =
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Accept: ${acceptFor(request.headers["sec-websocket-key"]!)}\r\n\r\n`;
    this.write(Buffer.concat([Buffer.from(response, "latin1"), closeFrame(code, reason)]));
    return request;
  }

  write(data: string | Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** The next frame the client sent, or null at EOF. */
  readFrame(): Promise<DecodedFrame | null> {
    return readTestFrame(this.#reader);
  }

  /** Every frame until EOF. */
  async readAll(): Promise<DecodedFrame[]> {
    const frames: DecodedFrame[] = [];
    for (let f = await this.readFrame(); f !== null; f = await this.readFrame()) frames.push(f);
    return frames;
  }
}

export interface ScriptedServer {
  port: number;
  url: string;
  server: Server;
  transport: TestTransport;
  /** What `connect()` needs to reach this server (HTTP/2: the agent and the test CA). */
  clientOptions: ClientOptions;
  /** Peers in the order they connected. */
  peers: Peer[];
  nextPeer(): Promise<Peer>;
  close(): Promise<void>;
}

/** Connects our client to a scripted server the way its transport needs. */
export function open(server: ScriptedServer, options: ClientOptions = {}): Promise<Connection> {
  return connect(server.url, { ...server.clientOptions, ...options });
}

/** The request of an extended CONNECT stream as the HTTP/1.1 tests read one. */
function http2Request(headers: IncomingHttpHeaders): UpgradeRequest {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(":") && value !== undefined) fields[name] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return { method: String(headers[":method"]), path: String(headers[":path"]), headers: fields, raw: "" };
}

/**
 * A raw server on 127.0.0.1, port 0, that runs `script` for each connection: plain TCP, or an
 * HTTP/2 server over TLS (extended CONNECT enabled) whose streams are the peers.
 */
export async function scriptedServer(
  script?: (peer: Peer) => void | Promise<void>,
  transport: TestTransport = "HTTP/1.1",
): Promise<ScriptedServer> {
  if (transport === "HTTP/2") return scriptedHttp2Server(script);
  const peers: Peer[] = [];
  const waiting: Array<(peer: Peer) => void> = [];
  let taken = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const peer = new Peer(socket);
    peers.push(peer);
    waiting.shift()?.(peer);
    if (script) {
      Promise.resolve(script(peer)).catch(() => socket.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    server,
    transport,
    clientOptions: {},
    peers,
    nextPeer() {
      const index = taken++;
      if (index < peers.length) return Promise.resolve(peers[index]!);
      return new Promise((resolve) => waiting.push(resolve));
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function scriptedHttp2Server(script?: (peer: Peer) => void | Promise<void>): Promise<ScriptedServer> {
  const peers: Peer[] = [];
  const waiting: Array<(peer: Peer) => void> = [];
  let taken = 0;
  const sessions = new Set<Http2Session>();
  const server = createSecureServer({ ...selfSignedCertificate(), settings: { enableConnectProtocol: true } });
  server.on("session", (session) => {
    sessions.add(session);
    session.on("error", () => {});
    session.on("close", () => sessions.delete(session));
  });
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    const peer = new Peer(stream, { stream, request: http2Request(headers) });
    peers.push(peer);
    waiting.shift()?.(peer);
    if (script) {
      Promise.resolve(script(peer)).catch(() => stream.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const agent = new Http2Agent();
  return {
    port,
    url: `wss://127.0.0.1:${port}`,
    server: server as unknown as Server,
    transport: "HTTP/2",
    clientOptions: { http2: agent, ca: selfSignedCertificate().cert },
    peers,
    nextPeer() {
      const index = taken++;
      if (index < peers.length) return Promise.resolve(peers[index]!);
      return new Promise((resolve) => waiting.push(resolve));
    },
    close() {
      agent.destroy();
      for (const session of sessions) session.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Resolves with the first value `emitter` emits for `event`. */
export function once<T = unknown>(target: EventTarget, type: string): Promise<T> {
  return new Promise((resolve) => target.addEventListener(type, (event) => resolve(event as T), { once: true }));
}

/** Collects every event type fired on a WebSocket, in order. */
export function recordEvents(target: EventTarget, types = ["open", "message", "error", "close"]): string[] {
  const log: string[] = [];
  for (const type of types) target.addEventListener(type, () => log.push(type));
  return log;
}

/**
 * A permessage-deflate payload that inflates to `size` zero bytes, built in 1 MiB steps so the test
 * itself never holds the inflated bytes.
 */
export async function deflateBomb(size: number): Promise<Buffer> {
  const deflate = createDeflateRaw({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on("data", (chunk: Buffer) => parts.push(chunk));
  const step = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < size; written += step.length) {
    if (!deflate.write(step)) await new Promise((resolve) => deflate.once("drain", resolve));
  }
  await new Promise<void>((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
  deflate.close();
  const out = Buffer.concat(parts);
  return out.subarray(0, out.length - 4);
}

/**
 * A server that, once `sendClose()` is called, sends its close frame first (or with its 101), then reads (and counts)
 * what the client still sends until the client's close frame, and ends TCP: a clean handshake on
 * the wire. Until `sendClose()` it does not read, so the client's large sends wait in its buffer.
 */
export async function serverClosingFirst(
  code: number,
  reason: string,
  options: { withHandshake?: boolean } = {},
): Promise<{ server: ScriptedServer; sendClose(): void; bytesReceived(): number }> {
  let sendClose!: () => void;
  const closeNow = new Promise<void>((resolve) => (sendClose = resolve));
  let received = 0;
  const server = await scriptedServer(async (peer) => {
    // `withHandshake`: the close frame comes with the 101, before the client has sent anything.
    if (options.withHandshake === true) await peer.acceptWithClose(code, reason);
    else await peer.accept();
    peer.socket.pause();
    await closeNow;
    if (options.withHandshake !== true) peer.write(closeFrame(code, reason));
    peer.socket.resume();
    for (let f = await peer.readFrame(); f !== null && f.opcode !== 8; f = await peer.readFrame()) received += f.payload.length;
    peer.socket.end();
  });
  return { server, sendClose, bytesReceived: () => received };
}
