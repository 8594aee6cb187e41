import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { computeAccept, generateKey } from "./key.js";
import type { HeaderFields } from "./request.js";
import {
  type UpgradeResponseExpectations,
  type UpgradeResponseLike,
  buildUpgradeRequest,
  validateUpgradeResponse,
} from "./response.js";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

const OFFERED: UpgradeResponseExpectations = { key: KEY, protocols: ["chat", "superchat"], extensionsOffered: true };

/** The RFC 6455 §1.3 sample response, as Node's IncomingMessage would present it. */
function response(headers: HeaderFields = {}, statusCode = 101): UpgradeResponseLike {
  return {
    statusCode,
    headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-accept": ACCEPT, ...headers },
  };
}

function failure(res: UpgradeResponseLike, expected: UpgradeResponseExpectations = OFFERED): string {
  const result = validateUpgradeResponse(res, expected);
  if (result.ok) throw new Error("expected a failure");
  return result.reason;
}

describe("validateUpgradeResponse", () => {
  it("accepts the RFC 6455 §1.3 response", () => {
    expect(validateUpgradeResponse(response({ "sec-websocket-protocol": "chat" }), OFFERED)).toEqual({
      ok: true,
      protocol: "chat",
      extensions: [],
    });
  });

  it("gives protocol '' when the server picks none of those offered", () => {
    expect(validateUpgradeResponse(response(), OFFERED)).toEqual({ ok: true, protocol: "", extensions: [] });
    expect(validateUpgradeResponse(response(), { key: KEY, protocols: [], extensionsOffered: false }).ok).toBe(true);
  });

  it("accepts Upgrade and Connection case-insensitively, Connection as a list", () => {
    expect(
      validateUpgradeResponse(response({ upgrade: "WebSocket", connection: "keep-alive, UPGRADE" }), OFFERED).ok
    ).toBe(true);
    expect(validateUpgradeResponse(response({ connection: ["keep-alive", "upgrade"] }), OFFERED).ok).toBe(true);
  });

  it("returns the parsed extensions the server accepted", () => {
    const result = validateUpgradeResponse(
      response({ "sec-websocket-extensions": "permessage-deflate; server_max_window_bits=10; __proto__" }),
      OFFERED
    );
    if (!result.ok) throw new Error(result.reason);
    expect(result.extensions).toHaveLength(1);
    const { name, params } = result.extensions[0]!;
    expect(name).toBe("permessage-deflate");
    expect(params["server_max_window_bits"]).toEqual(["10"]);
    expect(Object.keys(params)).toEqual(["server_max_window_bits", "__proto__"]);
  });

  it.each<[string, UpgradeResponseLike, RegExp]>([
    ["status 200", response({}, 200), /Unexpected server response: 200/],
    ["status 302", response({}, 302), /302/],
    ["missing status", { headers: response().headers }, /undefined/],
    ["missing Upgrade", response({ upgrade: undefined }), /Upgrade/],
    ["Upgrade list", response({ upgrade: "websocket, h2c" }), /Upgrade/],
    ["Upgrade with Kelvin sign", response({ upgrade: "websoc\u212Aet" }), /Upgrade/],
    ["repeated Upgrade", response({ upgrade: ["websocket", "websocket"] }), /Upgrade/],
    ["missing Connection", response({ connection: undefined }), /Connection/],
    ["Connection close", response({ connection: "close" }), /Connection/],
    ["missing accept", response({ "sec-websocket-accept": undefined }), /Accept/],
    ["wrong accept", response({ "sec-websocket-accept": computeAccept("AAAAAAAAAAAAAAAAAAAAAA==") }), /Accept/],
    ["accept of the key itself", response({ "sec-websocket-accept": KEY }), /Accept/],
    ["accept in another case", response({ "sec-websocket-accept": ACCEPT.toLowerCase() }), /Accept/],
    ["repeated accept", response({ "sec-websocket-accept": [ACCEPT, ACCEPT] }), /Accept/],
    ["unoffered subprotocol", response({ "sec-websocket-protocol": "other" }), /not requested/],
    ["subprotocol in another case", response({ "sec-websocket-protocol": "Chat" }), /not requested/],
    ["two subprotocols", response({ "sec-websocket-protocol": "chat, superchat" }), /Protocol/],
    ["repeated subprotocol lines", response({ "sec-websocket-protocol": ["chat", "chat"] }), /Protocol/],
    ["empty subprotocol", response({ "sec-websocket-protocol": "" }), /Protocol/],
    ["non-ASCII subprotocol", response({ "sec-websocket-protocol": "ch\u00e4t" }), /Protocol/],
    ["invalid extensions", response({ "sec-websocket-extensions": "permessage-deflate; =1" }), /Extensions/],
    ["empty extensions", response({ "sec-websocket-extensions": "" }), /Extensions/],
  ])("fails for %s", (_label, res, reason) => {
    expect(failure(res)).toMatch(reason);
  });

  it("fails when the server picks a subprotocol we did not offer any of", () => {
    expect(failure(response({ "sec-websocket-protocol": "chat" }), { ...OFFERED, protocols: [] })).toMatch(
      /none was requested/
    );
  });

  it("fails when the server sends extensions we did not offer", () => {
    expect(
      failure(response({ "sec-websocket-extensions": "permessage-deflate" }), { ...OFFERED, extensionsOffered: false })
    ).toMatch(/none were requested/);
  });

  it("fails instead of throwing on garbage", () => {
    const garbage: unknown[] = [42, null, {}, [42], true, Symbol("x")];
    for (const value of garbage) {
      for (const name of [
        "upgrade",
        "connection",
        "sec-websocket-accept",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
      ]) {
        expect(validateUpgradeResponse(response({ [name]: value as string }), OFFERED).ok).toBe(false);
      }
    }
    for (const res of [null, undefined, 42, {}, { statusCode: 101 }, { statusCode: 101, headers: null }]) {
      expect(validateUpgradeResponse(res as unknown as UpgradeResponseLike, OFFERED).ok).toBe(false);
    }
  });

  it("never throws on random header objects (fuzz)", () => {
    const names = fc.oneof(
      fc.constantFrom(
        "upgrade",
        "connection",
        "sec-websocket-accept",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
        "__proto__",
        "constructor"
      ),
      fc.string({ maxLength: 20 })
    );
    const text = fc.oneof(
      fc.constantFrom("websocket", "Upgrade", ACCEPT, "chat", "permessage-deflate", ""),
      fc.string({ maxLength: 200 }),
      fc.string({ unit: "binary", maxLength: 200 })
    );
    const value = fc.oneof(
      text,
      fc.array(text, { maxLength: 4 }),
      fc.constantFrom<unknown>(undefined, null, 101, {}, [1])
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(names, value), { maxLength: 10 }),
        fc.constantFrom(101, 200, undefined),
        (list, statusCode) => {
          const headers: Record<string, unknown> = {};
          for (const [name, v] of list)
            Object.defineProperty(headers, name, { value: v, enumerable: true, configurable: true, writable: true });
          const result = validateUpgradeResponse({ statusCode, headers: headers as HeaderFields }, OFFERED);
          if (result.ok) expect(["", "chat", "superchat"]).toContain(result.protocol);
          else expect(typeof result.reason).toBe("string");
        }
      ),
      { numRuns: 500, interruptAfterTimeLimit: 10_000 }
    );
  });
});

describe("buildUpgradeRequest", () => {
  it("writes the RFC 6455 §1.3 request", () => {
    expect(
      buildUpgradeRequest({
        path: "/chat",
        host: "server.example.com",
        key: KEY,
        protocols: ["chat", "superchat"],
        origin: "http://example.com",
      })
    ).toBe(
      "GET /chat HTTP/1.1\r\n" +
        "Host: server.example.com\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        `Sec-WebSocket-Key: ${KEY}\r\n` +
        "Sec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Protocol: chat, superchat\r\n" +
        "Origin: http://example.com\r\n" +
        "\r\n"
    );
  });

  it("writes extensions and extra headers, and leaves out empty lists", () => {
    const text = buildUpgradeRequest({
      path: "/?a=1&b=%20",
      host: "[::1]:8080",
      key: KEY,
      protocols: [],
      extensions: [{ name: "permessage-deflate", params: { client_max_window_bits: [true] } }],
      headers: { Authorization: "Bearer abc", Cookie: ["a=1", "b=2"] },
    });
    expect(text).toBe(
      "GET /?a=1&b=%20 HTTP/1.1\r\nHost: [::1]:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n` +
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
        "Authorization: Bearer abc\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n"
    );
    expect(buildUpgradeRequest({ path: "/", host: "h", key: KEY, extensions: [] })).not.toContain("Extensions");
  });

  it("lets Origin come from extra headers when no origin option is given", () => {
    expect(buildUpgradeRequest({ path: "/", host: "h", key: KEY, headers: { Origin: "https://a" } })).toContain(
      "\r\nOrigin: https://a\r\n"
    );
    expect(() =>
      buildUpgradeRequest({ path: "/", host: "h", key: KEY, origin: "https://a", headers: { origin: "https://b" } })
    ).toThrow(TypeError);
  });

  it("round-trips with the server's validation through a generated key", () => {
    const key = generateKey();
    const text = buildUpgradeRequest({ path: "/", host: "h", key, protocols: ["chat"] });
    expect(text).toContain(`\r\nSec-WebSocket-Key: ${key}\r\n`);
    const result = validateUpgradeResponse(
      response({ "sec-websocket-accept": computeAccept(key), "sec-websocket-protocol": "chat" }),
      { key, protocols: ["chat"], extensionsOffered: false }
    );
    expect(result).toEqual({ ok: true, protocol: "chat", extensions: [] });
  });

  it.each([
    ["relative path", { path: "chat" }],
    ["empty path", { path: "" }],
    ["space in path", { path: "/a b" }],
    ["CR LF in path", { path: "/\r\nX: 1" }],
    ["non-ASCII path", { path: "/\u00e9" }],
    ["empty host", { host: "" }],
    ["CR LF in host", { host: "h\r\nX: 1" }],
    ["invalid key", { key: "abc" }],
    ["invalid subprotocol", { protocols: ["a b"] }],
    ["non-ASCII subprotocol", { protocols: ["\u00e9"] }],
    ["duplicate subprotocols", { protocols: ["a", "a"] }],
    ["invalid extension", { extensions: [{ name: "a,b", params: {} }] }],
    ["CR LF in origin", { origin: "http://a\r\nX: 1" }],
    ["CR LF in a header value", { headers: { "X-A": "1\r\nX-Injected: 1" } }],
    ["LF in an array header value", { headers: { Cookie: ["a=1", "b\n"] } }],
    ["invalid header name", { headers: { "X A": "1" } }],
    ["reserved header", { headers: { "Sec-WebSocket-Key": KEY } }],
    ["reserved Host", { headers: { host: "evil" } }],
  ])("throws a TypeError for %s", (_label, options) => {
    expect(() => buildUpgradeRequest({ path: "/", host: "h", key: KEY, ...options })).toThrow(TypeError);
  });
});
