// Hand-rolled frame builder and decoder for tests, deliberately independent of the codec's own
// serializer so that a bug there cannot hide a bug in the parser (and the other way round).
import { encodeTestFrame, type TestFrameSpec } from "@ws/test-utils";

export interface TestFrame extends Omit<TestFrameSpec, "mask" | "declaredLength"> {
  /** A 4-byte mask key, or true for a fixed non-trivial one. */
  mask?: Uint8Array | boolean;
}

export const text = (value: string): Uint8Array => new TextEncoder().encode(value);

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const result = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

export function buildFrame(frame: TestFrame): Uint8Array {
  const mask = frame.mask === true ? Uint8Array.of(0x37, 0xfa, 0x21, 0x3d) : frame.mask || null;
  return encodeTestFrame({ ...frame, mask });
}

export interface DecodedFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

/** Decodes a complete sequence of frames (throws on truncated input). */
export function decodeFrames(bytes: Uint8Array): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const first = bytes[offset]!;
    const second = bytes[offset + 1]!;
    let length = second & 0x7f;
    let position = offset + 2;
    if (length === 126) {
      length = (bytes[position]! << 8) | bytes[position + 1]!;
      position += 2;
    } else if (length === 127) {
      const view = new DataView(bytes.buffer, bytes.byteOffset + position, 8);
      length = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
      position += 8;
    }
    const masked = (second & 0x80) !== 0;
    const key = masked ? bytes.slice(position, position + 4) : null;
    if (masked) position += 4;
    if (position + length > bytes.length) throw new Error("truncated frame");
    const payload = bytes.slice(position, position + length);
    if (key) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
    frames.push({ fin: (first & 0x80) !== 0, rsv1: (first & 0x40) !== 0, opcode: first & 0x0f, masked, payload });
    offset = position + length;
  }
  return frames;
}

/** Splits bytes into chunks at the given cut points (sorted, deduplicated, in range). */
export function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.filter((cut) => cut > 0 && cut < bytes.length))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let previous = 0;
  for (const point of points) {
    chunks.push(bytes.slice(previous, point));
    previous = point;
  }
  chunks.push(bytes.slice(previous));
  return chunks;
}
