import { ChunkList } from "./chunk-list.js";
import { decodeClosePayload } from "./close.js";
import { ErrorCode, WebSocketError } from "./errors.js";
import { defineFlags } from "./flags.js";
import type { MessageCompression } from "./extension.js";
import { maxCompressedLength, resolveLimits, type ReceiveLimits } from "./limits.js";
import { applyMask, unmask } from "./mask.js";
import { Opcode, isControlOpcode, isKnownOpcode } from "./opcode.js";
import { Utf8Validator } from "./utf8.js";

/** What the receiver reports, in the order the peer sent it. */
export interface ReceiverHandler {
  onMessage(data: Uint8Array, isBinary: boolean): void;
  onPing(payload: Uint8Array): void;
  onPong(payload: Uint8Array): void;
  /** A close frame arrived; `code` is 1005 when it carried none. Nothing after it is parsed. */
  onClose(code: number, reason: string): void;
  /** The peer broke the protocol or a limit; nothing after it is parsed. */
  onError(error: WebSocketError): void;
  /**
   * Input piles up behind an inflate (`INFLATE_BACKLOG_LIMIT` bytes held): stop reading the
   * transport until called again with false. Without it, a peer that sends compressed messages
   * faster than they inflate is buffered up to `maxBufferedChunks` whole reads.
   */
  onReceiveBacklog?(backlogged: boolean): void;
  /**
   * The input ended (`end()`) while some of it still waited behind an inflate; all of it has now
   * been parsed, and the receiver is stopped.
   */
  onEnd?(): void;
}

/** Bytes of input held behind an inflate before the receiver asks for reading to pause. */
export const INFLATE_BACKLOG_LIMIT = 16 * 1024;

export interface ReceiverOptions extends ReceiveLimits {
  /** A server requires masked frames, a client rejects them (RFC 6455 §5.1). */
  role: "server" | "client";
  /** The negotiated permessage-deflate, which alone may set RSV1 (RFC 7692 §6). */
  compression?: MessageCompression | null;
  /** An optional native whole-buffer UTF-8 check (Node's `buffer.isUtf8`) used on long runs. */
  fastUtf8?: (bytes: Uint8Array) => boolean;
}

// Parser states. Plain numbers keep the hot loop's comparisons cheap.
const READING_HEADER = 0;
const READING_PAYLOAD = 1;
const INFLATING = 2;
const STOPPED = 3;

const EMPTY = new Uint8Array(0);

/**
 * From this size the last piece of a message that spans reads is unmasked straight into the
 * message's buffer (see `deliverLastPiece`); below it the saved pass is worth less than the call.
 */
const UNMASK_INTO_MIN = 1024;

/**
 * The masking key as the 4 bytes `unmask` takes, in one buffer shared by every receiver: `unmask`
 * is done with it before anything else can write it again.
 */
const MASK_BYTES = new Uint8Array(4);

function maskBytes(key: number): Uint8Array {
  MASK_BYTES[0] = key >>> 24;
  MASK_BYTES[1] = key >>> 16;
  MASK_BYTES[2] = key >>> 8;
  MASK_BYTES[3] = key;
  return MASK_BYTES;
}

/** Bytes in a frame header, given its second byte (RFC 6455 §5.2). */
function headerSize(secondByte: number): number {
  const length7 = secondByte & 0x7f;
  return 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + (secondByte & 0x80 ? 4 : 0);
}

/**
 * The incremental receive side of RFC 6455: parses frames from chunks split at any byte, validates
 * them, reassembles fragmented messages with control frames interleaved, checks UTF-8 as bytes
 * arrive (failing fast, even mid-frame), inflates compressed messages, and enforces the limits
 * before buffering.
 */
export class Receiver {
  private readonly handler: ReceiverHandler;
  /** Role and limits, shared by the receivers that have the same (see `sharedConfig`). */
  private readonly config: ReceiverConfig;
  private readonly compression: MessageCompression | null;
  private state = READING_HEADER;
  /**
   * The booleans declared below and `headerLength`, packed (accessors after the class): one
   * field, not seven.
   */
  private flags = 0;

  // The header being read when it spans chunks; allocated on first need, as are the buffers
  // below, so that an idle connection holds as little as possible.
  private headerBytes: Uint8Array | null = null;
  /** Bytes of `headerBytes` filled so far (0 to 13). */
  declare private headerLength: number;

  // The frame being read.
  declare private fin: boolean;
  private opcode = 0;
  declare private masked: boolean;
  /**
   * The frame's masking key, its 4 bytes big-endian in one int32 (an object field, not an array),
   * rotated as the frame's payload arrives so that its first byte masks the next payload byte.
   */
  private maskKey = 0;
  /** Payload bytes of the frame still to come. */
  private remaining = 0;
  /** Some of the frame's payload arrived in an earlier chunk. */
  declare private payloadStarted: boolean;

  // The message being assembled.
  private messageOpcode = 0;
  declare private messageCompressed: boolean;
  private fragments = 0;
  private messageLength = 0;
  // Created on first use (see the getters below): an idle connection holds none of them.
  private messageParts: ChunkList | null = null;
  /** A control frame's payload, or a compressed frame's payload before it is inflated. */
  private framePayloadParts: ChunkList | null = null;
  private utf8Validator: Utf8Validator | null = null;

  /** Input that arrived while a frame was being inflated. */
  private pending: PendingInput | null = null;
  /** Whether the handler was asked to stop reading (see `onReceiveBacklog`). */
  declare private backlogged: boolean;
  /** The input ended while some of it waited behind an inflate (see `end`). */
  declare private ending: boolean;

  constructor(options: ReceiverOptions, handler: ReceiverHandler) {
    this.handler = handler;
    this.config = sharedConfig(options);
    this.compression = options.compression ?? null;
  }

  private get isServer(): boolean {
    return this.config.isServer;
  }

  private get maxPayload(): number {
    return this.config.maxPayload;
  }

  private get maxFragments(): number {
    return this.config.maxFragments;
  }

  private get maxBufferedChunks(): number {
    return this.config.maxBufferedChunks;
  }

  private get message(): ChunkList {
    return (this.messageParts ??= new ChunkList());
  }

  private get framePayload(): ChunkList {
    return (this.framePayloadParts ??= new ChunkList());
  }

  private get utf8(): Utf8Validator {
    return (this.utf8Validator ??= new Utf8Validator(this.config.fastUtf8));
  }

  /** True once a close frame or an error ended parsing. */
  get stopped(): boolean {
    return this.state === STOPPED;
  }

  /** Feeds received bytes. The receiver may unmask them in place. */
  push(chunk: Uint8Array): void {
    if (this.state === STOPPED || chunk.length === 0) return;
    if (this.state === INFLATING) {
      const pending = (this.pending ??= new PendingInput());
      pending.chunks.push(chunk);
      if (pending.chunks.length > this.maxBufferedChunks) {
        this.fail(ErrorCode.TooManyBufferedChunks, 1008, "too many chunks buffered while inflating");
        return;
      }
      this.holdPending(chunk.length);
      return;
    }
    this.process(chunk);
  }

  /**
   * The input ended (the peer's TCP FIN): nothing more will arrive. What already arrived is still
   * parsed, in order: input waiting behind an inflate may hold more messages and the close frame.
   * Returns true when the receiver is done and stopped; false when input still waits, and then
   * `onEnd` is called once it has all been parsed.
   */
  end(): boolean {
    if (this.state !== INFLATING) {
      this.stop();
      return true;
    }
    this.ending = true;
    return false;
  }

  /** Stops parsing for good and drops what is buffered. */
  stop(): void {
    this.state = STOPPED;
    this.pending = null;
    this.messageParts?.clear();
    this.framePayloadParts?.clear();
    // Reading goes on after a close frame or an error, so that the peer's close or EOF is seen.
    this.releaseBacklog();
  }

  private process(chunk: Uint8Array): void {
    let offset = 0;
    const length = chunk.length;
    while (offset < length) {
      if (this.state === READING_HEADER) offset = this.readHeader(chunk, offset);
      else if (this.state === READING_PAYLOAD) offset = this.readPayload(chunk, offset);
      else {
        // Inflating: keep the rest, ahead of anything pushed since, so order is preserved.
        if (this.state === INFLATING) {
          (this.pending ??= new PendingInput()).chunks.unshift(chunk.subarray(offset));
          this.holdPending(length - offset);
        }
        return;
      }
    }
  }

  private readHeader(chunk: Uint8Array, offset: number): number {
    // Fast path: the whole header sits in this chunk.
    if (this.headerLength === 0 && chunk.length - offset >= 2) {
      const size = headerSize(chunk[offset + 1]!);
      if (chunk.length - offset >= size) {
        this.parseHeader(chunk, offset);
        return offset + size;
      }
    }
    const header = (this.headerBytes ??= new Uint8Array(14));
    while (offset < chunk.length) {
      header[this.headerLength++] = chunk[offset++]!;
      if (this.headerLength >= 2 && this.headerLength === headerSize(header[1]!)) {
        this.headerLength = 0;
        this.parseHeader(header, 0);
        break;
      }
    }
    return offset;
  }

  private parseHeader(bytes: Uint8Array, at: number): void {
    const first = bytes[at]!;
    const second = bytes[at + 1]!;
    const fin = (first & 0x80) !== 0;
    const rsv1 = (first & 0x40) !== 0;
    const opcode = first & 0x0f;
    const masked = (second & 0x80) !== 0;
    let length = second & 0x7f;
    let position = at + 2;
    if (length === 126) {
      length = (bytes[position]! << 8) | bytes[position + 1]!;
      position += 2;
    } else if (length === 127) {
      const high = readUint32(bytes, position);
      // RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
      if (high >= 0x80000000) {
        return this.fail(ErrorCode.InvalidPayloadLength, 1002, "64-bit payload length has its top bit set");
      }
      // Exact up to 2^53; anything larger is far above any maxPayload and is rejected below.
      length = high * 0x100000000 + readUint32(bytes, position + 4);
      position += 8;
    }
    // `| 0`: kept as an int32, which V8 stores in the object; an unsigned value above 2^31 would be boxed.
    if (masked) this.maskKey = readUint32(bytes, position) | 0;

    if ((first & 0x30) !== 0 || (rsv1 && (opcode === Opcode.Continuation || !this.compression))) {
      // RFC 6455 §5.2; RFC 7692 §6.1: RSV1 only on the first frame of a compressed message.
      return this.fail(ErrorCode.UnexpectedRsv, 1002, "reserved bit set that no extension defines");
    }
    if (!isKnownOpcode(opcode)) {
      return this.fail(ErrorCode.InvalidOpcode, 1002, `reserved opcode ${opcode}`);
    }
    if (masked !== this.isServer) {
      return this.isServer
        ? this.fail(ErrorCode.ExpectedMask, 1002, "client frames must be masked")
        : this.fail(ErrorCode.UnexpectedMask, 1002, "server frames must not be masked");
    }

    if (isControlOpcode(opcode)) {
      // RFC 6455 §5.5: control frames are never fragmented and carry at most 125 bytes.
      if (!fin) return this.fail(ErrorCode.FragmentedControlFrame, 1002, "fragmented control frame");
      if (rsv1) return this.fail(ErrorCode.UnexpectedRsv, 1002, "RSV1 set on a control frame");
      if (length > 125) return this.fail(ErrorCode.ControlFrameTooLong, 1002, "control frame over 125 bytes");
    } else {
      if (opcode === Opcode.Continuation) {
        if (this.messageOpcode === 0) {
          return this.fail(ErrorCode.UnexpectedContinuation, 1002, "continuation frame with no message to continue");
        }
      } else {
        if (this.messageOpcode !== 0) {
          return this.fail(ErrorCode.ExpectedContinuation, 1002, "new message before the previous one finished");
        }
        this.messageOpcode = opcode;
        this.messageCompressed = rsv1;
      }
      if (++this.fragments > this.maxFragments) {
        return this.fail(ErrorCode.TooManyFragments, 1008, `message split into more than ${this.maxFragments} frames`);
      }
      // Checked on the declared length, before any payload is buffered (SECURITY.md row 8). A
      // compressed message may be a little longer than what it inflates to (deflate's worst case
      // on incompressible data); what it inflates to is held to maxPayload exactly.
      const limit = this.messageCompressed ? maxCompressedLength(this.maxPayload, this.fragments) : this.maxPayload;
      if (this.messageLength + length > limit) {
        return this.fail(ErrorCode.MessageTooBig, 1009, `message larger than maxPayload (${this.maxPayload} bytes)`);
      }
      this.messageLength += length;
    }

    this.fin = fin;
    this.opcode = opcode;
    this.masked = masked;
    this.payloadStarted = false;
    this.remaining = length;
    if (length === 0) this.completeFrame();
    else this.state = READING_PAYLOAD;
  }

  private readPayload(chunk: Uint8Array, offset: number): number {
    const available = chunk.length - offset;
    const count = this.remaining < available ? this.remaining : available;
    const piece = offset === 0 && count === chunk.length ? chunk : chunk.subarray(offset, offset + count);
    if (this.masked) {
      if (count === this.remaining && count >= UNMASK_INTO_MIN && this.endsHeldMessage()) {
        return this.deliverLastPiece(piece, offset + count);
      }
      unmask(piece, maskBytes(this.maskKey), 0);
    }
    const whole = count === this.remaining && !this.payloadStarted;
    this.remaining -= count;
    if (this.remaining > 0) {
      this.payloadStarted = true;
      // The next piece starts `count` bytes into the key's 4-byte cycle.
      if (this.masked) this.maskKey = rotateKey(this.maskKey, count & 3);
    }
    const end = offset + count;

    if (isControlOpcode(this.opcode) || this.messageCompressed) {
      if (whole) {
        // A control or compressed frame whose payload came in one piece: read as a view, with no
        // frame buffer (the socket's chunks are not reused, and this frame's bytes stay as they are).
        this.state = READING_HEADER;
        if (this.messageCompressed && !isControlOpcode(this.opcode)) this.inflate(piece, this.fin);
        else this.receiveControl(piece);
        return end;
      }
      this.framePayload.push(piece, this.remaining);
      if (this.framePayload.pieceCount > this.maxBufferedChunks) {
        this.fail(ErrorCode.TooManyBufferedChunks, 1008, "too many chunks buffered for one frame");
        return end;
      }
    } else if (this.fin && whole && (this.messageParts === null || this.messageParts.byteLength === 0)) {
      // Fast path: a whole unfragmented message in one piece is delivered as a view, uncopied.
      if (this.messageOpcode === Opcode.Text && !(this.utf8.write(piece) && this.utf8.end())) {
        this.fail(ErrorCode.InvalidUtf8, 1007, "text message is not valid UTF-8");
        return end;
      }
      this.state = READING_HEADER;
      this.deliver(piece);
      return end;
    } else {
      // Fail fast: invalid UTF-8 is reported as soon as the bytes that make it invalid arrive.
      if (this.messageOpcode === Opcode.Text && !this.utf8.write(piece)) {
        this.fail(ErrorCode.InvalidUtf8, 1007, "text message is not valid UTF-8");
        return end;
      }
      this.message.push(piece, this.remaining);
      if (this.message.pieceCount > this.maxBufferedChunks) {
        this.fail(ErrorCode.TooManyBufferedChunks, 1008, "too many chunks buffered for one message");
        return end;
      }
    }
    if (this.remaining === 0) this.completeFrame();
    return end;
  }

  /**
   * Whether the frame being read ends a message whose first bytes are held already: an unfragmented
   * message that came in more than one read, or the last fragment of one.
   */
  private endsHeldMessage(): boolean {
    return (
      this.fin &&
      !this.messageCompressed &&
      !isControlOpcode(this.opcode) &&
      this.messageParts !== null &&
      this.messageParts.byteLength > 0
    );
  }

  /**
   * The last piece of a masked message whose first bytes are held: unmasked straight into the
   * message's buffer rather than in place and then copied into it, one pass over its bytes fewer
   * (a 64 KiB message always spans two of Node's 64 KiB reads). The buffer is made only now that
   * every byte has arrived, as `take` would. Returns `end`.
   */
  private deliverLastPiece(piece: Uint8Array, end: number): number {
    const held = this.messageParts!.byteLength;
    const count = piece.length;
    const message = this.messageParts!.takeWithRoom(count);
    applyMask(piece, maskBytes(this.maskKey), message, held, count);
    this.remaining = 0;
    this.state = READING_HEADER;
    if (this.messageOpcode === Opcode.Text && !(this.utf8.write(message.subarray(held)) && this.utf8.end())) {
      this.fail(ErrorCode.InvalidUtf8, 1007, "text message is not valid UTF-8");
      return end;
    }
    this.deliver(message);
    return end;
  }

  private completeFrame(): void {
    this.state = READING_HEADER;
    const opcode = this.opcode;
    if (isControlOpcode(opcode)) {
      const parts = this.framePayloadParts;
      this.receiveControl(parts === null || parts.byteLength === 0 ? EMPTY : parts.take());
    } else if (this.messageCompressed) {
      this.inflate(this.framePayload.take(), this.fin);
    } else if (this.fin) {
      if (this.messageOpcode === Opcode.Text && !this.utf8.end()) {
        return this.fail(ErrorCode.InvalidUtf8, 1007, "text message ends inside a UTF-8 sequence");
      }
      this.deliver(this.messageParts === null ? new Uint8Array(0) : this.messageParts.take());
    }
  }

  private receiveControl(payload: Uint8Array): void {
    const opcode = this.opcode;
    if (opcode === Opcode.Ping) this.handler.onPing(payload);
    else if (opcode === Opcode.Pong) this.handler.onPong(payload);
    else this.receiveClose(payload);
  }

  private receiveClose(payload: Uint8Array): void {
    let code: number;
    let reason: string;
    try {
      ({ code, reason } = decodeClosePayload(payload));
    } catch (error) {
      if (error instanceof WebSocketError) return this.failWith(error);
      throw error;
    }
    // RFC 6455 §5.5.1: nothing after a close frame is processed.
    this.stop();
    this.handler.onClose(code, reason);
  }

  private inflate(data: Uint8Array, fin: boolean): void {
    this.state = INFLATING;
    let calledBack = false;
    let synchronous = true;
    this.compression!.decompress(data, fin, this.maxPayload, (error, chunks) => {
      if (calledBack || this.state !== INFLATING) return;
      calledBack = true;
      if (this.inflated(error, chunks, fin) && !synchronous) this.resume();
      if (this.ending && this.state !== INFLATING) {
        this.ending = false;
        this.stop();
        this.handler.onEnd?.();
      }
    });
    synchronous = false;
  }

  /** Takes an inflate's result; true when parsing may go on. */
  private inflated(error: Error | null, chunks: Uint8Array[], fin: boolean): boolean {
    if (error) {
      if (error instanceof WebSocketError) this.failWith(error);
      else this.fail(ErrorCode.InflateFailed, 1007, `compressed data does not inflate: ${error.message}`);
      return false;
    }
    const isText = this.messageOpcode === Opcode.Text;
    for (const chunk of chunks) {
      if (isText && !this.utf8.write(chunk)) {
        this.fail(ErrorCode.InvalidUtf8, 1007, "text message is not valid UTF-8");
        return false;
      }
      this.message.push(chunk, 0);
    }
    if (this.message.byteLength > this.maxPayload) {
      this.fail(ErrorCode.MessageTooBig, 1009, `message larger than maxPayload (${this.maxPayload} bytes)`);
      return false;
    }
    if (this.message.pieceCount > this.maxBufferedChunks) {
      this.fail(ErrorCode.TooManyBufferedChunks, 1008, "too many chunks buffered for one message");
      return false;
    }
    this.state = READING_HEADER;
    if (fin) {
      if (isText && !this.utf8.end()) {
        this.fail(ErrorCode.InvalidUtf8, 1007, "text message ends inside a UTF-8 sequence");
        return false;
      }
      this.deliver(this.message.take());
    }
    return true;
  }

  /** Parses the input held while inflating, until it runs out or the next inflate starts. */
  private resume(): void {
    const pending = this.pending;
    if (pending === null) return;
    while (pending.chunks.length > 0 && this.state !== INFLATING && this.state !== STOPPED) {
      const chunk = pending.chunks.shift()!;
      pending.bytes -= chunk.length;
      this.process(chunk);
    }
    // Half the limit, so that a steady flood does not toggle reading on every message.
    if (pending.bytes <= INFLATE_BACKLOG_LIMIT / 2) this.releaseBacklog();
  }

  private holdPending(bytes: number): void {
    const pending = this.pending!;
    pending.bytes += bytes;
    if (!this.backlogged && pending.bytes >= INFLATE_BACKLOG_LIMIT) {
      this.backlogged = true;
      this.handler.onReceiveBacklog?.(true);
    }
  }

  private releaseBacklog(): void {
    if (!this.backlogged) return;
    this.backlogged = false;
    this.handler.onReceiveBacklog?.(false);
  }

  private deliver(data: Uint8Array): void {
    const isBinary = this.messageOpcode === Opcode.Binary;
    this.messageOpcode = 0;
    this.messageCompressed = false;
    this.fragments = 0;
    this.messageLength = 0;
    this.utf8Validator?.reset();
    this.handler.onMessage(data, isBinary);
  }

  private fail(code: WebSocketError["code"], closeCode: number, message: string): void {
    this.failWith(new WebSocketError(code, closeCode, message));
  }

  private failWith(error: WebSocketError): void {
    this.stop();
    this.handler.onError(error);
  }
}

defineFlags(Receiver.prototype, {
  fin: 1 << 0,
  masked: 1 << 1,
  messageCompressed: 1 << 2,
  backlogged: 1 << 3,
  ending: 1 << 4,
  payloadStarted: 1 << 5,
});

/** `headerLength` sits in the bits of `flags` above the booleans. */
const HEADER_LENGTH_SHIFT = 8;
const HEADER_LENGTH_MASK = 0xf << HEADER_LENGTH_SHIFT;
Object.defineProperty(Receiver.prototype, "headerLength", {
  get(this: { flags: number }): number {
    return (this.flags & HEADER_LENGTH_MASK) >>> HEADER_LENGTH_SHIFT;
  },
  set(this: { flags: number }, length: number): void {
    this.flags = (this.flags & ~HEADER_LENGTH_MASK) | (length << HEADER_LENGTH_SHIFT);
  },
});

/** Input held while a frame is inflated, and its size; created on the first such input. */
class PendingInput {
  chunks: Uint8Array[] = [];
  bytes = 0;
}

/** `key` (4 bytes big-endian) rotated left by `bytes` bytes, as an int32. */
function rotateKey(key: number, bytes: number): number {
  return bytes === 0 ? key : ((key << (8 * bytes)) | (key >>> (32 - 8 * bytes))) | 0;
}

/** What the receivers of one server (or of one client's settings) have in common. */
interface ReceiverConfig extends Required<ReceiveLimits> {
  readonly isServer: boolean;
  readonly fastUtf8: ((bytes: Uint8Array) => boolean) | undefined;
}

let lastConfig: ReceiverConfig | null = null;

/**
 * The resolved role and limits, as one object that the receivers with the same share: a server's
 * connections are created with the same options one after another, so the last one is kept. Four
 * fields fewer per connection.
 */
function sharedConfig(options: ReceiverOptions): ReceiverConfig {
  const limits = resolveLimits(options);
  const isServer = options.role === "server";
  const last = lastConfig;
  if (
    last !== null &&
    last.isServer === isServer &&
    last.fastUtf8 === options.fastUtf8 &&
    last.maxPayload === limits.maxPayload &&
    last.maxFragments === limits.maxFragments &&
    last.maxBufferedChunks === limits.maxBufferedChunks
  ) {
    return last;
  }
  return (lastConfig = Object.freeze({ ...limits, isServer, fastUtf8: options.fastUtf8 }));
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}
