/**
 * A per-stream FIFO of jobs. One zlib stream can only work on one message piece at a time (its
 * output is collected per job), so each stream's jobs run one after another, and only the head is
 * handed to the shared limiter.
 */
import type { CompressionCallback } from "../extension.js";
import type { Limiter } from "./limiter.js";

/** Does one job's work and calls `finish` once, never synchronously. */
export type LaneWork = (finish: (error: Error | null, chunks: Uint8Array[]) => void) => void;

interface Task {
  work: LaneWork;
  callback: CompressionCallback;
  settled: boolean;
  release: (() => void) | undefined;
}

export class Lane {
  private readonly tasks: Task[] = [];

  constructor(private readonly limiter: Limiter) {}

  push(work: LaneWork, callback: CompressionCallback): void {
    const task: Task = { work, callback, settled: false, release: undefined };
    this.tasks.push(task);
    if (this.tasks.length === 1) this.submit(task);
  }

  /** Fails every queued and running job with `error` (asynchronously); their late results are dropped. */
  failAll(error: Error): void {
    const tasks = this.tasks.splice(0);
    for (const task of tasks) {
      if (task.settled) continue;
      task.settled = true;
      this.releaseSlot(task);
      queueMicrotask(() => task.callback(error, []));
    }
  }

  private submit(task: Task): void {
    this.limiter.run((done) => {
      // Failed while waiting for a slot: give the slot straight back.
      if (task.settled) return done();
      task.release = done;
      task.work((error, chunks) => this.settle(task, error, chunks));
    });
  }

  private settle(task: Task, error: Error | null, chunks: Uint8Array[]): void {
    if (task.settled) return;
    task.settled = true;
    this.releaseSlot(task);
    if (this.tasks[0] === task) {
      this.tasks.shift();
      const next = this.tasks[0];
      if (next !== undefined) this.submit(next);
    }
    task.callback(error, chunks);
  }

  private releaseSlot(task: Task): void {
    const release = task.release;
    task.release = undefined;
    release?.();
  }
}
