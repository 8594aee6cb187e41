/**
 * Receive-side limits with their defaults. They are constructor options of the protocol core so
 * that server and client enforce them in one place (SECURITY.md rows 5, 6 and 8).
 */
export interface ReceiveLimits {
  /**
   * Largest message, in bytes, after reassembly and after inflating. Checked against each frame's
   * declared length before any of its payload is buffered: exactly for uncompressed messages;
   * compressed ones may take up to `maxCompressedLength` on the wire, and what they inflate to is
   * then held to this exactly. Default 16 MiB.
   */
  maxPayload?: number;
  /** Most frames one message may be split into; empty fragments count. Default 65,536. */
  maxFragments?: number;
  /**
   * Most separate buffered pieces held for one incomplete message or frame. Small pieces are
   * coalesced, so honest traffic stays far below this. Default 16,384.
   */
  maxBufferedChunks?: number;
}

/**
 * The most bytes a compressed message of at most `maxPayload` bytes may take on the wire, in
 * `fragments` frames. DEFLATE can make data larger: fixed-code blocks spend 9 bits on some
 * literals (1/8 more), every block adds a header, and each sync-flushed frame an empty stored
 * block (RFC 7692 §7.2.1). So the limit on a message's inflated size, `maxPayload`, allows this
 * much compressed input, and the inflated size is then held to `maxPayload` exactly.
 */
export function maxCompressedLength(maxPayload: number, fragments: number): number {
  return maxPayload + Math.ceil(maxPayload / 8) + 16 * fragments + 64;
}

export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;
export const DEFAULT_MAX_FRAGMENTS = 65_536;
export const DEFAULT_MAX_BUFFERED_CHUNKS = 16_384;

/** Resolves the limits, rejecting values that are not positive integers. */
export function resolveLimits(limits: ReceiveLimits = {}): Required<ReceiveLimits> {
  return {
    maxPayload: positiveInteger("maxPayload", limits.maxPayload ?? DEFAULT_MAX_PAYLOAD),
    maxFragments: positiveInteger("maxFragments", limits.maxFragments ?? DEFAULT_MAX_FRAGMENTS),
    maxBufferedChunks: positiveInteger(
      "maxBufferedChunks",
      limits.maxBufferedChunks ?? DEFAULT_MAX_BUFFERED_CHUNKS,
    ),
  };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}
