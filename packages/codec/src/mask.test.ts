import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as maskModule from "./mask.js";

type MaskApi = Pick<typeof maskModule, "applyMask" | "unmask">;

/** Naive reference straight from RFC 6455 §5.3: octet i XOR key octet (i mod 4). */
function reference(data: Uint8Array, mask: Uint8Array, phase = 0): Uint8Array {
  return data.map((byte, i) => byte ^ mask[(phase + i) & 3]!);
}

/** Deterministic pseudo-random bytes, so a failure reproduces. */
function bytes(length: number, seed = length): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

/** Lengths around every tier boundary (48, 512, 16 KiB chunks) plus a few large ones. */
const LENGTHS = [
  ...Array.from({ length: 71 }, (_, i) => i),
  96, 99, 100, 101, 104, 125, 126, 127, 255, 256, 511, 512, 513, 1000, 1024, 4099, 16383, 16384, 16385, 32768 + 5, 65535, 65536,
  65537, 100_003, 262_144,
];

/** A view of `length` bytes at `byteOffset` into a larger buffer, with guard bytes either side. */
function viewAt(data: Uint8Array, byteOffset: number): { view: Uint8Array; whole: Uint8Array } {
  const whole = new Uint8Array(byteOffset + data.length + 8).fill(0xee);
  whole.set(data, byteOffset);
  return { view: whole.subarray(byteOffset, byteOffset + data.length), whole };
}

function expectGuardsIntact(whole: Uint8Array, byteOffset: number, length: number): void {
  expect(whole.subarray(0, byteOffset).every((b) => b === 0xee)).toBe(true);
  expect(whole.subarray(byteOffset + length).every((b) => b === 0xee)).toBe(true);
}

function suite(name: string, load: () => Promise<MaskApi>): void {
  describe(name, () => {
    let api: MaskApi;

    it("loads", async () => {
      api = await load();
    });

    it("unmasks the RFC 6455 §5.7 masked 'Hello' frame", () => {
      const frame = Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
      const payload = frame.subarray(6);
      api.unmask(payload, frame.subarray(2, 6));
      expect(new TextDecoder().decode(payload)).toBe("Hello");

      const output = new Uint8Array(5);
      api.applyMask(new TextEncoder().encode("Hello"), KEY, output, 0, 5);
      expect([...output]).toEqual([0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    });

    it("unmask matches the reference for every length, phase and byteOffset 0..7", () => {
      for (const length of LENGTHS) {
        const data = bytes(length);
        for (let phase = 0; phase < 4; phase++) {
          const expected = reference(data, KEY, phase);
          // Big payloads: a few offsets are enough to hit both aligned and unaligned paths.
          const offsets = length > 20_000 ? [0, 1, 3, 6] : [0, 1, 2, 3, 4, 5, 6, 7];
          for (const byteOffset of offsets) {
            const { view, whole } = viewAt(data, byteOffset);
            api.unmask(view, KEY, phase);
            if (!equal(view, expected)) {
              expect.fail(`length ${length}, phase ${phase}, byteOffset ${byteOffset}`);
            }
            expectGuardsIntact(whole, byteOffset, length);
          }
        }
      }
    });

    it("applyMask matches the reference at every source/output alignment and leaves source alone", () => {
      for (const length of LENGTHS) {
        const data = bytes(length, length + 7);
        const expected = reference(data, KEY);
        const offsets = length > 20_000 ? [0, 3] : [0, 1, 2, 3, 5, 7];
        for (const sourceOffset of offsets) {
          const { view: source } = viewAt(data, sourceOffset);
          for (const outputOffset of offsets) {
            const output = new Uint8Array(outputOffset + length + 8).fill(0xee);
            api.applyMask(source, KEY, output, outputOffset, length);
            if (!equal(output.subarray(outputOffset, outputOffset + length), expected)) {
              expect.fail(`length ${length}, source offset ${sourceOffset}, output offset ${outputOffset}`);
            }
            expectGuardsIntact(output, outputOffset, length);
            if (!equal(source, data)) expect.fail(`source modified at length ${length}`);
          }
        }
      }
    });

    it("applyMask masks only the first `length` bytes of a longer source", () => {
      const source = bytes(2000);
      const output = new Uint8Array(1000);
      api.applyMask(source, KEY, output, 0, 1000);
      expect(equal(output, reference(source.subarray(0, 1000), KEY))).toBe(true);
    });

    it("accepts a mask key that is an unaligned view into a larger buffer", () => {
      const pool = Uint8Array.of(9, 9, 9, ...KEY, 9);
      const key = pool.subarray(3, 7);
      for (const length of [10, 100, 1000, 70_000]) {
        const data = bytes(length);
        const copy = data.slice();
        api.unmask(copy, key, 2);
        expect(equal(copy, reference(data, KEY, 2))).toBe(true);
      }
    });

    it("an all-zero mask leaves the data as it is and applyMask still copies", () => {
      const zero = new Uint8Array(4);
      for (const length of [0, 5, 64, 600, 20_000]) {
        const data = bytes(length);
        const copy = data.slice();
        api.unmask(copy, zero, 1);
        expect(equal(copy, data)).toBe(true);
        const output = new Uint8Array(length + 3);
        api.applyMask(data, zero, output, 3, length);
        expect(equal(output.subarray(3), data)).toBe(true);
      }
    });

    it("unmasking a payload split at arbitrary points with the running phase equals one pass", () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 0, maxLength: 3000 }),
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          fc.array(fc.nat({ max: 3000 }), { maxLength: 6 }),
          fc.nat({ max: 7 }),
          (payload, key, cuts, byteOffset) => {
            const { view } = viewAt(payload, byteOffset);
            const points = [...new Set(cuts.map((c) => c % (payload.length + 1)))].sort((a, b) => a - b);
            let start = 0;
            for (const end of [...points, payload.length]) {
              api.unmask(view.subarray(start, end), key, start & 3);
              start = end;
            }
            return equal(view, reference(payload, key));
          },
        ),
        { numRuns: 300 },
      );
    });

    it("masking twice restores the data (property)", () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 0, maxLength: 5000 }),
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          fc.nat({ max: 16 }),
          (payload, key, outputOffset) => {
            const output = new Uint8Array(outputOffset + payload.length);
            api.applyMask(payload, key, output, outputOffset, payload.length);
            const masked = output.subarray(outputOffset);
            if (!equal(masked, reference(payload, key))) return false;
            api.unmask(masked, key);
            return equal(masked, payload);
          },
        ),
        { numRuns: 300 },
      );
    });

    it("random lengths up to 256 KiB match the reference", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 256 * 1024 }),
          fc.nat({ max: 3 }),
          fc.nat({ max: 7 }),
          (length, phase, byteOffset) => {
            const data = bytes(length);
            const { view } = viewAt(data, byteOffset);
            api.unmask(view, KEY, phase);
            return equal(view, reference(data, KEY, phase));
          },
        ),
        { numRuns: 40 },
      );
    });
  });
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

it("uses the WebAssembly SIMD kernel on this runtime", () => {
  // Guards against a broken hand-written module silently falling back to the word loop.
  expect(maskModule.simdMaskAvailable).toBe(true);
});

suite("mask (WebAssembly SIMD)", () => Promise.resolve(maskModule));

suite("mask (no WebAssembly: word-loop fallback)", async () => {
  vi.stubGlobal("WebAssembly", undefined);
  vi.resetModules();
  const fresh = await import("./mask.js");
  vi.unstubAllGlobals();
  expect(fresh.simdMaskAvailable).toBe(false);
  return fresh;
});
