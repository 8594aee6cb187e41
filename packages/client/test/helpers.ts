// Test helpers: a scripted raw TCP WebSocket server that speaks through hand-made frames, and a frame
// encoder/decoder written independently of @ws/codec so that a codec bug cannot hide a client bug.
import { createHash } from "node:crypto";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { constants, createDeflateRaw, deflateRawSync, inflateRawSync } from "node:zlib";
import { encodeTestFrame, type TestFrameSpec } from "@ws/test-utils";

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

export interface DecodedFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  maskKey: Buffer;
  payload: Buffer;
}

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

/** One accepted TCP connection of the scripted server, read frame by frame. */
export class Peer {
  readonly socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;
  #wake: (() => void) | null = null;
  readonly closed: Promise<void>;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#notify();
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.#ended = true;
        this.#notify();
        resolve();
      });
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async #need(bytes: number): Promise<boolean> {
    while (this.#buffer.length < bytes) {
      if (this.#ended) return false;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
    return true;
  }

  async readRequest(): Promise<UpgradeRequest> {
    while (true) {
      const end = this.#buffer.indexOf("\r\n\r\n");
      if (end !== -1) {
        const raw = this.#buffer.toString("latin1", 0, end);
        this.#buffer = this.#buffer.subarray(end + 4);
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
      if (!(await this.#need(this.#buffer.length + 1))) throw new Error("EOF before the request head");
    }
  }

  /** Reads the request and answers 101 (with `extra` header lines). Returns the request. */
  async accept(extra: string[] = []): Promise<UpgradeRequest> {
    const request = await this.readRequest();
    this.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Accept: ${acceptFor(request.headers["sec-websocket-key"]!)}\r\n` +
        extra.map((line) => `${line}\r\n`).join("") +
        "\r\n",
    );
    return request;
  }

  write(data: string | Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** The next frame the client sent, or null at EOF. */
  async readFrame(): Promise<DecodedFrame | null> {
    if (!(await this.#need(2))) return null;
    const b0 = this.#buffer[0]!;
    const b1 = this.#buffer[1]!;
    let length = b1 & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (!(await this.#need(4))) return null;
      length = this.#buffer.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (!(await this.#need(10))) return null;
      length = Number(this.#buffer.readBigUInt64BE(2));
      offset = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    const total = offset + (masked ? 4 : 0) + length;
    if (!(await this.#need(total))) return null;
    const maskKey = masked ? Buffer.from(this.#buffer.subarray(offset, offset + 4)) : Buffer.alloc(0);
    const payload = Buffer.from(this.#buffer.subarray(offset + (masked ? 4 : 0), total));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= maskKey[i & 3]!;
    this.#buffer = this.#buffer.subarray(total);
    return {
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      masked,
      maskKey,
      payload,
    };
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
  /** Peers in the order they connected. */
  peers: Peer[];
  nextPeer(): Promise<Peer>;
  close(): Promise<void>;
}

/** A raw TCP server on 127.0.0.1, port 0, that runs `script` for each connection. */
export async function scriptedServer(script?: (peer: Peer) => void | Promise<void>): Promise<ScriptedServer> {
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
