// Arbitraries shared by the fuzz suites: header text biased towards the characters that matter to
// the HTTP list grammars, and byte strings biased towards UTF-8 structure.
import fc from "fast-check";

/** Every tchar of RFC 7230 §3.2.6. */
export const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** Keys that break code storing peer-chosen names in plain objects (SECURITY.md row 3). */
export const PROTO_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf"];

/** A token: mostly short identifiers, sometimes a prototype-polluting name or an odd tchar. */
export const token: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom(...PROTO_KEYS) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "permessage-deflate",
      "server_no_context_takeover",
      "client_no_context_takeover",
      "server_max_window_bits",
      "client_max_window_bits",
    ),
  },
);

/** Optional whitespace (RFC 7230 §3.2.3). */
export const ows: fc.Arbitrary<string> = fc.string({ unit: fc.constantFrom(" ", "\t"), maxLength: 3 });

/** Characters that are significant to, or forbidden in, the header-list grammars. */
const HEADER_SPECIALS = [..." \t,;=\"\\()/:<>?@[]{}\r\n\0\x7f", "\u00e9", "\u212a", "\ud800", "\u{1f600}"];

/** Header text that is mostly grammar-shaped: tokens, separators, quotes, odd bytes. */
export const headerText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.constantFrom(...HEADER_SPECIALS, "a", "b", "1", "8", "15", "-", "_"), maxLength: 60 }),
  fc.array(fc.oneof(token, fc.constantFrom(...HEADER_SPECIALS), ows), { maxLength: 20 }).map((parts) => parts.join("")),
  fc.string({ unit: "binary", maxLength: 40 }),
);

/** Bytes that are significant to a UTF-8 decoder: every boundary of RFC 3629 §4's table. */
const UTF8_EDGE_BYTES = [
  0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0,
  0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xfe, 0xff,
];

const encoder = new TextEncoder();

/** Byte strings near UTF-8: valid text, text with bytes changed, inserted or cut, and raw bytes. */
export const utf8ishBytes = (maxLength = 300): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc.string({ unit: "grapheme", maxLength }).map((text) => encoder.encode(text)),
    fc.string({ unit: "binary", maxLength }).map((text) => encoder.encode(text)),
    fc
      .tuple(
        fc.string({ unit: "binary", maxLength }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(...UTF8_EDGE_BYTES), fc.constantFrom("set", "insert", "cut")), {
          maxLength: 4,
        }),
      )
      .map(([text, edits]) => {
        const bytes = [...encoder.encode(text)];
        for (const [at, byte, kind] of edits) {
          const i = bytes.length === 0 ? 0 : at % bytes.length;
          if (kind === "set" && bytes.length > 0) bytes[i] = byte;
          else if (kind === "insert") bytes.splice(i, 0, byte);
          else bytes.length = i;
        }
        return Uint8Array.from(bytes);
      }),
    fc.array(fc.constantFrom(...UTF8_EDGE_BYTES), { maxLength: 16 }).map((bytes) => Uint8Array.from(bytes)),
    fc.uint8Array({ maxLength }),
  );

/** Cut points for splitting `length` bytes into chunks (see `splitAt` in ../frames.ts). */
export const cuts: fc.Arbitrary<number[]> = fc.oneof(
  fc.array(fc.nat({ max: 4096 }), { maxLength: 12 }),
  // Now and then, one chunk per byte.
  fc.constant(Array.from({ length: 600 }, (_, i) => i)),
);

/** Copies `bytes` into a fresh buffer at a random byte offset, so word-aligned fast paths see every alignment. */
export function atOffset(bytes: Uint8Array, offset: number): Uint8Array {
  const buffer = new Uint8Array(bytes.length + offset);
  buffer.set(bytes, offset);
  return buffer.subarray(offset);
}
