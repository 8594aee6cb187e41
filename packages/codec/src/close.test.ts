import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  CloseCode,
  MAX_CLOSE_REASON_BYTES,
  decodeClosePayload,
  encodeClosePayload,
  isValidCloseCode,
} from "./close.js";
import { ErrorCode, WebSocketError } from "./errors.js";

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Runs `fn`, expecting a WebSocketError, and returns it. */
function catchWebSocketError(fn: () => unknown): WebSocketError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(WebSocketError);
    return error as WebSocketError;
  }
  throw new Error("expected a WebSocketError");
}

const validCodes = fc.oneof(
  fc.integer({ min: 1000, max: 1003 }),
  fc.integer({ min: 1007, max: 1014 }),
  fc.integer({ min: 3000, max: 4999 }),
);

describe("CloseCode", () => {
  it("has the RFC 6455 §7.4.1 and IANA values", () => {
    expect(CloseCode.NormalClosure).toBe(1000);
    expect(CloseCode.NoStatusReceived).toBe(1005);
    expect(CloseCode.AbnormalClosure).toBe(1006);
    expect(CloseCode.InvalidPayloadData).toBe(1007);
    expect(CloseCode.BadGateway).toBe(1014);
    expect(CloseCode.TlsHandshake).toBe(1015);
    expect(Object.values(CloseCode)).toHaveLength(15);
  });
});

describe("isValidCloseCode", () => {
  it.each([
    [0, false],
    [999, false],
    [1000, true],
    [1001, true],
    [1002, true],
    [1003, true],
    [1004, false],
    [1005, false],
    [1006, false],
    [1007, true],
    [1008, true],
    [1009, true],
    [1010, true],
    [1011, true],
    [1012, true],
    [1013, true],
    [1014, true],
    [1015, false],
    [1016, false],
    [2000, false],
    [2999, false],
    [3000, true],
    [3999, true],
    [4000, true],
    [4999, true],
    [5000, false],
    [65535, false],
    [-1000, false],
    [1000.5, false],
    [NaN, false],
    [Infinity, false],
  ])("%d → %s", (code, valid) => {
    expect(isValidCloseCode(code)).toBe(valid);
  });
});

describe("encodeClosePayload", () => {
  it("returns an empty payload without a code", () => {
    expect(encodeClosePayload()).toEqual(new Uint8Array(0));
    expect(encodeClosePayload(undefined, "")).toEqual(new Uint8Array(0));
    expect(encodeClosePayload(undefined, new Uint8Array(0))).toEqual(new Uint8Array(0));
  });

  it("rejects a reason without a code", () => {
    expect(() => encodeClosePayload(undefined, "bye")).toThrow(TypeError);
    expect(() => encodeClosePayload(undefined, bytes(0x61))).toThrow(TypeError);
  });

  it("writes the code big-endian, then the reason", () => {
    expect(encodeClosePayload(1000)).toEqual(bytes(0x03, 0xe8));
    expect(encodeClosePayload(4999, "é!")).toEqual(bytes(0x13, 0x87, 0xc3, 0xa9, 0x21));
    expect(encodeClosePayload(3000, bytes(0x6f, 0x6b))).toEqual(bytes(0x0b, 0xb8, 0x6f, 0x6b));
  });

  it.each([999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 0, -1, 1000.5, NaN])("rejects code %d with a RangeError", (code) => {
    expect(() => encodeClosePayload(code)).toThrow(RangeError);
    expect(() => encodeClosePayload(code)).toThrow(/invalid close code/);
  });

  it.each([1000, 1003, 1007, 1014, 3000, 4999])("accepts code %d", (code) => {
    const payload = encodeClosePayload(code);
    expect(payload).toHaveLength(2);
    expect((payload[0]! << 8) | payload[1]!).toBe(code);
  });

  it("allows a 123-byte reason and rejects 124 bytes", () => {
    expect(encodeClosePayload(1000, "a".repeat(123))).toHaveLength(125);
    expect(() => encodeClosePayload(1000, "a".repeat(124))).toThrow(RangeError);
    expect(encodeClosePayload(1000, new Uint8Array(123).fill(0x61))).toHaveLength(125);
    expect(() => encodeClosePayload(1000, new Uint8Array(124).fill(0x61))).toThrow(RangeError);
    expect(MAX_CLOSE_REASON_BYTES).toBe(123);
  });

  it("counts the reason in UTF-8 bytes, not characters", () => {
    // 41 × 3 bytes = 123; 42 × 3 = 126, only 42 characters long.
    expect(encodeClosePayload(1000, "€".repeat(41))).toHaveLength(125);
    expect(() => encodeClosePayload(1000, "€".repeat(42))).toThrow(RangeError);
    // 61 × 2 + 1 = 123; 62 × 2 = 124.
    expect(encodeClosePayload(1000, "é".repeat(61) + "a")).toHaveLength(125);
    expect(() => encodeClosePayload(1000, "é".repeat(62))).toThrow(RangeError);
    // 30 × 4 = 120 plus 3 = 123; one more emoji is 127.
    expect(encodeClosePayload(1000, "😀".repeat(30) + "abc")).toHaveLength(125);
    expect(() => encodeClosePayload(1000, "😀".repeat(31))).toThrow(RangeError);
  });

  it("encodes a lone surrogate in a string reason as U+FFFD", () => {
    expect(encodeClosePayload(1000, "\ud800")).toEqual(bytes(0x03, 0xe8, 0xef, 0xbf, 0xbd));
  });

  it("copies a Uint8Array reason, views included, into a buffer of its own", () => {
    const backing = new Uint8Array([0xff, 0x68, 0x69, 0xff]);
    const reason = backing.subarray(1, 3);
    const payload = encodeClosePayload(1001, reason);
    expect(payload).toEqual(bytes(0x03, 0xe9, 0x68, 0x69));
    // Fully written and not shared: exactly its own bytes, unaffected by later changes.
    expect(payload.byteOffset).toBe(0);
    expect(payload.buffer.byteLength).toBe(payload.length);
    expect(payload.buffer).not.toBe(backing.buffer);
    backing.fill(0x21);
    expect(payload).toEqual(bytes(0x03, 0xe9, 0x68, 0x69));
  });

  it("accepts a Uint8Array subclass such as Node's Buffer", () => {
    class Bytes extends Uint8Array {}
    expect(encodeClosePayload(1000, Bytes.from([0x6f, 0x6b]))).toEqual(bytes(0x03, 0xe8, 0x6f, 0x6b));
  });

  it.each([
    ["Uint16Array", new Uint16Array([0x61])],
    ["Uint8ClampedArray", new Uint8ClampedArray([0x61])],
    ["Int8Array", new Int8Array([0x61])],
    ["DataView", new DataView(new ArrayBuffer(1))],
    ["ArrayBuffer", new ArrayBuffer(1)],
    ["number", 42],
    ["null", null],
    ["plain object", { length: 1, 0: 0x61 }],
  ])("rejects a %s reason with a TypeError", (_label, reason) => {
    expect(() => encodeClosePayload(1000, reason as unknown as Uint8Array)).toThrow(TypeError);
  });

  it("rejects a Uint8Array reason that is not valid UTF-8", () => {
    expect(() => encodeClosePayload(1000, bytes(0x61, 0xff))).toThrow(TypeError);
    expect(() => encodeClosePayload(1000, bytes(0xed, 0xa0, 0x80))).toThrow(/UTF-8/);
    expect(() => encodeClosePayload(1000, bytes(0xc3))).toThrow(TypeError);
  });
});

describe("decodeClosePayload", () => {
  it("reports an empty payload as 1005 with no reason", () => {
    expect(decodeClosePayload(new Uint8Array(0))).toEqual({ code: 1005, reason: "" });
  });

  it("decodes a code and a reason", () => {
    expect(decodeClosePayload(bytes(0x03, 0xe8))).toEqual({ code: 1000, reason: "" });
    expect(decodeClosePayload(bytes(0x0f, 0xa0, 0x62, 0x79, 0x65))).toEqual({ code: 4000, reason: "bye" });
  });

  it("keeps a leading byte order mark in the reason", () => {
    expect(decodeClosePayload(bytes(0x03, 0xe8, 0xef, 0xbb, 0xbf, 0x61)).reason).toBe("\ufeffa");
  });

  it("decodes from a view at an offset", () => {
    const backing = bytes(0xff, 0xff, 0x03, 0xe9, 0x6f, 0x6b, 0xff);
    expect(decodeClosePayload(backing.subarray(2, 6))).toEqual({ code: 1001, reason: "ok" });
  });

  it("rejects a 1-byte payload with InvalidClosePayload / 1002", () => {
    const error = catchWebSocketError(() => decodeClosePayload(bytes(0x03)));
    expect(error.code).toBe(ErrorCode.InvalidClosePayload);
    expect(error.closeCode).toBe(1002);
  });

  it.each([0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])("rejects code %d with InvalidCloseCode / 1002", (code) => {
    const error = catchWebSocketError(() => decodeClosePayload(bytes(code >> 8, code & 0xff)));
    expect(error.code).toBe(ErrorCode.InvalidCloseCode);
    expect(error.closeCode).toBe(1002);
  });

  it.each([
    ["lone continuation", [0x80]],
    ["surrogate", [0xed, 0xa0, 0x80]],
    ["overlong", [0xc0, 0xaf]],
    ["truncated", [0x61, 0xe2, 0x82]],
  ])("rejects a reason with a %s with InvalidUtf8 / 1007", (_label, reason) => {
    const error = catchWebSocketError(() => decodeClosePayload(bytes(0x03, 0xe8, ...reason)));
    expect(error.code).toBe(ErrorCode.InvalidUtf8);
    expect(error.closeCode).toBe(1007);
  });

  it("checks the code before the reason", () => {
    const error = catchWebSocketError(() => decodeClosePayload(bytes(0x03, 0xed, 0xff)));
    expect(error.code).toBe(ErrorCode.InvalidCloseCode);
  });
});

describe("round trip", () => {
  it("decode(encode(code, reason)) gives back the code and the reason", () => {
    fc.assert(
      fc.property(validCodes, fc.string({ unit: "grapheme", maxLength: 40 }), fc.boolean(), (code, reason, asBytes) => {
        const reasonBytes = encode(reason);
        fc.pre(reasonBytes.length <= MAX_CLOSE_REASON_BYTES);
        const payload = encodeClosePayload(code, asBytes ? reasonBytes : reason);
        expect(payload).toHaveLength(2 + reasonBytes.length);
        expect(decodeClosePayload(payload)).toEqual({ code, reason });
      }),
      { numRuns: 500 },
    );
  });

  it("encode and decode agree on which codes are valid", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (code) => {
        const valid = isValidCloseCode(code);
        if (valid) expect(decodeClosePayload(encodeClosePayload(code)).code).toBe(code);
        else {
          expect(() => encodeClosePayload(code)).toThrow(RangeError);
          expect(catchWebSocketError(() => decodeClosePayload(bytes(code >> 8, code & 0xff))).code).toBe(
            ErrorCode.InvalidCloseCode,
          );
        }
      }),
      { numRuns: 500 },
    );
  });
});
