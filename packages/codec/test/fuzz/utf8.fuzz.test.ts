// The UTF-8 validator against the WHATWG decoder (`TextDecoder` with `fatal: true`) as reference:
// same verdict on whole buffers, and in streaming mode the same fail-fast point, for every split of
// the input and every alignment of the buffer (the ASCII fast path reads aligned 32-bit words).
import { isUtf8 } from "node:buffer";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Utf8Validator, isValidUtf8 } from "../../src/index.js";
import { splitAt } from "../frames.js";
import { decoderAccepts } from "../utf8-reference.js";
import { atOffset, cuts, utf8ishBytes } from "./arbitraries.js";
import { TEST_TIMEOUT_MS, budget } from "./budget.js";


/**
 * Index of the chunk on which the WHATWG streaming decoder first fails, chunks.length if it only
 * fails at the end (an incomplete sequence), or -1 if the input is valid.
 */
function referenceStreamingFailure(chunks: Uint8Array[]): number {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (let i = 0; i < chunks.length; i++) {
    try {
      decoder.decode(chunks[i], { stream: true });
    } catch {
      return i;
    }
  }
  try {
    decoder.decode();
    return -1;
  } catch {
    return chunks.length;
  }
}

function streamingFailure(validator: Utf8Validator, chunks: Uint8Array[]): number {
  for (let i = 0; i < chunks.length; i++) if (!validator.write(chunks[i]!)) return i;
  return validator.end() ? -1 : chunks.length;
}

/** Long inputs with an ASCII run, so the word-at-a-time path and its alignment handling are used. */
const longBytes = fc
  .tuple(fc.nat({ max: 700 }), utf8ishBytes(40), utf8ishBytes(40), fc.constantFrom(0x41, 0x00, 0x7f))
  .map(([run, head, tail, fill]) => {
    const bytes = new Uint8Array(head.length + run + tail.length).fill(fill);
    bytes.set(head, 0);
    bytes.set(tail, head.length + run);
    return bytes;
  });

const input = fc.oneof(utf8ishBytes(), longBytes);

describe("isValidUtf8", () => {
  it("agrees with TextDecoder(fatal) at every alignment", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(input, fc.integer({ min: 0, max: 7 }), (bytes, offset) => {
        expect(isValidUtf8(atOffset(bytes, offset))).toBe(decoderAccepts(bytes));
      }),
      budget(),
    );
  });
});

describe("Utf8Validator", () => {
  it("fails on the same chunk as the streaming TextDecoder, with and without a native fast check", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(input, cuts, fc.integer({ min: 0, max: 7 }), (bytes, points, offset) => {
        const chunks = splitAt(bytes, points).map((chunk) => atOffset(chunk, offset));
        const expected = referenceStreamingFailure(chunks);
        expect(streamingFailure(new Utf8Validator(), chunks)).toBe(expected);
        expect(streamingFailure(new Utf8Validator((b) => isUtf8(b)), chunks)).toBe(expected);
      }),
      budget(),
    );
  });

  it("validates sub-ranges exactly like a copy of the range; reset forgets everything", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(utf8ishBytes(), utf8ishBytes(), fc.nat(), (garbage, bytes, a) => {
        const buffer = new Uint8Array([...garbage, ...bytes, ...garbage]);
        const start = garbage.length;
        const validator = new Utf8Validator((view) => isUtf8(view));
        validator.write(garbage);
        validator.reset();
        const middle = start + (bytes.length === 0 ? 0 : a % (bytes.length + 1));
        const ok = validator.write(buffer, start, middle) && validator.write(buffer, middle, start + bytes.length);
        expect(ok && validator.end()).toBe(decoderAccepts(bytes));
      }),
      budget(),
    );
  });
});
