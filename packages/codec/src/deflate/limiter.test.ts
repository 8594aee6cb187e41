import { describe, expect, it } from "vitest";
import { createLimiter, sharedLimiter } from "./limiter.js";

describe("createLimiter", () => {
  it("runs at most N jobs at once, in FIFO order", async () => {
    const limiter = createLimiter(3);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const jobs = Array.from({ length: 20 }, (_, i) =>
      new Promise<void>((resolve) => {
        limiter.run((done) => {
          started.push(i);
          running++;
          peak = Math.max(peak, running);
          setTimeout(() => {
            running--;
            done();
            resolve();
          }, 1 + ((i * 7) % 5));
        });
      }),
    );
    expect(limiter.active).toBe(3);
    expect(limiter.pending).toBe(17);
    await Promise.all(jobs);
    expect(peak).toBe(3);
    expect(started).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(limiter.active).toBe(0);
  });

  it("ignores a second done() and survives jobs that finish synchronously", () => {
    const limiter = createLimiter(1);
    let count = 0;
    for (let i = 0; i < 10_000; i++) {
      limiter.run((done) => {
        count++;
        done();
        done();
      });
    }
    expect(count).toBe(10_000);
    expect(limiter.active).toBe(0);
  });

  it("holds a job back until a slot frees", () => {
    const limiter = createLimiter(1);
    let release = (): void => {};
    let second = false;
    limiter.run((done) => (release = done));
    limiter.run((done) => {
      second = true;
      done();
    });
    expect(second).toBe(false);
    release();
    expect(second).toBe(true);
  });

  it("validates the limit and shares one limiter per value", () => {
    expect(() => createLimiter(0)).toThrow(RangeError);
    expect(() => createLimiter(1.5)).toThrow(RangeError);
    expect(sharedLimiter()).toBe(sharedLimiter(10));
    expect(sharedLimiter(2)).not.toBe(sharedLimiter(10));
    expect(sharedLimiter().concurrency).toBe(10);
  });
});
