// permessage-deflate negotiation reads peer-chosen parameters (SECURITY.md rows 3 and 7): whatever
// the offer or response, the result is null / a declined offer / an Error with our message, and
// every window size that comes out is one zlib accepts.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  PerMessageDeflate,
  acceptResponse,
  createOffer,
  negotiateServer,
  type DeflateParams,
  type PerMessageDeflateOptions,
} from "../../src/deflate/index.js";
import { formatExtensionHeader, parseExtensionHeader, type ExtensionOffer } from "../../src/index.js";
import { PROTO_KEYS, headerText } from "./arbitraries.js";
import { TEST_TIMEOUT_MS, budget } from "./budget.js";

const PARAM_NAMES = [
  "server_no_context_takeover",
  "client_no_context_takeover",
  "server_max_window_bits",
  "client_max_window_bits",
  "x",
  ...PROTO_KEYS,
];
const PARAM_VALUES: Array<string | true> = [true, "7", "8", "9", "12", "15", "16", "08", "1000", "+9", "-1", "abc", "9.0", "0x9", ""];

/** Offers and responses as a peer may send them, structured so that valid ones come up often. */
const entry: fc.Arbitrary<ExtensionOffer> = fc
  .tuple(
    fc.oneof({ weight: 5, arbitrary: fc.constant("permessage-deflate") }, fc.constantFrom("PerMessage-Deflate", "x-webkit-deflate-frame", "__proto__")),
    fc.array(fc.tuple(fc.constantFrom(...PARAM_NAMES), fc.constantFrom(...PARAM_VALUES)), { maxLength: 5 }),
  )
  .map(([name, pairs]) => {
    const params = Object.create(null) as Record<string, Array<string | true>>;
    for (const [key, value] of pairs) (params[key] ??= []).push(value);
    return { name, params };
  });

/** Entries as the header parser gives them for random peer text. */
const parsedEntries: fc.Arbitrary<ExtensionOffer[]> = fc.oneof(
  fc.array(entry, { maxLength: 4 }),
  headerText.map((text) => parseExtensionHeader(`permessage-deflate; ${text}`) ?? []),
  headerText.map((text) => parseExtensionHeader(text) ?? []),
);

const windowBitsOption = fc.oneof(fc.constant(undefined), fc.constant(true), fc.integer({ min: 8, max: 15 }));
const options: fc.Arbitrary<PerMessageDeflateOptions> = fc.record(
  {
    serverNoContextTakeover: fc.boolean(),
    clientNoContextTakeover: fc.boolean(),
    serverMaxWindowBits: windowBitsOption,
    clientMaxWindowBits: fc.oneof(windowBitsOption, fc.constant(false)),
  },
  { requiredKeys: [] },
);

function expectUsable(params: DeflateParams): void {
  for (const bits of [params.serverMaxWindowBits, params.clientMaxWindowBits]) {
    expect(Number.isInteger(bits) && bits >= 8 && bits <= 15).toBe(true);
  }
  expect(typeof params.serverNoContextTakeover).toBe("boolean");
  expect(typeof params.clientNoContextTakeover).toBe("boolean");
  // zlib must accept them: constructing the codec validates the window sizes.
  new PerMessageDeflate(params, "server").close();
  new PerMessageDeflate(params, "client").close();
}

describe("negotiateServer on hostile offers", () => {
  it("never throws; an accepted offer yields usable params and a response the client accepts", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(parsedEntries, options, (offers, serverOptions) => {
        const result = negotiateServer(offers, serverOptions);
        if (result === null) return;
        expectUsable(result.params);
        // The response is a single permessage-deflate entry that formats and parses cleanly.
        const responseText = formatExtensionHeader([result.response]);
        const parsed = parseExtensionHeader(responseText);
        expect(parsed).not.toBeNull();
        expect(parsed).toHaveLength(1);
      }),
      budget(),
    );
  });

  it("agrees with the client on every offer our own client makes", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(options, options, (clientOptions, serverOptions) => {
        const offerText = formatExtensionHeader([createOffer(clientOptions)]);
        const negotiated = negotiateServer(parseExtensionHeader(offerText)!, serverOptions);
        expect(negotiated).not.toBeNull();
        const responseText = formatExtensionHeader([negotiated!.response]);
        const clientParams = acceptResponse(parseExtensionHeader(responseText)!, clientOptions);
        expect(clientParams).toEqual(negotiated!.params);
        expectUsable(clientParams);
      }),
      budget(),
    );
  });
});

describe("acceptResponse on hostile responses", () => {
  it("returns usable params or throws an Error naming the response as invalid", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(parsedEntries, options, (response, clientOptions) => {
        let params: DeflateParams;
        try {
          params = acceptResponse(response, clientOptions);
        } catch (error) {
          // Documented: an Error saying what is wrong. Not a TypeError from reading garbage.
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).constructor).toBe(Error);
          expect((error as Error).message).toMatch(/^Invalid permessage-deflate response: /);
          return;
        }
        expectUsable(params);
        // What the client settles on never exceeds what it asked for.
        if (typeof clientOptions.clientMaxWindowBits === "number") {
          expect(params.clientMaxWindowBits).toBeLessThanOrEqual(clientOptions.clientMaxWindowBits);
        }
        if (typeof clientOptions.serverMaxWindowBits === "number") {
          expect(params.serverMaxWindowBits).toBeLessThanOrEqual(clientOptions.serverMaxWindowBits);
        }
        if (clientOptions.serverNoContextTakeover === true) expect(params.serverNoContextTakeover).toBe(true);
      }),
      budget(),
    );
  });
});
