/**
 * The permessage-deflate compressor and decompressor of one connection (RFC 7692 §7.2).
 *
 * The compressor keeps one raw-deflate zlib stream, created on first use, and resets it after
 * every message when the agreed parameters turn context takeover off for our side. Messages that
 * fit in one small frame and need no context skip the stream: a one-shot `deflateRawSync` is about
 * 4x faster than a thread-pool round trip for 1 KiB messages and holds no zlib memory between
 * messages. The decompressor is `Inflater`: a zlib call per message, from a window we keep.
 * Callbacks are always asynchronous.
 */
import { constants, createDeflateRaw, deflateRawSync, type DeflateRaw } from "node:zlib";
import type { CompressionCallback, MessageCompression } from "../extension.js";
import { Inflater } from "./inflater.js";
import { Lane } from "./lane.js";
import { sharedLimiter, type Limiter } from "./limiter.js";
import type { DeflateParams, PerMessageDeflateOptions } from "./options.js";
import { DEFAULT_CONCURRENCY, DEFAULT_THRESHOLD, STREAM_CHUNK_SIZE, isWindowBits, oneShotChunkSize, validateOptions } from "./options.js";

/** §7.2.1: a sync flush ends with an empty stored block, whose last 4 octets are dropped on the wire. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/**
 * An empty stored block's header octet (BFINAL 0, BTYPE 00, padding). Sent as a final fragment when
 * zlib produced nothing new (a second sync flush with no input emits nothing), so that the message
 * still ends in a stored block whose `00 00 ff ff` the receiver restores (§7.2.3.6 shows `00` as
 * the payload of an empty message).
 */
const EMPTY_STORED_BLOCK = Buffer.from([0x00]);


/** Largest input compressed with the one-shot zlib function on the main thread. */
const SYNC_INPUT_LIMIT = 16 * 1024;
/**
 * Deflate's output exceeds its input by at most a few bytes per block, plus the sync flush's
 * empty stored block (RFC 1951 §3.2.4), so one output buffer of input + this nearly always fits.
 */
const DEFLATE_OVERHEAD = 64;

/**
 * zlib refuses raw deflate with an 8-bit window (Node silently turns it into 9). A 9-bit zlib
 * window is still safe when 8 was agreed: zlib never emits a distance above 2^bits - 262 (250 for
 * 9), so its output fits a 256-byte window. An inflater with a 9-bit window accepts every stream
 * made for an 8-bit one.
 */
function zlibWindowBits(bits: number): number {
  return Math.max(9, bits);
}

export interface PerMessageDeflateRuntimeOptions extends PerMessageDeflateOptions {
  /** The limiter to queue zlib jobs on; default the process-wide one for `concurrency`. */
  limiter?: Limiter;
}

interface Direction {
  windowBits: number;
  noContextTakeover: boolean;
}

/** zlib settings for compressing a message on its own, from an empty window. */
export interface StandaloneDeflateSettings {
  windowBits: number;
  level: number | undefined;
  memLevel: number | undefined;
}

/**
 * Compresses one whole message on its own, from an empty window, as RFC 7692 §7.2.1 frames it
 * (sync flush, trailing `00 00 ff ff` removed). Such a message can be sent, unchanged, to every
 * connection whose `standaloneSettings` match: how a broadcast compresses once for many peers.
 */
export function deflateStandalone(data: Uint8Array, settings: StandaloneDeflateSettings): Uint8Array {
  const output = deflateRawSync(data, {
    windowBits: settings.windowBits,
    level: settings.level,
    memLevel: settings.memLevel,
    finishFlush: constants.Z_SYNC_FLUSH,
    chunkSize: oneShotChunkSize(data.length + DEFLATE_OVERHEAD),
  });
  const chunks = dropTail([output]);
  if (chunks === null) throw unexpectedOutput();
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

export class PerMessageDeflate implements MessageCompression {
  readonly threshold: number;
  readonly params: Readonly<DeflateParams>;
  readonly role: "server" | "client";

  private readonly outgoing: Direction;
  private readonly level: number | undefined;
  private readonly memLevel: number | undefined;
  private readonly compressLane: Lane;
  private readonly decompressLane: Lane;

  private readonly inflater: Inflater;

  private deflate: DeflateRaw | undefined;
  private deflateChunks: Buffer[] = [];
  private sendingFragments = false;
  /** Set on the first failure or on close; every later call fails with it. */
  private failure: Error | null = null;

  constructor(params: DeflateParams, role: "server" | "client", options: PerMessageDeflateRuntimeOptions = {}) {
    validateOptions(options);
    for (const key of ["serverMaxWindowBits", "clientMaxWindowBits"] as const) {
      if (!isWindowBits(params[key])) {
        throw new RangeError(`permessage-deflate: params.${key} must be an integer from 8 to 15`);
      }
    }
    this.params = { ...params };
    this.role = role;
    this.threshold = options.threshold ?? DEFAULT_THRESHOLD;
    this.level = options.level;
    this.memLevel = options.memLevel;
    const server: Direction = {
      windowBits: zlibWindowBits(params.serverMaxWindowBits),
      noContextTakeover: params.serverNoContextTakeover,
    };
    const client: Direction = {
      windowBits: zlibWindowBits(params.clientMaxWindowBits),
      noContextTakeover: params.clientNoContextTakeover,
    };
    // The server_* parameters govern what the server sends, the client_* ones what the client sends.
    this.outgoing = role === "server" ? server : client;
    const incoming = role === "server" ? client : server;
    this.inflater = new Inflater({ ...incoming, fail: (error) => this.fail(error) });
    const limiter = options.limiter ?? sharedLimiter(options.concurrency ?? DEFAULT_CONCURRENCY);
    this.compressLane = new Lane(limiter);
    this.decompressLane = new Lane(limiter);
  }

  /**
   * The settings under which a message compressed on its own (`deflateStandalone`) is exactly
   * what this connection may send, or null. Only when our side compresses without context
   * takeover: then no message of ours refers to an earlier one, so a message made elsewhere from
   * an empty window cannot break the back-references of the ones that follow (RFC 7692 §7.1.1).
   */
  get standaloneSettings(): StandaloneDeflateSettings | null {
    if (!this.outgoing.noContextTakeover) return null;
    return { windowBits: this.outgoing.windowBits, level: this.level, memLevel: this.memLevel };
  }

  compress(data: Uint8Array, fin: boolean, callback: CompressionCallback): void {
    if (this.failure !== null) return failLater(callback, this.failure);
    this.compressLane.push((finish) => this.runCompress(data, fin, finish), callback);
  }

  decompress(data: Uint8Array, fin: boolean, maxPayload: number, callback: CompressionCallback): void {
    if (this.failure !== null) return failLater(callback, this.failure);
    this.decompressLane.push((finish) => this.runDecompress(data, fin, maxPayload, finish), callback);
  }

  close(): void {
    this.fail(new Error("permessage-deflate: closed"));
  }

  private runCompress(data: Uint8Array, fin: boolean, finish: Finish): void {
    const wholeMessage = fin && !this.sendingFragments;
    this.sendingFragments = !fin;

    if (wholeMessage && this.outgoing.noContextTakeover && data.length <= SYNC_INPUT_LIMIT) {
      let output: Buffer;
      try {
        output = deflateRawSync(data, {
          windowBits: this.outgoing.windowBits,
          level: this.level,
          memLevel: this.memLevel,
          finishFlush: constants.Z_SYNC_FLUSH,
          chunkSize: oneShotChunkSize(data.length + DEFLATE_OVERHEAD),
        });
      } catch (error) {
        queueMicrotask(() => this.fail(error as Error));
        return;
      }
      const chunks = dropTail([output]);
      queueMicrotask(() => (chunks === null ? this.fail(unexpectedOutput()) : finish(null, chunks)));
      return;
    }

    const deflate = this.getDeflate();
    // §7.2.1 and §7.2.3: every fragment is sync-flushed so it is complete on its own (the stream's
    // default flush flag: one thread-pool job per fragment, not a write and a flush); only the end
    // of the message loses its trailing empty stored block.
    deflate.write(data, () => {
      if (this.failure !== null) return;
      let chunks: Buffer[] | null = this.deflateChunks;
      this.deflateChunks = [];
      if (fin) {
        chunks = dropTail(chunks);
        if (chunks === null) return this.fail(unexpectedOutput());
        // §7.1.1: without context takeover each message starts from an empty window.
        if (this.outgoing.noContextTakeover) deflate.reset();
      }
      finish(null, chunks);
    });
  }

  private runDecompress(data: Uint8Array, fin: boolean, maxPayload: number, finish: Finish): void {
    this.inflater.inflate(data, fin, maxPayload, (chunks) => finish(null, chunks));
  }

  private getDeflate(): DeflateRaw {
    if (this.deflate === undefined) {
      const deflate = createDeflateRaw({
        windowBits: this.outgoing.windowBits,
        level: this.level,
        memLevel: this.memLevel,
        flush: constants.Z_SYNC_FLUSH,
        chunkSize: STREAM_CHUNK_SIZE,
      });
      deflate.on("data", (chunk: Buffer) => {
        if (this.failure === null) this.deflateChunks.push(chunk);
      });
      deflate.on("error", (error: Error) => this.fail(error));
      this.deflate = deflate;
    }
    return this.deflate;
  }

  /** Makes the object unusable: frees both streams and fails every pending call with `error`. */
  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = error;
    this.deflateChunks = [];
    // Keep the 'error' listener: a destroyed stream may still report a late zlib error.
    this.deflate?.destroy();
    this.deflate = undefined;
    this.inflater.close();
    this.compressLane.failAll(error);
    this.decompressLane.failAll(error);
  }
}

type Finish = (error: Error | null, chunks: Uint8Array[]) => void;

function failLater(callback: CompressionCallback, error: Error): void {
  queueMicrotask(() => callback(error, []));
}

function unexpectedOutput(): Error {
  return new Error("permessage-deflate: zlib output does not end with a sync flush");
}

/**
 * §7.2.1: removes the `00 00 ff ff` that ends a sync-flushed message. The 4 octets may straddle
 * zlib's output chunks. Returns null if the output does not end that way (never for a sync flush).
 */
function dropTail(chunks: Buffer[]): Buffer[] | null {
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  if (total === 0) return [EMPTY_STORED_BLOCK];
  const last = chunks[chunks.length - 1] as Buffer;
  if (last.length < TAIL.length) {
    const joined = Buffer.concat(chunks, total);
    return endsWithTail(joined) ? [joined.subarray(0, total - TAIL.length)] : null;
  }
  if (!endsWithTail(last)) return null;
  const kept = chunks.slice(0, -1);
  if (last.length > TAIL.length) kept.push(last.subarray(0, last.length - TAIL.length));
  return kept;
}

function endsWithTail(buffer: Buffer): boolean {
  const n = buffer.length;
  return n >= 4 && buffer[n - 4] === 0 && buffer[n - 3] === 0 && buffer[n - 2] === 0xff && buffer[n - 1] === 0xff;
}
