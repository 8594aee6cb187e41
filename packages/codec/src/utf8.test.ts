import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { decoderAccepts } from "../test/utf8-reference.js";
import { Utf8Validator, isValidUtf8 } from "./utf8.js";

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Streams `input` through a validator in pieces split at `cuts`; true if valid and complete. */
function streamAccepts(input: Uint8Array, cuts: number[], validator = new Utf8Validator()): boolean {
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...points, input.length]) {
    if (!validator.write(input, from, to)) return false;
    from = to;
  }
  return validator.end();
}

/**
 * Feeds `input` one byte at a time (each write a separate one-byte array) and returns the index of
 * the write that returned false, or -1 if none did.
 */
function firstFailingWrite(input: Uint8Array): number {
  const validator = new Utf8Validator();
  for (let i = 0; i < input.length; i++) {
    if (!validator.write(input.slice(i, i + 1))) return i;
  }
  return -1;
}

/** Accepted as a whole (both entry points) and byte by byte. */
function expectValid(input: Uint8Array): void {
  expect(isValidUtf8(input)).toBe(true);
  const validator = new Utf8Validator();
  expect(validator.write(input)).toBe(true);
  expect(validator.end()).toBe(true);
  expect(firstFailingWrite(input)).toBe(-1);
}

/** Rejected by write() (not just end()), as a whole and byte by byte at `failAt`. */
function expectInvalidAt(input: Uint8Array, failAt: number): void {
  expect(isValidUtf8(input)).toBe(false);
  expect(decoderAccepts(input)).toBe(false);
  expect(new Utf8Validator().write(input)).toBe(false);
  expect(firstFailingWrite(input)).toBe(failAt);
}

/** Every byte is a valid prefix, but the input stops inside a sequence. */
function expectTruncated(input: Uint8Array): void {
  expect(isValidUtf8(input)).toBe(false);
  const validator = new Utf8Validator();
  expect(validator.write(input)).toBe(true);
  expect(validator.end()).toBe(false);
  expect(firstFailingWrite(input)).toBe(-1);
}

describe("valid boundaries (RFC 3629 §4)", () => {
  it.each([
    ["U+0000", [0x00]],
    ["U+007F", [0x7f]],
    ["U+0080", [0xc2, 0x80]],
    ["U+07FF", [0xdf, 0xbf]],
    ["U+0800", [0xe0, 0xa0, 0x80]],
    ["U+D7FF", [0xed, 0x9f, 0xbf]],
    ["U+E000", [0xee, 0x80, 0x80]],
    ["U+FFFD", [0xef, 0xbf, 0xbd]],
    ["U+FFFF", [0xef, 0xbf, 0xbf]],
    ["U+10000", [0xf0, 0x90, 0x80, 0x80]],
    ["U+10FFFF", [0xf4, 0x8f, 0xbf, 0xbf]],
  ])("accepts %s", (label, sequence) => {
    const input = bytes(...sequence);
    expect(new TextDecoder().decode(input).codePointAt(0)).toBe(parseInt(label.slice(2), 16));
    expectValid(input);
    // Also inside longer input, where the whole-sequence fast path sees it.
    expectValid(bytes(0x61, ...sequence, 0x62, 0x63, 0x64, 0x65, ...sequence, 0x66));
  });

  it("accepts the empty input", () => {
    expectValid(new Uint8Array(0));
  });
});

describe("invalid sequences fail at the exact byte", () => {
  it.each([
    // Lone continuation bytes and bytes that never appear.
    ["lone continuation 80", [0x80], 0],
    ["lone continuation BF", [0xbf], 0],
    ["ASCII then continuation", [0x61, 0x80], 1],
    ["C0 (overlong lead)", [0xc0, 0x80], 0],
    ["C1 (overlong lead)", [0xc1, 0xbf], 0],
    ["F5", [0xf5, 0x80, 0x80, 0x80], 0],
    ["F8 (5-byte lead)", [0xf8, 0x88, 0x80, 0x80, 0x80], 0],
    ["FC (6-byte lead)", [0xfc, 0x84, 0x80, 0x80, 0x80, 0x80], 0],
    ["FE", [0xfe], 0],
    ["FF", [0xff], 0],
    // Overlongs (RFC 3629 §3/§10): rejected on the byte that makes them overlong.
    ["overlong / in 2 bytes", [0xc0, 0xaf], 0],
    ["overlong U+007F in 2 bytes", [0xc1, 0xbf], 0],
    ["overlong / in 3 bytes", [0xe0, 0x80, 0xaf], 1],
    ["overlong U+07FF in 3 bytes", [0xe0, 0x9f, 0xbf], 1],
    ["overlong / in 4 bytes", [0xf0, 0x80, 0x80, 0xaf], 1],
    ["overlong U+FFFF in 4 bytes", [0xf0, 0x8f, 0xbf, 0xbf], 1],
    // Surrogates U+D800..U+DFFF (RFC 3629 §3).
    ["U+D800", [0xed, 0xa0, 0x80], 1],
    ["U+DBFF", [0xed, 0xaf, 0xbf], 1],
    ["U+DC00", [0xed, 0xb0, 0x80], 1],
    ["U+DFFF", [0xed, 0xbf, 0xbf], 1],
    ["surrogate pair U+D800 U+DC00", [0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80], 1],
    // Above U+10FFFF.
    ["U+110000", [0xf4, 0x90, 0x80, 0x80], 1],
    ["U+13FFFF", [0xf4, 0xbf, 0xbf, 0xbf], 1],
    // A sequence cut short by a byte that is not a continuation.
    ["2-byte lead then ASCII", [0xc2, 0x41], 1],
    ["3-byte lead, one continuation, then ASCII", [0xe2, 0x82, 0x41], 2],
    ["4-byte lead, two continuations, then a lead", [0xf0, 0x9f, 0x98, 0xc2], 3],
    ["two 3-byte leads", [0xe2, 0xe2], 1],
    // Extra continuation after a complete sequence.
    ["complete 2-byte sequence then continuation", [0xc3, 0xa9, 0x80], 2],
  ])("%s", (_label, sequence, failAt) => {
    expectInvalidAt(bytes(...sequence), failAt);
  });

  it.each([
    ["F4 90", [0xf4, 0x90]],
    ["ED A0", [0xed, 0xa0]],
    ["E0 80", [0xe0, 0x80]],
    ["F0 8F", [0xf0, 0x8f]],
  ])("%s fails on the second byte, split across writes, without waiting for more", (_label, sequence) => {
    const validator = new Utf8Validator();
    expect(validator.write(bytes(sequence[0]!))).toBe(true);
    expect(validator.write(bytes(sequence[1]!))).toBe(false);
  });

  it("fails on a bad byte in the middle of a long write (whole-sequence path)", () => {
    for (const bad of [[0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe0, 0x80, 0x80], [0xc0, 0x80]]) {
      const input = bytes(...encode("x".repeat(300)), ...bad, ...encode("é".repeat(300)));
      expect(isValidUtf8(input)).toBe(false);
      expect(new Utf8Validator().write(input)).toBe(false);
    }
  });
});

describe("truncated sequences", () => {
  it.each([
    ["2-byte lead", [0xc2]],
    ["3-byte lead", [0xe0]],
    ["3-byte lead + 1", [0xe0, 0xa0]],
    ["4-byte lead", [0xf0]],
    ["4-byte lead + 1", [0xf0, 0x90]],
    ["4-byte lead + 2", [0xf4, 0x8f, 0xbf]],
    ["text then 4-byte lead + 2", [0x61, 0x62, 0x63, 0x64, 0x65, 0xf0, 0x9f, 0x98]],
  ])("%s is a valid prefix but not complete", (_label, sequence) => {
    expectTruncated(bytes(...sequence));
  });

  it("completes a sequence split across writes", () => {
    const validator = new Utf8Validator();
    const emoji = encode("😀");
    expect(validator.write(emoji, 0, 1)).toBe(true);
    expect(validator.end()).toBe(false);
    expect(validator.write(emoji, 1, 3)).toBe(true);
    expect(validator.end()).toBe(false);
    expect(validator.write(emoji, 3, 4)).toBe(true);
    expect(validator.end()).toBe(true);
  });
});

describe("Utf8Validator state", () => {
  it("stays failed until reset", () => {
    const validator = new Utf8Validator();
    expect(validator.write(bytes(0xff))).toBe(false);
    expect(validator.write(encode("fine"))).toBe(false);
    expect(validator.end()).toBe(false);
    validator.reset();
    expect(validator.write(encode("fine"))).toBe(true);
    expect(validator.end()).toBe(true);
  });

  it("reset forgets an incomplete sequence", () => {
    const validator = new Utf8Validator();
    expect(validator.write(bytes(0xe2, 0x82))).toBe(true);
    validator.reset();
    // 0xAC alone would complete the euro sign without the reset; now it is a lone continuation.
    expect(validator.write(bytes(0xac))).toBe(false);
  });

  it("honours start and end and ignores bytes outside them", () => {
    const input = bytes(0xff, 0x61, 0xc3, 0xa9, 0xff);
    const validator = new Utf8Validator();
    expect(validator.write(input, 1, 4)).toBe(true);
    expect(validator.end()).toBe(true);
    expect(validator.write(input, 2, 2)).toBe(true);
  });
});

describe("fastCheck", () => {
  it("is used for large writes up to the last code point boundary", () => {
    const calls: Uint8Array[] = [];
    const validator = new Utf8Validator((b) => {
      calls.push(b.slice());
      return decoderAccepts(b);
    });
    const text = encode("é".repeat(100) + "😀");
    // Cut inside the emoji: the native check sees everything before it; the DFA keeps the rest.
    expect(validator.write(text, 0, text.length - 2)).toBe(true);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toEqual(text.subarray(0, text.length - 4));
    expect(validator.end()).toBe(false);
    expect(validator.write(text, text.length - 2)).toBe(true);
    expect(validator.end()).toBe(true);
  });

  it("is skipped for small writes and mid-sequence state", () => {
    let called = 0;
    const validator = new Utf8Validator(() => {
      called++;
      return true; // a liar: if it were consulted, invalid input would pass
    });
    expect(validator.write(bytes(0xff))).toBe(false);
    validator.reset();
    expect(validator.write(bytes(0xe2))).toBe(true);
    // Mid-sequence: even a large write must not go to fastCheck first.
    expect(validator.write(bytes(0x41, ...encode("a".repeat(200))))).toBe(false);
    expect(called).toBe(0);
  });

  it("falls back to the state machine when it says no", () => {
    const validator = new Utf8Validator(() => false);
    expect(validator.write(encode("ok ".repeat(100)))).toBe(true);
    expect(validator.end()).toBe(true);
  });
});

describe("property tests", () => {
  const withFastCheck = (): Utf8Validator => new Utf8Validator(decoderAccepts);

  it("any TextEncoder output validates, however it is split", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), fc.array(fc.nat(), { maxLength: 8 }), (text, cuts) => {
        const input = encode(text);
        expect(isValidUtf8(input)).toBe(true);
        expect(streamAccepts(input, cuts)).toBe(true);
        expect(streamAccepts(input, cuts, withFastCheck())).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("long mixed text validates, however it is split (word-scan and fastCheck paths)", () => {
    const pieces = fc.constantFrom("a".repeat(70), "hello ", "é", "€", "😀", "日本", "\u0000", "\u007f", "\u{10ffff}");
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 60 }), fc.array(fc.nat(), { maxLength: 6 }), (parts, cuts) => {
        const input = encode(parts.join(""));
        expect(isValidUtf8(input)).toBe(true);
        expect(streamAccepts(input, cuts)).toBe(true);
        expect(streamAccepts(input, cuts, withFastCheck())).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  // Random bytes are mostly invalid; bias them towards UTF-8-looking input so both outcomes occur.
  const utf8ish = fc.array(
    fc.oneof(
      fc.integer({ min: 0x00, max: 0x7f }),
      fc.integer({ min: 0x80, max: 0xbf }),
      fc.constantFrom(0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff),
      fc.string({ unit: "binary", minLength: 1, maxLength: 4 }).map((s) => encode(s)),
      fc.constant(encode("a".repeat(80))),
    ),
    { maxLength: 60 },
  ).map((parts) => {
    const out: number[] = [];
    for (const part of parts) {
      if (typeof part === "number") out.push(part);
      else out.push(...part);
    }
    return Uint8Array.from(out);
  });

  it("agrees with the fatal TextDecoder on random bytes, whole and streamed", () => {
    let valid = 0;
    fc.assert(
      fc.property(utf8ish, fc.array(fc.nat(), { maxLength: 8 }), (input, cuts) => {
        const expected = decoderAccepts(input);
        if (expected) valid++;
        expect(isValidUtf8(input)).toBe(expected);
        expect(streamAccepts(input, cuts)).toBe(expected);
        expect(streamAccepts(input, cuts, withFastCheck())).toBe(expected);
      }),
      { numRuns: 1000 },
    );
    // The generator must exercise both outcomes for the comparison to mean anything.
    expect(valid).toBeGreaterThan(20);
    expect(valid).toBeLessThan(980);
  });

  it("agrees with the fatal TextDecoder on uniformly random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 8 }), (input, cuts) => {
        const expected = decoderAccepts(input);
        expect(isValidUtf8(input)).toBe(expected);
        expect(streamAccepts(input, cuts)).toBe(expected);
        expect(streamAccepts(input, cuts, withFastCheck())).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  /**
   * Brute-force oracle for "can this still become valid UTF-8": try every ending of up to three
   * continuation bytes. These six values cover every second-byte range of RFC 3629 §4.
   */
  const CONTINUATIONS = [0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf];
  function completable(prefix: Uint8Array): boolean {
    const endings: number[][] = [[]];
    for (const a of CONTINUATIONS) {
      endings.push([a]);
      for (const b of CONTINUATIONS) {
        endings.push([a, b]);
        for (const c of CONTINUATIONS) endings.push([a, b, c]);
      }
    }
    return endings.some((ending) => decoderAccepts(Uint8Array.from([...prefix, ...ending])));
  }

  it("fails on exactly the byte after which no valid text could follow", () => {
    fc.assert(
      fc.property(utf8ish, (input) => {
        const at = firstFailingWrite(input);
        if (at === -1) {
          expect(completable(input)).toBe(true);
          return;
        }
        expect(completable(input.subarray(0, at))).toBe(true);
        expect(completable(input.subarray(0, at + 1))).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it("handles views at every alignment (word scan reads through byteOffset)", () => {
    const text = encode("a".repeat(300) + "é" + "b".repeat(300));
    for (let offset = 0; offset < 8; offset++) {
      const backing = new Uint8Array(text.length + 16).fill(0xff);
      backing.set(text, offset);
      const view = backing.subarray(offset, offset + text.length);
      expect(isValidUtf8(view)).toBe(true);
      view[view.length - 100] = 0x80;
      expect(isValidUtf8(view)).toBe(false);
      view[view.length - 100] = 0x62;
      view[5] = 0xc0;
      expect(isValidUtf8(view)).toBe(false);
    }
  });
});
