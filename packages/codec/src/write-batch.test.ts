import { describe, expect, it } from "vitest";
import { encodeFrame } from "./frame-writer.js";
import { MaskKeyPool } from "./mask-key.js";
import { Opcode } from "./opcode.js";
import {
  BATCH_CHUNK_MAX,
  BATCH_FRAME_PAYLOAD_MAX,
  BATCH_MAX_BYTES,
  BATCH_MAX_CHUNKS,
  WriteBatch,
} from "./write-batch.js";

/** The frame `encodeFrame` makes, as one array of bytes. */
function encoded(opcode: number, payload: Uint8Array, fin = true, rsv1 = false): number[] {
  return encodeFrame(opcode, payload, { fin, rsv1 }).flatMap((chunk) => Array.from(chunk));
}

/** `n` bytes counting up from `from`. */
function bytes(n: number, from = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);
}

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
    while (!batch.isFullFor(big.length)) {
      batch.add(big);
      added++;
    }
    expect(added * BATCH_CHUNK_MAX).toBeLessThanOrEqual(BATCH_MAX_BYTES);
    batch.clear();
    const empty = new Uint8Array(0);
    for (let i = 0; i < BATCH_MAX_CHUNKS; i++) batch.add(empty);
    expect(batch.isFullFor(0)).toBe(true);
  });

  it("hands batches holding the same chunks one shared copy (a topic's fan-out)", () => {
    const frames = [Uint8Array.of(1, 2), Uint8Array.of(3), Uint8Array.of(4, 5, 6)];
    const subscribers = [new WriteBatch(), new WriteBatch(), new WriteBatch()];
    for (const frame of frames) for (const batch of subscribers) batch.add(frame);
    const taken = subscribers.map((batch) => batch.take()!);
    expect(Array.from(taken[0]!)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(taken[1]).toBe(taken[0]);
    expect(taken[2]).toBe(taken[0]);
    for (const batch of subscribers) expect(batch.empty).toBe(true);
  });

  it("copies a batch that differs by one chunk, or by order, on its own", () => {
    const a = Uint8Array.of(1);
    const b = Uint8Array.of(2);
    const pong = Uint8Array.of(0x8a, 0);
    const first = new WriteBatch();
    const second = new WriteBatch();
    const third = new WriteBatch();
    first.add(a);
    first.add(b);
    second.add(a);
    second.add(pong);
    second.add(b);
    third.add(b);
    third.add(a);
    const one = first.take()!;
    const two = second.take()!;
    const three = third.take()!;
    expect(two).not.toBe(one);
    expect(three).not.toBe(one);
    expect(Array.from(one)).toEqual([1, 2]);
    expect(Array.from(two)).toEqual([1, 0x8a, 0, 2]);
    expect(Array.from(three)).toEqual([2, 1]);
    // Equal again to the first: a copy of its own, with the same bytes.
    first.add(a);
    first.add(b);
    const again = first.take()!;
    expect(Array.from(again)).toEqual([1, 2]);
  });

  it("reuses a batch after it is taken, whatever it shared", () => {
    const shared = [Uint8Array.of(7), Uint8Array.of(8)];
    const x = new WriteBatch();
    const y = new WriteBatch();
    for (const batch of [x, y]) for (const chunk of shared) batch.add(chunk);
    const fromX = x.take()!;
    expect(y.take()).toBe(fromX);
    x.add(Uint8Array.of(9));
    x.add(Uint8Array.of(10));
    expect(Array.from(x.take()!)).toEqual([9, 10]);
    expect(Array.from(fromX)).toEqual([7, 8]);
  });

  it("gives released batches out again, empty, and keeps a bounded number of spares", () => {
    const batch = WriteBatch.obtain();
    batch.add(Uint8Array.of(1));
    batch.add(Uint8Array.of(2));
    batch.release();
    const again = WriteBatch.obtain();
    expect(again).toBe(batch);
    expect(again.empty).toBe(true);
    expect(again.bytes).toBe(0);
    again.add(Uint8Array.of(3));
    again.add(Uint8Array.of(4));
    expect(Array.from(again.take()!)).toEqual([3, 4]);
    again.release();
    // Many released at once: only a bounded number come back.
    const many = Array.from({ length: 200 }, () => WriteBatch.obtain());
    for (const b of many) b.release();
    const reused = new Set(many);
    let fromSpares = 0;
    for (let i = 0; i < 200; i++) if (reused.has(WriteBatch.obtain())) fromSpares++;
    expect(fromSpares).toBeGreaterThan(0);
    expect(fromSpares).toBeLessThan(200);
  });

  describe("frames encoded in place (addFrame)", () => {
    it("writes the same bytes as encodeFrame, in order with added chunks", () => {
      const batch = new WriteBatch();
      const shared = encodeFrame(Opcode.Binary, bytes(3, 100))[0]!;
      expect(batch.addFrame(Opcode.Text, bytes(5), true, false)).toBe(7);
      expect(batch.addFrame(Opcode.Binary, bytes(200), false, true)).toBe(204);
      batch.add(shared);
      batch.addFrame(Opcode.Continuation, bytes(1, 50), true, false);
      batch.addFrame(Opcode.Pong, new Uint8Array(0), true, false);
      expect(batch.bytes).toBe(7 + 204 + shared.length + 3 + 2);
      expect(Array.from(batch.take()!)).toEqual([
        ...encoded(Opcode.Text, bytes(5)),
        ...encoded(Opcode.Binary, bytes(200), false, true),
        ...Array.from(shared),
        ...encoded(Opcode.Continuation, bytes(1, 50)),
        ...encoded(Opcode.Pong, new Uint8Array(0)),
      ]);
      expect(batch.empty).toBe(true);
    });

    it("masks under the key it is given, as a client's frames must be", () => {
      const keys = new MaskKeyPool();
      const key = keys.next();
      const payload = bytes(40);
      const batch = new WriteBatch();
      expect(batch.addFrame(Opcode.Binary, payload, true, false, key)).toBe(46);
      const frame = batch.take()!;
      expect(frame[1]).toBe(0x80 | 40);
      expect(Array.from(frame.subarray(2, 6))).toEqual(Array.from(key));
      const unmasked = Array.from(frame.subarray(6), (byte, i) => byte ^ key[i & 3]!);
      expect(unmasked).toEqual(Array.from(payload));
      expect(Array.from(payload)).toEqual(Array.from(bytes(40)));
    });

    it("copies the payload at once, and takes a copy that later frames do not overwrite", () => {
      const batch = new WriteBatch();
      const payload = bytes(4);
      batch.addFrame(Opcode.Binary, payload, true, false);
      payload.fill(0xee);
      const first = batch.take()!;
      expect(Array.from(first)).toEqual(encoded(Opcode.Binary, bytes(4)));
      batch.addFrame(Opcode.Binary, bytes(4, 9), true, false);
      const second = batch.take()!;
      expect(second).not.toBe(first);
      expect(Array.from(first)).toEqual(encoded(Opcode.Binary, bytes(4)));
      expect(Array.from(second)).toEqual(encoded(Opcode.Binary, bytes(4, 9)));
    });

    it("grows past its first staging buffer, keeping frames that an added chunk split off", () => {
      const batch = new WriteBatch();
      const expected: number[] = [];
      for (let i = 0; i < 60; i++) {
        const payload = bytes(100 + i, i);
        batch.addFrame(Opcode.Binary, payload, true, false);
        expected.push(...encoded(Opcode.Binary, payload));
        if (i % 7 === 3) {
          const chunk = Uint8Array.of(0x8a, 1, i);
          batch.add(chunk);
          expected.push(...chunk);
        }
      }
      expect(batch.bytes).toBe(expected.length);
      expect(Array.from(batch.take()!)).toEqual(expected);
      // Reused afterwards: a lone frame, in a buffer of its own.
      batch.addFrame(Opcode.Ping, bytes(2), true, false);
      expect(Array.from(batch.take()!)).toEqual(encoded(Opcode.Ping, bytes(2)));
    });

    it("counts its frames and bytes against the same bounds as added chunks", () => {
      expect(WriteBatch.acceptsFrame(BATCH_FRAME_PAYLOAD_MAX)).toBe(true);
      expect(WriteBatch.acceptsFrame(BATCH_FRAME_PAYLOAD_MAX + 1)).toBe(false);
      const batch = new WriteBatch();
      for (let i = 0; i < BATCH_MAX_CHUNKS; i++) batch.addFrame(Opcode.Pong, new Uint8Array(0), true, false);
      expect(batch.isFullFor(2)).toBe(true);
      batch.clear();
      expect(batch.isFullFor(2)).toBe(false);
      const payload = new Uint8Array(BATCH_FRAME_PAYLOAD_MAX);
      let added = 0;
      while (!batch.isFullFor(payload.length + 4)) added += batch.addFrame(Opcode.Binary, payload, true, false);
      expect(added).toBeLessThanOrEqual(BATCH_MAX_BYTES);
      expect(batch.take()!.length).toBe(added);
    });

    it("refuses a control frame no peer would accept, as encodeFrame does", () => {
      const batch = new WriteBatch();
      expect(() => batch.addFrame(Opcode.Ping, new Uint8Array(126), true, false)).toThrow(RangeError);
      expect(() => batch.addFrame(Opcode.Close, new Uint8Array(2), false, false)).toThrow(RangeError);
      expect(batch.empty).toBe(true);
    });
  });
});
