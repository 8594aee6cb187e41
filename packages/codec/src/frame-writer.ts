/**
 * Frame serializer, RFC 6455 §5.2:
 *
 *   byte 0: FIN | RSV1 | RSV2 | RSV3 | opcode (4 bits)
 *   byte 1: MASK | payload length (7 bits): 0-125 is the length, 126 means a 16-bit length
 *           follows, 127 a 64-bit one (network byte order, most significant bit 0)
 *   then the 4-byte masking key when MASK is set, then the payload.
 */
import { allocUnfilled } from "./alloc.js";
import { applyMask } from "./mask.js";
import { defaultMaskKeyPool, type MaskKeyPool } from "./mask-key.js";
import { isControlOpcode } from "./opcode.js";

/**
 * Unmasked payloads up to this many bytes are copied behind their header into one buffer. Writing
 * header and payload as two chunks costs a second write through the socket stream, about 0.5 µs
 * more per frame on Node 20; copying overtakes that at around 2-4 KiB (measured on a loopback
 * TCP socket).
 */
const COMBINE_MAX = 2048;

/** Largest payload length written exactly: lengths are JS numbers, integers only up to 2^53 - 1. */
const MAX_PAYLOAD_LENGTH = Number.MAX_SAFE_INTEGER;

export interface EncodeFrameOptions {
  /** Final fragment of the message (RFC 6455 §5.4). Default true. */
  fin?: boolean;
  /** RSV1, set on the first frame of a compressed message (RFC 7692 §6). Default false. */
  rsv1?: boolean;
  /** Mask the payload, as clients must (RFC 6455 §5.1). Default false. */
  mask?: boolean;
  /** Where mask keys come from. Default: the shared pool. */
  maskKeys?: MaskKeyPool;
}

/** Header bytes for a payload of this length: 2, 4 or 10, plus 4 for the masking key. */
export function frameHeaderSize(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes a frame header at `target[offset]` and returns its size. With `maskKey` the MASK bit is
 * set and the key follows the length; the payload itself is not touched here.
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  opcode: number,
  payloadLength: number,
  fin: boolean,
  rsv1: boolean,
  maskKey?: Uint8Array,
): number {
  if (!Number.isInteger(opcode) || opcode < 0 || opcode > 0xf) {
    throw new RangeError(`opcode must be 0-15, got ${opcode}`);
  }
  if (!Number.isInteger(payloadLength) || payloadLength < 0 || payloadLength > MAX_PAYLOAD_LENGTH) {
    throw new RangeError(`payload length must be an integer from 0 to 2^53 - 1, got ${payloadLength}`);
  }

  target[offset] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = maskKey === undefined ? 0 : 0x80;
  let position = offset + 2;
  if (payloadLength < 126) {
    target[offset + 1] = maskBit | payloadLength;
  } else if (payloadLength < 65536) {
    target[offset + 1] = maskBit | 126;
    target[position] = payloadLength >>> 8;
    target[position + 1] = payloadLength & 0xff;
    position += 2;
  } else {
    // Bitwise operators work on 32 bits, so split the length into its high and low words.
    target[offset + 1] = maskBit | 127;
    const high = Math.floor(payloadLength / 0x1_0000_0000);
    const low = payloadLength >>> 0;
    target[position] = high >>> 24;
    target[position + 1] = (high >>> 16) & 0xff;
    target[position + 2] = (high >>> 8) & 0xff;
    target[position + 3] = high & 0xff;
    target[position + 4] = low >>> 24;
    target[position + 5] = (low >>> 16) & 0xff;
    target[position + 6] = (low >>> 8) & 0xff;
    target[position + 7] = low & 0xff;
    position += 8;
  }

  if (maskKey !== undefined) {
    target[position] = maskKey[0]!;
    target[position + 1] = maskKey[1]!;
    target[position + 2] = maskKey[2]!;
    target[position + 3] = maskKey[3]!;
    position += 4;
  }
  return position - offset;
}

/** RFC 6455 §5.5: no peer would accept a control frame that is fragmented or over 125 bytes. */
function checkControlFrame(opcode: number, length: number, fin: boolean): void {
  if (isControlOpcode(opcode) && (length > 125 || !fin)) {
    throw new RangeError("control frames must have FIN set and a payload of at most 125 bytes");
  }
}

/**
 * Writes a whole frame at `target[offset]`, the header and then the payload (masked under
 * `maskKey` when given; the caller's payload is never modified), and returns its size. `target`
 * needs `frameHeaderSize(payload.length, maskKey !== undefined) + payload.length` bytes of room
 * from `offset`: a shell encodes small frames straight into its write batch this way.
 *
 * Throws RangeError for a control frame that is fragmented or carries over 125 bytes, as
 * `encodeFrame` does.
 */
export function encodeFrameInto(
  target: Uint8Array,
  offset: number,
  opcode: number,
  payload: Uint8Array,
  fin: boolean,
  rsv1: boolean,
  maskKey?: Uint8Array,
): number {
  const length = payload.length;
  checkControlFrame(opcode, length, fin);
  const headerSize = writeFrameHeader(target, offset, opcode, length, fin, rsv1, maskKey);
  if (maskKey === undefined) target.set(payload, offset + headerSize);
  else applyMask(payload, maskKey, target, offset + headerSize, length);
  return headerSize + length;
}

/**
 * Serializes one frame and returns the chunks to write, in order:
 * - masked: one fresh buffer with the masked payload, under a new key from the pool for every
 *   frame (RFC 6455 §5.3); the caller's payload is never modified;
 * - unmasked, small: one buffer with header and a copy of the payload;
 * - unmasked, larger: `[header, payload]`, the payload itself, not copied (write both at once,
 *   e.g. corked, so they go out together).
 *
 * Throws RangeError for a control frame that is fragmented or carries over 125 bytes
 * (RFC 6455 §5.5), since no peer would accept it.
 */
export function encodeFrame(opcode: number, payload: Uint8Array, options: EncodeFrameOptions = {}): Uint8Array[] {
  const fin = options.fin ?? true;
  const rsv1 = options.rsv1 ?? false;
  const length = payload.length;
  checkControlFrame(opcode, length, fin);

  if (options.mask === true) {
    const maskKey = (options.maskKeys ?? defaultMaskKeyPool).next();
    const frame = allocUnfilled(frameHeaderSize(length, true) + length);
    encodeFrameInto(frame, 0, opcode, payload, fin, rsv1, maskKey);
    return [frame];
  }

  const headerSize = frameHeaderSize(length, false);
  if (length <= COMBINE_MAX) {
    const frame = allocUnfilled(headerSize + length);
    encodeFrameInto(frame, 0, opcode, payload, fin, rsv1);
    return [frame];
  }
  const header = new Uint8Array(headerSize);
  writeFrameHeader(header, 0, opcode, length, fin, rsv1);
  return [header, payload];
}
