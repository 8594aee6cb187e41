// The 101 must answer the request that was sent (issue 12, item 9): only extensions the client
// offered (RFC 6455 §4.1 item 5, §9.1), and an HTTP/1.1 status line (§4.1).
import { describe, expect, it } from "vitest";
import { createOffer } from "../deflate/negotiation.js";
import type { ExtensionOffer } from "../extension.js";
import { type UpgradeResponseExpectations, type UpgradeResponseLike, validateUpgradeResponse } from "./response.js";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const DEFLATE: UpgradeResponseExpectations = { key: KEY, protocols: [], extensions: [createOffer()] };

function response(extensions?: string | string[], httpVersion?: string): UpgradeResponseLike {
  const res: UpgradeResponseLike = {
    statusCode: 101,
    headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-accept": ACCEPT },
  };
  if (extensions !== undefined) res.headers["sec-websocket-extensions"] = extensions;
  if (httpVersion !== undefined) res.httpVersion = httpVersion;
  return res;
}

function reason(res: UpgradeResponseLike, expected: UpgradeResponseExpectations = DEFLATE): string {
  const result = validateUpgradeResponse(res, expected);
  if (result.ok) throw new Error("expected a failure");
  return result.reason;
}

describe("validateUpgradeResponse: extensions must have been offered", () => {
  it.each([
    ["beside the offered one", "permessage-deflate, x-unknown"],
    ["before the offered one", "x-unknown, permessage-deflate"],
    ["alone", "x-unknown"],
    ["on its own field line", ["permessage-deflate", "x-unknown"]],
    ["with parameters", "permessage-deflate; client_max_window_bits=10, x-webkit-deflate-frame; max_window_bits=10"],
  ])("fails for an extension that was not offered, %s", (_name, header) => {
    expect(reason(response(header))).toMatch(/extension "x-[a-z-]+", which was not offered/);
  });

  it("accepts what was offered, in any letter case, and returns its entries", () => {
    const result = validateUpgradeResponse(response("PerMessage-Deflate; server_max_window_bits=10"), DEFLATE);
    expect(result.ok).toBe(true);
    expect(result.ok && result.extensions.map((e) => e.name)).toEqual(["PerMessage-Deflate"]);
  });

  it("accepts each of several offered extensions", () => {
    const expected = { ...DEFLATE, extensions: [createOffer(), { name: "x-foo", params: Object.create(null) }] };
    expect(validateUpgradeResponse(response("x-foo, permessage-deflate"), expected).ok).toBe(true);
    expect(reason(response("x-foo, x-bar"), expected)).toMatch(/x-bar/);
  });

  it("fails for any extension when none was offered", () => {
    expect(reason(response("permessage-deflate"), { key: KEY, protocols: [] })).toMatch(/none were requested/);
    expect(reason(response("permessage-deflate"), { key: KEY, protocols: [], extensions: [] })).toMatch(
      /none were requested/,
    );
  });

  it("does not take a name from garbage in the offer list", () => {
    const expected = { key: KEY, protocols: [], extensions: [null, 1, { name: 2 }] as unknown as ExtensionOffer[] };
    expect(validateUpgradeResponse(response("permessage-deflate"), expected).ok).toBe(false);
  });

  it("still allows the deprecated extensionsOffered: true without a list (syntax only)", () => {
    expect(validateUpgradeResponse(response("x-unknown"), { key: KEY, protocols: [], extensionsOffered: true }).ok).toBe(
      true,
    );
  });
});

describe("validateUpgradeResponse: the status line must be HTTP/1.1 101", () => {
  it.each(["1.0", "2.0", "0.9", ""])("fails for HTTP/%s", (version) => {
    expect(reason(response(undefined, version))).toMatch(/HTTP\/1\.1 is required/);
  });

  it("accepts HTTP/1.1, and no version from a caller whose parser checked it", () => {
    expect(validateUpgradeResponse(response(undefined, "1.1"), DEFLATE).ok).toBe(true);
    expect(validateUpgradeResponse(response(), DEFLATE).ok).toBe(true);
  });
});
