import { concatChunks } from "./chunk-list.js";
import { encodeClosePayload } from "./close.js";
import { ErrorCode, WebSocketError } from "./errors.js";
import type { MessageCompression } from "./extension.js";
import { defineFlags } from "./flags.js";
import { encodeFrame } from "./frame-writer.js";
import type { ReceiveLimits } from "./limits.js";
import { defaultMaskKeyPool, type MaskKeyPool } from "./mask-key.js";
import { Opcode } from "./opcode.js";
import { Receiver } from "./receiver.js";
import { WriteBatch } from "./write-batch.js";

/** What the protocol core asks of its I/O shell, and what it reports. */
export interface ProtocolHandler {
  /** Bytes to send, in order. The shell writes the chunks of one call together (one corked write). */
  write(chunks: Uint8Array[]): void;
  /**
   * Optional: a small frame to send (payload within `WriteBatch.acceptsFrame`), in order with
   * `write`, for the shell to encode itself, typically straight into its write batch
   * (`WriteBatch.addFrame`, or `encodeFrameInto`). `maskKey` is the client's fresh key for this
   * frame, undefined on a server. `payload` may change once the call returns. Without this method,
   * every frame comes encoded through `write`.
   */
  writeFrame?(opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean, maskKey: Uint8Array | undefined): void;
  onMessage(data: Uint8Array, isBinary: boolean): void;
  /** The peer's ping arrived (its automatic answer, if any, is queued already). */
  onPing?(payload: Uint8Array): void;
  onPong?(payload: Uint8Array): void;
  /**
   * A ping or pong of ours was queued to send: one asked for (`ping`, `pong`) or an automatic
   * answer to the peer's ping, sent at once or once the buffer drained (`flushPong`). For the
   * shell's diagnostics; `payload` is valid during the call only.
   */
  onPingSent?(payload: Uint8Array): void;
  onPongSent?(payload: Uint8Array): void;
  /**
   * Asked before an automatic pong of `size` payload bytes is queued; false withholds it. A peer
   * that pings and never reads the pongs must meet the same send-buffer limit as any sender, so the
   * shell applies its limit here (and may fail the connection).
   */
  admitPong?(size: number): boolean;
  /**
   * Whether what we send cannot leave now (the shell's buffered amount is at its high-water mark).
   * An automatic pong then waits, and only the most recent ping is answered (RFC 6455 §5.5.3), when
   * the shell calls `flushPong` once its buffer drained: a peer that pings and never reads costs
   * one pending pong, not one queued frame per ping.
   */
  pongBacklogged?(): boolean;
  /**
   * Received input piles up behind an inflate: stop reading the transport until called with
   * false. A peer that sends compressed messages faster than they inflate is otherwise buffered
   * without a byte limit.
   */
  onReceiveBacklog?(backlogged: boolean): void;
  /** The peer's close frame arrived (`code` 1005 when it had none); the echo is already queued. */
  onClose(code: number, reason: string): void;
  /**
   * The peer broke the protocol or a limit (or, with `DeflateFailed`, our own compressor failed);
   * a close frame with `error.closeCode` is queued.
   */
  onError(error: WebSocketError): void;
  /**
   * Close the TCP connection now, after the bytes already written: the server does this once the
   * close handshake is complete (RFC 6455 §7.1.1), either side when it fails the connection or
   * when the peer's FIN has come and all input before it is processed (`receiveEnd`). Called once.
   */
  closeTransport(): void;
}

export interface ProtocolOptions extends ReceiveLimits {
  role: "server" | "client";
  /** The negotiated permessage-deflate, if any. */
  compression?: MessageCompression | null;
  /** An optional native whole-buffer UTF-8 check (Node's `buffer.isUtf8`). */
  fastUtf8?: (bytes: Uint8Array) => boolean;
  /** Where client mask keys come from (RFC 6455 §5.3). */
  maskKeys?: MaskKeyPool;
  /** Answer pings with pongs automatically (RFC 6455 §5.5.2). Default true. */
  autoPong?: boolean;
}

export type ProtocolState = "open" | "closing" | "closed";

export interface SendOptions {
  /** Compress this message when permessage-deflate is negotiated. Default: when at least the threshold. */
  compress?: boolean;
}

/** Bytes waiting behind a compression job, so that messages leave in the order they were sent. */
type QueuedAction = { bytes: number; run: () => void };

/**
 * Bytes charged in `queuedBytes` for each action waiting behind a compression job, and for the job
 * in flight, on top of its payload: its closure, queue slot and the message's own object cost
 * about this much however short the message (SECURITY.md row 18). Empty messages queued behind a
 * running deflate therefore meet the shell's high-water mark and `maxBufferedAmount` too.
 */
export const QUEUE_ENTRY_OVERHEAD = 256;

/**
 * The RFC 6455 connection state machine shared by server and client: feed it bytes with
 * `receive`, tell it what to send, and it calls the handler with events and bytes to write. It
 * answers pings, echoes the close frame, fails the connection on protocol errors, and knows which
 * side closes TCP.
 */
export class Protocol {
  // The public state below is kept in `flags` and `side` (see the accessors after the class): an
  // idle connection's protocol is then 9 fields, not 23.
  /** "open", then "closing" once one close frame went either way, "closed" once both did. */
  declare state: ProtocolState;
  /** Our close frame has been queued. */
  declare closeSent: boolean;
  /** The peer's close frame has arrived. */
  declare closeReceived: boolean;
  /** The peer's close code and reason, once its close frame arrived (1005 and "" before). */
  declare closeCode: number;
  declare closeReason: string;

  private readonly handler: ProtocolHandler;
  private readonly receiver: Receiver;
  private readonly compression: MessageCompression | null;
  private readonly maskKeys: MaskKeyPool;
  /** `state`, `fragmentOpcode` and the booleans declared below (accessors after the class). */
  private flags = 0;
  /** What only some connections need (see `ProtocolSide`); created on first use. */
  private side: ProtocolSide | null = null;
  declare private readonly isClient: boolean;
  declare private readonly autoPong: boolean;
  /** Opcode of a message being sent in fragments, or 0. */
  declare private fragmentOpcode: number;
  declare private fragmentCompressed: boolean;
  /** A compression job is in flight: what is sent meanwhile waits in `ProtocolSide.queue`. */
  declare private compressing: boolean;
  /** `closeTransport` has been asked for (or is queued). */
  declare private transportEnding: boolean;

  constructor(options: ProtocolOptions, handler: ProtocolHandler) {
    this.handler = handler;
    this.isClient = options.role === "client";
    this.compression = options.compression ?? null;
    this.maskKeys = options.maskKeys ?? defaultMaskKeyPool;
    this.autoPong = options.autoPong ?? true;
    // The protocol is the receiver's handler itself: no adapter object per connection.
    this.receiver = new Receiver(options, this);
  }

  private sideState(): ProtocolSide {
    return (this.side ??= new ProtocolSide());
  }

  /**
   * Bytes accepted by `send` but not yet handed to `write`: those being compressed and those
   * queued behind them, each counted with `QUEUE_ENTRY_OVERHEAD`. Part of the shell's
   * `bufferedAmount`.
   */
  get queuedBytes(): number {
    const side = this.side;
    return side === null ? 0 : side.bytesInQueue + side.bytesCompressing;
  }

  /** Feeds bytes read from the transport. They may be unmasked in place. */
  receive(chunk: Uint8Array): void {
    this.receiver.push(chunk);
  }

  /**
   * The peer ended its side of the transport (TCP FIN): nothing more will arrive. Input already
   * received is still processed first (it may wait behind an inflate: a compressed message and
   * then the close frame); then `closeTransport` is called, after everything queued to send.
   */
  receiveEnd(): void {
    if (this.receiver.end()) this.onEnd();
  }

  /** The transport closed (or failed): nothing more will arrive, and nothing waiting is processed. */
  receiveEof(): void {
    this.receiver.stop();
    this.state = "closed";
  }

  /** @internal The receiver parsed all input after the peer's FIN (`ReceiverHandler.onEnd`). */
  onEnd(): void {
    this.state = "closed";
    this.endTransport();
  }

  /**
   * Sends a whole message. Returns false, sending nothing, once our close frame is queued (RFC
   * 6455 §5.5.1: no data frames after a close frame).
   */
  send(data: Uint8Array, isBinary: boolean, options?: SendOptions): boolean {
    if (this.closeSent) return false;
    if (this.fragmentOpcode !== 0) throw new Error("a fragmented message is being sent; finish it first");
    const compress = this.shouldCompress(data.length, options);
    this.sendData(isBinary ? Opcode.Binary : Opcode.Text, data, true, compress);
    return true;
  }

  /**
   * Sends one fragment of a message whose total size is not known up front (RFC 6455 §5.4).
   * `fin` marks the last fragment. With compression the whole message is compressed as one stream.
   */
  sendFragment(data: Uint8Array, isBinary: boolean, fin: boolean, options?: SendOptions): boolean {
    if (this.closeSent) return false;
    let opcode: number;
    if (this.fragmentOpcode === 0) {
      opcode = isBinary ? Opcode.Binary : Opcode.Text;
      this.fragmentOpcode = opcode;
      this.fragmentCompressed = this.compression !== null && (options?.compress ?? true);
      this.sendData(opcode, data, fin, this.fragmentCompressed, true);
    } else {
      opcode = Opcode.Continuation;
      this.sendData(opcode, data, fin, this.fragmentCompressed, false);
    }
    if (fin) this.fragmentOpcode = 0;
    return true;
  }

  /**
   * Queues a frame encoded elsewhere, e.g. one frame shared by a broadcast to many connections.
   * It goes out in order behind any compression job in flight. `payloadLength` counts towards
   * `queuedBytes` meanwhile. Only unmasked (server) frames can be shared: each client frame needs
   * its own mask key (RFC 6455 §5.3). The caller owns the frame's correctness (RSV1 only for a
   * message compressed for this connection's negotiated parameters).
   */
  sendFrame(chunks: Uint8Array[], payloadLength: number): boolean {
    if (this.isClient) throw new Error("client frames are masked per frame and cannot be shared");
    if (this.closeSent) return false;
    if (this.fragmentOpcode !== 0) throw new Error("a fragmented message is being sent; finish it first");
    // Written at once when nothing waits for compression: no closure per frame (a topic's fan-out
    // sends one frame to each of its subscribers).
    if (this.writable) this.handler.write(chunks);
    else this.enqueue(payloadLength, () => this.handler.write(chunks));
    return true;
  }

  /** Sends a ping (payload at most 125 bytes). Returns false once our close frame is queued. */
  ping(payload: Uint8Array = EMPTY): boolean {
    return this.sendControlChecked(Opcode.Ping, payload);
  }

  /** Sends an unsolicited pong, e.g. as a heartbeat (RFC 6455 §5.5.3). */
  pong(payload: Uint8Array = EMPTY): boolean {
    return this.sendControlChecked(Opcode.Pong, payload);
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2). Throws RangeError/TypeError for a code or
   * reason that may not be sent. Messages sent before it still go out first. Does nothing when
   * our close frame is already queued.
   */
  close(code?: number, reason?: string | Uint8Array): void {
    if (this.closeSent) return;
    this.sendClose(encodeClosePayload(code, reason));
  }

  /**
   * Fails the connection from our side, e.g. when the send buffer overflowed: like `close`, but
   * the messages still waiting behind a compression job are dropped, so that the close frame is
   * written as soon as the job in flight (if any) is done instead of behind everything queued,
   * where the close timer could cut it off first.
   */
  abort(code: number, reason?: string): void {
    if (this.closeSent) return;
    const payload = encodeClosePayload(code, reason);
    const side = this.side;
    if (side !== null && side.queue !== null) {
      side.queue.length = 0;
      side.queueHead = 0;
      side.bytesInQueue = 0;
    }
    this.fragmentOpcode = 0;
    this.sendClose(payload);
  }

  /** Queues our close frame; a pong still waiting for the buffer is then never sent (`flushPong`). */
  private sendClose(payload: Uint8Array): void {
    this.closeSent = true;
    this.state = this.closeReceived ? "closed" : "closing";
    this.sendControl(Opcode.Close, payload);
  }

  /** @internal The peer's close frame (`ReceiverHandler.onClose`). */
  onClose(code: number, reason: string): void {
    this.closeReceived = true;
    const side = this.sideState();
    side.closeCode = code;
    side.closeReason = reason;
    if (!this.closeSent) {
      // RFC 6455 §5.5.1: echo the status code received (none when none came).
      this.closeSent = true;
      this.sendControl(Opcode.Close, code === 1005 ? EMPTY : code === 1000 ? NORMAL_CLOSE : encodeClosePayload(code));
    }
    this.state = "closed";
    this.handler.onClose(code, reason);
    // RFC 6455 §7.1.1: the server closes TCP first; the client waits for it.
    if (!this.isClient) this.endTransport();
  }

  /** @internal The peer broke the protocol (`ReceiverHandler.onError`). */
  onError(error: WebSocketError): void {
    // RFC 6455 §7.1.7: send a close frame with the matching code, then close the connection.
    if (!this.closeSent) {
      this.closeSent = true;
      this.sendControl(Opcode.Close, encodeClosePayload(error.closeCode));
    }
    this.state = "closed";
    this.handler.onError(error);
    this.endTransport();
  }

  /** Asks the shell to close the transport once, after everything queued before this. */
  private endTransport(): void {
    if (this.transportEnding) return;
    this.transportEnding = true;
    this.enqueue(0, () => this.handler.closeTransport());
  }

  private shouldCompress(length: number, options: SendOptions | undefined): boolean {
    const compression = this.compression;
    if (compression === null) return false;
    return options?.compress ?? length >= compression.threshold;
  }

  private sendControlChecked(opcode: number, payload: Uint8Array): boolean {
    if (payload.length > 125) throw new RangeError("control frame payload must be at most 125 bytes");
    if (this.closeSent) return false;
    this.sendControl(opcode, payload);
    return true;
  }

  /** @internal Answers only the latest of the pings that arrive while the shell's buffer is full. */
  deferPong(payload: Uint8Array): void {
    // A copy: the payload may be a view of a receive buffer that is reused.
    this.sideState().pendingPong = payload.slice();
  }

  /**
   * The shell's buffer drained under its high-water mark: sends the pong that waited for it, if
   * one did (see `ProtocolHandler.pongBacklogged`).
   */
  flushPong(): void {
    const side = this.side;
    const payload = side === null ? null : side.pendingPong;
    if (payload === null) return;
    side!.pendingPong = null;
    if (!this.closeSent) this.sendControl(Opcode.Pong, payload);
  }

  /**
   * @internal Queues a control frame (the receiver's automatic pong comes through here, and tells
   * the handler itself: `notify` false).
   */
  sendControl(opcode: number, payload: Uint8Array, notify = true): void {
    if (notify) {
      if (opcode === Opcode.Pong) this.handler.onPongSent?.(payload);
      else if (opcode === Opcode.Ping) this.handler.onPingSent?.(payload);
    }
    if (this.writable) this.writeFrame(opcode, payload, true, false);
    else this.enqueue(payload.length, () => this.writeFrame(opcode, payload, true, false));
  }

  /** Nothing waits for compression: a frame may be written at once (no closure, no queue entry). */
  private get writable(): boolean {
    if (this.compressing) return false;
    const side = this.side;
    return side === null || side.queue === null || side.queueHead === side.queue.length;
  }

  private sendData(opcode: number, data: Uint8Array, fin: boolean, compress: boolean, first = true): void {
    if (!compress) {
      if (this.writable) this.writeFrame(opcode, data, fin, false);
      else this.enqueue(data.length, () => this.writeFrame(opcode, data, fin, false));
      return;
    }
    this.enqueue(data.length, () => {
      this.compressing = true;
      const side = this.sideState();
      side.bytesCompressing = data.length + QUEUE_ENTRY_OVERHEAD;
      this.compression!.compress(data, fin, (error, chunks) => {
        this.compressing = false;
        side.bytesCompressing = 0;
        if (error) {
          // Our own compressor failed: nothing the peer did, so fail with 1011 (internal error).
          this.writeFrame(Opcode.Close, encodeClosePayload(1011), true, false);
          this.closeSent = true;
          this.state = "closed";
          this.handler.onError(
            new WebSocketError(ErrorCode.DeflateFailed, 1011, `compressing a message failed: ${error.message}`),
          );
          this.transportEnding = true;
          this.handler.closeTransport();
          return;
        }
        // RFC 7692 §6.1: RSV1 marks the first frame of a compressed message only.
        this.writeFrame(opcode, concatChunks(chunks), fin, first);
        this.drain();
      });
    });
  }

  /** Runs `run` now, or after the compression jobs ahead of it, keeping the order of sends. */
  private enqueue(bytes: number, run: () => void): void {
    if (this.writable) {
      run();
      return;
    }
    bytes += QUEUE_ENTRY_OVERHEAD;
    const side = this.sideState();
    side.bytesInQueue += bytes;
    (side.queue ??= []).push({ bytes, run });
  }

  private drain(): void {
    const side = this.side;
    const queue = side === null ? null : side.queue;
    if (queue === null) return;
    while (!this.compressing && side!.queueHead < queue.length) {
      const action = queue[side!.queueHead]!;
      queue[side!.queueHead++] = undefined as unknown as QueuedAction;
      side!.bytesInQueue -= action.bytes;
      action.run();
    }
    if (side!.queueHead === queue.length) {
      queue.length = 0;
      side!.queueHead = 0;
    } else if (side!.queueHead >= 1024 && side!.queueHead * 2 >= queue.length) {
      // A queue that never empties (every message behind a compression job) would otherwise keep
      // one dead slot per message ever sent: drop the ones already run.
      queue.splice(0, side!.queueHead);
      side!.queueHead = 0;
    }
  }

  private writeFrame(opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean): void {
    const handler = this.handler;
    if (handler.writeFrame !== undefined && WriteBatch.acceptsFrame(payload.length)) {
      handler.writeFrame(opcode, payload, fin, rsv1, this.isClient ? this.maskKeys.next() : undefined);
      return;
    }
    handler.write(encodeFrame(opcode, payload, { fin, rsv1, mask: this.isClient, maskKeys: this.maskKeys }));
  }

  /** @internal Whether pings are answered automatically. */
  get answersPings(): boolean {
    return this.autoPong && !this.closeSent;
  }

  // The rest of `ReceiverHandler`: what the receiver parsed, on its way to the shell.

  /** @internal */
  onMessage(data: Uint8Array, isBinary: boolean): void {
    this.handler.onMessage(data, isBinary);
  }

  /** @internal The peer's ping: answered (RFC 6455 §5.5.2), or deferred while the shell's buffer is full. */
  onPing(payload: Uint8Array): void {
    const handler = this.handler;
    let answered = false;
    if (this.answersPings) {
      if (handler.pongBacklogged?.() === true) this.deferPong(payload);
      else if (handler.admitPong?.(payload.length) !== false) {
        this.sendControl(Opcode.Pong, payload, false);
        answered = true;
      }
    }
    handler.onPing?.(payload);
    // Told after the ping, so that the shell reports them in the order of the frames.
    if (answered) handler.onPongSent?.(payload);
  }

  /** @internal */
  onPong(payload: Uint8Array): void {
    this.handler.onPong?.(payload);
  }

  /** @internal */
  onReceiveBacklog(backlogged: boolean): void {
    this.handler.onReceiveBacklog?.(backlogged);
  }
}


/**
 * What only some connections need, kept out of the protocol until first used: the queue behind a
 * compression job, a pong waiting for the shell's buffer, the peer's close code and reason.
 */
class ProtocolSide {
  /** Actions waiting behind a compression job, in order. */
  queue: QueuedAction[] | null = null;
  queueHead = 0;
  bytesInQueue = 0;
  bytesCompressing = 0;
  /** Payload of the latest ping whose pong waits for the shell's buffer to drain, or null. */
  pendingPong: Uint8Array | null = null;
  closeCode = 1005;
  closeReason = "";
}

/** `Protocol.flags`: the state in the low two bits, `fragmentOpcode` in the next four, then the booleans. */
const STATES: readonly ProtocolState[] = ["open", "closing", "closed"];
const STATE_MASK = 0b11;
const FRAGMENT_OPCODE_SHIFT = 2;
const FRAGMENT_OPCODE_MASK = 0b1111 << FRAGMENT_OPCODE_SHIFT;

defineFlags(Protocol.prototype, {
  closeSent: 1 << 6,
  closeReceived: 1 << 7,
  isClient: 1 << 8,
  autoPong: 1 << 9,
  fragmentCompressed: 1 << 10,
  compressing: 1 << 11,
  transportEnding: 1 << 12,
});

type ProtocolFields = { flags: number; side: ProtocolSide | null };

Object.defineProperties(Protocol.prototype, {
  state: {
    get(this: ProtocolFields): ProtocolState {
      return STATES[this.flags & STATE_MASK]!;
    },
    set(this: ProtocolFields, state: ProtocolState): void {
      this.flags = (this.flags & ~STATE_MASK) | STATES.indexOf(state);
    },
    configurable: true,
  },
  fragmentOpcode: {
    get(this: ProtocolFields): number {
      return (this.flags & FRAGMENT_OPCODE_MASK) >> FRAGMENT_OPCODE_SHIFT;
    },
    set(this: ProtocolFields, opcode: number): void {
      this.flags = (this.flags & ~FRAGMENT_OPCODE_MASK) | (opcode << FRAGMENT_OPCODE_SHIFT);
    },
    configurable: true,
  },
  closeCode: {
    get(this: ProtocolFields): number {
      return this.side === null ? 1005 : this.side.closeCode;
    },
    set(this: ProtocolFields, code: number): void {
      (this.side ??= new ProtocolSide()).closeCode = code;
    },
    configurable: true,
  },
  closeReason: {
    get(this: ProtocolFields): string {
      return this.side === null ? "" : this.side.closeReason;
    },
    set(this: ProtocolFields, reason: string): void {
      (this.side ??= new ProtocolSide()).closeReason = reason;
    },
    configurable: true,
  },
});

const EMPTY = new Uint8Array(0);
/**
 * The payload of the close most peers send and get echoed, built once: frames copy their payload
 * (and mask the copy), so it is never written to.
 */
const NORMAL_CLOSE = encodeClosePayload(1000);
