/**
 * Byte buffers that the caller overwrites completely. `new Uint8Array(n)` zero-fills, which for a
 * 64 KiB frame or message costs as much as the copy that follows it; on Node, `allocUnsafeSlow`
 * skips the fill (and, unlike `allocUnsafe`, never hands out a slice of a shared pool, which a
 * long-lived message would pin). Elsewhere, and for small sizes, a plain Uint8Array.
 */
const nodeBuffer = (globalThis as { Buffer?: { allocUnsafeSlow(size: number): Uint8Array } }).Buffer;

/** Below this the fill is cheaper than the allocation itself. */
const UNFILLED_MIN = 1024;

/** A buffer of `size` bytes with unspecified contents: every byte must be written before it is read. */
export function allocUnfilled(size: number): Uint8Array {
  return size >= UNFILLED_MIN && nodeBuffer !== undefined ? nodeBuffer.allocUnsafeSlow(size) : new Uint8Array(size);
}
