/**
 * UTF-8 validation for text messages and close reasons (RFC 6455 §5.6, §8.1), following the
 * well-formed byte sequences of RFC 3629 §4:
 *
 *   U+0000..U+007F     00..7F
 *   U+0080..U+07FF     C2..DF  80..BF
 *   U+0800..U+0FFF     E0      A0..BF  80..BF
 *   U+1000..U+CFFF     E1..EC  80..BF  80..BF
 *   U+D000..U+D7FF     ED      80..9F  80..BF
 *   U+E000..U+FFFF     EE..EF  80..BF  80..BF
 *   U+10000..U+3FFFF   F0      90..BF  80..BF  80..BF
 *   U+40000..U+FFFFF   F1..F3  80..BF  80..BF  80..BF
 *   U+100000..U+10FFFF F4      80..8F  80..BF  80..BF
 *
 * The restricted second-byte ranges are what rule out overlongs (E0 80, F0 8F), surrogates (ED A0)
 * and code points above U+10FFFF (F4 90). Checking them on the second byte, not after the whole
 * sequence, lets a streaming validator fail as soon as a byte arrives that no valid text could
 * continue with (RFC 6455 §8.1 lets an endpoint fail the connection on the first invalid byte).
 *
 * Pure JS on Uint8Array only, so it runs in any runtime.
 */

// Byte classes: bytes that the DFA treats alike share a class.
const C_ASCII = 0; // 00..7F
const C_CONT_LOW = 1; // 80..8F
const C_CONT_MID = 2; // 90..9F
const C_CONT_HIGH = 3; // A0..BF
const C_INVALID = 4; // C0 C1 F5..FF: RFC 3629 §4, these never appear (C0/C1 would only start overlongs)
const C_LEAD2 = 5; // C2..DF
const C_E0 = 6; // E0
const C_LEAD3 = 7; // E1..EC EE EF
const C_ED = 8; // ED
const C_F0 = 9; // F0
const C_LEAD4 = 10; // F1..F3
const C_F4 = 11; // F4
const CLASS_COUNT = 12;

const BYTE_CLASS = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  let c: number;
  if (b < 0x80) c = C_ASCII;
  else if (b < 0x90) c = C_CONT_LOW;
  else if (b < 0xa0) c = C_CONT_MID;
  else if (b < 0xc0) c = C_CONT_HIGH;
  else if (b < 0xc2) c = C_INVALID;
  else if (b < 0xe0) c = C_LEAD2;
  else if (b === 0xe0) c = C_E0;
  else if (b === 0xed) c = C_ED;
  else if (b < 0xf0) c = C_LEAD3;
  else if (b === 0xf0) c = C_F0;
  else if (b < 0xf4) c = C_LEAD4;
  else if (b === 0xf4) c = C_F4;
  else c = C_INVALID;
  BYTE_CLASS[b] = c;
}

// DFA states, stored premultiplied by CLASS_COUNT so a transition is one add and one load.
const ACCEPT = 0; // between code points
const NEED1 = 1 * CLASS_COUNT; // one more 80..BF
const NEED2 = 2 * CLASS_COUNT; // two more 80..BF
const AFTER_E0 = 3 * CLASS_COUNT; // A0..BF, then one more (no overlongs below U+0800)
const AFTER_ED = 4 * CLASS_COUNT; // 80..9F, then one more (no surrogates U+D800..U+DFFF)
const AFTER_F0 = 5 * CLASS_COUNT; // 90..BF, then two more (no overlongs below U+10000)
const NEED3 = 6 * CLASS_COUNT; // 80..BF, then two more
const AFTER_F4 = 7 * CLASS_COUNT; // 80..8F, then two more (nothing above U+10FFFF)
const REJECT = 8 * CLASS_COUNT; // absorbing: no continuation can make the input valid
const STATE_COUNT = 9;

const TRANSITION = new Uint8Array(STATE_COUNT * CLASS_COUNT).fill(REJECT);
function on(state: number, byteClasses: number[], next: number): void {
  for (const c of byteClasses) TRANSITION[state + c] = next;
}
const ANY_CONT = [C_CONT_LOW, C_CONT_MID, C_CONT_HIGH];
on(ACCEPT, [C_ASCII], ACCEPT);
on(ACCEPT, [C_LEAD2], NEED1);
on(ACCEPT, [C_E0], AFTER_E0);
on(ACCEPT, [C_LEAD3], NEED2);
on(ACCEPT, [C_ED], AFTER_ED);
on(ACCEPT, [C_F0], AFTER_F0);
on(ACCEPT, [C_LEAD4], NEED3);
on(ACCEPT, [C_F4], AFTER_F4);
on(NEED1, ANY_CONT, ACCEPT);
on(NEED2, ANY_CONT, NEED1);
on(NEED3, ANY_CONT, NEED2);
on(AFTER_E0, [C_CONT_HIGH], NEED1);
on(AFTER_ED, [C_CONT_LOW, C_CONT_MID], NEED1);
on(AFTER_F0, [C_CONT_MID, C_CONT_HIGH], NEED2);
on(AFTER_F4, [C_CONT_LOW], NEED2);

/**
 * Runs the DFA over `bytes[start, end)` from `state` and returns the state it ends in, or REJECT
 * as soon as a byte makes the input invalid. Two shortcuts keep it fast: runs of ASCII are skipped
 * several bytes at a time, and a sequence that lies wholly inside the range is checked in one step
 * instead of byte by byte. The DFA proper only handles sequences split at `start` or `end`.
 */
function run(state: number, bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    if (state === ACCEPT) {
      // ASCII four bytes at a time; a run longer than WORD_SCAN_MIN_RUN goes to skipAscii.
      const end4 = end - 3;
      const limit = Math.min(end4, i + WORD_SCAN_MIN_RUN);
      while (i < limit && ((bytes[i]! | bytes[i + 1]! | bytes[i + 2]! | bytes[i + 3]!) & 0x80) === 0) i += 4;
      if (i >= limit) i = skipAscii(bytes, i, end);
      while (i < end && bytes[i]! < 0x80) i++;
      // Consecutive multi-byte sequences (non-Latin scripts) are checked whole, in one loop.
      while (i < end4 && bytes[i]! >= 0x80) {
        const length = wholeSequenceLength(bytes, i);
        if (length === 0) return REJECT;
        i += length;
      }
      if (i >= end) break;
      if (i < end4) continue;
      // Fewer than four bytes left: the DFA takes them one at a time, as they may be a prefix.
    }
    state = TRANSITION[state + BYTE_CLASS[bytes[i++]!]!]!;
    if (state === REJECT) break;
  }
  return state;
}

/** A run of ASCII at least this long, with this much input left, is scanned a word at a time. */
const WORD_SCAN_MIN_RUN = 64;
const WORD_SCAN_MIN_LEFT = 256;

/** Index of the first non-ASCII byte in `bytes[i, end)`, or `end`. */
function skipAscii(bytes: Uint8Array, i: number, end: number): number {
  if (end - i >= WORD_SCAN_MIN_LEFT) {
    // A long run: read aligned 32-bit words through a typed-array view. Creating the view costs
    // an allocation, paid back only on long runs, hence the thresholds.
    const base = bytes.byteOffset;
    while (((base + i) & 3) !== 0 && bytes[i]! < 0x80) i++;
    if (((base + i) & 3) === 0) {
      const words = new Uint32Array(bytes.buffer, base + i, (end - i) >>> 2);
      const last = words.length - 1;
      let w = 0;
      while (w < last && ((words[w]! | words[w + 1]!) & 0x80808080) === 0) w += 2;
      i += w << 2;
    }
  }
  const end8 = end - 7;
  while (i < end8 && isAscii8(bytes, i)) i += 8;
  while (i < end && bytes[i]! < 0x80) i++;
  return i;
}

function isAscii8(b: Uint8Array, i: number): boolean {
  return ((b[i]! | b[i + 1]! | b[i + 2]! | b[i + 3]! | b[i + 4]! | b[i + 5]! | b[i + 6]! | b[i + 7]!) & 0x80) === 0;
}

/**
 * Length of the well-formed multi-byte sequence at `bytes[i]`, or 0 if it is ill-formed. The
 * caller guarantees `bytes[i]` is not ASCII and that 4 bytes are readable from `i`.
 */
function wholeSequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  const b1 = bytes[i + 1]!;
  if (b0 < 0xe0) {
    // RFC 3629 §4: C0/C1 would only encode U+0000..U+007F (overlong); 80..BF cannot lead.
    return b0 >= 0xc2 && (b1 & 0xc0) === 0x80 ? 2 : 0;
  }
  const b2 = bytes[i + 2]!;
  if (b0 < 0xf0) {
    if (((b1 | (b2 << 8)) & 0xc0c0) !== 0x8080) return 0;
    const codePoint = ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6);
    // Overlongs encode below U+0800; U+D800..U+DFFF are surrogates, not scalar values.
    return codePoint >= 0x800 && (codePoint & 0xf800) !== 0xd800 ? 3 : 0;
  }
  const b3 = bytes[i + 3]!;
  if (((b1 | (b2 << 8) | (b3 << 16)) & 0xc0c0c0) !== 0x808080) return 0;
  const codePoint = ((b0 & 0x0f) << 18) | ((b1 & 0x3f) << 12);
  // F8..FF never lead; overlongs encode below U+10000; nothing is above U+10FFFF.
  return b0 < 0xf8 && codePoint >= 0x10000 && codePoint <= 0x10ffff ? 4 : 0;
}

/** Whole-buffer check: true if `bytes` is well-formed, complete UTF-8. Pure JS. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return run(ACCEPT, bytes, 0, bytes.length) === ACCEPT;
}

/**
 * Below this many bytes a write is validated by the JS state machine alone. Measured on Node 20
 * against `buffer.isUtf8` (about 95 ns per call, subarray included, whatever the length): the JS
 * path is faster up to about 48 bytes of mixed text and 128 bytes of ASCII.
 */
const FAST_CHECK_MIN_BYTES = 64;

/** Bytes in the sequence that `lead` starts (1 for ASCII and for bytes that cannot start one). */
function sequenceLength(lead: number): number {
  if (lead < 0xc2) return 1;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  if (lead < 0xf5) return 4;
  return 1;
}

/**
 * Index at which the incomplete code point that ends `bytes[start, end)` begins, or `end` if the
 * range ends on a code point boundary (as far as the lead byte tells; the DFA checks the rest).
 */
function lastBoundary(bytes: Uint8Array, start: number, end: number): number {
  // A sequence is at most 4 bytes, so its lead is among the last 4 bytes.
  const floor = Math.max(start, end - 4);
  let i = end - 1;
  while (i > floor && (bytes[i]! & 0xc0) === 0x80) i--;
  return i + sequenceLength(bytes[i]!) > end ? i : end;
}

/**
 * Streaming UTF-8 validator for a message that arrives in pieces. Fails fast: `write` returns false
 * as soon as the bytes seen so far cannot begin valid UTF-8, even when the offending byte is the
 * second byte of a sequence split across writes. Once failed it stays failed until `reset()`.
 */
export class Utf8Validator {
  private state = ACCEPT;
  private readonly fastCheck: ((bytes: Uint8Array) => boolean) | undefined;

  /**
   * @param fastCheck optional native whole-buffer validator (for example Node's `buffer.isUtf8`).
   *   It must return true only for complete, well-formed UTF-8. Large writes that start on a code
   *   point boundary use it for everything up to the last complete code point.
   */
  constructor(fastCheck?: (bytes: Uint8Array) => boolean) {
    this.fastCheck = fastCheck;
  }

  /** Feeds `bytes[start, end)`. False once the input seen since the last reset cannot be valid. */
  write(bytes: Uint8Array, start = 0, end: number = bytes.length): boolean {
    let state = this.state;
    if (state === REJECT) return false;
    if (state === ACCEPT && this.fastCheck !== undefined && end - start >= FAST_CHECK_MIN_BYTES) {
      const boundary = lastBoundary(bytes, start, end);
      const prefix = start === 0 && boundary === bytes.length ? bytes : bytes.subarray(start, boundary);
      if (this.fastCheck(prefix)) {
        start = boundary;
      }
      // Otherwise the state machine goes over the whole range and stops at the exact bad byte.
    }
    state = run(state, bytes, start, end);
    this.state = state;
    return state !== REJECT;
  }

  /** True if everything written is valid and no code point was left incomplete. */
  end(): boolean {
    return this.state === ACCEPT;
  }

  /** Forgets all input, ready for the next message. */
  reset(): void {
    this.state = ACCEPT;
  }
}
