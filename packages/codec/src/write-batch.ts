/**
 * Coalescing of small frames into few transport writes (SECURITY.md row 17). Every write handed
 * to a Node socket costs a few hundred bytes of stream bookkeeping until the kernel takes it
 * (a queue entry, a write request, the chunk's own object), whatever its length: a peer that sends
 * a million empty pings and reads nothing would otherwise cost us that much per 2-byte pong. The
 * shells copy the small frames of one tick into one buffer and charge each write they queue
 * `WRITE_OVERHEAD` bytes in `bufferedAmount`, so that limits see what queued frames really cost.
 */
import { allocUnfilled } from "./alloc.js";
import { concatChunks, joinChunks } from "./chunk-list.js";
import { encodeFrameInto, frameHeaderSize } from "./frame-writer.js";

/**
 * Bytes charged per write queued on the transport until it completes: what Node 20 holds per
 * queued `socket.write` of a small buffer (measured at about 440 bytes), rounded up.
 */
export const WRITE_OVERHEAD = 512;

/** Payloads up to this size are encoded straight into a batch (`addFrame`), header and all. */
export const BATCH_FRAME_PAYLOAD_MAX = 2048;
/**
 * Chunks up to this size are copied into the batch; larger ones are written as they are: a frame
 * of `BATCH_FRAME_PAYLOAD_MAX` with the longest header (14 bytes).
 */
export const BATCH_CHUNK_MAX = BATCH_FRAME_PAYLOAD_MAX + 14;
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
 * First size of a batch's staging buffer (where `addFrame` encodes); it doubles as needed. Small,
 * because a loop that sends to every connection in one tick holds a batch per connection until
 * the tick ends; the spare batches keep their grown buffers, so a busy connection rarely grows one.
 */
const STAGING_INITIAL = 256;
/** A batch given back keeps a staging buffer up to this size for its next use, not a larger one. */
const STAGING_KEPT_MAX = 16 * 1024;

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
 * Small frames waiting to be written as one. Sans-I/O: the shell takes them and writes them. A
 * batch is only needed between a write and the end of its tick, so shells `obtain` one when they
 * write and `release` it once it is taken: an idle connection holds none.
 *
 * Frames come in two ways. `add` holds a frame already encoded (a topic's frame, shared by its
 * subscribers); `addFrame` encodes one straight into the batch's staging buffer, so that a small
 * message costs no buffer of its own before the one copy that `take` makes for the socket (on a
 * 32 B echo, the buffer and its copy were a tenth of the server's CPU). The staging buffer is
 * reused: what `take` returns is always a copy of it, never a view.
 */
export class WriteBatch {
  /** Bytes held. */
  bytes = 0;
  /** Frames held. */
  private frames = 0;
  private chunks: Uint8Array[] = [];
  /**
   * Frames encoded in place. Those from `stagingStart` to `stagingEnd` are not in `chunks` yet;
   * the ones before `stagingStart` are, as views (an `add` came after them: order is kept).
   */
  private staging: Uint8Array | null = null;
  private stagingStart = 0;
  private stagingEnd = 0;
  /** Whether `chunks` holds views of `staging`, which `take` must copy. */
  private holdsStaged = false;

  /** A spare empty batch, or a new one. */
  static obtain(): WriteBatch {
    return spare.pop() ?? new WriteBatch();
  }

  /** Gives this batch back for reuse, dropping what it holds; do not use it afterwards. */
  release(): void {
    this.clear();
    if (this.staging !== null && this.staging.length > STAGING_KEPT_MAX) this.staging = null;
    if (spare.length < SPARE_MAX) spare.push(this);
  }

  /** Whether `chunk` is small enough to be copied into a batch rather than written alone. */
  static accepts(chunk: Uint8Array): boolean {
    return chunk.length <= BATCH_CHUNK_MAX;
  }

  /** Whether a frame with this payload is small enough for `addFrame`. */
  static acceptsFrame(payloadLength: number): boolean {
    return payloadLength <= BATCH_FRAME_PAYLOAD_MAX;
  }

  get empty(): boolean {
    return this.frames === 0;
  }

  /** Whether a small frame of `size` bytes does not fit: take the batch first. */
  isFullFor(size: number): boolean {
    return this.frames >= BATCH_MAX_CHUNKS || this.bytes + size > BATCH_MAX_BYTES;
  }

  /** Holds `chunk` until `take`. It is not copied yet: do not modify it meanwhile. */
  add(chunk: Uint8Array): void {
    this.closeStaged();
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    this.frames++;
  }

  /**
   * Encodes a frame (see `encodeFrameInto`) into the batch and returns its size in bytes. For
   * payloads that `acceptsFrame`; the payload is copied now and may change afterwards.
   */
  addFrame(opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean, maskKey?: Uint8Array): number {
    const size = frameHeaderSize(payload.length, maskKey !== undefined) + payload.length;
    let staging = this.staging;
    if (staging === null || this.stagingEnd + size > staging.length) staging = this.growStaging(size);
    encodeFrameInto(staging, this.stagingEnd, opcode, payload, fin, rsv1, maskKey);
    this.stagingEnd += size;
    this.bytes += size;
    this.frames++;
    return size;
  }

  /**
   * The held frames as one buffer, emptying the batch: a frame held by `add` itself when it is the
   * only one, else a copy. The buffer may be shared with other batches that held the same chunks:
   * never modify it.
   */
  take(): Uint8Array | null {
    if (this.frames === 0) return null;
    let result: Uint8Array;
    if (this.chunks.length === 0) {
      result = copyOf(this.staging!, this.stagingStart, this.stagingEnd);
    } else if (this.holdsStaged || this.stagingEnd > this.stagingStart) {
      this.closeStaged();
      result = joinChunks(this.chunks, this.bytes);
      this.chunks.length = 0;
    } else {
      result = this.takeChunks();
    }
    this.clear();
    return result;
  }

  /** Drops what is held (the transport is gone). */
  clear(): void {
    this.chunks.length = 0;
    this.bytes = 0;
    this.frames = 0;
    this.stagingStart = 0;
    this.stagingEnd = 0;
    this.holdsStaged = false;
  }

  /** `take` for a batch of `add`ed frames only, which a topic's subscribers may share. */
  private takeChunks(): Uint8Array {
    const chunks = this.chunks;
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
    return result;
  }

  /** Moves the frames encoded since the last `add` into `chunks`, as a view, before another `add`. */
  private closeStaged(): void {
    if (this.stagingEnd === this.stagingStart) return;
    this.chunks.push(this.staging!.subarray(this.stagingStart, this.stagingEnd));
    this.stagingStart = this.stagingEnd;
    this.holdsStaged = true;
  }

  /**
   * A staging buffer with room for `size` more bytes. The frames not yet in `chunks` move to its
   * start; views already in `chunks` keep the old buffer alive until `take` copies them.
   */
  private growStaging(size: number): Uint8Array {
    const old = this.staging;
    const open = this.stagingEnd - this.stagingStart;
    let capacity = old === null ? STAGING_INITIAL : old.length * 2;
    while (capacity < open + size) capacity *= 2;
    const grown = allocUnfilled(capacity);
    if (open > 0) grown.set(old!.subarray(this.stagingStart, this.stagingEnd));
    this.staging = grown;
    this.stagingStart = 0;
    this.stagingEnd = open;
    return grown;
  }
}

/** `source[start..end)` in a buffer of its own. */
function copyOf(source: Uint8Array, start: number, end: number): Uint8Array {
  const result = allocUnfilled(end - start);
  result.set(start === 0 && end === source.length ? source : source.subarray(start, end));
  return result;
}
