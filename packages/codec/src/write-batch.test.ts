import { describe, expect, it } from "vitest";
import { BATCH_CHUNK_MAX, BATCH_MAX_BYTES, BATCH_MAX_CHUNKS, WriteBatch } from "./write-batch.js";

describe("WriteBatch", () => {
  it("copies small chunks into one buffer, in order", () => {
    const batch = new WriteBatch();
    expect(batch.take()).toBeNull();
    batch.add(Uint8Array.of(1, 2));
    batch.add(Uint8Array.of());
    batch.add(Uint8Array.of(3));
    expect(batch.bytes).toBe(3);
    expect(Array.from(batch.take()!)).toEqual([1, 2, 3]);
    expect(batch.empty).toBe(true);
    expect(batch.bytes).toBe(0);
  });

  it("hands back a lone chunk without copying it", () => {
    const batch = new WriteBatch();
    const chunk = Uint8Array.of(9);
    batch.add(chunk);
    expect(batch.take()).toBe(chunk);
  });

  it("is bounded in bytes and in chunks", () => {
    expect(WriteBatch.accepts(new Uint8Array(BATCH_CHUNK_MAX))).toBe(true);
    expect(WriteBatch.accepts(new Uint8Array(BATCH_CHUNK_MAX + 1))).toBe(false);
    const batch = new WriteBatch();
    const big = new Uint8Array(BATCH_CHUNK_MAX);
    let added = 0;
    while (!batch.isFullFor(big)) {
      batch.add(big);
      added++;
    }
    expect(added * BATCH_CHUNK_MAX).toBeLessThanOrEqual(BATCH_MAX_BYTES);
    batch.clear();
    const empty = new Uint8Array(0);
    for (let i = 0; i < BATCH_MAX_CHUNKS; i++) batch.add(empty);
    expect(batch.isFullFor(empty)).toBe(true);
  });
});
