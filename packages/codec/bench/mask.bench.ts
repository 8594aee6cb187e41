// Unmasking throughput: ours against a naive byte loop, ws's pure-JS path and bufferutil's native
// addon. Run with `pnpm vitest bench --run bench/mask.bench.ts`.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { bench, describe } from "vitest";
import { simdMaskAvailable, unmask } from "../src/mask.js";

type Unmask = (buffer: Uint8Array, mask: Uint8Array) => void;

const require = createRequire(import.meta.url);

/**
 * ws picks bufferutil when it is installed, unless WS_NO_BUFFER_UTIL is set when
 * lib/buffer-util.js first loads; the package's "exports" hide that file, so load it by path.
 */
function loadWsJsUnmask(): Unmask {
  const previous = process.env.WS_NO_BUFFER_UTIL;
  process.env.WS_NO_BUFFER_UTIL = "1";
  try {
    const path = join(dirname(require.resolve("ws")), "lib", "buffer-util.js");
    return (require(path) as { unmask: Unmask }).unmask;
  } finally {
    if (previous === undefined) delete process.env.WS_NO_BUFFER_UTIL;
    else process.env.WS_NO_BUFFER_UTIL = previous;
  }
}

const wsJsUnmask = loadWsJsUnmask();
const native = require("bufferutil") as { unmask: Unmask };
const fallback = require("bufferutil/fallback.js") as { unmask: Unmask };
if (native.unmask === fallback.unmask) throw new Error("bufferutil's native addon did not load");
if (!simdMaskAvailable) console.warn("WebAssembly SIMD unavailable: measuring the word-loop fallback");

function naiveUnmask(data: Uint8Array, mask: Uint8Array): void {
  for (let i = 0; i < data.length; i++) data[i] = data[i]! ^ mask[i & 3]!;
}

const mask = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);
const maskBuffer = Buffer.from(mask);

const sizes: [string, number][] = [
  ["16 B", 16],
  ["125 B", 125],
  ["1 KiB", 1024],
  ["64 KiB", 64 * 1024],
  ["1 MiB", 1024 * 1024],
];

for (const [label, size] of sizes) {
  describe(`unmask ${label}`, () => {
    const data = new Uint8Array(size).map((_, i) => i * 31);
    // Received chunks are often slices at odd offsets, so also measure an unaligned view.
    const unaligned = new Uint8Array(size + 1).subarray(1);
    const buffer = Buffer.alloc(size, 0x5a);

    bench("ours", () => unmask(data, mask));
    bench("ours, byteOffset 1", () => unmask(unaligned, mask));
    bench("naive byte loop", () => naiveUnmask(data, mask));
    bench("ws JS path", () => wsJsUnmask(buffer, maskBuffer));
    bench("bufferutil native", () => native.unmask(buffer, maskBuffer));
  });
}
