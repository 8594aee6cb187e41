import { describe, expect, it } from "vitest";
import { acceptResponse, createOffer, formatDeflateEntry, negotiateServer } from "./negotiation.js";
import type { PerMessageDeflateOptions } from "./options.js";
import { entry } from "./test-helpers.js";

function serverAnswer(offers: string[], options: PerMessageDeflateOptions = {}) {
  const result = negotiateServer(offers.map(entry), options);
  return result === null ? null : { params: result.params, response: formatDeflateEntry(result.response) };
}

describe("negotiateServer", () => {
  it.each([
    // [offer, server options, expected response or null]
    ["permessage-deflate", {}, "permessage-deflate"],
    ["permessage-deflate; client_max_window_bits", {}, "permessage-deflate"],
    ["permessage-deflate; client_max_window_bits", { clientMaxWindowBits: 10 }, "permessage-deflate; client_max_window_bits=10"],
    ["permessage-deflate; client_max_window_bits=12", {}, "permessage-deflate; client_max_window_bits=12"],
    ["permessage-deflate; client_max_window_bits=12", { clientMaxWindowBits: 14 }, "permessage-deflate; client_max_window_bits=12"],
    ["permessage-deflate; client_max_window_bits=12", { clientMaxWindowBits: 9 }, "permessage-deflate; client_max_window_bits=9"],
    // Never respond with client_max_window_bits when the client did not offer it.
    ["permessage-deflate", { clientMaxWindowBits: 10 }, "permessage-deflate"],
    ["permessage-deflate; server_max_window_bits=10", {}, "permessage-deflate; server_max_window_bits=10"],
    ["permessage-deflate; server_max_window_bits=10", { serverMaxWindowBits: 12 }, "permessage-deflate; server_max_window_bits=10"],
    ["permessage-deflate; server_max_window_bits=12", { serverMaxWindowBits: 9 }, "permessage-deflate; server_max_window_bits=9"],
    ["permessage-deflate; server_max_window_bits=8", {}, "permessage-deflate; server_max_window_bits=8"],
    ["permessage-deflate", { serverMaxWindowBits: 11 }, "permessage-deflate; server_max_window_bits=11"],
    ["permessage-deflate; server_no_context_takeover", {}, "permessage-deflate; server_no_context_takeover"],
    ["permessage-deflate", { serverNoContextTakeover: true }, "permessage-deflate; server_no_context_takeover"],
    ["permessage-deflate; client_no_context_takeover", {}, "permessage-deflate; client_no_context_takeover"],
    ["permessage-deflate", { clientNoContextTakeover: true }, "permessage-deflate; client_no_context_takeover"],
    ["Permessage-Deflate", {}, "permessage-deflate"],
    // Declined: bad values, duplicates, unknown parameters.
    ["permessage-deflate; server_max_window_bits=1000", {}, null],
    ["permessage-deflate; server_max_window_bits=7", {}, null],
    ["permessage-deflate; server_max_window_bits=16", {}, null],
    ["permessage-deflate; server_max_window_bits=abc", {}, null],
    ["permessage-deflate; server_max_window_bits=09", {}, null],
    ["permessage-deflate; server_max_window_bits=10.0", {}, null],
    ["permessage-deflate; server_max_window_bits=", {}, null],
    ["permessage-deflate; server_max_window_bits", {}, null],
    ["permessage-deflate; client_max_window_bits=7", {}, null],
    ["permessage-deflate; client_max_window_bits=16", {}, null],
    ["permessage-deflate; client_max_window_bits=-9", {}, null],
    ["permessage-deflate; server_no_context_takeover=1", {}, null],
    ["permessage-deflate; client_no_context_takeover=true", {}, null],
    ["permessage-deflate; server_no_context_takeover; server_no_context_takeover", {}, null],
    ["permessage-deflate; client_max_window_bits; client_max_window_bits=10", {}, null],
    ["permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", {}, null],
    ["permessage-deflate; x-unknown", {}, null],
    ["permessage-deflate; __proto__", {}, null],
    ["permessage-deflate; __proto__=1", {}, null],
    ["permessage-deflate; constructor", {}, null],
    ["permessage-deflate; toString=15", {}, null],
    ["x-webkit-deflate-frame", {}, null],
  ] as Array<[string, PerMessageDeflateOptions, string | null]>)("%s %j -> %s", (offer, options, expected) => {
    expect(serverAnswer([offer], options)?.response ?? null).toBe(expected);
  });

  it("accepts the first acceptable offer in order", () => {
    const answer = serverAnswer([
      "x-other; a=1",
      "permessage-deflate; server_max_window_bits=1000",
      "permessage-deflate; __proto__",
      "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
      "permessage-deflate",
    ]);
    expect(answer?.response).toBe("permessage-deflate; server_max_window_bits=10");
    expect(answer?.params).toEqual({
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 15,
    });
  });

  it("resolves all parameters", () => {
    const answer = serverAnswer(
      ["permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits"],
      { clientMaxWindowBits: 9 },
    );
    expect(answer?.params).toEqual({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 9,
    });
    expect(answer?.response).toBe(
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=9",
    );
  });

  it("returns a response with null-prototype params and handles a plain-object offer", () => {
    const result = negotiateServer([{ name: "permessage-deflate", params: { client_max_window_bits: ["10"] } }]);
    expect(Object.getPrototypeOf(result?.response.params)).toBeNull();
    expect(result?.params.clientMaxWindowBits).toBe(10);
  });

  it("returns null when there is no offer", () => {
    expect(negotiateServer([])).toBeNull();
  });

  it("rejects invalid options", () => {
    expect(() => negotiateServer([], { serverMaxWindowBits: 16 })).toThrow(RangeError);
    expect(() => negotiateServer([], { clientMaxWindowBits: 7.5 })).toThrow(RangeError);
  });
});

describe("createOffer", () => {
  it.each([
    [{}, "permessage-deflate; client_max_window_bits"],
    [{ clientMaxWindowBits: false }, "permessage-deflate"],
    [{ clientMaxWindowBits: 10 }, "permessage-deflate; client_max_window_bits=10"],
    [
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9 },
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits",
    ],
    [{ serverMaxWindowBits: true }, "permessage-deflate; client_max_window_bits"],
  ] as Array<[PerMessageDeflateOptions, string]>)("%j -> %s", (options, expected) => {
    expect(formatDeflateEntry(createOffer(options))).toBe(expected);
  });

  it("is accepted by negotiateServer unchanged (server with defaults)", () => {
    const result = negotiateServer([createOffer({ serverMaxWindowBits: 10, clientMaxWindowBits: 11 })]);
    expect(result?.params).toMatchObject({ serverMaxWindowBits: 10, clientMaxWindowBits: 11 });
  });
});

describe("acceptResponse", () => {
  const defaults = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

  it.each([
    [["permessage-deflate"], {}, defaults],
    [["permessage-deflate; client_max_window_bits=10"], {}, { ...defaults, clientMaxWindowBits: 10 }],
    [["permessage-deflate; client_max_window_bits=14"], { clientMaxWindowBits: 12 }, { ...defaults, clientMaxWindowBits: 12 }],
    [["permessage-deflate; server_max_window_bits=8"], {}, { ...defaults, serverMaxWindowBits: 8 }],
    [["permessage-deflate; server_max_window_bits=9"], { serverMaxWindowBits: 10 }, { ...defaults, serverMaxWindowBits: 9 }],
    [["permessage-deflate; server_no_context_takeover"], { serverNoContextTakeover: true }, { ...defaults, serverNoContextTakeover: true }],
    [["permessage-deflate; client_no_context_takeover"], {}, { ...defaults, clientNoContextTakeover: true }],
    [["permessage-deflate"], { clientNoContextTakeover: true }, { ...defaults, clientNoContextTakeover: true }],
    [["x-other", "permessage-deflate"], {}, defaults],
  ] as Array<[string[], PerMessageDeflateOptions, object]>)("%j %j is accepted", (response, options, expected) => {
    expect(acceptResponse(response.map(entry), options)).toEqual(expected);
  });

  it.each([
    [[], {}, /exactly one/],
    [["permessage-deflate", "permessage-deflate"], {}, /exactly one/],
    [["permessage-deflate; client_max_window_bits"], {}, /needs a value/],
    [["permessage-deflate; client_max_window_bits=10"], { clientMaxWindowBits: false }, /not offered/],
    [["permessage-deflate; server_max_window_bits=16"], {}, /invalid value/],
    [["permessage-deflate; server_max_window_bits=7"], {}, /invalid value/],
    [["permessage-deflate; server_max_window_bits=1000"], {}, /invalid value/],
    [["permessage-deflate; client_max_window_bits=abc"], {}, /invalid value/],
    [["permessage-deflate; server_no_context_takeover; server_no_context_takeover"], {}, /repeated/],
    [["permessage-deflate; foo"], {}, /unknown parameter/],
    [["permessage-deflate; __proto__"], {}, /unknown parameter/],
    [["permessage-deflate"], { serverNoContextTakeover: true }, /server_no_context_takeover/],
    [["permessage-deflate"], { serverMaxWindowBits: 10 }, /missing/],
    [["permessage-deflate; server_max_window_bits=11"], { serverMaxWindowBits: 10 }, /above the requested 10/],
  ] as Array<[string[], PerMessageDeflateOptions, RegExp]>)("%j %j is rejected", (response, options, message) => {
    expect(() => acceptResponse(response.map(entry), options)).toThrow(message);
  });
});
