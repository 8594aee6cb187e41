/**
 * The last bytes a connection inflated: the LZ77 window that the peer's next message may refer
 * to while context takeover is on (RFC 7692 §7.1.1). We hold it ourselves, instead of keeping a
 * zlib stream open between messages, so that every message can be inflated from it by a zlib
 * call of its own. That call sees where the peer's DEFLATE data really ends: a message cut inside
 * a block, or ended by a block with BFINAL set (§7.2.3.4), after which a long-lived zlib stream
 * would inflate nothing more.
 */
export class InflateWindow {
  readonly size: number;
  // The window's bytes sit at the end of `bytes`: [size - filled, size). Allocated on first use.
  private bytes: Buffer | null = null;
  private filled = 0;

  constructor(size: number) {
    this.size = size;
  }

  /** The window, oldest byte first, or undefined while empty. A view: zlib copies it at once. */
  get contents(): Buffer | undefined {
    return this.filled === 0 ? undefined : this.bytes!.subarray(this.size - this.filled);
  }

  /** Slides the window over `chunks`, the next output in order; only their last `size` bytes count. */
  append(chunks: readonly Uint8Array[]): void {
    let total = 0;
    for (const chunk of chunks) total += chunk.length;
    if (total === 0) return;
    const size = this.size;
    const bytes = (this.bytes ??= Buffer.allocUnsafe(size));
    if (total >= size) {
      // Fill from the end, newest chunk first, until the window is full.
      let end = size;
      for (let i = chunks.length - 1; i >= 0 && end > 0; i--) {
        const chunk = chunks[i]!;
        const take = Math.min(chunk.length, end);
        bytes.set(take === chunk.length ? chunk : chunk.subarray(chunk.length - take), end - take);
        end -= take;
      }
      this.filled = size;
      return;
    }
    // Move the bytes that stay to the left by `total`, then append.
    const keep = Math.min(this.filled, size - total);
    if (keep > 0) bytes.copyWithin(size - total - keep, size - keep, size);
    let at = size - total;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    this.filled = keep + total;
  }

  clear(): void {
    this.filled = 0;
  }
}
