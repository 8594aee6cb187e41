import { isUtf8 } from "node:buffer";
import { EventEmitter } from "node:events";
import { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import type { Duplex } from "node:stream";
import { isAnyArrayBuffer } from "node:util/types";
import {
  Protocol,
  WRITE_OVERHEAD,
  WriteBatch,
  encodeFrameInto,
  frameHeaderSize,
  type MessageCompression,
  type ProtocolHandler,
  type WebSocketError,
} from "@ws/codec";
import { takeDirectWrite } from "./direct-writes.js";
import { ClientError, ClientErrorCode } from "./errors.js";
import { openHandshake, type HandshakeResult } from "./handshake.js";
import { destroyTransport } from "./http2.js";
import { parseWebSocketUrl, resolveOptions, type ClientOptions, type ResolvedOptions } from "./options.js";

/** How a connection ended. */
export interface CloseInfo {
  /** The server's close code; 1005 when its close frame had none; 1006 when none arrived. */
  code: number;
  /** The server's close reason, or "". */
  reason: string;
  /**
   * Both close frames were exchanged and then TCP closed (WHATWG "closed cleanly"), and the server's
   * close did not arrive first while data accepted by `send` was still waiting to be sent: a server
   * that closed first need not read what follows its close frame (RFC 6455 §5.5.1).
   */
  wasClean: boolean;
  /** Why the connection failed, when it did: a `WebSocketError` (protocol) or a `ClientError`. */
  error?: Error;
}

/** A received message: text as a string, binary as a Buffer. */
export type Message = string | Buffer;

/** What `send` accepts. Strings go as text messages, bytes as binary ones unless `binary` says otherwise. */
export type SendData = string | ArrayBuffer | ArrayBufferView;

export interface MessageSendOptions {
  /** Send as a binary (true) or text (false) message. Default: text for strings, binary otherwise. */
  binary?: boolean;
  /** Compress this message (when permessage-deflate was negotiated). Default: when over the threshold. */
  compress?: boolean;
}

export interface ConnectionEvents {
  message: [data: Message, isBinary: boolean];
  ping: [payload: Buffer];
  pong: [payload: Buffer];
  /** `send` returned false earlier and the buffered amount is below `highWaterMark` again. */
  drain: [];
  /** Emitted only when a listener is attached; the same error is also in the `close` info. */
  error: [error: Error];
  close: [info: CloseInfo];
}

const EMPTY = new Uint8Array(0);

/** For `WebSocketStream` (not exported from the package): the server closed first with our data unsent. */
export const unsentAtServerClose = Symbol("unsentAtServerClose");
/** Messages queued for an async iterator before the socket is paused (receive backpressure). */
const ITERATOR_PAUSE_AT = 256;
const ITERATOR_RESUME_AT = 64;

/**
 * An open WebSocket connection, the Node API (`connect()` resolves to one). It is a thin shell over
 * the codec's `Protocol`: socket bytes go in, frames come out, and it adds timeouts, backpressure
 * and events.
 */
export class Connection extends EventEmitter<ConnectionEvents> implements AsyncIterable<Message> {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;

  /** The URL connected to (after redirects). */
  readonly url: string;
  /** The subprotocol the server chose, or "". */
  readonly protocol: string;
  /** The extensions the server accepted, as its `Sec-WebSocket-Extensions` header, or "". */
  readonly extensions: string;
  /** "1.1" after an HTTP/1.1 upgrade, "2.0" on an HTTP/2 stream (RFC 8441). */
  readonly httpVersion: "1.1" | "2.0";
  /** Resolves when the connection is closed; never rejects. */
  readonly closed: Promise<CloseInfo>;

  #readyState: number = Connection.OPEN;
  /** The TCP/TLS socket, or the HTTP/2 stream. */
  readonly #socket: Duplex & { setNoDelay?(noDelay?: boolean): unknown; setTimeout?(ms: number): unknown };
  readonly #protocol: Protocol;
  readonly #compression: MessageCompression | null;
  readonly #options: ResolvedOptions;
  #head: Buffer | null;
  #started = false;
  /** The server's FIN came before `start()`: acted on once the handshake's leftover bytes are parsed. */
  #endedBeforeStart = false;
  #inflateBacklog = false;
  #error: Error | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  #closeInfo: CloseInfo | undefined;
  /**
   * The server's close frame arrived first while data we had accepted was still waiting for the
   * network: RFC 6455 §5.5.1 does not promise that the server reads it, so the close is not clean.
   */
  #unsentAtServerClose = false;
  /** Our bytes still waiting (socket buffer, compression queue) when the latest read arrived. */
  #unsentBeforeRead = 0;
  #resolveClosed!: (info: CloseInfo) => void;
  #waitingDrain = false;
  #corked = false;
  /**
   * Whether frames may be written at once: on a plain TCP socket, which hands a write to the kernel
   * before it returns. On TLS each such write is a record of its own, encrypted and written alone:
   * with 100 connections × 16 messages of 32 B in flight, batching every frame of a tick gave
   * 524-569 K msg/s against 328-364 K with direct writes. An HTTP/2 stream's writes wait for its
   * session. On both, every frame of a tick is batched.
   */
  readonly #writesAtOnce: boolean;
  /** Small frames written this tick, copied into one socket write at uncork (SECURITY.md row 17). */
  #batch: WriteBatch | null = null;
  /** Socket writes not yet completed; each is charged `WRITE_OVERHEAD` in `bufferedAmount`. */
  #writesPending = 0;
  /** Reading stopped while messages waiting for compression reach `highWaterMark`. */
  #compressBacklog = false;
  /** An automatic pong waits for our buffer to drain (the codec answers the latest ping then). */
  #pongDeferred = false;
  #streaming = false;
  /** Heartbeat: some bytes arrived since the last ping. */
  #heard = false;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #heartbeatAwaiting = false;
  /** Reading paused by a consumer outside this class (`WebSocketStream`'s readable side). */
  #externalPause = false;
  readonly #iterators = new Set<MessageQueue>();

  /** @internal Created by `connect()` and the WebSocket class after a successful handshake. */
  constructor(handshake: HandshakeResult, options: ResolvedOptions) {
    super();
    this.url = handshake.url.href;
    this.protocol = handshake.protocol;
    this.extensions = handshake.extensions;
    this.httpVersion = handshake.httpVersion;
    this.#socket = handshake.socket;
    this.#writesAtOnce = handshake.socket instanceof Socket && !(handshake.socket instanceof TLSSocket);
    this.#head = handshake.head;
    this.#compression = handshake.compression;
    this.#options = options;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    const handler: ProtocolHandler = {
      write: (chunks) => this.#write(chunks),
      writeFrame: (opcode, payload, fin, rsv1, maskKey) => this.#writeFrame(opcode, payload, fin, rsv1, maskKey),
      onMessage: (data, isBinary) => this.#onMessage(data, isBinary),
      onPing: (payload) => this.emit("ping", toBuffer(payload)),
      onPong: (payload) => this.emit("pong", toBuffer(payload)),
      // A server that pings and never reads our pongs meets maxBufferedAmount like any send.
      admitPong: (size) => this.#checkBuffer(size + 6),
      // While our buffer is at highWaterMark, only the latest ping is answered, once it drains.
      pongBacklogged: () => {
        if (this.bufferedAmount < this.#options.highWaterMark) return false;
        this.#pongDeferred = true;
        return true;
      },
      // Input piling up behind an inflate pauses reading, as a slow async iterator does.
      onReceiveBacklog: (backlogged) => {
        this.#inflateBacklog = backlogged;
        this.#updateFlow();
      },
      onClose: () => this.#onCloseFrame(),
      onError: (error) => this.#onProtocolError(error),
      closeTransport: () => this.#closeTransport(),
    };
    this.#protocol = new Protocol(
      {
        role: "client",
        compression: handshake.compression,
        fastUtf8: isUtf8,
        maxPayload: options.maxPayload,
        maxFragments: options.maxFragments,
        maxBufferedChunks: options.maxBufferedChunks,
        autoPong: options.autoPong,
      },
      handler,
    );
    const socket = this.#socket;
    socket.on("error", (error) => this.#fail(connectionError(error)));
    socket.on("close", () => this.#onSocketClose());
    socket.on("end", () => this.#onSocketEnd());
    socket.on("drain", () => this.#maybeDrain());
    socket.setNoDelay?.(true);
    socket.setTimeout?.(0);
  }

  /** @internal Starts reading: the frames that came with the handshake response first. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const head = this.#head;
    this.#head = null;
    if (this.#readyState === Connection.CLOSED) return;
    if (head !== null && head.length > 0) this.#receive(head);
    this.#socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    this.#updateFlow();
    this.#scheduleHeartbeat(this.#options.pingInterval);
    if (this.#endedBeforeStart) this.#protocol.receiveEnd();
  }

  /** @internal Pauses (true) or resumes (false) reading from the socket, for a pulling consumer. */
  setReadPaused(paused: boolean): void {
    this.#externalPause = paused;
    this.#updateFlow();
  }

  #scheduleHeartbeat(delay: number): void {
    if (this.#options.pingInterval <= 0 || !Number.isFinite(this.#options.pingInterval)) return;
    if (this.#readyState === Connection.CLOSED) return;
    // Judged in the check phase, after the poll phase has read what already arrived.
    this.#heartbeatTimer = setTimeout(() => setImmediate(this.#onHeartbeat), delay);
    this.#heartbeatTimer.unref();
  }

  /**
   * The cycle: `pingInterval`, a ping, `pongTimeout` to hear back. As on the server, any byte
   * received after the ping counts as an answer (a server busy sending one large frame cannot slip
   * its pong in until that frame ends); while reading is paused on purpose, silence proves nothing.
   */
  readonly #onHeartbeat = (): void => {
    this.#heartbeatTimer = undefined;
    if (this.#readyState !== Connection.OPEN) return;
    if (this.#heartbeatAwaiting) {
      this.#heartbeatAwaiting = false;
      if (!this.#heard && !this.#socket.isPaused()) {
        this.#fail(
          new ClientError(
            ClientErrorCode.PongTimeout,
            `no answer from the server within pongTimeout (${this.#options.pongTimeout} ms) of a ping`,
          ),
        );
        destroyTransport(this.#socket);
        return;
      }
      this.#scheduleHeartbeat(this.#options.pingInterval);
      return;
    }
    this.#heard = false;
    this.#heartbeatAwaiting = true;
    this.#protocol.ping(EMPTY);
    this.#scheduleHeartbeat(this.#options.pongTimeout);
  };

  /** CONNECTING (0, never seen here), OPEN (1), CLOSING (2) or CLOSED (3), as in the WHATWG API. */
  get readyState(): number {
    return this.#readyState;
  }

  /**
   * Bytes accepted by `send` and not yet handed to the operating system, plus what the queued
   * entries cost beyond their bytes: `WRITE_OVERHEAD` (512) per socket write not yet completed and
   * `QUEUE_ENTRY_OVERHEAD` (256) per message waiting behind a compression job.
   */
  get bufferedAmount(): number {
    return (
      this.#socket.writableLength +
      this.#writesPending * WRITE_OVERHEAD +
      (this.#batch === null ? 0 : this.#batch.bytes) +
      this.#protocol.queuedBytes
    );
  }

  get [unsentAtServerClose](): boolean {
    return this.#unsentAtServerClose;
  }

  /** How the connection ended, once it has. */
  get closeInfo(): CloseInfo | undefined {
    return this.#closeInfo;
  }

  /**
   * Sends one message. Returns false when `highWaterMark` bytes or more now wait to be sent (wait
   * for `drain`), or when the connection is closing or closed (the message is dropped).
   */
  send(data: SendData, options?: MessageSendOptions): boolean {
    const bytes = toBytes(data);
    if (this.#readyState !== Connection.OPEN) return false;
    if (this.#streaming) throw new Error("a streamed message is being sent; wait for sendStream() to finish");
    if (!this.#checkBuffer(bytes.length)) return false;
    const isBinary = options?.binary ?? typeof data !== "string";
    const compress = options?.compress;
    if (!this.#protocol.send(bytes, isBinary, compress === undefined ? undefined : { compress })) return false;
    return this.#belowHighWaterMark();
  }

  /**
   * Sends one message made of the chunks of `source` as they come, one frame each (RFC 6455 §5.4):
   * for data whose size is not known up front. Waits for `drain` between chunks. Resolves false if
   * the connection closed before the last frame went out.
   */
  async sendStream(
    source: AsyncIterable<SendData> | Iterable<SendData>,
    options?: MessageSendOptions,
  ): Promise<boolean> {
    if (this.#streaming) throw new Error("a streamed message is already being sent");
    if (this.#readyState !== Connection.OPEN) return false;
    this.#streaming = true;
    const isBinary = options?.binary ?? true;
    const sendOptions = options?.compress === undefined ? undefined : { compress: options.compress };
    try {
      let previous: Uint8Array | null = null;
      for await (const chunk of source) {
        const bytes = toBytes(chunk);
        if (previous !== null) {
          if (!this.#checkBuffer(previous.length)) return false;
          if (!this.#protocol.sendFragment(previous, isBinary, false, sendOptions)) return false;
          if (!this.#belowHighWaterMark()) await this.drain();
          if (this.#readyState !== Connection.OPEN) return false;
        }
        previous = bytes;
      }
      const last = previous ?? EMPTY;
      if (!this.#checkBuffer(last.length)) return false;
      return this.#protocol.sendFragment(last, isBinary, true, sendOptions);
    } finally {
      this.#streaming = false;
    }
  }

  /** Sends a ping (at most 125 bytes). Returns false when closing or closed. */
  ping(data: SendData = EMPTY): boolean {
    if (this.#readyState !== Connection.OPEN) return false;
    return this.#protocol.ping(toBytes(data));
  }

  /** Sends an unsolicited pong (a heartbeat, RFC 6455 §5.5.3). Returns false when closing or closed. */
  pong(data: SendData = EMPTY): boolean {
    if (this.#readyState !== Connection.OPEN) return false;
    return this.#protocol.pong(toBytes(data));
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2) with an optional code (1000 or 3000-4999, or one
   * the codec allows) and reason (at most 123 UTF-8 bytes). The socket is destroyed if the server
   * does not finish the handshake within `closeTimeout`. Resolves like `closed`.
   */
  close(code?: number, reason?: string): Promise<CloseInfo> {
    if (this.#readyState === Connection.OPEN) {
      this.#protocol.close(code, reason);
      this.#readyState = Connection.CLOSING;
      this.#armCloseTimer();
    }
    return this.closed;
  }

  /** Destroys the socket at once, without a closing handshake (the close code is 1006). */
  terminate(): void {
    if (this.#readyState === Connection.CLOSED) return;
    this.#readyState = Connection.CLOSING;
    destroyTransport(this.#socket);
  }

  /** Resolves once fewer than `highWaterMark` bytes wait to be sent, or the connection closed. */
  drain(): Promise<void> {
    if (this.#readyState === Connection.CLOSED || this.#belowHighWaterMark()) return Promise.resolve();
    this.#waitingDrain = true;
    return new Promise((resolve) => {
      const done = (): void => {
        this.off("drain", done);
        this.off("close", done);
        resolve();
      };
      this.on("drain", done);
      this.on("close", done);
    });
  }

  /**
   * Iterates over the messages received from now on; ends when the connection closes, and throws the
   * error that failed it, if one did. The socket stops reading while many messages wait unconsumed.
   * Leaving the loop early does not close the connection.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    const queue = new MessageQueue(this.#closeInfo, () => this.#updateFlow(), () => this.#iterators.delete(queue));
    if (this.#closeInfo === undefined) this.#iterators.add(queue);
    return queue;
  }

  #belowHighWaterMark(): boolean {
    const below = this.bufferedAmount < this.#options.highWaterMark;
    if (!below) this.#waitingDrain = true;
    return below;
  }

  /** SECURITY.md row 15: past `maxBufferedAmount` the connection fails instead of growing memory. */
  #checkBuffer(length: number): boolean {
    if (this.bufferedAmount + length <= this.#options.maxBufferedAmount) return true;
    this.#fail(
      new ClientError(
        ClientErrorCode.BufferOverflow,
        `more than maxBufferedAmount (${this.#options.maxBufferedAmount}) bytes wait to be sent; the server is not reading`,
      ),
    );
    // RFC 6455 §7.1.7: fail with a close frame (1008), which jumps the messages still waiting for
    // compression; then the server has closeTimeout to finish the close before the socket goes.
    this.#protocol.abort(1008, "send buffer full");
    this.#armCloseTimer();
    return false;
  }

  #write(chunks: Uint8Array[]): void {
    if (!this.#socket.writable) return;
    if (this.#leavesAtOnce()) {
      if (chunks.length === 1) this.#writeToSocket(chunks[0]!);
      else {
        const socket = this.#socket;
        socket.cork();
        for (const chunk of chunks) this.#writeToSocket(chunk);
        socket.uncork();
      }
      return;
    }
    if (chunks.length === 1 && WriteBatch.accepts(chunks[0]!)) {
      // Small frames are copied into one write: each socket write costs far more than 6 bytes.
      const chunk = chunks[0]!;
      this.#batchWithRoomFor(chunk.length).add(chunk);
      return;
    }
    this.#flushBatch();
    for (const chunk of chunks) this.#writeToSocket(chunk);
  }

  /** A small frame, masked under `maskKey`: encoded straight into the tick's batch, or on its own. */
  #writeFrame(opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean, maskKey: Uint8Array | undefined): void {
    if (!this.#socket.writable) return;
    const size = frameHeaderSize(payload.length, maskKey !== undefined) + payload.length;
    if (this.#leavesAtOnce()) {
      const frame = new Uint8Array(size);
      encodeFrameInto(frame, 0, opcode, payload, fin, rsv1, maskKey);
      this.#writeToSocket(frame);
      return;
    }
    this.#batchWithRoomFor(size).addFrame(opcode, payload, fin, rsv1, maskKey);
  }

  /**
   * Whether the frame being written leaves at once; if not, the tick's writes are corked and it
   * joins the batch. While the socket keeps up, the first frames of a turn of the event loop leave
   * at once (header and payload in one writev; the budget is the process's, see
   * `takeDirectWrite`): the peer starts on them while we produce the next. Batching every frame of
   * a tick makes a lone client and its server take turns, each idle while the other works (a third
   * fewer 32 B round trips with 16 in flight, measured against a C echo server). Past those (a
   * burst, or other connections' frames), or behind a write the kernel did not take at once, the
   * rest of the tick's frames leave together in one writev: one system call per frame would cost
   * more.
   */
  #leavesAtOnce(): boolean {
    if (this.#corked) return false;
    const socket = this.#socket;
    if (this.#writesAtOnce && socket.writableLength === 0 && takeDirectWrite()) return true;
    this.#corked = true;
    socket.cork();
    process.nextTick(this.#uncork);
    return false;
  }

  /** The tick's batch, written out first if a small frame of `size` bytes would not fit. */
  #batchWithRoomFor(size: number): WriteBatch {
    const batch = (this.#batch ??= WriteBatch.obtain());
    if (batch.isFullFor(size)) this.#writeToSocket(batch.take()!);
    return batch;
  }

  #writeToSocket(chunk: Uint8Array): void {
    this.#writesPending++;
    this.#socket.write(chunk, this.#written);
  }

  /** A socket write completed (or failed with the socket). */
  readonly #written = (): void => {
    this.#writesPending--;
    this.#maybeDrain();
  };

  /** Hands the batched small frames to the socket, before anything that must follow them. */
  #flushBatch(): void {
    const batch = this.#batch;
    if (batch === null || batch.empty) return;
    if (!this.#socket.writable) batch.clear();
    else this.#writeToSocket(batch.take()!);
  }

  /** Ends the tick's batch of writes. */
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#flushBatch();
    // An idle connection holds no batch: the next tick that writes obtains one.
    if (this.#batch !== null) {
      this.#batch.release();
      this.#batch = null;
    }
    this.#socket.uncork();
  };

  #unsentBytes(): number {
    return this.#socket.writableLength + this.#protocol.queuedBytes;
  }

  #receive(chunk: Buffer): void {
    this.#heard = true;
    this.#unsentBeforeRead = this.#unsentBytes();
    this.#protocol.receive(chunk);
    // SECURITY.md row 18: messages queued behind a running deflate (an application answering
    // what it reads) stop the reading until compression catches up. Only compression: stopping
    // because the server does not read our frames could deadlock with a server that does the same.
    if (!this.#compressBacklog && this.#protocol.queuedBytes >= this.#options.highWaterMark) {
      this.#compressBacklog = true;
      this.#updateFlow();
    }
  }

  #maybeDrain(): void {
    if (!this.#waitingDrain && !this.#compressBacklog && !this.#pongDeferred) return;
    if (this.#readyState === Connection.CLOSED) return;
    if (this.#compressBacklog && this.#protocol.queuedBytes < this.#options.highWaterMark) {
      this.#compressBacklog = false;
      this.#updateFlow();
    }
    if (this.bufferedAmount >= this.#options.highWaterMark) return;
    if (this.#pongDeferred) {
      this.#pongDeferred = false;
      this.#protocol.flushPong();
    }
    if (!this.#waitingDrain) return;
    this.#waitingDrain = false;
    this.emit("drain");
  }

  #onMessage(data: Uint8Array, isBinary: boolean): void {
    const buffer = toBuffer(data);
    // The codec has checked the UTF-8 already.
    const message: Message = isBinary ? buffer : buffer.toString("utf8");
    this.emit("message", message, isBinary);
    for (const queue of this.#iterators) queue.push(message);
    if (this.#iterators.size > 0) this.#updateFlow();
  }

  /** Pauses reading while an iterator is behind or input waits behind an inflate; resumes after. */
  #updateFlow(): void {
    let longest = 0;
    for (const queue of this.#iterators) longest = Math.max(longest, queue.length);
    const socket = this.#socket;
    if (this.#externalPause || this.#inflateBacklog || this.#compressBacklog || longest >= ITERATOR_PAUSE_AT) {
      if (!socket.isPaused()) socket.pause();
    } else if (longest <= ITERATOR_RESUME_AT && socket.isPaused() && this.#started) socket.resume();
  }

  /** The server's close frame arrived and our echo is queued; the server now closes TCP. */
  #onCloseFrame(): void {
    if (this.#readyState === Connection.OPEN) {
      this.#readyState = Connection.CLOSING;
      // Data already waiting when this read arrived (the network would not take it) is what the
      // server may never read. What was sent in answer to the messages before the close frame, in
      // this same read, is not counted: it follows them as an echo would.
      this.#unsentAtServerClose = Math.min(this.#unsentBeforeRead, this.#unsentBytes()) > 0;
    }
    // RFC 6455 §7.1.1: the client waits for the server to close TCP, but not forever.
    this.#armCloseTimer();
  }

  #onProtocolError(error: WebSocketError): void {
    this.#fail(error);
  }

  #fail(error: Error): void {
    if (this.#error !== undefined || this.#readyState === Connection.CLOSED) return;
    this.#error = error;
    if (this.#readyState === Connection.OPEN) this.#readyState = Connection.CLOSING;
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }

  #closeTransport(): void {
    // Frames batched this tick go before our FIN.
    this.#flushBatch();
    if (!this.#socket.writableEnded) this.#socket.end();
    this.#armCloseTimer();
  }

  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#readyState === Connection.CLOSED) return;
    // Decided in the check phase, after the poll phase has read what already arrived: after an
    // event-loop stall the server's close may be sitting unread although the timer is due.
    this.#closeTimer = setTimeout(() => setImmediate(() => this.#onCloseTimeout()), this.#options.closeTimeout);
    this.#closeTimer.unref();
  }

  #onCloseTimeout(): void {
    if (this.#readyState === Connection.CLOSED) return;
    if (!this.#protocol.closeReceived) {
      this.#fail(
        new ClientError(
          ClientErrorCode.CloseTimeout,
          `the server did not answer the close frame within ${this.#options.closeTimeout} ms`,
        ),
      );
    }
    destroyTransport(this.#socket);
  }

  #onSocketEnd(): void {
    // The server closed its side: nothing more will arrive (RFC 6455 §7.1.1). What already arrived
    // is processed first (its close frame may wait behind an inflate); then the codec asks us to
    // end our side (`#closeTransport`). The frames that came with the handshake response go first.
    if (this.#started) this.#protocol.receiveEnd();
    else this.#endedBeforeStart = true;
  }

  #onSocketClose(): void {
    if (this.#closeInfo !== undefined) return;
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    if (this.#heartbeatTimer !== undefined) clearTimeout(this.#heartbeatTimer);
    this.#protocol.receiveEof();
    this.#compression?.close();
    this.#readyState = Connection.CLOSED;
    const protocol = this.#protocol;
    const received = protocol.closeReceived;
    const info: CloseInfo = {
      code: received ? protocol.closeCode : 1006,
      reason: received ? protocol.closeReason : "",
      wasClean: received && protocol.closeSent && this.#error === undefined && !this.#unsentAtServerClose,
    };
    if (this.#error !== undefined) info.error = this.#error;
    this.#closeInfo = info;
    for (const queue of this.#iterators) queue.end(info);
    this.#iterators.clear();
    this.emit("close", info);
    this.#resolveClosed(info);
  }
}

/** Opens a WebSocket connection; resolves once the opening handshake succeeded. */
export async function connect(url: string | URL, options?: ClientOptions): Promise<Connection> {
  const target = parseWebSocketUrl(url);
  const resolved = resolveOptions(options);
  const handshake = await openHandshake(target, resolved).promise;
  const connection = new Connection(handshake, resolved);
  // Reading starts after the caller's `await` has resumed, so listeners attached right after it
  // see the first message.
  setImmediate(() => connection.start());
  return connection;
}

function connectionError(error: Error): ClientError {
  return new ClientError(ClientErrorCode.ConnectionFailed, `connection error: ${error.message}`, { cause: error });
}

export function toBytes(data: SendData): Uint8Array {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (isAnyArrayBuffer(data)) return new Uint8Array(data);
  throw new TypeError("data must be a string, an ArrayBuffer or an ArrayBufferView");
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** The buffer behind one async iterator over a connection's messages. */
class MessageQueue implements AsyncIterableIterator<Message> {
  readonly #items: Message[] = [];
  #head = 0;
  #waiting: { resolve: (result: IteratorResult<Message>) => void; reject: (error: Error) => void } | null = null;
  #ended: CloseInfo | undefined;
  #detached = false;
  readonly #onProgress: () => void;
  readonly #onDetach: () => void;

  constructor(ended: CloseInfo | undefined, onProgress: () => void, onDetach: () => void) {
    this.#ended = ended;
    this.#onProgress = onProgress;
    this.#onDetach = onDetach;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(message: Message): void {
    if (this.#detached) return;
    const waiting = this.#waiting;
    if (waiting !== null) {
      this.#waiting = null;
      waiting.resolve({ value: message, done: false });
      return;
    }
    this.#items.push(message);
  }

  end(info: CloseInfo): void {
    this.#ended = info;
    const waiting = this.#waiting;
    if (waiting === null) return;
    this.#waiting = null;
    if (info.error !== undefined) waiting.reject(info.error);
    else waiting.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<Message>> {
    if (this.length > 0) {
      const value = this.#items[this.#head]!;
      this.#items[this.#head++] = "";
      if (this.#head === this.#items.length) {
        this.#items.length = 0;
        this.#head = 0;
      }
      this.#onProgress();
      return Promise.resolve({ value, done: false });
    }
    const ended = this.#ended;
    if (ended !== undefined || this.#detached) {
      if (ended?.error !== undefined && !this.#detached) {
        this.#detached = true;
        return Promise.reject(ended.error);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<Message>> {
    this.#detached = true;
    this.#items.length = 0;
    this.#head = 0;
    this.#onDetach();
    this.#onProgress();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Message> {
    return this;
  }
}
