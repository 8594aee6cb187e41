/**
 * Payload masking, RFC 6455 §5.3: byte i of a masked payload is XORed with byte (i mod 4) of the
 * frame's 4-byte masking key. Masking and unmasking are the same operation.
 *
 * Three tiers, picked by length because each has a different fixed cost. Figures are the best of
 * many runs on Node 20 / x64 (see bench/mask.bench.ts):
 * - under WORD_MIN bytes, a byte loop four bytes a turn with the key bytes read once: nothing to
 *   set up;
 * - from WASM_MIN bytes, WebAssembly SIMD: about 15 GB/s even after copying the data into wasm
 *   memory and back, where the best JS loop reaches about 6 GB/s and a byte loop 0.55 GB/s;
 * - in between (and at every length when WebAssembly SIMD is unavailable), 32-bit words through
 *   a Uint32Array view over the 4-aligned middle of the data, with the key rotated to match.
 */

/**
 * Below this many bytes the byte loop wins (the word view costs ~50 ns to create): 57 against
 * 62 ns at 96 bytes, 67 against 64 ns at 112 (best of 7 runs, Node 20.20, Intel Xeon).
 */
const WORD_MIN = 100;
/** From this many bytes the SIMD kernel beats the word loop despite its two copies (~130 ns). */
const WASM_MIN = 512;
/**
 * Bytes copied into wasm memory per call. 16 KiB keeps the copy-in, XOR and copy-out in L1
 * cache; 4, 8 and 32 KiB chunks all measured slower for 64 KiB and 1 MiB payloads. Must stay a
 * multiple of 4 (see maskSimd) and, with the staging offset (under 4096) and the kernel's overrun
 * (under 64), fit in the module's one 64 KiB page.
 */
const WASM_CHUNK = 16384;

/** Whether Uint32Array words hold their bytes little end first (true on every common platform). */
const littleEndian = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * The 4 key bytes starting at `keyIndex` (mod 4) packed into one 32-bit word, so that XORing the
 * word into memory masks the 4 bytes there in order. wasm memory is always little-endian.
 */
function maskWord(mask: Uint8Array, keyIndex: number, little: boolean): number {
  const b0 = mask[keyIndex & 3]!;
  const b1 = mask[(keyIndex + 1) & 3]!;
  const b2 = mask[(keyIndex + 2) & 3]!;
  const b3 = mask[(keyIndex + 3) & 3]!;
  return little ? b0 | (b1 << 8) | (b2 << 16) | (b3 << 24) : (b0 << 24) | (b1 << 16) | (b2 << 8) | b3;
}

/** A key of four zero bytes leaves the payload as it is (RFC 6455 §5.3 XOR), so skip the work. */
function isZeroMask(mask: Uint8Array): boolean {
  return (mask[0]! | mask[1]! | mask[2]! | mask[3]!) === 0;
}

// ---------------------------------------------------------------------------------------------
// WebAssembly SIMD kernel
// ---------------------------------------------------------------------------------------------

/** Unsigned LEB128, the wasm encoding of sizes and indices. */
function leb128(value: number): number[] {
  const out: number[] = [];
  do {
    const low = value & 0x7f;
    value >>>= 7;
    out.push(value === 0 ? low : low | 0x80);
  } while (value !== 0);
  return out;
}

/** Prefixes bytes with their size, as sections and function bodies are. */
function sized(contents: number[]): number[] {
  return [...leb128(contents.length), ...contents];
}

/**
 * `v128.store offset=k (local.get $i) (v128.xor (v128.load offset=k (local.get $i)) (local.get $m))`
 * (k under 128, so its LEB128 encoding is the one byte itself).
 */
function xorBlock(offset: number): number[] {
  return [
    0x20, 0x00, //                       local.get $i          (address for the store)
    0x20, 0x00, //                       local.get $i
    0xfd, 0x00, 0x04, offset, //         v128.load align=16 offset=k
    0x20, 0x03, //                       local.get $m
    0xfd, 0x51, //                       v128.xor
    0xfd, 0x0b, 0x04, offset, //         v128.store align=16 offset=k
  ];
}

/**
 * A hand-written module, in text form:
 *
 *   (module
 *     (memory (export "memory") 1)
 *     (func (export "xor") (param $i i32) (param $end i32) (param $mask i32)
 *       (local $m v128)
 *       (local.set $m (i32x4.splat (local.get $mask)))
 *       (block (loop
 *         (br_if 1 (i32.ge_u (local.get $i) (local.get $end)))
 *         ;; four 16-byte blocks per turn, at offsets 0, 16, 32, 48 from $i
 *         (v128.store offset=k (local.get $i)
 *           (v128.xor (v128.load offset=k (local.get $i)) (local.get $m)))
 *         (local.set $i (i32.add (local.get $i) (i32.const 64)))
 *         (br 0)))))
 *
 * It XORs bytes [i, end rounded up to i + a multiple of 64) of its memory with the mask word
 * repeated. Rounding up touches up to 63 scratch bytes past the data, never copied back.
 */
const WASM_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  // type section: one signature, (i32, i32, i32) -> ()
  0x01, ...sized([0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00]),
  // function section: one function of type 0
  0x03, ...sized([0x01, 0x00]),
  // memory section: one memory, minimum 1 page (64 KiB), no maximum
  0x05, ...sized([0x01, 0x00, 0x01]),
  // export section: "memory" (memory 0) and "xor" (function 0)
  0x07, ...sized([
    0x02,
    0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00,
    0x03, 0x78, 0x6f, 0x72, 0x00, 0x00,
  ]),
  // code section: one body, prefixed with its size
  0x0a, ...sized([
    0x01,
    ...sized([
      0x01, 0x01, 0x7b, //               locals: 1 × v128 ($m, local 3)
      0x20, 0x02, 0xfd, 0x11, 0x21, 0x03, // local.set $m (i32x4.splat (local.get $mask))
      0x02, 0x40, //                     block
      0x03, 0x40, //                     loop
      0x20, 0x00, 0x20, 0x01, 0x4f, //   i32.ge_u $i $end
      0x0d, 0x01, //                     br_if 1 (leave the block)
      ...xorBlock(0),
      ...xorBlock(16),
      ...xorBlock(32),
      ...xorBlock(48),
      0x20, 0x00, 0x41, 0xc0, 0x00, 0x6a, 0x21, 0x00, // $i = $i + 64 (signed LEB128 64 = c0 00)
      0x0c, 0x00, //                     br 0 (next turn)
      0x0b, 0x0b, 0x0b, //               end loop, end block, end function
    ]),
  ]),
]);

/** The subset of the WebAssembly JS API used here, since the ES lib types leave it out. */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

interface SimdKernel {
  memory: Uint8Array;
  xor: (start: number, end: number, mask: number) => void;
}

/**
 * Compiles the module synchronously (it is a few hundred bytes, under every engine's limit for
 * synchronous compilation). Returns null where WebAssembly or its SIMD proposal is missing, or a
 * content security policy forbids compiling, so masking falls back to the word loop.
 */
function loadSimdKernel(): SimdKernel | null {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (api === undefined) return null;
  try {
    const { exports } = new api.Instance(new api.Module(WASM_MODULE));
    const memory = exports.memory as { buffer: ArrayBuffer };
    return { memory: new Uint8Array(memory.buffer), xor: exports.xor as SimdKernel["xor"] };
  } catch {
    return null;
  }
}

const simd = loadSimdKernel();

/** Whether the WebAssembly SIMD path is in use (exported for tests and diagnostics). */
export const simdMaskAvailable: boolean = simd !== null;

// ---------------------------------------------------------------------------------------------
// Kernels by tier
// ---------------------------------------------------------------------------------------------

/**
 * Under WORD_MIN bytes: `output[offset + i] = source[i] ^ mask[(phase + i) & 3]` for i < length
 * (output may be source itself, at offset 0). The four key bytes are read once, in the order the
 * payload meets them, and the loop takes four bytes a turn: no key index per byte.
 */
function xorBytes(source: Uint8Array, mask: Uint8Array, phase: number, output: Uint8Array, offset: number, length: number): void {
  const k0 = mask[phase & 3]!;
  const k1 = mask[(phase + 1) & 3]!;
  const k2 = mask[(phase + 2) & 3]!;
  const k3 = mask[(phase + 3) & 3]!;
  const whole = length & ~3;
  let i = 0;
  for (; i < whole; i += 4) {
    output[offset + i] = source[i]! ^ k0;
    output[offset + i + 1] = source[i + 1]! ^ k1;
    output[offset + i + 2] = source[i + 2]! ^ k2;
    output[offset + i + 3] = source[i + 3]! ^ k3;
  }
  if (i < length) output[offset + i] = source[i]! ^ k0;
  if (i + 1 < length) output[offset + i + 1] = source[i + 1]! ^ k1;
  if (i + 2 < length) output[offset + i + 2] = source[i + 2]! ^ k2;
}

/** Needs data.length >= 3 so that the unaligned head fits. */
function unmaskWords(data: Uint8Array, mask: Uint8Array, phase: number): void {
  const length = data.length;
  // A Uint32Array view must start at a multiple of 4 in its buffer: do the bytes before that
  // one at a time, then continue the key where they left off.
  const head = (4 - (data.byteOffset & 3)) & 3;
  for (let i = 0; i < head; i++) data[i] = data[i]! ^ mask[(phase + i) & 3]!;

  const count = (length - head) >>> 2;
  const word = maskWord(mask, phase + head, littleEndian);
  const words = new Uint32Array(data.buffer, data.byteOffset + head, count);
  // Unrolled by four: measured about twice as fast as one word per turn on V8.
  const unrolled = count & ~3;
  let w = 0;
  for (; w < unrolled; w += 4) {
    words[w] = words[w]! ^ word;
    words[w + 1] = words[w + 1]! ^ word;
    words[w + 2] = words[w + 2]! ^ word;
    words[w + 3] = words[w + 3]! ^ word;
  }
  for (; w < count; w++) words[w] = words[w]! ^ word;

  for (let i = head + count * 4; i < length; i++) data[i] = data[i]! ^ mask[(phase + i) & 3]!;
}

/**
 * XORs source into output through wasm memory, one WASM_CHUNK at a time.
 *
 * Where the chunk sits in wasm memory matters: copying it out to an address that is equal modulo
 * 4096 to its address in wasm memory ("4K aliasing") measured 20-40 times slower than otherwise.
 * Both memories are page-aligned when large, so place the chunk half a page away from the
 * destination's byte offset.
 */
function maskSimd(kernel: SimdKernel, source: Uint8Array, word: number, output: Uint8Array, offset: number): void {
  const { memory, xor } = kernel;
  const length = source.length;
  const stage = (output.byteOffset + offset + 2048) & 4032;
  // Each chunk is a multiple of 4 bytes long, so the key lines up again at the next chunk.
  for (let start = 0; start < length; start += WASM_CHUNK) {
    const size = Math.min(WASM_CHUNK, length - start);
    memory.set(source.subarray(start, start + size), stage);
    xor(stage, stage + size, word);
    output.set(memory.subarray(stage, stage + size), offset + start);
  }
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/**
 * Writes `source[i] ^ mask[i & 3]` to `output[offset + i]` for i < length, leaving `source`
 * untouched (the sender masks into a fresh frame buffer so the caller's data stays as it was).
 * `mask` is the 4-byte key and may be a view into a larger buffer.
 */
export function applyMask(
  source: Uint8Array,
  mask: Uint8Array,
  output: Uint8Array,
  offset: number,
  length: number,
): void {
  if (length < WORD_MIN) {
    xorBytes(source, mask, 0, output, offset, length);
    return;
  }
  const input = source.subarray(0, length);
  if (isZeroMask(mask)) {
    output.set(input, offset);
  } else if (simd !== null && length >= WASM_MIN) {
    maskSimd(simd, input, maskWord(mask, 0, true), output, offset);
  } else {
    // Copy first, then mask in place: source and output may differ in alignment, and the copy
    // is a memcpy, cheap next to the XOR loop.
    output.set(input, offset);
    unmaskWords(output.subarray(offset, offset + length), mask, 0);
  }
}

/**
 * Unmasks `data` in place (RFC 6455 §5.3). A frame's payload may arrive split across reads, so
 * `phase` (0-3) is how many payload bytes of this frame came before `data`, modulo 4: byte i of
 * `data` is XORed with `mask[(phase + i) & 3]`.
 */
export function unmask(data: Uint8Array, mask: Uint8Array, phase = 0): void {
  const length = data.length;
  if (length < WORD_MIN) {
    xorBytes(data, mask, phase, data, 0, length);
  } else if (isZeroMask(mask)) {
    return;
  } else if (simd !== null && length >= WASM_MIN) {
    maskSimd(simd, data, maskWord(mask, phase, true), data, 0);
  } else {
    unmaskWords(data, mask, phase);
  }
}
