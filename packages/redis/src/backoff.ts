/** Delays between reconnect attempts: doubling from `initialDelay`, never over `maxDelay`. */
export interface BackoffOptions {
  /** Milliseconds before the first reconnect attempt. Default 50. */
  initialDelay?: number;
  /** Milliseconds between attempts at most; bounds how long cross-server delivery stays down after Redis is back. Default 1000. */
  maxDelay?: number;
}

export function backoff(options: BackoffOptions = {}): (attempt: number) => number {
  const initial = options.initialDelay ?? 50;
  const max = options.maxDelay ?? 1000;
  if (!(initial > 0) || !(max >= initial)) throw new RangeError("backoff needs 0 < initialDelay <= maxDelay");
  // ioredis counts attempts from 1; 2^30 caps the exponent long before it matters.
  return (attempt) => Math.min(max, initial * 2 ** Math.min(attempt - 1, 30));
}
