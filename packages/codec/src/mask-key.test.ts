import { afterEach, describe, expect, it, vi } from "vitest";
import { MaskKeyPool, defaultMaskKeyPool } from "./mask-key.js";

const hex = (key: Uint8Array): string => Array.from(key, (b) => b.toString(16).padStart(2, "0")).join("");

afterEach(() => {
  vi.restoreAllMocks();
});

describe("MaskKeyPool", () => {
  it("hands out 4-byte keys that vary", () => {
    const pool = new MaskKeyPool();
    const keys = Array.from({ length: 1000 }, () => hex(pool.next()));
    expect(keys.every((key) => key.length === 8)).toBe(true);
    // 1000 draws from 2^32 values: a repeat has probability ~1e-4.
    expect(new Set(keys).size).toBeGreaterThan(995);
  });

  it("refills from crypto.getRandomValues past 8 KiB (2048 keys) with a new buffer", () => {
    const spy = vi.spyOn(globalThis.crypto, "getRandomValues");
    const pool = new MaskKeyPool();
    const first = pool.next();
    expect(spy).toHaveBeenCalledTimes(1);
    for (let i = 1; i < 2048; i++) pool.next();
    expect(spy).toHaveBeenCalledTimes(1);
    const afterRefill = pool.next();
    expect(spy).toHaveBeenCalledTimes(2);
    expect(afterRefill.buffer).not.toBe(first.buffer);
    expect(afterRefill.length).toBe(4);
  });

  it("never overwrites keys handed out before a refill", () => {
    const pool = new MaskKeyPool();
    const issued = Array.from({ length: 2048 * 3 + 5 }, () => pool.next());
    const snapshot = issued.map(hex);
    for (let i = 0; i < 2048 * 2; i++) pool.next();
    expect(issued.map(hex)).toEqual(snapshot);
    // No two keys share bytes: within one pool buffer every key has its own 4-byte slot.
    const slots = new Map<ArrayBufferLike, Set<number>>();
    for (const key of issued) {
      const offsets = slots.get(key.buffer) ?? new Set<number>();
      expect(offsets.has(key.byteOffset)).toBe(false);
      expect(key.byteOffset % 4).toBe(0);
      offsets.add(key.byteOffset);
      slots.set(key.buffer, offsets);
    }
    expect(slots.size).toBe(4);
  });

  it("draws no randomness until the first key is asked for", () => {
    const spy = vi.spyOn(globalThis.crypto, "getRandomValues");
    new MaskKeyPool();
    expect(spy).not.toHaveBeenCalled();
  });

  it("exports a shared default instance", () => {
    expect(defaultMaskKeyPool).toBeInstanceOf(MaskKeyPool);
    expect(defaultMaskKeyPool.next()).toHaveLength(4);
  });
});
