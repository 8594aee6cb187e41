/**
 * permessage-deflate options and the parameters a negotiation settles on (RFC 7692 §7.1).
 */

/**
 * On a server: what the server allows or prefers when it answers an offer. On a client: what the
 * client asks for in its offer. Window bits are integers 8..15 (RFC 7692 §7.1.2).
 */
export interface PerMessageDeflateOptions {
  /**
   * Server: always respond with `server_no_context_takeover` (the server resets its compressor
   * after each message). An offer that asks for it is honoured either way.
   * Client: ask the server not to use context takeover; the response must then carry it.
   */
  serverNoContextTakeover?: boolean;
  /**
   * Server: respond with `client_no_context_takeover` (§7.1.1.2 lets the server do so even when the
   * client did not offer it). Client: offer it and reset the compressor after each message anyway.
   */
  clientNoContextTakeover?: boolean;
  /**
   * Server: the largest window the server compresses with (it uses the smaller of this and what the
   * offer allows); `true` or absent means 15. Client: a number is offered as
   * `server_max_window_bits=N` and the response must then carry a value ≤ N; `true` offers nothing.
   */
  serverMaxWindowBits?: number | true;
  /**
   * Server: a number limits the client's window when the offer has `client_max_window_bits`
   * (without that parameter in the offer the server may not limit it, §7.1.2.2). Client: a number
   * is offered as `client_max_window_bits=N`, `true` or absent offers it without a value, `false`
   * leaves it out of the offer (the server may then not limit the client's window).
   */
  clientMaxWindowBits?: number | boolean;
  /** Messages shorter than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /** zlib compression level, -1..9. Default zlib's (6). */
  level?: number;
  /** zlib memLevel, 1..9. Default zlib's (8). */
  memLevel?: number;
  /**
   * Most zlib jobs running at once in this process (shared by every instance with the same value),
   * to limit memory fragmentation from many concurrent zlib contexts. Default 10.
   */
  concurrency?: number;
}

/** The outcome of a negotiation: every value resolved, window bits 8..15 (15 when not limited). */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

export const DEFAULT_THRESHOLD = 1024;
/**
 * Output buffer of each zlib stream (zlib's default is 16 KiB), held while the stream lives.
 * Messages are mostly small; a large one just arrives in more pieces.
 */
export const STREAM_CHUNK_SIZE = 4 * 1024;
/**
 * Output buffer size for a one-shot zlib call, from a guess of its output's size. zlib's default
 * (16 KiB) gives every small message a 16 KiB backing store of its own, which the message's bytes
 * pin until a garbage collection: tens of MiB under load. Below 4 KiB Node slices the buffers
 * from its shared pool; output larger than the guess costs one more buffer and a copy.
 */
export function oneShotChunkSize(expectedOutput: number): number {
  return Math.min(16 * 1024, Math.max(1024, Math.ceil(expectedOutput)));
}
export const DEFAULT_CONCURRENCY = 10;
export const MIN_WINDOW_BITS = 8;
export const MAX_WINDOW_BITS = 15;

export function isWindowBits(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= MIN_WINDOW_BITS && (value as number) <= MAX_WINDOW_BITS;
}

/** Throws a RangeError for option values a program should never pass (not peer input). */
export function validateOptions(options: PerMessageDeflateOptions): void {
  for (const key of ["serverMaxWindowBits", "clientMaxWindowBits"] as const) {
    const value = options[key];
    if (typeof value === "number" && !isWindowBits(value)) {
      throw new RangeError(`permessage-deflate: ${key} must be an integer from 8 to 15, got ${value}`);
    }
  }
  const { threshold, concurrency } = options;
  if (threshold !== undefined && !(Number.isFinite(threshold) && threshold >= 0)) {
    throw new RangeError(`permessage-deflate: threshold must be a non-negative number, got ${threshold}`);
  }
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) {
    throw new RangeError(`permessage-deflate: concurrency must be a positive integer, got ${concurrency}`);
  }
}
