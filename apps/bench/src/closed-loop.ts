// Bookkeeping of a closed-loop echo run, independent of any socket: each connection keeps a fixed
// number of messages in flight and sends the next when an echo arrives. Latencies are kept in a
// plain array (runs are seconds long, so at most a few million samples).

export class ClosedLoopStats {
  private readonly windowStart: number;
  private readonly windowEnd: number;
  messages = 0;
  bytes = 0;
  readonly latenciesUs: number[] = [];

  constructor(now: number, warmupMs: number, durationMs: number) {
    this.windowStart = now + warmupMs;
    this.windowEnd = this.windowStart + durationMs;
  }

  /** Records an echo that completed at `now` (ms) for a message queued at `sentAt` (ms). */
  record(sentAt: number, now: number, size: number): void {
    if (now < this.windowStart || now > this.windowEnd) return;
    this.messages++;
    this.bytes += size;
    this.latenciesUs.push((now - sentAt) * 1000);
  }

  summary(durationMs: number): { msgs_per_s: number; mb_per_s_recv: number; lat_us: { p50: number; p99: number; n: number } } {
    const seconds = durationMs / 1000;
    const sorted = Float64Array.from(this.latenciesUs).sort();
    return {
      msgs_per_s: this.messages / seconds,
      mb_per_s_recv: this.bytes / 1e6 / seconds,
      lat_us: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), n: sorted.length },
    };
  }
}

/** Nearest-rank percentile of ascending `sorted`; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** A JSON-like text message of exactly `size` bytes (ASCII), compressible like real API traffic. */
export function jsonLikeText(size: number, seed = 1): string {
  const parts: string[] = [];
  let i = seed;
  let text = "[";
  while (text.length < size) {
    parts.push(`{"id":${i},"user":"user${i % 97}","active":${i % 3 === 0},"score":${(i * 7919) % 1000},"tags":["a${i % 5}","b${i % 11}"]}`);
    text = `[${parts.join(",")}]`;
    i++;
  }
  return text.slice(0, size);
}
