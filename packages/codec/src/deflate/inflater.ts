/**
 * The receive side of permessage-deflate for one connection (RFC 7692 §7.2.2).
 *
 * Every message is inflated by a zlib call of its own, started from the window of the messages
 * before it when context takeover is on (`InflateWindow`): small whole messages by a one-shot
 * `inflateRawSync` on the main thread, others (large, or fragmented) by a zlib stream that lives
 * for that message only. No zlib memory is held between messages, and each call can check where
 * the peer's DEFLATE data ends:
 * - the sender's trailing `00 00 ff ff` is restored and an empty final block appended, so that a
 *   message that ends on a block boundary ends the zlib stream exactly there, and one cut inside a
 *   block does not (1007, never a truncated message);
 * - a message that the sender ended with a BFINAL block (§7.2.3.4) just ends the stream early; the
 *   next message starts from the window again, so no later message is lost;
 * - compressed bytes after a final block are refused (1007): nothing could inflate them.
 */
import { constants, createInflateRaw, inflateRawSync, type InflateRaw } from "node:zlib";
import { ErrorCode, WebSocketError } from "../errors.js";
import { InflateWindow } from "./inflate-window.js";
import { STREAM_CHUNK_SIZE, oneShotChunkSize } from "./options.js";

/**
 * Appended to a message's last fragment: the empty stored block whose last 4 octets the sender
 * dropped (§7.2.2), then an empty final block with fixed codes (BFINAL 1, BTYPE 01, end of block),
 * which ends the zlib stream when the message ended on a block boundary.
 */
const MESSAGE_END = Buffer.from([0x00, 0x00, 0xff, 0xff, 0x03, 0x00]);
/**
 * The same plus one more byte for a stream: zlib leaves it unread only if the stream ended before
 * it, which is how a stream tells that the message ended on a block boundary.
 */
const STREAM_MESSAGE_END = Buffer.from([0x00, 0x00, 0xff, 0xff, 0x03, 0x00, 0x00]);

/** Largest input inflated with the one-shot zlib function on the main thread. */
const SYNC_INPUT_LIMIT = 16 * 1024;
/** Largest output a one-shot inflate may produce before the message is handed to a stream. */
const SYNC_OUTPUT_LIMIT = 256 * 1024;
/** How much larger than its compressed size a small message is guessed to be (JSON: 3-10x). */
const EXPECTED_INFLATE_RATIO = 4;

export type InflateFinish = (chunks: Uint8Array[]) => void;

export interface InflaterSettings {
  /** zlib window bits for the peer's messages (9..15). */
  windowBits: number;
  /** The peer resets its compressor after every message (`*_no_context_takeover`). */
  noContextTakeover: boolean;
  /** Called once with the first failure; the inflater is unusable afterwards. */
  fail: (error: Error) => void;
}

export class Inflater {
  private readonly windowBits: number;
  private readonly fail: (error: Error) => void;
  /** The peer's window while context takeover is on, else null. */
  private readonly window: InflateWindow | null;

  /** The zlib stream of the message being inflated on the stream path, and its state. */
  private stream: InflateRaw | null = null;
  private streamChunks: Buffer[] = [];
  private streamInput = 0;
  private inflatedBytes = 0;
  private inflateLimit = Infinity;
  private receivingFragments = false;
  private failed = false;

  constructor(settings: InflaterSettings) {
    this.windowBits = settings.windowBits;
    this.fail = (error) => {
      if (this.failed) return;
      this.failed = true;
      this.close();
      settings.fail(error);
    };
    this.window = settings.noContextTakeover ? null : new InflateWindow(1 << settings.windowBits);
  }

  /** Inflates one fragment of a message; `finish` gets its output, or `fail` is called. Never synchronous. */
  inflate(data: Uint8Array, fin: boolean, maxPayload: number, finish: InflateFinish): void {
    if (this.failed) return;
    const wholeMessage = fin && !this.receivingFragments;
    this.receivingFragments = !fin;
    if (wholeMessage && data.length <= SYNC_INPUT_LIMIT && this.inflateOnce(data, maxPayload, finish)) return;
    this.inflateStream(data, fin, maxPayload, finish);
  }

  /** Frees the stream of a message in progress. */
  close(): void {
    const stream = this.stream;
    this.stream = null;
    this.streamChunks = [];
    // Its 'error' listener stays: a destroyed stream may still report a late zlib error.
    stream?.destroy();
  }

  /**
   * One-shot inflate on the main thread: about 4x faster than a thread-pool round trip for 1 KiB
   * messages. False when the output may be legitimately larger than the one-shot limit: the
   * message then goes to a stream, off the main thread.
   */
  private inflateOnce(data: Uint8Array, maxPayload: number, finish: InflateFinish): boolean {
    const limit = Math.min(maxPayload, SYNC_OUTPUT_LIMIT);
    let output: Buffer | undefined;
    let consumed = 0;
    let error: Error | undefined;
    try {
      const result = inflateRawSync(Buffer.concat([data, MESSAGE_END]), {
        windowBits: this.windowBits,
        dictionary: this.window?.contents,
        // zlib stops as soon as the output passes this, so a bomb costs at most ~limit bytes.
        maxOutputLength: Math.max(1, Math.floor(limit)),
        chunkSize: oneShotChunkSize(data.length * EXPECTED_INFLATE_RATIO),
        info: true,
      }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
      output = result.buffer;
      consumed = result.engine.bytesWritten;
    } catch (caught) {
      error = caught as Error;
    }
    const tooLarge =
      (error as NodeJS.ErrnoException | undefined)?.code === "ERR_BUFFER_TOO_LARGE" ||
      (output !== undefined && output.length > maxPayload);
    // Possibly legitimate: a stream inflates it off the main thread, still counting bytes.
    if (tooLarge && maxPayload > SYNC_OUTPUT_LIMIT) return false;
    if (!tooLarge && error === undefined) {
      if (consumed < data.length) error = afterFinalBlock();
      else this.window?.append([output!]);
    }
    queueMicrotask(() => {
      if (this.failed) return;
      if (tooLarge) this.fail(tooBig(maxPayload));
      else if (error !== undefined) this.fail(inflateFailed(error));
      else finish([output!]);
    });
    return true;
  }

  private inflateStream(data: Uint8Array, fin: boolean, maxPayload: number, finish: InflateFinish): void {
    let stream = this.stream;
    if (stream === null) {
      stream = this.stream = this.createStream();
      this.streamInput = 0;
      this.inflatedBytes = 0;
    }
    this.inflateLimit = maxPayload;
    const input = fin ? Buffer.concat([data, STREAM_MESSAGE_END]) : data;
    const dataEnd = this.streamInput + data.length;
    this.streamInput += input.length;
    // Every write is sync-flushed (the stream's default flush flag), so its output is complete
    // when its callback runs.
    stream.write(input, () => {
      if (this.failed || this.stream !== stream) return;
      // zlib stops reading at the end of the stream: bytes it left unread tell where that was.
      const consumed = stream.bytesWritten;
      if (consumed < (fin ? dataEnd : this.streamInput)) return this.fail(afterFinalBlock());
      if (fin && consumed === this.streamInput) return this.fail(notOnBlockBoundary());
      const chunks = this.streamChunks;
      this.streamChunks = [];
      this.window?.append(chunks);
      if (fin) this.close();
      finish(chunks);
    });
  }

  private createStream(): InflateRaw {
    const stream = createInflateRaw({
      windowBits: this.windowBits,
      dictionary: this.window?.contents,
      flush: constants.Z_SYNC_FLUSH,
      chunkSize: STREAM_CHUNK_SIZE,
    });
    stream.on("data", (chunk: Buffer) => this.onInflated(stream, chunk));
    stream.on("error", (error: Error) => {
      if (this.stream === stream) this.fail(inflateFailed(error));
    });
    return stream;
  }

  /**
   * Counts output as zlib produces it and stops the stream the moment the message passes
   * `maxPayload` (SECURITY.md row 6): destroying it makes zlib drop the rest of the input, so a
   * bomb never inflates much beyond the limit.
   */
  private onInflated(stream: InflateRaw, chunk: Buffer): void {
    if (this.failed || this.stream !== stream) return;
    this.inflatedBytes += chunk.length;
    if (this.inflatedBytes > this.inflateLimit) return this.fail(tooBig(this.inflateLimit));
    this.streamChunks.push(chunk);
  }
}

function tooBig(maxPayload: number): WebSocketError {
  return new WebSocketError(
    ErrorCode.MessageTooBig,
    1009,
    `Inflated message is larger than maxPayload (${maxPayload} bytes)`,
  );
}

function inflateFailed(cause: Error): WebSocketError {
  if (cause instanceof WebSocketError) return cause;
  // zlib's Z_BUF_ERROR: the input ran out before the stream's end, i.e. inside a DEFLATE block.
  if ((cause as NodeJS.ErrnoException).code === "Z_BUF_ERROR") return notOnBlockBoundary();
  return new WebSocketError(ErrorCode.InflateFailed, 1007, `Compressed data does not inflate: ${cause.message}`);
}

function notOnBlockBoundary(): WebSocketError {
  return new WebSocketError(
    ErrorCode.InflateFailed,
    1007,
    "Compressed message does not end on a DEFLATE block boundary (truncated)",
  );
}

function afterFinalBlock(): WebSocketError {
  return new WebSocketError(ErrorCode.InflateFailed, 1007, "Compressed data continues after a final DEFLATE block");
}
