/**
 * A FIFO limit on zlib jobs running at once. Node runs zlib work on the libuv thread pool, and many
 * concurrent zlib contexts fragment memory badly, so jobs beyond the limit wait their turn.
 */

/** A job receives `done`, which it must call exactly once when it finishes (extra calls are ignored). */
export type LimiterJob = (done: () => void) => void;

export interface Limiter {
  readonly concurrency: number;
  /** Jobs started and not yet done. */
  readonly active: number;
  /** Jobs waiting to start. */
  readonly pending: number;
  run(job: LimiterJob): void;
}

export function createLimiter(concurrency: number): Limiter {
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  const queue: LimiterJob[] = [];
  let head = 0;
  let active = 0;
  let pumping = false;

  // A loop rather than recursion: jobs that call `done` synchronously would otherwise nest one
  // stack frame per queued job.
  const pump = (): void => {
    if (pumping) return;
    pumping = true;
    try {
      while (active < concurrency && head < queue.length) {
        const job = queue[head] as LimiterJob;
        queue[head++] = undefined as unknown as LimiterJob;
        if (head > 1024 && head * 2 > queue.length) {
          queue.splice(0, head);
          head = 0;
        }
        active++;
        let finished = false;
        job(() => {
          if (finished) return;
          finished = true;
          active--;
          pump();
        });
      }
    } finally {
      pumping = false;
    }
  };

  return {
    concurrency,
    get active() {
      return active;
    },
    get pending() {
      return queue.length - head;
    },
    run(job) {
      queue.push(job);
      pump();
    },
  };
}

const shared = new Map<number, Limiter>();

/** The process-wide limiter for `concurrency` (one per distinct value; default 10). */
export function sharedLimiter(concurrency = 10): Limiter {
  let limiter = shared.get(concurrency);
  if (limiter === undefined) {
    limiter = createLimiter(concurrency);
    shared.set(concurrency, limiter);
  }
  return limiter;
}
