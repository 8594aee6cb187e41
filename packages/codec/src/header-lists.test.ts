import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ExtensionOffer } from "./extension.js";
import {
  formatExtensionHeader,
  headerListIncludes,
  isToken,
  parseExtensionHeader,
  parseSubprotocolHeader,
} from "./header-lists.js";

/** Builds an offer with a null-prototype `params`, as the parser does. */
function offer(name: string, params: Array<[string, string | true]> = []): ExtensionOffer {
  const record = Object.create(null) as Record<string, Array<string | true>>;
  for (const [key, value] of params) (record[key] ??= []).push(value);
  return { name, params: record };
}

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const token = fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 12 });
const HOSTILE_KEYS = ["__proto__", "constructor", "prototype", "hasOwnProperty", "toString", "valueOf"];

describe("isToken", () => {
  it("accepts every tchar and rejects separators, controls and non-ASCII", () => {
    expect(isToken(TCHARS)).toBe(true);
    expect(isToken("permessage-deflate")).toBe(true);
    for (const bad of [
      "",
      " ",
      "a b",
      "a,b",
      "a;b",
      "a=b",
      '"a"',
      "a\tb",
      "(a)",
      "a/b",
      "a@b",
      "a\x7f",
      "é",
      "a\u0000",
    ]) {
      expect(isToken(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});

describe("parseSubprotocolHeader", () => {
  it("splits tokens around commas with optional SP/HTAB", () => {
    expect(parseSubprotocolHeader("chat")).toEqual(["chat"]);
    expect(parseSubprotocolHeader("chat,superchat")).toEqual(["chat", "superchat"]);
    expect(parseSubprotocolHeader("  chat ,\tsuperchat\t, v2.json  ")).toEqual(["chat", "superchat", "v2.json"]);
  });

  it("keeps case: subprotocol names are case-sensitive", () => {
    expect(parseSubprotocolHeader("Chat, chat")).toEqual(["Chat", "chat"]);
  });

  it.each([
    ["empty", ""],
    ["only whitespace", "  \t "],
    ["empty element", "chat,,superchat"],
    ["leading comma", ",chat"],
    ["trailing comma", "chat,"],
    ["space inside", "chat room"],
    ["separator", "chat;v=1"],
    ["quoted", '"chat"'],
    ["duplicate", "chat, superchat, chat"],
    ["non-ASCII", "ch\u00e4t"],
    ["astral", "chat\u{1F600}"],
    ["latin1 byte from Node", "\u00ff"],
    ["CR LF", "chat\r\nX-Injected: 1"],
    ["NUL", "chat\u0000"],
    ["vertical tab is not OWS", "chat\u000b"],
  ])("returns null for %s", (_label, value) => {
    expect(parseSubprotocolHeader(value)).toBeNull();
  });
});

describe("parseExtensionHeader", () => {
  it("parses the permessage-deflate offer of RFC 7692 §5", () => {
    expect(parseExtensionHeader("permessage-deflate; client_max_window_bits; server_max_window_bits=10")).toEqual([
      offer("permessage-deflate", [
        ["client_max_window_bits", true],
        ["server_max_window_bits", "10"],
      ]),
    ]);
  });

  it("parses several extensions, keeping repeated names and repeated parameters in order", () => {
    const parsed = parseExtensionHeader("permessage-deflate; a=1; a; a=2, x-foo, permessage-deflate");
    expect(parsed).toEqual([
      offer("permessage-deflate", [
        ["a", "1"],
        ["a", true],
        ["a", "2"],
      ]),
      offer("x-foo"),
      offer("permessage-deflate"),
    ]);
  });

  it("accepts OWS (SP and HTAB) around every separator", () => {
    const expected = [
      offer("foo", [
        ["a", "1"],
        ["b", true],
      ]),
      offer("bar"),
    ];
    for (const value of [
      "foo;a=1;b,bar",
      "foo ; a = 1 ; b , bar",
      "  foo\t;\ta\t=\t1\t;\tb\t,\tbar\t",
      'foo; a="1"; b, bar',
      'foo;a = "1" ;b ,bar',
    ]) {
      expect(parseExtensionHeader(value), JSON.stringify(value)).toEqual(expected);
    }
  });

  it("unquotes quoted-string values, including quoted-pairs", () => {
    expect(parseExtensionHeader('x; v="10"')).toEqual([offer("x", [["v", "10"]])]);
    expect(parseExtensionHeader('x; v="a\\bc"')).toEqual([offer("x", [["v", "abc"]])]);
    expect(parseExtensionHeader('x; v="\\1\\0"')).toEqual([offer("x", [["v", "10"]])]);
  });

  it("rejects quoted values that do not unquote to a token (RFC 6455 §9.1)", () => {
    for (const value of ['x; v=""', 'x; v="a b"', 'x; v="a,b"', 'x; v="a\\"b"', 'x; v="a\\\\"', 'x; v="\u00e9"']) {
      expect(parseExtensionHeader(value), JSON.stringify(value)).toBeNull();
    }
  });

  it.each([
    ["empty", ""],
    ["only whitespace", " \t"],
    ["empty element", "foo,,bar"],
    ["leading comma", ",foo"],
    ["trailing comma", "foo,"],
    ["trailing semicolon", "foo;"],
    ["empty parameter", "foo;;a"],
    ["parameter without name", "foo;=1"],
    ["missing value", "foo; a="],
    ["missing value before comma", "foo; a=, bar"],
    ["two values", "foo; a=1 2"],
    ["space inside name", "foo bar"],
    ["parameter before name", "; a"],
    ["unterminated quote", 'foo; a="1'],
    ["lone backslash at end", 'foo; a="1\\'],
    ["quote inside token", 'foo; a=1"'],
    ["quoted name", '"foo"'],
    ["quoted parameter name", 'foo; "a"=1'],
    ["CR LF", "foo\r\nX: y"],
    ["control in quotes", 'foo; a="1\u0001"'],
    ["non-ASCII name", "f\u00f6o"],
    ["non-ASCII parameter", "foo; \u00e4=1"],
    ["non-ASCII value", "foo; a=\u00e9"],
    ["astral value", "foo; a=\u{1F600}"],
    ["latin1 byte in quotes", 'foo; a="\u00ff"'],
    ["equals after value", "foo; a=1=2"],
  ])("returns null for %s", (_label, value) => {
    expect(parseExtensionHeader(value)).toBeNull();
  });

  it("keeps hostile parameter names as own keys of a null-prototype object", () => {
    const header = `x-foo; ${HOSTILE_KEYS.map((key) => `${key}=1`).join("; ")}; __proto__`;
    const parsed = parseExtensionHeader(header);
    expect(parsed).not.toBeNull();
    const { params } = parsed![0]!;
    expect(Object.getPrototypeOf(params)).toBeNull();
    expect(Object.keys(params)).toEqual(HOSTILE_KEYS);
    expect(params["__proto__"]).toEqual(["1", true]);
    expect(params["constructor"]).toEqual(["1"]);
    expect(params["hasOwnProperty"]).toEqual(["1"]);
    // Object.prototype is untouched.
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, "1")).toBe(false);
    expect(({} as Record<string, unknown>)["__proto__"]).toBe(Object.prototype);
    expect(typeof ({} as Record<string, unknown>)["hasOwnProperty"]).toBe("function");
  });

  it("gives an extension named like an Object.prototype member no inherited parameters", () => {
    const parsed = parseExtensionHeader("constructor, toString; valueOf");
    expect(parsed).toHaveLength(2);
    expect(Object.keys(parsed![0]!.params)).toEqual([]);
    expect(parsed![0]!.params["toString"]).toBeUndefined();
    expect(parsed![1]!.params["valueOf"]).toEqual([true]);
  });

  it("runs in linear time on large pathological inputs (64 KiB and 1 MiB)", () => {
    for (const size of [64 * 1024, 1024 * 1024]) {
      const pairs = size / 2;
      // Valid: one extension with `pairs` valueless `a` parameters.
      const many = parseExtensionHeader(`${"a;".repeat(pairs)}a`);
      expect(many).toHaveLength(1);
      expect(many![0]!.params["a"]).toHaveLength(pairs);
      // Unterminated quoted-string full of quoted-pairs.
      expect(parseExtensionHeader(`a; b="${"\\\\".repeat(pairs)}`)).toBeNull();
      // Terminated, but the unquoted value (backslashes) is not a token.
      expect(parseExtensionHeader(`a; b="${"\\\\".repeat(pairs)}"`)).toBeNull();
      // Whitespace runs that end in an error, and a list of empty elements.
      expect(parseExtensionHeader(`a${" ".repeat(size)}b`)).toBeNull();
      expect(parseExtensionHeader(",".repeat(size))).toBeNull();
      expect(parseExtensionHeader(`a${"; b = c".repeat(size / 8)}, `)).toBeNull();
      // Subprotocols: distinct tokens, then the same list with one duplicate at the end.
      const distinct = Array.from({ length: size / 8 }, (_, i) => `p${i}`).join(",");
      expect(parseSubprotocolHeader(distinct)).toHaveLength(size / 8);
      expect(parseSubprotocolHeader(`${distinct},p0`)).toBeNull();
      expect(parseSubprotocolHeader(`${"a ".repeat(pairs)}`)).toBeNull();
    }
  });
});

describe("formatExtensionHeader", () => {
  it("formats offers as RFC 7692 writes them", () => {
    expect(
      formatExtensionHeader([
        offer("permessage-deflate", [
          ["client_max_window_bits", true],
          ["server_max_window_bits", "10"],
        ]),
        offer("x-foo"),
      ])
    ).toBe("permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-foo");
    expect(formatExtensionHeader([])).toBe("");
  });

  it("accepts plain-object params too", () => {
    expect(formatExtensionHeader([{ name: "x", params: { a: ["1", true] } }])).toBe("x; a=1; a");
  });

  it("throws a TypeError for anything that is not a token", () => {
    expect(() => formatExtensionHeader([offer("bad name")])).toThrow(TypeError);
    expect(() => formatExtensionHeader([offer("x", [["a b", true]])])).toThrow(TypeError);
    expect(() => formatExtensionHeader([offer("x", [["a", "1\r\nX-Injected: 1"]])])).toThrow(TypeError);
    expect(() => formatExtensionHeader([offer("x", [["a", ""]])])).toThrow(TypeError);
  });
});

describe("headerListIncludes", () => {
  it("finds a token in a comma list, ASCII case-insensitively", () => {
    expect(headerListIncludes("Upgrade", "upgrade")).toBe(true);
    expect(headerListIncludes("keep-alive, Upgrade", "upgrade")).toBe(true);
    expect(headerListIncludes(" , keep-alive ,\tUPGRADE\t", "upgrade")).toBe(true);
    expect(headerListIncludes("keep-alive", "upgrade")).toBe(false);
    expect(headerListIncludes("upgrade-insecure", "upgrade")).toBe(false);
    expect(headerListIncludes("up grade", "upgrade")).toBe(false);
    expect(headerListIncludes("", "upgrade")).toBe(false);
  });

  it("does not fold non-ASCII letters (U+212A KELVIN SIGN is not k)", () => {
    expect("websoc\u212Aet".toLowerCase()).toBe("websocket");
    expect(headerListIncludes("websoc\u212Aet", "websocket")).toBe(false);
  });
});

describe("fuzzing", () => {
  const hostileChars = fc.constantFrom(
    ...' \t,;="\\\r\n\u0000\u007f\u0080\u00ff\u0100\u212A\uD800\uDFFF'.split(""),
    "a",
    "b",
    "__proto__",
    "constructor",
    '="',
    '\\"'
  );
  const hostile = fc.oneof(
    fc.string({ maxLength: 16 * 1024 }),
    fc.string({ unit: "binary", maxLength: 2048 }),
    fc.string({ unit: hostileChars, maxLength: 4096 }),
    fc.string({ unit: fc.constantFrom(...`${TCHARS} \t,;="\\`), maxLength: 16 * 1024 })
  );

  it("never throws and returns null or a well-formed result", () => {
    fc.assert(
      fc.property(hostile, (value) => {
        const offers = parseExtensionHeader(value);
        if (offers !== null) {
          expect(offers.length).toBeGreaterThan(0);
          for (const { name, params } of offers) {
            expect(isToken(name)).toBe(true);
            expect(Object.getPrototypeOf(params)).toBeNull();
            for (const key of Object.keys(params)) {
              expect(isToken(key)).toBe(true);
              for (const v of params[key]!) expect(v === true || isToken(v)).toBe(true);
            }
          }
          // What parses formats back to something that parses to the same offers.
          expect(parseExtensionHeader(formatExtensionHeader(offers))).toEqual(offers);
        }
        const protocols = parseSubprotocolHeader(value);
        if (protocols !== null) {
          expect(protocols.length).toBeGreaterThan(0);
          expect(new Set(protocols).size).toBe(protocols.length);
          for (const protocol of protocols) expect(isToken(protocol)).toBe(true);
        }
      }),
      { numRuns: 300, interruptAfterTimeLimit: 10_000 }
    );
  });

  it("round-trips: format then parse gives the same offers", () => {
    const value = fc.oneof(fc.constant<true>(true), token);
    const params = fc.array(fc.tuple(fc.oneof(token, fc.constantFrom(...HOSTILE_KEYS)), value), { maxLength: 6 });
    const offers = fc.array(
      fc.tuple(fc.oneof(token, fc.constantFrom(...HOSTILE_KEYS)), params).map(([name, list]) => offer(name, list)),
      { minLength: 1, maxLength: 5 }
    );
    fc.assert(
      fc.property(offers, (input) => {
        expect(parseExtensionHeader(formatExtensionHeader(input))).toEqual(input);
      }),
      { numRuns: 300 }
    );
  });

  it("round-trips subprotocol lists joined with commas and random OWS", () => {
    const ows = fc.string({ unit: fc.constantFrom(" ", "\t"), maxLength: 3 });
    fc.assert(
      fc.property(fc.uniqueArray(token, { minLength: 1, maxLength: 10 }), ows, ows, (list, before, after) => {
        expect(parseSubprotocolHeader(list.map((p) => `${before}${p}${after}`).join(","))).toEqual(list);
      }),
      { numRuns: 200 }
    );
  });
});
