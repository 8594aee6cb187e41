// The header-list scanners read peer text (SECURITY.md rows 2, 3 and 10): any string gives an array
// or null, never an exception; they agree with simple reference models; and they stay linear.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatExtensionHeader, isToken, parseExtensionHeader, parseSubprotocolHeader } from "../../src/index.js";
import type { ExtensionOffer } from "../../src/index.js";
import { headerText, ows, token } from "./arbitraries.js";
import { TEST_TIMEOUT_MS, budget } from "./budget.js";

/** Reference `1#token` parser: split on commas, trim SP/HTAB, each element a token, all unique. */
function referenceSubprotocols(value: string): string[] | null {
  const items = value.split(",").map((item) => item.replace(/^[ \t]*/, "").replace(/[ \t]*$/, ""));
  if (!items.every(isToken) || new Set(items).size !== items.length) return null;
  return items;
}

/** A quoted-string (RFC 7230 §3.2.6) whose content is `value`, escaping characters at random. */
function quote(value: string, escapes: boolean[]): string {
  let text = '"';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    text += ch === '"' || ch === "\\" || escapes[i % Math.max(1, escapes.length)] ? `\\${ch}` : ch;
  }
  return `${text}"`;
}

const paramValue: fc.Arbitrary<string | true> = fc.oneof(fc.constant(true as const), token);
const offer: fc.Arbitrary<ExtensionOffer> = fc
  .tuple(token, fc.array(fc.tuple(token, paramValue), { maxLength: 4 }))
  .map(([name, pairs]) => {
    const params = Object.create(null) as Record<string, Array<string | true>>;
    for (const [key, value] of pairs) (params[key] ??= []).push(value);
    return { name, params };
  });

/** Writes offers as header text with random OWS and random quoting of values. */
function writeOffers(offers: ExtensionOffer[], spaces: string[], escapes: boolean[], quoted: boolean[]): string {
  let n = 0;
  const sp = () => spaces[n++ % Math.max(1, spaces.length)] ?? "";
  const q = () => quoted[n % Math.max(1, quoted.length)] ?? false;
  return offers
    .map((entry) => {
      let text = sp() + entry.name + sp();
      for (const key of Object.keys(entry.params)) {
        for (const value of entry.params[key]!) {
          text += `;${sp()}${key}${sp()}`;
          if (value !== true) text += `=${sp()}${q() ? quote(value, escapes) : value}${sp()}`;
        }
      }
      return text;
    })
    .join(",");
}

/** Plain-object copy, so that deep equality ignores the null prototype of `params`. */
function plain(offers: ExtensionOffer[] | null): unknown {
  return offers?.map((entry) => ({ name: entry.name, params: { ...entry.params } })) ?? null;
}

describe("parseSubprotocolHeader", () => {
  it("matches the split-and-trim reference on arbitrary text, never throwing", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(headerText, (value) => {
        expect(parseSubprotocolHeader(value)).toEqual(referenceSubprotocols(value));
      }),
      budget(),
    );
  });

  it("parses back a list of unique tokens written with any OWS", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(fc.uniqueArray(token, { minLength: 1, maxLength: 8 }), fc.array(ows, { minLength: 1 }), (tokens, spaces) => {
        const text = tokens.map((t, i) => `${spaces[i % spaces.length]}${t}${spaces[(i + 1) % spaces.length]}`).join(",");
        expect(parseSubprotocolHeader(text)).toEqual(tokens);
      }),
      budget(),
    );
  });

  it("returns null for non-string input instead of throwing", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        if (typeof value !== "string") expect(parseSubprotocolHeader(value as string)).toBeNull();
      }),
      budget(),
    );
  });
});

describe("parseExtensionHeader", () => {
  it("never throws on arbitrary text; what it returns is well-formed", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(fc.oneof(headerText, fc.anything()), (value) => {
        const parsed = parseExtensionHeader(value as string);
        if (parsed === null) return;
        expect(typeof value).toBe("string");
        expect(parsed.length).toBeGreaterThan(0);
        for (const entry of parsed) {
          expect(isToken(entry.name)).toBe(true);
          // Peer-chosen keys are own keys of a null-prototype object (SECURITY.md row 3).
          expect(Object.getPrototypeOf(entry.params)).toBeNull();
          for (const key of Object.keys(entry.params)) {
            expect(isToken(key)).toBe(true);
            for (const item of entry.params[key]!) expect(item === true || isToken(item)).toBe(true);
          }
        }
        // Whatever parses formats back to text that parses to the same thing.
        expect(plain(parseExtensionHeader(formatExtensionHeader(parsed)))).toEqual(plain(parsed));
      }),
      budget(),
    );
  });

  it("parses back offers written with random OWS and quoting", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(
        fc.array(offer, { minLength: 1, maxLength: 4 }),
        fc.array(ows),
        fc.array(fc.boolean()),
        fc.array(fc.boolean()),
        (offers, spaces, escapes, quoted) => {
          const text = writeOffers(offers, spaces, escapes, quoted);
          expect(plain(parseExtensionHeader(text))).toEqual(plain(offers));
          expect(plain(parseExtensionHeader(formatExtensionHeader(offers)))).toEqual(plain(offers));
        },
      ),
      budget(),
    );
  });
});

describe("header-list scanners stay linear (SECURITY.md row 2)", () => {
  // Inputs shaped like the ones that make backtracking splitters explode. Linear means 16 times the
  // text costs about 16 times the time; a quadratic scan would take 256 times. The two sizes are
  // timed in turns, and the fastest of seven of each is compared: load on the machine only ever
  // adds time, so the minimum is the least disturbed figure, and turns expose both to the same load.
  const pieces = fc.constantFrom(" ", "\t", ",", ";", "=", "a", '"', "\\", '\\"', "a=", ";a", ", ,", '"a\\');
  const parseAll = (text: string): void => {
    parseSubprotocolHeader(text);
    parseExtensionHeader(text);
    parseExtensionHeader(`x; a="${text}`);
  };
  const timeOnce = (text: string): number => {
    const start = performance.now();
    parseAll(text);
    return performance.now() - start;
  };
  const fastestRatio = (large: string, small: string): number => {
    let fastLarge = Infinity;
    let fastSmall = Infinity;
    for (let i = 0; i < 7; i++) {
      fastSmall = Math.min(fastSmall, timeOnce(small));
      fastLarge = Math.min(fastLarge, timeOnce(large));
    }
    return fastLarge / Math.max(fastSmall, 0.05);
  };
  it("16 times the adversarial text takes far less than 256 times as long", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(fc.array(pieces, { minLength: 1, maxLength: 6 }), fc.constantFrom("", "x", "\0", '"', ","), (unit, tail) => {
        const pattern = unit.join("");
        const make = (size: number): string => pattern.repeat(Math.ceil(size / pattern.length)) + tail;
        const small = make(16 * 1024);
        const large = make(256 * 1024);
        parseAll(small); // warm up the JIT for both sizes alike
        const ratio = fastestRatio(large, small);
        expect(ratio).toBeLessThan(64);
      }),
      budget({ numRuns: Math.min(budget().numRuns ?? 20, 20) }),
    );
  });
});
