/**
 * Coalescing of small frames into few transport writes (SECURITY.md row 17). Every write handed
 * to a Node socket costs a few hundred bytes of stream bookkeeping until the kernel takes it
 * (a queue entry, a write request, the chunk's own object), whatever its length: a peer that sends
 * a million empty pings and reads nothing would otherwise cost us that much per 2-byte pong. The
 * shells copy the small frames of one tick into one buffer and charge each write they queue
 * `WRITE_OVERHEAD` bytes in `bufferedAmount`, so that limits see what queued frames really cost.
 */
import { concatChunks } from "./chunk-list.js";

/**
 * Bytes charged per write queued on the transport until it completes: what Node 20 holds per
 * queued `socket.write` of a small buffer (measured at about 440 bytes), rounded up.
 */
export const WRITE_OVERHEAD = 512;

/** Chunks up to this size are copied into the batch; larger ones are written as they are. */
export const BATCH_CHUNK_MAX = 2048 + 14;
/**
 * A batch is written out once it holds this many bytes... Large enough that a burst of 1 KiB frames
 * to one socket (a topic's fan-out) leaves in one system call rather than one per 16: measured in
 * the fan-out bench, 16 KiB gave 1.09 M deliveries/s, 64 KiB 1.38 M, 256 KiB 1.69 M. The bytes are
 * counted in `bufferedAmount` all the same, so the limits see them.
 */
export const BATCH_MAX_BYTES = 256 * 1024;
/** ...or this many frames (empty pongs are 2 bytes each). */
export const BATCH_MAX_CHUNKS = 1024;

/**
 * The last batch taken, shared by every `WriteBatch` in the process: its chunks and the buffer they
 * were copied into. A topic's fan-out queues the same frame objects, in the same order, on each of
 * its subscribers, so their batches are equal chunk for chunk; the first is copied, the others are
 * handed that same buffer (a batch's frames are never modified, and neither is a buffer once it
 * is written). That saves a copy per subscriber and the memory of one per subscriber queued on a
 * slow socket; a batch that differs costs one comparison.
 */
const lastTaken: { chunks: Uint8Array[]; result: Uint8Array | null } = { chunks: [], result: null };

/** Whether `a` holds the same chunk objects as `b`, in the same order. */
function sameChunks(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Empty batches given back (`release`), for the next connection that writes. */
const spare: WriteBatch[] = [];
/** Enough for the connections that write in one tick on a busy server; the rest are collected. */
const SPARE_MAX = 64;

/**
 * Small chunks waiting to be written as one. Sans-I/O: the shell takes them and writes them. A
 * batch is only needed between a write and the end of its tick, so shells `obtain` one when they
 * write and `release` it once it is taken: an idle connection holds none.
 */
export class WriteBatch {
  /** Bytes held. */
  bytes = 0;
  private chunks: Uint8Array[] = [];

  /** A spare empty batch, or a new one. */
  static obtain(): WriteBatch {
    return spare.pop() ?? new WriteBatch();
  }

  /** Gives this batch back for reuse, dropping what it holds; do not use it afterwards. */
  release(): void {
    this.clear();
    if (spare.length < SPARE_MAX) spare.push(this);
  }

  /** Whether `chunk` is small enough to be copied into a batch rather than written alone. */
  static accepts(chunk: Uint8Array): boolean {
    return chunk.length <= BATCH_CHUNK_MAX;
  }

  get empty(): boolean {
    return this.chunks.length === 0;
  }

  /** Whether `chunk` (a small one) does not fit: take the batch first. */
  isFullFor(chunk: Uint8Array): boolean {
    return this.chunks.length >= BATCH_MAX_CHUNKS || this.bytes + chunk.length > BATCH_MAX_BYTES;
  }

  /** Holds `chunk` until `take`. It is not copied yet: do not modify it meanwhile. */
  add(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /**
   * The held chunks as one buffer (the chunk itself when there is only one), emptying the batch.
   * The buffer may be shared with other batches that held the same chunks: never modify it.
   */
  take(): Uint8Array | null {
    const chunks = this.chunks;
    if (chunks.length === 0) return null;
    let result: Uint8Array;
    if (chunks.length === 1) {
      result = chunks[0]!;
      chunks.length = 0;
    } else if (sameChunks(chunks, lastTaken.chunks)) {
      result = lastTaken.result!;
      chunks.length = 0;
    } else {
      result = concatChunks(chunks, this.bytes);
      // The arrays trade places, so remembering this batch allocates nothing.
      const previous = lastTaken.chunks;
      previous.length = 0;
      lastTaken.chunks = chunks;
      lastTaken.result = result;
      this.chunks = previous;
    }
    this.bytes = 0;
    return result;
  }

  /** Drops what is held (the transport is gone). */
  clear(): void {
    this.chunks.length = 0;
    this.bytes = 0;
  }
}
