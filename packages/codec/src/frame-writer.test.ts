import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concatBytes, decodeFrames, text } from "../test/frames.js";
import { encodeFrame, frameHeaderSize, writeFrameHeader } from "./frame-writer.js";
import { MaskKeyPool } from "./mask-key.js";
import { Opcode } from "./opcode.js";

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

const bytesOf = (chunks: Uint8Array[]): number[] => [...concatBytes(...chunks)];

/** A pool that always hands out the RFC 6455 §5.7 example key. */
class FixedKeyPool extends MaskKeyPool {
  override next(): Uint8Array {
    return Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);
  }
}

function header(opcode: number, length: number, options: { fin?: boolean; rsv1?: boolean; key?: Uint8Array } = {}) {
  const target = new Uint8Array(14);
  const size = writeFrameHeader(target, 0, opcode, length, options.fin ?? true, options.rsv1 ?? false, options.key);
  return [...target.subarray(0, size)];
}

describe("RFC 6455 §5.7 examples", () => {
  it("a single-frame unmasked text message", () => {
    expect(bytesOf(encodeFrame(Opcode.Text, text("Hello")))).toEqual([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
  });

  it("a single-frame masked text message", () => {
    const chunks = encodeFrame(Opcode.Text, text("Hello"), { mask: true, maskKeys: new FixedKeyPool() });
    expect(chunks).toHaveLength(1);
    expect(bytesOf(chunks)).toEqual([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
  });

  it("a fragmented unmasked text message", () => {
    expect(bytesOf(encodeFrame(Opcode.Text, text("Hel"), { fin: false }))).toEqual([0x01, 0x03, 0x48, 0x65, 0x6c]);
    expect(bytesOf(encodeFrame(Opcode.Continuation, text("lo")))).toEqual([0x80, 0x02, 0x6c, 0x6f]);
  });

  it("unmasked ping, and masked pong", () => {
    expect(bytesOf(encodeFrame(Opcode.Ping, text("Hello")))).toEqual([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    const pong = encodeFrame(Opcode.Pong, text("Hello"), { mask: true, maskKeys: new FixedKeyPool() });
    expect(bytesOf(pong)).toEqual([0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
  });

  it("256 bytes binary message in a single unmasked frame", () => {
    const payload = new Uint8Array(256).map((_, i) => i);
    const frame = concatBytes(...encodeFrame(Opcode.Binary, payload));
    expect([...frame.subarray(0, 4)]).toEqual([0x82, 0x7e, 0x01, 0x00]);
    expect(equal(frame.subarray(4), payload)).toBe(true);
  });

  it("64 KiB binary message in a single unmasked frame", () => {
    const payload = new Uint8Array(65536).fill(0xab);
    const chunks = encodeFrame(Opcode.Binary, payload);
    expect([...chunks[0]!]).toEqual([0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]);
    expect(chunks).toHaveLength(2);
    expect(chunks[1]).toBe(payload);
  });
});

describe("frameHeaderSize / writeFrameHeader", () => {
  const cases: [length: number, lengthBytes: number[]][] = [
    [0, [0x00]],
    [1, [0x01]],
    [125, [0x7d]],
    [126, [0x7e, 0x00, 0x7e]],
    [127, [0x7e, 0x00, 0x7f]],
    [65535, [0x7e, 0xff, 0xff]],
    [65536, [0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]],
    [2 ** 32 - 1, [0x7f, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]],
    [2 ** 32, [0x7f, 0, 0, 0, 0x01, 0, 0, 0, 0]],
    [2 ** 32 + 1, [0x7f, 0, 0, 0, 0x01, 0, 0, 0, 0x01]],
    [0x0123_4567_89ab_cd, [0x7f, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd]],
    [Number.MAX_SAFE_INTEGER, [0x7f, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
  ];

  it.each(cases)("length %i uses the shortest length form", (length, lengthBytes) => {
    expect(header(Opcode.Binary, length)).toEqual([0x82, ...lengthBytes]);
    expect(frameHeaderSize(length, false)).toBe(1 + lengthBytes.length);
  });

  it.each(cases)("length %i, masked: MASK bit and the key after the length", (length, lengthBytes) => {
    const key = Uint8Array.of(1, 2, 3, 4);
    expect(header(Opcode.Binary, length, { key })).toEqual([0x82, lengthBytes[0]! | 0x80, ...lengthBytes.slice(1), 1, 2, 3, 4]);
    expect(frameHeaderSize(length, true)).toBe(1 + lengthBytes.length + 4);
  });

  it("sets FIN and RSV1 independently and never RSV2/RSV3", () => {
    expect(header(Opcode.Text, 0, { fin: true, rsv1: false })[0]).toBe(0x81);
    expect(header(Opcode.Text, 0, { fin: false, rsv1: false })[0]).toBe(0x01);
    expect(header(Opcode.Text, 0, { fin: true, rsv1: true })[0]).toBe(0xc1);
    expect(header(Opcode.Continuation, 0, { fin: false, rsv1: true })[0]).toBe(0x40);
  });

  it("writes at an offset and returns the bytes written", () => {
    const target = new Uint8Array(20).fill(0xee);
    expect(writeFrameHeader(target, 5, Opcode.Binary, 300, true, false)).toBe(4);
    expect([...target]).toEqual([
      ...Array(5).fill(0xee), 0x82, 0x7e, 0x01, 0x2c, ...Array(11).fill(0xee),
    ]);
  });

  it("rejects lengths that are not exact integers in 0..2^53-1, and bad opcodes", () => {
    const target = new Uint8Array(14);
    for (const bad of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, 2 ** 63, Infinity]) {
      expect(() => writeFrameHeader(target, 0, Opcode.Binary, bad, true, false)).toThrow(RangeError);
    }
    for (const bad of [-1, 16, 0.5]) {
      expect(() => writeFrameHeader(target, 0, bad, 0, true, false)).toThrow(RangeError);
    }
  });
});

describe("encodeFrame", () => {
  it("combines small unmasked frames into one buffer and leaves large payloads uncopied", () => {
    const small = new Uint8Array(100).fill(7);
    const chunks = encodeFrame(Opcode.Binary, small);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.buffer).not.toBe(small.buffer);

    const large = new Uint8Array(10_000).fill(7);
    const [head, body] = encodeFrame(Opcode.Binary, large);
    expect(body).toBe(large);
    expect([...head!]).toEqual([0x82, 0x7e, 0x27, 0x10]);
  });

  it("masked frames: one fresh buffer, payload untouched, a new key per frame", () => {
    const payload = new Uint8Array(5000).map((_, i) => i * 7);
    const original = payload.slice();
    const keys = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const chunks = encodeFrame(Opcode.Binary, payload, { mask: true });
      expect(chunks).toHaveLength(1);
      const [frame] = decodeFrames(chunks[0]!);
      expect(frame!.masked).toBe(true);
      expect(equal(frame!.payload, original)).toBe(true);
      keys.add([...chunks[0]!.subarray(4, 8)].join(","));
    }
    expect(equal(payload, original)).toBe(true);
    expect(keys.size).toBeGreaterThan(15);
  });

  it("round-trips through an independent decoder (property)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(Opcode.Text, Opcode.Binary, Opcode.Continuation),
        // Lengths on both sides of the 7/16/64-bit forms and of the combine threshold.
        fc.oneof(fc.nat({ max: 3000 }), fc.integer({ min: 65_000, max: 70_000 })),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (opcode, length, fin, rsv1, mask) => {
          const payload = new Uint8Array(length).map((_, i) => (i * 31 + length) & 0xff);
          const original = payload.slice();
          const chunks = encodeFrame(opcode, payload, { fin, rsv1, mask });
          const frames = decodeFrames(concatBytes(...chunks));
          expect(frames).toHaveLength(1);
          const [frame] = frames;
          expect({ ...frame, payload: undefined }).toEqual({ fin, rsv1, opcode, masked: mask, payload: undefined });
          expect(equal(frame!.payload, original)).toBe(true);
          expect(equal(payload, original)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("encodes empty payloads", () => {
    expect(bytesOf(encodeFrame(Opcode.Close, new Uint8Array(0)))).toEqual([0x88, 0x00]);
    const masked = encodeFrame(Opcode.Ping, new Uint8Array(0), { mask: true });
    expect(masked[0]!.length).toBe(6);
    expect(masked[0]![1]).toBe(0x80);
  });

  it("refuses control frames over 125 bytes or without FIN (RFC 6455 §5.5)", () => {
    expect(() => encodeFrame(Opcode.Ping, new Uint8Array(126))).toThrow(RangeError);
    expect(() => encodeFrame(Opcode.Close, new Uint8Array(2), { fin: false })).toThrow(RangeError);
    expect(encodeFrame(Opcode.Pong, new Uint8Array(125))[0]!.length).toBe(127);
  });
});
