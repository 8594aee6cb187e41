import { EventEmitter } from "node:events";
import { isUtf8 } from "node:buffer";
import { constants as http2Constants } from "node:http2";
import { performance } from "node:perf_hooks";
import { Writable, type Duplex } from "node:stream";
import {
  Protocol,
  QUEUE_ENTRY_OVERHEAD,
  WRITE_OVERHEAD,
  Opcode,
  WriteBatch,
  defineFlags,
  encodeFrame,
  frameHeaderSize,
  type WebSocketError,
} from "@ws/codec";
import type { PerMessageDeflate } from "@ws/codec/deflate";
import { DeadlineQueue } from "./deadline-queue.js";
import { channels, type BackpressureDiagnostic, type CloseDiagnostic, type ControlFrameDiagnostic } from "./diagnostics.js";
import { ServerErrorCode, WebSocketServerError } from "./errors.js";
import type { ResolvedOptions } from "./options.js";
import type { PreparedMessage } from "./broadcast.js";
import type { WebSocketServer } from "./server.js";
import { TopicNames, type Subscription, type TopicRegistry } from "./topics.js";
// The connection that owns a socket, for the socket listeners below (shared, not per-connection closures).
import { kSocketOwner as kConnection } from "./socket-owner.js";

/** WHATWG `WebSocket.readyState` values. A server connection starts OPEN. */
export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** Anything `send` accepts: text, or bytes in any binary container. */
export type SendData = string | Uint8Array | ArrayBuffer | ArrayBufferView;

export interface SendOptions {
  /** Send bytes as a text message (they must be UTF-8) or a string as binary. Default: strings are text, bytes binary. */
  binary?: boolean;
  /** Compress when permessage-deflate was negotiated. Default: when at least its threshold. */
  compress?: boolean;
}

export interface ConnectionEvents {
  /** A whole message: text is UTF-8 bytes (`data.toString()`), validated already. */
  message: [data: Buffer, isBinary: boolean];
  /** The TCP connection closed. `code` is the peer's close code, or 1006 when none arrived. */
  close: [code: number, reason: string];
  /** Emitted only when listened to; `close` always follows. */
  error: [error: WebSocketError | WebSocketServerError];
  ping: [payload: Buffer];
  pong: [payload: Buffer];
  /** `bufferedAmount` fell back under `highWaterMark` after a `send` returned false. */
  drain: [];
}

/** Settings a connection takes from its server's resolved options, and the server (for diagnostics). */
/* eslint-disable @typescript-eslint/no-explicit-any -- shared by the connections of a server of any `data` type */
export type ConnectionSettings = {
  server: WebSocketServer<any>;
  /** Called once per connection, after `close` is emitted. */
  onClosed: (conn: Connection<any>) => void;
  /** The server's topics, for `subscribe`. */
  topics: TopicRegistry<any>;
  /** The close timeouts of the server's connections, on one timer (see `CloseDeadlines`). */
  closeDeadlines: CloseDeadlines;
} & Pick<
  ResolvedOptions<unknown>,
  | "maxPayload"
  | "maxFragments"
  | "maxBufferedChunks"
  | "receiveHighWaterMark"
  | "highWaterMark"
  | "maxBufferedAmount"
  | "backpressure"
  | "pingInterval"
  | "pongTimeout"
  | "idleTimeout"
>;
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * What a connection reads and writes: a TCP (or TLS) socket after an HTTP/1.1 upgrade, or an
 * HTTP/2 stream after an extended CONNECT (RFC 8441). Both are Duplex streams; the socket-only
 * calls are made when present.
 */
export type Transport = Duplex & {
  setNoDelay?(noDelay?: boolean): unknown;
  setTimeout?(ms: number): unknown;
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
};

export interface ConnectionInit<T> {
  data: T;
  /** "1.1" for an upgraded socket, "2.0" for an HTTP/2 stream. Default "1.1". */
  httpVersion?: "1.1" | "2.0";
  /** The peer's address when the transport does not carry it (an HTTP/2 stream's session socket has it). */
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  protocol: string;
  extensions: string;
  url: string;
  compression: PerMessageDeflate | null;
}

/** One iterated message: text as a string, binary as a Buffer. */
export type IteratedMessage = string | Buffer;

const EMPTY = Buffer.alloc(0);
/**
 * The prototype of each connection's listener table: empty, with no prototype of its own, so that
 * event names meet no inherited keys (as in EventEmitter's own `{ __proto__: null }` table).
 */
const NO_LISTENERS: object = Object.freeze(Object.create(null));
const NO_TOPICS: ReadonlySet<string> = new Set();
/** Bytes charged per message held for the iterator, so that floods of empty messages are bounded too. */
const MESSAGE_OVERHEAD = 64;

// `any`: these helpers serve connections of every `data` type, and Connection<T> is invariant in T.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type SomeConnection = Connection<any>;
type OwnedSocket = Transport & { [kConnection]: SomeConnection };

/**
 * Ends a transport at once. RFC 8441 §5: for an HTTP/2 stream that is RST_STREAM with CANCEL (the
 * counterpart of a TCP reset), which leaves the session and its other streams alone.
 */
export function destroyTransport(transport: Transport): void {
  const stream = transport as Transport & { rstCode?: number; close?: (code?: number) => void };
  if (typeof stream.close === "function" && "rstCode" in stream) {
    // close() sends the RST_STREAM; destroy() then ends it here too, even with unread data.
    if (!stream.destroyed) stream.close(http2Constants.NGHTTP2_CANCEL);
    stream.destroy();
  } else transport.destroy();
}

/**
 * A time kept on a connection, rounded up to a whole millisecond: a small integer, which V8 stores
 * in the object itself, where a fraction would be a separate 16-byte number per field and
 * connection. Up, so that no deadline passes early (the heartbeat sweeps every 5 ms or more).
 */
function wholeMs(time: number): number {
  return Math.ceil(time);
}

function toBuffer(bytes: Uint8Array): Buffer {
  // Views of socket reads are Buffers already; only other Uint8Arrays need a Buffer view.
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Normalises what `send` accepts to bytes, without copying binary data. */
export function toBytes(data: SendData): Uint8Array {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || Object.prototype.toString.call(data) === "[object SharedArrayBuffer]") {
    return new Uint8Array(data as ArrayBuffer);
  }
  throw new WebSocketServerError(
    ServerErrorCode.InvalidArgument,
    "send() takes a string, an ArrayBuffer or an ArrayBufferView",
  );
}

/**
 * One accepted WebSocket connection: a thin I/O shell over the codec's `Protocol`. It writes what
 * the protocol asks for (corked, one writev per tick), feeds it what the socket reads, and adds what
 * the protocol leaves to the shell: backpressure, pausing reads for a slow consumer, liveness and
 * close timers.
 *
 * Idle connections are what a server holds most of, so a connection allocates little: no
 * closures per connection (socket listeners and timers are shared functions), no timer of its
 * own for liveness (the server's one heartbeat sweeps all connections), and arrays only once used.
 */
export class Connection<T = unknown> extends EventEmitter<ConnectionEvents> {
  /** What the `upgrade` hook returned as `data`. */
  data: T;
  /** The selected subprotocol, or "". */
  readonly protocol: string;
  /** The `Sec-WebSocket-Extensions` value sent in the 101 response, or "". */
  readonly extensions: string;
  /** The request target of the upgrade request (path and query). */
  readonly url: string;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;

  private readonly socket: Transport;
  private readonly protocolCore: Protocol;
  private readonly compression: PerMessageDeflate | null;
  /** Shared by the server's connections: limits, timeouts, and the server's topics and close hook. */
  private readonly settings: ConnectionSettings;
  /** Allocated on the first subscribe: most connections of many servers never subscribe. */
  private subscriptions: Map<string, Subscription<T>> | null = null;
  /** `state` and the booleans declared below, packed (accessors after the class): one field, not thirteen. */
  private flags: number = ReadyState.OPEN;
  /** What only some connections ever need (see `SideState`); created on first use. */
  private side: SideState | null = null;
  declare private state: ReadyState;
  /** Writes this tick are corked; `uncork` runs at the next tick. */
  declare private corked: boolean;
  /** A `send` returned false: `drain` is due once under `highWaterMark`. */
  declare private needDrain: boolean;
  /** Small frames written this tick, copied into one socket write at uncork (SECURITY.md row 17). */
  private batch: WriteBatch | null = null;
  /** Socket writes not yet completed; each is charged `WRITE_OVERHEAD` in `bufferedAmount`. */
  private writesPending = 0;
  private writtenCallback: (() => void) | null = null;
  /** Reading stopped because `bufferedAmount` reached `highWaterMark`: the replies cannot leave. */
  declare private sendBacklog: boolean;
  /** An automatic pong waits for the buffer to drain (the codec answers the latest ping then). */
  declare private pongDeferred: boolean;

  // Traffic totals (the getters `bytesIn`…`messagesOut`; `server.stats()` sums them): one increment
  // of the connection's own field per read, write or message.
  private receivedBytes = 0;
  private sentBytes = 0;
  private receivedMessages = 0;
  private sentMessages = 0;
  /** `performance.now()` when the connection started, rounded down, for the close diagnostic's duration. */
  private startedAt = 0;
  /** @internal Its place in the server's `clients` (see dense-set.ts); -1 when not in it. */
  denseIndex = -1;

  // Liveness, checked by the server's heartbeat (see `checkLiveness`).
  /** Some bytes arrived since the last ping. */
  declare private heard: boolean;
  /** A whole message arrived since the last sweep. */
  declare private active: boolean;
  declare private awaitingPong: boolean;
  /** When the next ping is due or, while `awaitingPong`, when the answer is. */
  private pingDeadline = 0;
  private lastActive = 0;

  /** A fragmented message is being sent (`stream()`): whole messages wait in `SideState.held`. */
  declare private streaming: boolean;

  // Receiving: pauses requested by the user or by the codec (input behind an inflate), and the
  // async iterator (its backlog is in `SideState`).
  declare private userPaused: boolean;
  declare private inflateBacklog: boolean;
  declare private readPaused: boolean;
  declare private iterating: boolean;
  /** The transport is an HTTP/2 stream (see `httpVersion`). */
  declare private onHttp2Stream: boolean;

  constructor(socket: Transport, init: ConnectionInit<T>, settings: ConnectionSettings) {
    super();
    // EventEmitter's listener table starts as `{ __proto__: null }`, which V8 keeps in dictionary
    // mode (184 bytes with its hash table); an object that inherits from an empty null-prototype
    // object is a fast one (56 bytes, a few listener names in-object). Same keys, same lookups.
    (this as unknown as { _events: object })._events = Object.create(NO_LISTENERS) as object;
    this.socket = socket;
    this.data = init.data;
    this.protocol = init.protocol;
    this.extensions = init.extensions;
    this.url = init.url;
    this.remoteAddress = init.remoteAddress ?? socket.remoteAddress;
    this.remotePort = init.remotePort ?? socket.remotePort;
    this.compression = init.compression;
    this.settings = settings;
    if (init.httpVersion === "2.0") this.onHttp2Stream = true;
    this.protocolCore = new Protocol(
      {
        role: "server",
        compression: init.compression,
        fastUtf8: isUtf8,
        maxPayload: settings.maxPayload,
        maxFragments: settings.maxFragments,
        maxBufferedChunks: settings.maxBufferedChunks,
      },
      // The connection is the protocol's handler itself (its @internal `write`, `onMessage`,
      // `onClose`, `onError`…): no adapter object per connection.
      this,
    );
  }

  /**
   * @internal Starts reading. Called by the server after the 'connection' event, with the bytes
   * read past the handshake and the current heartbeat time (`performance.now()`). The times kept
   * are whole milliseconds (see `wholeMs`).
   */
  start(head: Uint8Array | undefined, now: number): void {
    const socket = this.socket as OwnedSocket;
    socket[kConnection] = this;
    socket.setTimeout?.(0);
    socket.setNoDelay?.(true);
    socket.on("data", onSocketData);
    socket.on("end", onSocketEnd);
    socket.on("error", onSocketError);
    socket.on("close", onSocketClose);
    socket.on("drain", onSocketDrain);
    this.pingDeadline = wholeMs(now + this.settings.pingInterval);
    this.lastActive = wholeMs(now);
    this.startedAt = Math.floor(now);
    if (socket.destroyed) {
      this.socketClosed();
      return;
    }
    if (head !== undefined && head.length > 0) this.receiveData(head);
    // Unless a pause was asked for meanwhile (in a `connection` handler, or by the codec).
    if (socket.isPaused() && !this.readPaused) socket.resume();
  }

  /**
   * @internal Called by the server's heartbeat every few milliseconds (a fraction of the smallest
   * liveness setting). The cycle is: `pingInterval`, a ping, `pongTimeout` to hear back. Any byte
   * received after a ping counts as an answer, not only the pong: a peer busy sending one large
   * frame cannot slip its pong in until that frame ends (RFC 6455 §5.4 lets control frames in only
   * between frames), and its bytes prove it is alive just as well.
   */
  checkLiveness(now: number): void {
    if (this.state !== ReadyState.OPEN) return;
    const settings = this.settings;
    if (settings.pingInterval > 0 && now >= this.pingDeadline) {
      if (!this.awaitingPong) {
        this.heard = false;
        this.awaitingPong = true;
        this.pingDeadline = wholeMs(now + settings.pongTimeout);
        this.protocolCore.ping();
      } else if (this.heard || this.readPaused) {
        // While we stopped reading on purpose (slow consumer), silence proves nothing.
        this.awaitingPong = false;
        this.pingDeadline = wholeMs(now + settings.pingInterval);
      } else {
        this.fail(new WebSocketServerError(ServerErrorCode.PongTimeout, "no answer to a ping within pongTimeout"));
        destroyTransport(this.socket);
        return;
      }
    }
    if (settings.idleTimeout > 0) {
      if (this.active) {
        this.active = false;
        this.lastActive = wholeMs(now);
      } else if (now - this.lastActive >= settings.idleTimeout) {
        this.close(1000, "idle timeout");
      }
    }
  }

  /** WHATWG readyState: 1 OPEN, 2 CLOSING (a close frame went either way), 3 CLOSED (TCP closed). */
  get readyState(): ReadyState {
    return this.state;
  }

  /**
   * Bytes accepted by `send` and not yet handed to the kernel (frame headers included), plus what
   * the queued entries cost beyond their bytes: `WRITE_OVERHEAD` (512) per socket write not yet
   * completed and `QUEUE_ENTRY_OVERHEAD` (256) per message waiting behind a compression job or a
   * `stream()`. So floods of empty frames meet `highWaterMark` and `maxBufferedAmount` too.
   */
  get bufferedAmount(): number {
    return (
      this.socket.writableLength +
      this.writesPending * WRITE_OVERHEAD +
      (this.batch === null ? 0 : this.batch.bytes) +
      this.protocolCore.queuedBytes +
      (this.side === null ? 0 : this.side.heldBytes)
    );
  }

  /** "1.1" when the connection runs on an upgraded socket, "2.0" on an HTTP/2 stream (RFC 8441). */
  get httpVersion(): "1.1" | "2.0" {
    return this.onHttp2Stream ? "2.0" : "1.1";
  }

  /**
   * Close code to report: the peer's, or 1006 when the connection ended without its close frame.
   * The codec's `Protocol` keeps the peer's close; only its absence is ours to report.
   */
  get closeCode(): number {
    return this.protocolCore.closeReceived ? this.protocolCore.closeCode : 1006;
  }

  get closeReason(): string {
    return this.protocolCore.closeReceived ? this.protocolCore.closeReason : "";
  }

  /** Why the connection failed, when it did. */
  get closeError(): WebSocketError | WebSocketServerError | null {
    return this.side === null ? null : this.side.closeError;
  }

  /** Bytes read from the socket after the handshake (frames, as they arrived). */
  get bytesIn(): number {
    return this.receivedBytes;
  }

  /** Bytes handed to the socket after the handshake (frames, control frames included). */
  get bytesOut(): number {
    return this.sentBytes;
  }

  /** Whole messages received. */
  get messagesIn(): number {
    return this.receivedMessages;
  }

  /** Messages queued to send (`send`, `sendPrepared` and `publish`, a finished `stream()`). */
  get messagesOut(): number {
    return this.sentMessages;
  }

  /** Whether permessage-deflate is on for this connection. */
  get compressed(): boolean {
    return this.compression !== null;
  }

  /**
   * Sends one message. Returns true while `bufferedAmount` stays under `highWaterMark`, false when
   * the caller should wait for `drain` (the message is queued either way), and false without
   * sending when the connection is closing or closed. Past `maxBufferedAmount` the connection is
   * closed with 1008 (`backpressure: "close"`) or this throws `WS_ERR_SEND_REJECTED` (`"reject"`).
   * The bytes are not copied: do not modify them afterwards.
   */
  send(data: SendData, options?: SendOptions): boolean {
    const bytes = toBytes(data);
    const isBinary = options?.binary ?? typeof data !== "string";
    if (!this.admit(bytes.length)) return false;
    this.sentMessages++;
    if (this.streaming) {
      const side = this.sideState();
      (side.held ??= []).push({ bytes, isBinary, compress: options?.compress });
      side.heldBytes += bytes.length + QUEUE_ENTRY_OVERHEAD;
    } else {
      this.protocolCore.send(bytes, isBinary, options?.compress === undefined ? undefined : { compress: options.compress });
    }
    return !this.needDrain;
  }

  /**
   * Joins a topic, so that `server.publish(topic, …)` reaches this connection. Returns false when
   * already subscribed or once the connection is closing (a closing connection joins nothing).
   */
  subscribe(topic: string): boolean {
    if (typeof topic !== "string") throw new TypeError("a topic is a string");
    if (this.state !== ReadyState.OPEN) return false;
    const subscriptions = (this.subscriptions ??= new Map());
    if (subscriptions.has(topic)) return false;
    subscriptions.set(topic, this.settings.topics.add(topic, this));
    return true;
  }

  /** Leaves a topic. Returns false when not subscribed to it. */
  unsubscribe(topic: string): boolean {
    const subscription = this.subscriptions?.get(topic);
    if (subscription === undefined) return false;
    this.subscriptions!.delete(topic);
    this.settings.topics.remove(topic, subscription);
    return true;
  }

  isSubscribed(topic: string): boolean {
    return this.subscriptions?.has(topic) ?? false;
  }

  /**
   * The topics this connection is in. After it closes it has left them all on the server, but this
   * still lists them during and after `close`, so a handler can tell the rooms it left.
   */
  get topics(): ReadonlySet<string> {
    return this.subscriptions === null ? NO_TOPICS : new TopicNames(this.subscriptions);
  }

  /**
   * Sends a message framed (and compressed) once for many connections; see
   * `WebSocketServer.prepare`. The shared frame is used uncompressed below the compression
   * threshold, compressed where this connection compresses without context takeover, and this
   * falls back to `send` where the frame cannot be shared (compression with context takeover, a
   * stream in progress). `compress` is `send`'s option of the same name.
   */
  sendPrepared(message: PreparedMessage, compress?: boolean): boolean {
    const length = message.payload.length;
    const compression = this.compression;
    let frame: Uint8Array[];
    if (this.streaming) return this.send(message.payload, { binary: message.isBinary, compress });
    if (compression === null || compress === false || (compress === undefined && length < compression.threshold)) {
      frame = message.frame();
    } else {
      const settings = compression.standaloneSettings;
      if (settings === null) return this.send(message.payload, { binary: message.isBinary, compress });
      frame = message.compressedFrame(settings);
    }
    if (!this.admit(length)) return false;
    this.sentMessages++;
    this.protocolCore.sendFrame(frame, length);
    return !this.needDrain;
  }

  /**
   * Streams one message as fragments (RFC 6455 §5.4): each chunk written becomes a frame, `end()`
   * sends the final one. Whole messages sent meanwhile wait until it ends; pings do not. The
   * stream's writes wait while `bufferedAmount` is over `highWaterMark`. Destroying the stream
   * before `end()` closes the connection with 1011, since the message cannot be completed.
   */
  stream(options?: { binary?: boolean; compress?: boolean }): Writable {
    if (this.streaming) throw new Error("a message is already being streamed on this connection");
    this.streaming = true;
    const isBinary = options?.binary ?? true;
    const compress = options?.compress === undefined ? undefined : { compress: options.compress };
    let finished = false;
    const sendFragment = (bytes: Uint8Array, fin: boolean): boolean => {
      if (this.state !== ReadyState.OPEN) return false;
      return this.protocolCore.sendFragment(bytes, isBinary, fin, compress);
    };
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        if (!sendFragment(chunk, false)) {
          callback(new Error("the connection is closing"));
          return;
        }
        this.whenDrained(callback);
      },
      final: (callback) => {
        finished = true;
        if (sendFragment(EMPTY, true)) this.sentMessages++;
        this.endStream();
        callback();
      },
      destroy: (error, callback) => {
        if (!finished) {
          finished = true;
          this.endStream();
          if (this.state === ReadyState.OPEN) this.close(1011, "message stream aborted");
        }
        callback(error);
      },
    });
  }

  /** Sends a ping (at most 125 bytes). Returns false when the connection is closing or closed. */
  ping(data: SendData = EMPTY): boolean {
    const bytes = toBytes(data);
    if (bytes.length > 125) throw new RangeError("ping payload must be at most 125 bytes");
    if (this.state !== ReadyState.OPEN) return false;
    return this.protocolCore.ping(bytes);
  }

  /** Sends an unsolicited pong (at most 125 bytes). */
  pong(data: SendData = EMPTY): boolean {
    const bytes = toBytes(data);
    if (bytes.length > 125) throw new RangeError("pong payload must be at most 125 bytes");
    if (this.state !== ReadyState.OPEN) return false;
    return this.protocolCore.pong(bytes);
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2) after everything already sent. The socket is
   * destroyed if the peer has not completed it within `closeTimeout`. Throws RangeError/TypeError
   * for a code that may not be sent or a reason over 123 UTF-8 bytes.
   */
  close(code?: number, reason?: string): void {
    // SECURITY.md row 4: only a string reason; its UTF-8 length is checked by the codec.
    if (reason !== undefined && typeof reason !== "string") throw new TypeError("the close reason must be a string");
    if (this.state === ReadyState.CLOSED || this.protocolCore.closeSent) return;
    if (this.streaming) {
      // The fragmented message cannot be finished: end it so that the close frame may follow.
      this.protocolCore.sendFragment(EMPTY, true, true);
      this.endStream();
    }
    this.protocolCore.close(code, reason);
    this.state = ReadyState.CLOSING;
    this.startCloseTimer();
  }

  /** Destroys the socket (or resets the HTTP/2 stream) now, with no closing handshake. `close` reports 1006. */
  terminate(): void {
    destroyTransport(this.socket);
  }

  /** Stops reading from the socket (TCP flow control pushes back on the peer) until `resume`. */
  pause(): void {
    this.userPaused = true;
    this.updateFlow();
  }

  resume(): void {
    this.userPaused = false;
    this.updateFlow();
  }

  /**
   * Iterates messages (text as strings, binary as Buffers) until the connection closes; the loop
   * then ends normally (see `closeCode`/`closeError`). While the loop body is busy, messages queue
   * up to `receiveHighWaterMark` bytes and then reads pause. Start it synchronously in the
   * `connection` handler to see every message. Breaking out does not close the connection.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<IteratedMessage, undefined> {
    if (this.iterating) throw new Error("this connection is already being iterated");
    this.iterating = true;
    const side = this.sideState();
    const iterator: AsyncIterableIterator<IteratedMessage, undefined> = {
      next: () => {
        const backlog = side.backlog;
        if (backlog !== null && side.backlogHead < backlog.length) {
          const value = backlog[side.backlogHead]!;
          backlog[side.backlogHead++] = "";
          side.backlogBytes -= (typeof value === "string" ? value.length : value.byteLength) + MESSAGE_OVERHEAD;
          if (side.backlogHead === backlog.length) {
            side.backlog = null;
            side.backlogHead = 0;
          }
          this.updateFlow();
          return Promise.resolve({ value, done: false });
        }
        if (this.state === ReadyState.CLOSED || !this.iterating) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          side.waiter = resolve;
        });
      },
      return: () => {
        this.stopIterating();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  // --- internals ---

  /** Checks the send-side limits for `size` more bytes; false when nothing may be sent. */
  private admit(size: number): boolean {
    if (this.state !== ReadyState.OPEN || this.protocolCore.closeSent) return false;
    const buffered = this.bufferedAmount;
    if (this.wouldOverflow(buffered, size)) {
      if (this.settings.backpressure === "reject") {
        if (channels.backpressure.hasSubscribers) this.publishBackpressure("maxBufferedAmount", "reject", buffered);
        throw new WebSocketServerError(
          ServerErrorCode.SendRejected,
          `bufferedAmount would pass maxBufferedAmount (${this.settings.maxBufferedAmount} bytes)`,
        );
      }
      this.overflow(buffered);
      return false;
    }
    if (buffered + size >= this.settings.highWaterMark) {
      this.needDrain = true;
      // Stop reading now, not at the next read: a message handler answering what it reads (maybe
      // behind compression, maybe while an inflate delivers more) must not outrun what can leave.
      if (!this.sendBacklog) this.reachHighWaterMark(buffered + size);
    }
    return true;
  }

  /** `bufferedAmount` reached `highWaterMark`: reading stops until it drains (see `checkSendBacklog`). */
  private reachHighWaterMark(bufferedAmount: number): void {
    this.sendBacklog = true;
    this.updateFlow();
    if (channels.backpressure.hasSubscribers) this.publishBackpressure("highWaterMark", "wait", bufferedAmount);
  }

  /** One message larger than the limit is allowed on an empty buffer: it is bounded by its sender. */
  private wouldOverflow(buffered: number, size: number): boolean {
    return buffered > 0 && buffered + size > this.settings.maxBufferedAmount;
  }

  /**
   * @internal An automatic pong meets `maxBufferedAmount` like a send: otherwise a peer that pings
   * and never reads grows our memory one pong at a time. Under "reject" the pong is withheld (no
   * caller to throw to); under "close" the connection fails as a send would.
   */
  admitPong(size: number): boolean {
    const buffered = this.bufferedAmount;
    if (!this.wouldOverflow(buffered, size + 2)) return true;
    if (this.settings.backpressure === "close") this.overflow(buffered);
    else if (channels.backpressure.hasSubscribers) this.publishBackpressure("maxBufferedAmount", "reject", buffered);
    return false;
  }

  /**
   * @internal While our buffer is at `highWaterMark`, automatic pongs wait and only the latest
   * ping is answered once it drains (RFC 6455 §5.5.3).
   */
  pongBacklogged(): boolean {
    if (this.bufferedAmount < this.settings.highWaterMark) return false;
    this.pongDeferred = true;
    return true;
  }

  /** SECURITY.md row 15: a peer that does not read is not allowed to grow our memory. */
  private overflow(bufferedAmount: number): void {
    if (channels.backpressure.hasSubscribers) this.publishBackpressure("maxBufferedAmount", "close", bufferedAmount);
    this.fail(
      new WebSocketServerError(
        ServerErrorCode.BufferOverflow,
        `bufferedAmount would pass maxBufferedAmount (${this.settings.maxBufferedAmount} bytes)`,
        1008,
      ),
    );
    // The close frame jumps the messages waiting for compression: behind them it could be cut off
    // by the close timer before it was ever written.
    this.protocolCore.abort(1008, "send buffer full");
    this.state = ReadyState.CLOSING;
    this.startCloseTimer();
  }

  /** @internal Writes what the protocol asks for. */
  write(chunks: Uint8Array[]): void {
    if (this.socket.destroyed) return;
    for (const chunk of chunks) this.sentBytes += chunk.length;
    this.corkTick();
    if (chunks.length === 1 && WriteBatch.accepts(chunks[0]!)) {
      // Small frames are copied into one write: each socket write costs far more than 2 bytes.
      const chunk = chunks[0]!;
      this.batchWithRoomFor(chunk.length).add(chunk);
      return;
    }
    this.flushBatch();
    for (const chunk of chunks) this.writeToSocket(chunk);
  }

  /** @internal A small frame of ours, encoded straight into this tick's batch. */
  writeFrame(opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean): void {
    if (this.socket.destroyed) return;
    if (opcode === Opcode.Close && !this.corked) {
      // Nothing else waits this tick, and no frame follows a close: one write at once, without a
      // batch or a tick (on a connect + close cycle, the cork and its tick measured more than the write).
      const [frame] = encodeFrame(opcode, payload, { fin, rsv1 });
      this.sentBytes += frame!.length;
      this.writeToSocket(frame!);
      return;
    }
    this.corkTick();
    const size = frameHeaderSize(payload.length, false) + payload.length;
    this.sentBytes += this.batchWithRoomFor(size).addFrame(opcode, payload, fin, rsv1);
  }

  /** Frames written in the same tick leave in one writev (header and payload together). */
  private corkTick(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(uncorkConnection, this);
  }

  /** This tick's batch, written out first if a small frame of `size` bytes would not fit. */
  private batchWithRoomFor(size: number): WriteBatch {
    const batch = (this.batch ??= WriteBatch.obtain());
    if (batch.isFullFor(size)) this.writeToSocket(batch.take()!);
    return batch;
  }

  private writeToSocket(chunk: Uint8Array): void {
    this.writesPending++;
    // The callback also tells us when a write is flushed although the socket's own high-water
    // mark was not reached (its 'drain' then never fires).
    this.socket.write(chunk, (this.writtenCallback ??= () => this.written()));
  }

  private written(): void {
    this.writesPending--;
    this.checkDrain();
  }

  /** Hands the batched small frames to the socket, before anything that must follow them. */
  private flushBatch(): void {
    const batch = this.batch;
    if (batch === null || batch.empty) return;
    if (this.socket.destroyed || this.socket.writableEnded) batch.clear();
    else this.writeToSocket(batch.take()!);
  }

  /** @internal */
  uncork(): void {
    this.corked = false;
    this.flushBatch();
    // An idle connection holds no batch: the next tick that writes obtains one.
    if (this.batch !== null) {
      this.batch.release();
      this.batch = null;
    }
    this.socket.uncork();
    this.checkSendBacklog();
  }

  /**
   * SECURITY.md row 17: while what we send cannot leave (the peer does not read, or compression
   * lags), stop reading, so that TCP pushes back on a peer whose frames cause our replies (pongs,
   * echoes) instead of our memory taking them. Reading resumes once under `highWaterMark`.
   */
  private checkSendBacklog(): void {
    if (this.sendBacklog || this.state === ReadyState.CLOSED) return;
    const buffered = this.bufferedAmount;
    if (buffered < this.settings.highWaterMark) return;
    this.reachHighWaterMark(buffered);
  }

  /** @internal The socket flushed: release `drain` waiters, reads and a pong once under the high-water mark. */
  checkDrain(): void {
    const side = this.side;
    const waiting = side !== null && side.drainWaiters !== null && side.drainWaiters.length > 0;
    if (!this.needDrain && !waiting && !this.sendBacklog && !this.pongDeferred) return;
    if (this.bufferedAmount >= this.settings.highWaterMark || this.state === ReadyState.CLOSED) return;
    if (this.pongDeferred) {
      this.pongDeferred = false;
      this.protocolCore.flushPong();
    }
    if (this.sendBacklog) {
      this.sendBacklog = false;
      this.updateFlow();
    }
    if (waiting) {
      const waiters = side.drainWaiters!;
      side.drainWaiters = null;
      for (const waiter of waiters) waiter(null);
    }
    if (this.needDrain) {
      this.needDrain = false;
      this.emit("drain");
    }
  }

  private whenDrained(callback: (error: Error | null) => void): void {
    if (this.bufferedAmount < this.settings.highWaterMark) {
      callback(null);
      return;
    }
    this.needDrain = true;
    (this.sideState().drainWaiters ??= []).push(callback);
  }

  private endStream(): void {
    this.streaming = false;
    const side = this.side;
    if (side === null) return;
    const held = side.held;
    side.held = null;
    side.heldBytes = 0;
    if (held === null) return;
    for (const message of held) {
      if (!this.protocolCore.send(message.bytes, message.isBinary, message.compress === undefined ? undefined : { compress: message.compress })) break;
    }
  }

  /** @internal Bytes read from the socket. */
  receiveData(chunk: Uint8Array): void {
    this.heard = true;
    this.receivedBytes += chunk.length;
    this.protocolCore.receive(chunk);
    // With writes this tick, `uncork` checks once they went to the socket; without, sends may
    // still wait behind compression.
    if (!this.corked) this.checkSendBacklog();
  }

  /** @internal */
  socketEnded(): void {
    // The peer half-closed: nothing more will arrive. The codec processes what already arrived
    // (a close frame may wait behind an inflate), then asks us to finish our side too through
    // `closeTransport` (sockets from an http.Server allow half-open connections, so this is not
    // automatic), after what is queued to send.
    this.protocolCore.receiveEnd();
  }

  /** @internal */
  socketFailed(error: Error): void {
    if (this.closeError === null) {
      this.reportError(new WebSocketServerError(ServerErrorCode.SocketError, error.message, 1006, { cause: error }));
    }
    destroyTransport(this.socket);
  }

  /** @internal */
  socketClosed(): void {
    if (this.state === ReadyState.CLOSED) return;
    this.state = ReadyState.CLOSED;
    if (this.side !== null) this.settings.closeDeadlines.clear(this);
    this.protocolCore.receiveEof();
    this.compression?.close();
    this.socket.removeListener("data", onSocketData);
    const side = this.side;
    if (side !== null) {
      const waiters = side.drainWaiters;
      side.drainWaiters = null;
      if (waiters !== null) for (const waiter of waiters) waiter(new Error("the connection closed"));
      if (side.waiter !== null && side.backlogHead === (side.backlog?.length ?? 0)) {
        const waiter = side.waiter;
        side.waiter = null;
        waiter({ value: undefined, done: true });
      }
    }
    // Leave every topic before `close` is emitted, so that its handlers see the counts without it.
    if (this.subscriptions !== null) {
      for (const [topic, subscription] of this.subscriptions) this.settings.topics.remove(topic, subscription);
    }
    if (channels.close.hasSubscribers) this.publishClose();
    this.emit("close", this.closeCode, this.closeReason);
    this.settings.onClosed(this);
  }

  private publishClose(): void {
    const core = this.protocolCore;
    channels.close.publish({
      server: this.settings.server,
      connection: this,
      code: this.closeCode,
      reason: this.closeReason,
      wasClean: core.closeSent && core.closeReceived,
      error: this.closeError,
      duration: performance.now() - this.startedAt,
      bytesIn: this.receivedBytes,
      bytesOut: this.sentBytes,
      messagesIn: this.receivedMessages,
      messagesOut: this.sentMessages,
    } satisfies CloseDiagnostic<T>);
  }

  /** @internal A ping or pong went either way; called only while its channel has subscribers. */
  publishControlFrame(which: "ping" | "pong", direction: "received" | "sent", payload: Uint8Array): void {
    channels[which].publish({
      server: this.settings.server,
      connection: this,
      direction,
      // A copy: the payload may be a view of a receive buffer that is reused.
      payload: Buffer.from(payload),
    } satisfies ControlFrameDiagnostic<T>);
  }

  private publishBackpressure(limit: BackpressureDiagnostic["limit"], policy: BackpressureDiagnostic["policy"], bufferedAmount: number): void {
    channels.backpressure.publish({
      server: this.settings.server,
      connection: this,
      limit,
      policy,
      bufferedAmount,
    } satisfies BackpressureDiagnostic<T>);
  }

  /** @internal A whole message arrived. */
  onMessage(data: Uint8Array, isBinary: boolean): void {
    this.active = true;
    this.receivedMessages++;
    const buffer = toBuffer(data);
    if (this.iterating) {
      const side = this.side!;
      const value = isBinary ? buffer : buffer.toString("utf8");
      if (side.waiter !== null) {
        const waiter = side.waiter;
        side.waiter = null;
        waiter({ value, done: false });
      } else {
        (side.backlog ??= []).push(value);
        side.backlogBytes += buffer.byteLength + MESSAGE_OVERHEAD;
        if (side.backlogBytes >= this.settings.receiveHighWaterMark) this.updateFlow();
      }
    }
    this.emit("message", buffer, isBinary);
  }

  /** @internal The peer's close frame arrived. */
  onClose(): void {
    if (this.state === ReadyState.OPEN) this.state = ReadyState.CLOSING;
    if (this.streaming) this.endStream();
    this.startCloseTimer();
  }

  /** @internal The peer broke the protocol or a limit; the codec queued the close frame. */
  onError(error: WebSocketError): void {
    this.fail(error);
  }

  /** @internal The peer's ping (its automatic pong, if any, is queued already). */
  onPing(payload: Uint8Array): void {
    if (channels.ping.hasSubscribers) this.publishControlFrame("ping", "received", payload);
    this.emit("ping", toBuffer(payload));
  }

  /** @internal */
  onPong(payload: Uint8Array): void {
    if (channels.pong.hasSubscribers) this.publishControlFrame("pong", "received", payload);
    this.emit("pong", toBuffer(payload));
  }

  /** @internal A ping of ours was queued. */
  onPingSent(payload: Uint8Array): void {
    if (channels.ping.hasSubscribers) this.publishControlFrame("ping", "sent", payload);
  }

  /** @internal A pong of ours was queued. */
  onPongSent(payload: Uint8Array): void {
    if (channels.pong.hasSubscribers) this.publishControlFrame("pong", "sent", payload);
  }

  /** @internal Records why the connection fails and reports it; closing is up to the caller or the protocol. */
  fail(error: WebSocketError | WebSocketServerError): void {
    if (this.state === ReadyState.OPEN) this.state = ReadyState.CLOSING;
    if (this.closeError !== null) return;
    this.startCloseTimer();
    this.reportError(error);
  }

  /** Records the one error the connection fails with; `error` listeners and the diagnostics hear of it. */
  private reportError(error: WebSocketError | WebSocketServerError): void {
    this.sideState().closeError = error;
    if (channels.error.hasSubscribers) channels.error.publish({ server: this.settings.server, connection: this, error });
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }

  /** @internal */
  closeTransport(): void {
    // RFC 6455 §7.1.1: the server closes TCP first, once the close frames have been exchanged.
    if (this.state === ReadyState.OPEN) this.state = ReadyState.CLOSING;
    // Frames batched this tick go before our FIN.
    this.flushBatch();
    // After our own close handshake we may have ended already: a second end() only builds an error.
    if (!this.socket.writableEnded) this.socket.end();
    this.startCloseTimer();
  }

  private startCloseTimer(): void {
    if (this.state === ReadyState.CLOSED) return;
    // SECURITY.md row 16: a peer that never completes the close gets destroyed.
    this.settings.closeDeadlines.add(this);
  }

  /** @internal Where the server's `CloseDeadlines` keeps this connection's place; -1: none. */
  get closeSlot(): number {
    return this.side === null ? -1 : this.side.closeSlot;
  }

  set closeSlot(slot: number) {
    this.sideState().closeSlot = slot;
  }

  /**
   * @internal Runs in the check phase, after the poll phase has read what already arrived: after
   * an event-loop stall the peer's close may be waiting in the socket although the timer is due.
   */
  closeTimedOut(): void {
    if (this.state === ReadyState.CLOSED) return;
    // A peer whose close frame has arrived did complete the closing handshake; only its TCP close
    // is late, which the destroy below takes care of without calling it an error.
    if (this.closeError === null && !this.protocolCore.closeReceived) {
      this.reportError(new WebSocketServerError(ServerErrorCode.CloseTimeout, "the peer did not complete the close in time"));
    }
    destroyTransport(this.socket);
  }

  private sideState(): SideState {
    return (this.side ??= new SideState());
  }

  private stopIterating(): void {
    this.iterating = false;
    const side = this.sideState();
    side.backlog = null;
    side.backlogHead = 0;
    side.backlogBytes = 0;
    if (side.waiter !== null) {
      const waiter = side.waiter;
      side.waiter = null;
      waiter({ value: undefined, done: true });
    }
    this.updateFlow();
  }

  /** @internal The codec holds input behind an inflate (or no longer does). */
  onReceiveBacklog(backlogged: boolean): void {
    this.inflateBacklog = backlogged;
    this.updateFlow();
  }

  private updateFlow(): void {
    const backlogBytes = this.side === null ? 0 : this.side.backlogBytes;
    const backlogged = backlogBytes >= this.settings.receiveHighWaterMark;
    const resumeBelow = this.settings.receiveHighWaterMark / 2;
    const held = this.userPaused || this.inflateBacklog || this.sendBacklog;
    if (!this.readPaused && (held || backlogged)) {
      this.readPaused = true;
      this.socket.pause();
    } else if (this.readPaused && !held && backlogBytes <= resumeBelow) {
      this.readPaused = false;
      if (this.state !== ReadyState.CLOSED) this.socket.resume();
    }
  }
}

/**
 * What only some connections ever need, kept out of the connection until first used: an idle
 * connection has none of it, and each field is 8 bytes (V8 without pointer compression).
 */
class SideState {
  /** `stream()` writes waiting for `bufferedAmount` to fall under `highWaterMark`. */
  drainWaiters: Array<(error: Error | null) => void> | null = null;
  /** SECURITY.md row 16: this connection's place in `CloseDeadlines` from the start of the closing handshake. */
  closeSlot = -1;
  // Fragmented sending (`stream()`): whole messages sent meanwhile wait here, in order.
  held: Array<{ bytes: Uint8Array; isBinary: boolean; compress: boolean | undefined }> | null = null;
  heldBytes = 0;
  // The async iterator: messages not yet taken, and the `next()` waiting for one.
  backlog: IteratedMessage[] | null = null;
  backlogHead = 0;
  backlogBytes = 0;
  waiter: ((result: IteratorResult<IteratedMessage, undefined>) => void) | null = null;
  /** Why the connection failed, when it did (the getter `closeError`). */
  closeError: WebSocketError | WebSocketServerError | null = null;
}

/** `ReadyState` sits in the low two bits of `flags`, the booleans above them. */
const STATE_MASK = 0b11;

// The `declare`d fields of Connection: accessors on its prototype over the one `flags` field.
Object.defineProperty(Connection.prototype, "state", {
  get(this: { flags: number }): ReadyState {
    return (this.flags & STATE_MASK) as ReadyState;
  },
  set(this: { flags: number }, state: ReadyState): void {
    this.flags = (this.flags & ~STATE_MASK) | state;
  },
});
defineFlags(Connection.prototype, {
  corked: 1 << 2,
  needDrain: 1 << 3,
  sendBacklog: 1 << 4,
  pongDeferred: 1 << 5,
  heard: 1 << 6,
  active: 1 << 7,
  awaitingPong: 1 << 8,
  streaming: 1 << 9,
  userPaused: 1 << 10,
  inflateBacklog: 1 << 11,
  readPaused: 1 << 12,
  iterating: 1 << 13,
  onHttp2Stream: 1 << 14,
});

// Socket listeners and timer callbacks, shared by every connection (`this` is the socket).
function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[kConnection].receiveData(chunk);
}

function onSocketEnd(this: OwnedSocket): void {
  this[kConnection].socketEnded();
}

function onSocketError(this: OwnedSocket, error: Error): void {
  this[kConnection].socketFailed(error);
}

function onSocketClose(this: OwnedSocket): void {
  this[kConnection].socketClosed();
}

function onSocketDrain(this: OwnedSocket): void {
  this[kConnection].checkDrain();
}

function uncorkConnection(conn: SomeConnection): void {
  conn.uncork();
}

/**
 * The close timeouts of one server's connections: every connection gets the same `closeTimeout`,
 * so one timer serves them all (see `DeadlineQueue`); the slot is kept in the connection's side
 * state, which a closing connection has anyway.
 */
export class CloseDeadlines extends DeadlineQueue<SomeConnection> {
  constructor(closeTimeout: number) {
    super(closeTimeout, closeTimerFired);
  }

  protected slotOf(conn: SomeConnection): number {
    return conn.closeSlot;
  }

  protected setSlot(conn: SomeConnection, slot: number): void {
    conn.closeSlot = slot;
  }
}

function closeTimerFired(conn: SomeConnection): void {
  setImmediate(closeTimedOutLater, conn);
}

function closeTimedOutLater(conn: SomeConnection): void {
  conn.closeTimedOut();
}
