/**
 * Masking keys for client frames. RFC 6455 §5.3 requires a fresh key per frame that servers and
 * intermediaries cannot predict, drawn from a strong source of entropy. Calling
 * `crypto.getRandomValues` per frame costs far more than 4 bytes' worth, so keys are cut from a
 * pool filled in one call.
 */

/** Bytes of random data fetched at once: 2048 keys. */
const POOL_SIZE = 8192;
const KEY_SIZE = 4;

export class MaskKeyPool {
  private pool = new Uint8Array(0);
  private offset = 0;

  /**
   * Returns the next 4-byte key as a view into the pool. A refill allocates a new pool instead
   * of overwriting the old one, because earlier keys may still belong to frames waiting to be
   * written; each view keeps its own pool alive and unchanged.
   */
  next(): Uint8Array {
    if (this.offset + KEY_SIZE > this.pool.length) {
      // Filled lazily on first use, so importing the module draws no randomness.
      this.pool = globalThis.crypto.getRandomValues(new Uint8Array(POOL_SIZE));
      this.offset = 0;
    }
    const key = this.pool.subarray(this.offset, this.offset + KEY_SIZE);
    this.offset += KEY_SIZE;
    return key;
  }
}

/** The pool protocol instances share unless given their own. */
export const defaultMaskKeyPool = new MaskKeyPool();
