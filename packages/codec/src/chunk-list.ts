/**
 * The pieces of one message (or one compressed frame) received so far.
 *
 * Large pieces are kept as zero-copy views of the received chunks. Small pieces are copied into a
 * shared staging buffer instead, so that a peer sending a message one byte per TCP segment costs
 * bytes, not one object per byte (SECURITY.md row 5).
 *
 * The staging buffer is sized from the bytes that arrived, never from a frame's declared length: a
 * peer that sends one byte of a frame declared as 1 MiB gets a buffer of at most 256 bytes, not
 * 64 KiB (SECURITY.md row 19). When it fills, it is replaced by one twice as large (up to 64 KiB)
 * and its bytes move over, so it never holds more than twice what arrived plus 256 bytes, and a
 * byte is copied at most twice on average (geometric growth); a message that arrives in small
 * pieces still ends up in one buffer. Past 64 KiB, full buffers are kept as pieces and a new one
 * starts.
 */
import { allocUnfilled } from "./alloc.js";

const COPY_BELOW = 1024;
const MAX_STAGING = 64 * 1024;
const MIN_STAGING = 256;

export class ChunkList {
  // Created on first use and reused: an idle connection holds two empty lists, not two arrays.
  private pieces: Uint8Array[] | null = null;
  private staging: Uint8Array | null = null;
  private stagingStart = 0;
  private stagingEnd = 0;
  /** Total bytes held. */
  byteLength = 0;

  /** How many separate pieces are held (what `maxBufferedChunks` limits). */
  get pieceCount(): number {
    return (this.pieces?.length ?? 0) + (this.stagingEnd > this.stagingStart ? 1 : 0);
  }

  /**
   * Adds `piece`; `expectedMore` is how many more bytes of its frame are known to follow. It only
   * ever makes the first staging buffer smaller (a 10-byte ping gets 10 bytes, not 256), never
   * larger: a declared length is a claim, not bytes (SECURITY.md row 19).
   */
  push(piece: Uint8Array, expectedMore: number): void {
    const length = piece.length;
    if (length === 0) return;
    this.byteLength += length;
    if (length >= COPY_BELOW) {
      this.flushStaging();
      (this.pieces ??= []).push(piece);
      return;
    }
    let staging = this.staging;
    if (staging === null || staging.length - this.stagingEnd < length) staging = this.grow(length, expectedMore);
    staging.set(piece, this.stagingEnd);
    this.stagingEnd += length;
  }

  /** Bytes reserved by the staging buffer, used or not (for tests and memory accounting). */
  get stagingCapacity(): number {
    return this.staging?.length ?? 0;
  }

  /** Returns everything held as one buffer (a view when it is a single piece) and empties the list. */
  take(): Uint8Array {
    this.flushStaging();
    const result = this.pieces === null ? new Uint8Array(0) : concatChunks(this.pieces, this.byteLength);
    this.clear();
    return result;
  }

  /**
   * Returns a new buffer of `byteLength + room` bytes that starts with everything held, and empties
   * the list; the caller fills the last `room` bytes. For the last piece of a message, written
   * straight into the message's buffer (unmasked into it) instead of pushed and then copied.
   */
  takeWithRoom(room: number): Uint8Array {
    this.flushStaging();
    const result = joinChunks(this.pieces ?? [], this.byteLength, room);
    this.clear();
    return result;
  }

  clear(): void {
    // take() hands out a piece or a copy, never the array itself, so the array can be reused.
    if (this.pieces !== null) this.pieces.length = 0;
    // The staging buffer may back a view handed out by take(): never write into it again.
    this.staging = null;
    this.stagingStart = this.stagingEnd = 0;
    this.byteLength = 0;
  }

  /** Replaces the staging buffer with one that has room for `length` more bytes, and returns it. */
  private grow(length: number, expectedMore: number): Uint8Array {
    const old = this.staging;
    let held = this.stagingEnd - this.stagingStart;
    if (held + length > MAX_STAGING) {
      this.flushStaging();
      held = 0;
    }
    const needed = held + length;
    let size: number;
    if (old === null) size = Math.min(Math.max(MIN_STAGING, length), length + expectedMore);
    else size = Math.max(needed, Math.min(MAX_STAGING, old.length * 2));
    // Zero-filled: a view handed out by take() exposes its whole ArrayBuffer to the user.
    const staging = new Uint8Array(size);
    // Only the bytes not yet flushed move; the old buffer may still back pieces flushed earlier.
    if (held > 0) staging.set(old!.subarray(this.stagingStart, this.stagingEnd));
    this.staging = staging;
    this.stagingStart = 0;
    this.stagingEnd = held;
    return staging;
  }

  private flushStaging(): void {
    if (this.stagingEnd > this.stagingStart) {
      (this.pieces ??= []).push(this.staging!.subarray(this.stagingStart, this.stagingEnd));
      this.stagingStart = this.stagingEnd;
    }
  }
}

/**
 * `chunks` as one buffer: the chunk itself when there is one, else a copy (`byteLength` is their
 * total when the caller knows it).
 */
export function concatChunks(chunks: readonly Uint8Array[], byteLength?: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  if (chunks.length === 0) return new Uint8Array(0);
  let length = byteLength ?? 0;
  if (byteLength === undefined) for (const chunk of chunks) length += chunk.length;
  return joinChunks(chunks, length);
}

/**
 * `chunks` (`byteLength` bytes in all) copied into a new buffer, even when there is only one, with
 * `room` bytes left over at its end for the caller to fill.
 */
export function joinChunks(chunks: readonly Uint8Array[], byteLength: number, room = 0): Uint8Array {
  const result = allocUnfilled(byteLength + room);
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.length;
  }
  return result;
}
