/**
 * The pieces of one message (or one compressed frame) received so far.
 *
 * Large pieces are kept as zero-copy views of the received chunks. Small pieces are copied into a
 * shared staging buffer instead, so that a peer sending a message one byte per TCP segment costs
 * bytes, not one object per byte (SECURITY.md row 5). Every byte is copied at most once here.
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
   * Adds `piece`; `expectedMore` is how many more bytes are known to follow, used to size the
   * staging buffer so that a small frame does not reserve 64 KiB.
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
    if (staging === null || staging.length - this.stagingEnd < length) {
      this.flushStaging();
      const size = Math.min(MAX_STAGING, Math.max(MIN_STAGING, length + expectedMore));
      staging = this.staging = new Uint8Array(size);
      this.stagingStart = this.stagingEnd = 0;
    }
    staging.set(piece, this.stagingEnd);
    this.stagingEnd += length;
  }

  /** Returns everything held as one buffer (a view when it is a single piece) and empties the list. */
  take(): Uint8Array {
    this.flushStaging();
    const result = this.pieces === null ? new Uint8Array(0) : concatChunks(this.pieces, this.byteLength);
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
  const result = allocUnfilled(length);
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.length;
  }
  return result;
}
