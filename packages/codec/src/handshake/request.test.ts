import { Buffer } from "node:buffer";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { computeAccept } from "./key.js";
import {
  type HeaderFields,
  type UpgradeRequestLike,
  buildErrorResponse,
  buildUpgradeResponse,
  validateUpgradeRequest,
} from "./request.js";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** The RFC 6455 §1.3 sample request, as Node's IncomingMessage would present it. */
function request(headers: HeaderFields = {}, extra: Partial<UpgradeRequestLike> = {}): UpgradeRequestLike {
  return {
    method: "GET",
    httpVersion: "1.1",
    headers: {
      host: "server.example.com",
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": KEY,
      "sec-websocket-version": "13",
      origin: "http://example.com",
      ...headers,
    },
    ...extra,
  };
}

/** `request()` without the named header. */
function without(name: string): UpgradeRequestLike {
  const req = request();
  delete req.headers[name];
  return req;
}

function rejection(req: UpgradeRequestLike) {
  const result = validateUpgradeRequest(req);
  if (result.ok) throw new Error("expected a rejection");
  return result;
}

describe("validateUpgradeRequest", () => {
  it("accepts the RFC 6455 §1.3 request", () => {
    const result = validateUpgradeRequest(
      request({ "sec-websocket-protocol": "chat, superchat", "sec-websocket-extensions": "permessage-deflate" })
    );
    expect(result).toEqual({
      ok: true,
      key: KEY,
      version: 13,
      protocols: ["chat", "superchat"],
      extensions: [{ name: "permessage-deflate", params: Object.create(null) }],
    });
  });

  it("gives empty lists when no subprotocol or extension is offered", () => {
    expect(validateUpgradeRequest(request())).toEqual({
      ok: true,
      key: KEY,
      version: 13,
      protocols: [],
      extensions: [],
    });
  });

  it("accepts Upgrade and Connection as case-insensitive comma lists", () => {
    for (const [upgrade, connection] of [
      ["WebSocket", "keep-alive, Upgrade"],
      ["h2c, WEBSOCKET", "UPGRADE"],
      ["websocket", " keep-alive ,\tupgrade "],
    ] as const) {
      expect(validateUpgradeRequest(request({ upgrade, connection })).ok, `${upgrade} / ${connection}`).toBe(true);
    }
    expect(validateUpgradeRequest(request({ connection: ["keep-alive", "Upgrade"] })).ok).toBe(true);
    expect(validateUpgradeRequest(request({ upgrade: ["h2c", "websocket"] })).ok).toBe(true);
  });

  it("accepts HTTP versions 1.1 and later, and a caller that leaves the version out", () => {
    for (const httpVersion of ["1.1", "1.2", "2.0"]) {
      expect(validateUpgradeRequest(request({}, { httpVersion })).ok).toBe(true);
    }
    const req = request();
    delete req.httpVersion;
    expect(validateUpgradeRequest(req).ok).toBe(true);
  });

  it("trims OWS around single values", () => {
    const result = validateUpgradeRequest(
      request({ "sec-websocket-key": ` ${KEY}\t`, "sec-websocket-version": " 13 " })
    );
    expect(result).toMatchObject({ ok: true, key: KEY });
  });

  it("answers 405 with Allow: GET for other methods", () => {
    for (const method of ["POST", "get", "HEAD", "CONNECT", undefined]) {
      const result = rejection(request({}, { method: method as string }));
      expect(result.status).toBe(405);
      expect(result.headers).toEqual({ Allow: "GET" });
    }
  });

  it.each(["1.0", "0.9", "1", "", "1.1.1", "x.y", "11"])("answers 400 for HTTP version %j", (httpVersion) => {
    expect(rejection(request({}, { httpVersion })).status).toBe(400);
  });

  it.each<[string, HeaderFields | string]>([
    ["missing Host (RFC 6455 §4.2.1 item 2)", "host"],
    ["empty Host", { host: " " }],
    ["repeated Host (array)", { host: ["a.example", "b.example"] }],
    ["missing Upgrade (SECURITY row 1: maxHeadersCount)", "upgrade"],
    ["Upgrade not websocket", { upgrade: "h2c" }],
    ["Upgrade websocket as a prefix", { upgrade: "websocketx" }],
    ["Upgrade with Kelvin sign", { upgrade: "websoc\u212Aet" }],
    ["empty Upgrade", { upgrade: "" }],
    ["empty Upgrade array", { upgrade: [] }],
    ["missing Connection", "connection"],
    ["Connection keep-alive", { connection: "keep-alive" }],
    ["Connection upgrade as a prefix", { connection: "upgraded" }],
    ["missing key", "sec-websocket-key"],
    ["short key", { "sec-websocket-key": "dGhlIHNhbXBsZQ==" }],
    ["key of 17 bytes", { "sec-websocket-key": Buffer.alloc(17).toString("base64") }],
    ["repeated key (array)", { "sec-websocket-key": [KEY, KEY] }],
    ["repeated key (joined)", { "sec-websocket-key": `${KEY}, ${KEY}` }],
    ["invalid subprotocol", { "sec-websocket-protocol": "chat room" }],
    ["empty subprotocol header", { "sec-websocket-protocol": "" }],
    ["duplicate subprotocol", { "sec-websocket-protocol": "chat, chat" }],
    ["duplicate subprotocol across lines", { "sec-websocket-protocol": ["chat", "superchat, chat"] }],
    ["non-ASCII subprotocol (SECURITY row 10)", { "sec-websocket-protocol": "ch\u00e4t" }],
    ["astral subprotocol", { "sec-websocket-protocol": "\u{1F600}" }],
    ["lone surrogate subprotocol", { "sec-websocket-protocol": "\uD800" }],
    [
      "latin1 subprotocol as Node decodes it",
      { "sec-websocket-protocol": Buffer.from("ч", "utf8").toString("latin1") },
    ],
    ["invalid extensions", { "sec-websocket-extensions": "permessage-deflate;" }],
    ["non-ASCII extension", { "sec-websocket-extensions": "d\u00e9flate" }],
    ["empty extension element", { "sec-websocket-extensions": ["permessage-deflate", ""] }],
  ])("answers 400 for %s", (_label, change) => {
    const req = typeof change === "string" ? without(change) : request(change);
    const result = rejection(req);
    expect(result.status).toBe(400);
    expect(result.reason.length).toBeGreaterThan(0);
  });

  it.each<[string, HeaderFields | string]>([
    ["missing version", "sec-websocket-version"],
    ["version 8", { "sec-websocket-version": "8" }],
    ["version 013", { "sec-websocket-version": "013" }],
    ["version list", { "sec-websocket-version": "13, 8" }],
    ["repeated version", { "sec-websocket-version": ["13", "13"] }],
    ["empty version", { "sec-websocket-version": "" }],
  ])("answers 426 with Sec-WebSocket-Version: 13 for %s (RFC 6455 §4.4)", (_label, change) => {
    const req = typeof change === "string" ? without(change) : request(change);
    const result = rejection(req);
    expect(result.status).toBe(426);
    expect(result.headers).toEqual({ "Sec-WebSocket-Version": "13" });
  });

  it("checks the version before the key, so an old client learns to retry with 13", () => {
    expect(rejection(request({ "sec-websocket-version": "8", "sec-websocket-key": "short" })).status).toBe(426);
  });

  it("combines repeated Sec-WebSocket-Protocol and Sec-WebSocket-Extensions lines", () => {
    const result = validateUpgradeRequest(
      request({
        "sec-websocket-protocol": ["chat", "superchat, v2"],
        "sec-websocket-extensions": ["permessage-deflate; client_max_window_bits", "x-foo"],
      })
    );
    expect(result).toMatchObject({ ok: true, protocols: ["chat", "superchat", "v2"] });
    if (!result.ok) return;
    expect(result.extensions.map((e) => e.name)).toEqual(["permessage-deflate", "x-foo"]);
    expect(result.extensions[0]!.params["client_max_window_bits"]).toEqual([true]);
  });

  it("keeps hostile extension parameter names as own keys", () => {
    const result = validateUpgradeRequest(request({ "sec-websocket-extensions": "x; __proto__=1; constructor" }));
    if (!result.ok) throw new Error(result.reason);
    const params = result.extensions[0]!.params;
    expect(Object.getPrototypeOf(params)).toBeNull();
    expect(params["__proto__"]).toEqual(["1"]);
    expect(params["constructor"]).toEqual([true]);
  });

  it("answers 400 for garbage header values and objects instead of throwing", () => {
    const garbage: unknown[] = [42, null, {}, [42], ["websocket", null], true, Symbol("x"), () => "websocket"];
    for (const value of garbage) {
      for (const name of [
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
      ]) {
        const req = request({ [name]: value as string });
        expect(() => validateUpgradeRequest(req)).not.toThrow();
        expect(validateUpgradeRequest(req)).toMatchObject({ ok: false, status: 400 });
      }
    }
    for (const req of [
      null,
      undefined,
      42,
      {},
      { method: "GET" },
      { method: "GET", headers: null },
      { method: "GET", headers: "x" },
    ]) {
      expect(validateUpgradeRequest(req as unknown as UpgradeRequestLike)).toMatchObject({ ok: false, status: 400 });
    }
  });

  it("ignores header values inherited through a tampered prototype", () => {
    const headers = Object.create({ upgrade: "websocket", connection: "Upgrade" }) as HeaderFields;
    headers["sec-websocket-key"] = KEY;
    headers["sec-websocket-version"] = "13";
    expect(validateUpgradeRequest({ method: "GET", headers })).toMatchObject({ ok: false, status: 400 });
  });

  it("accepts a null-prototype header object", () => {
    const headers = Object.assign(Object.create(null) as HeaderFields, request().headers);
    expect(validateUpgradeRequest({ method: "GET", httpVersion: "1.1", headers }).ok).toBe(true);
  });

  it("never throws on random header objects (fuzz)", () => {
    const names = fc.oneof(
      fc.constantFrom(
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
        "__proto__",
        "constructor",
        "hasOwnProperty",
        "toString"
      ),
      fc.string({ maxLength: 20 })
    );
    const text = fc.oneof(
      fc.constantFrom("websocket", "Upgrade", "13", KEY, "chat, superchat", "permessage-deflate; a=1", "", " "),
      fc.string({ maxLength: 200 }),
      fc.string({ unit: "binary", maxLength: 200 })
    );
    const value = fc.oneof(
      text,
      fc.array(text, { maxLength: 4 }),
      fc.constantFrom<unknown>(undefined, null, 13, {}, [1], true)
    );
    const entries = fc.array(fc.tuple(names, value), { maxLength: 12 });
    fc.assert(
      fc.property(
        entries,
        fc.constantFrom("GET", "POST", undefined),
        fc.constantFrom("1.1", "1.0", undefined),
        (list, method, httpVersion) => {
          const headers: Record<string, unknown> = {};
          // defineProperty, so `__proto__` becomes an own key instead of replacing the prototype.
          for (const [name, v] of list)
            Object.defineProperty(headers, name, { value: v, enumerable: true, configurable: true, writable: true });
          const result = validateUpgradeRequest({ method, httpVersion, headers: headers as HeaderFields });
          if (result.ok) {
            expect(result.version).toBe(13);
            expect(Array.isArray(result.protocols)).toBe(true);
          } else {
            expect([400, 405, 426]).toContain(result.status);
            expect(typeof result.reason).toBe("string");
          }
        }
      ),
      { numRuns: 500, interruptAfterTimeLimit: 10_000 }
    );
  });

  it("gets through a valid request with random extra headers (fuzz)", () => {
    const extra = fc.dictionary(
      fc.string({ maxLength: 20 }).filter((k) => !k.startsWith("sec-") && k !== "upgrade" && k !== "connection"),
      fc.string({ maxLength: 50 }),
      { maxKeys: 10 }
    );
    fc.assert(
      fc.property(extra, (headers) => {
        expect(validateUpgradeRequest(request(headers as HeaderFields)).ok).toBe(true);
      }),
      { numRuns: 200 }
    );
  });
});

describe("buildUpgradeResponse", () => {
  it("writes the RFC 6455 §1.3 response", () => {
    expect(buildUpgradeResponse({ accept: computeAccept(KEY), protocol: "chat" })).toBe(
      "HTTP/1.1 101 Switching Protocols\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
        "Sec-WebSocket-Protocol: chat\r\n" +
        "\r\n"
    );
  });

  it("adds extensions and extra headers, one line per array value", () => {
    const params = Object.create(null) as Record<string, Array<string | true>>;
    params["server_max_window_bits"] = ["10"];
    const text = buildUpgradeResponse({
      accept: "x",
      extensions: [{ name: "permessage-deflate", params }],
      headers: { "Set-Cookie": ["a=1", "b=2"], "X-Server": "test" },
    });
    expect(text).toBe(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n" +
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n" +
        "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Server: test\r\n\r\n"
    );
  });

  it("writes no extensions header for an empty list", () => {
    expect(buildUpgradeResponse({ accept: "x", extensions: [] })).not.toContain("Extensions");
  });

  it.each([
    ["CR LF in a value", { headers: { "X-A": "1\r\nX-Injected: 1" } }],
    ["LF in a value", { headers: { "X-A": "1\nX-Injected: 1" } }],
    ["CR in an array value", { headers: { "X-A": ["ok", "1\r"] } }],
    ["NUL in a value", { headers: { "X-A": "1\u0000" } }],
    ["char above 0xff", { headers: { "X-A": "\u0100" } }],
    ["non-string value", { headers: { "X-A": 1 as unknown as string } }],
    ["invalid name", { headers: { "X-A: 1\r\nX-B": "1" } }],
    ["empty name", { headers: { "": "1" } }],
    ["reserved name", { headers: { "sec-websocket-accept": "y" } }],
    ["reserved name, other case", { headers: { CONNECTION: "close" } }],
    ["Content-Length on a 101", { headers: { "Content-Length": "0" } }],
    ["invalid subprotocol", { protocol: "a b" }],
    ["CR LF in the subprotocol", { protocol: "a\r\nX: 1" }],
    ["CR LF in accept", { accept: "x\r\nX: 1" }],
    ["empty accept", { accept: "" }],
  ])("throws a TypeError for %s", (_label, options) => {
    expect(() => buildUpgradeResponse({ accept: "x", ...options })).toThrow(TypeError);
  });
});

describe("buildErrorResponse", () => {
  it("writes a complete close-delimited plain-text response", () => {
    expect(buildErrorResponse(400, "Missing or invalid Upgrade header")).toBe(
      "HTTP/1.1 400 Bad Request\r\n" +
        "Connection: close\r\n" +
        "Content-Type: text/plain\r\n" +
        "Content-Length: 33\r\n" +
        "\r\n" +
        "Missing or invalid Upgrade header"
    );
  });

  it("passes the rejection's headers through", () => {
    const result = rejection(request({ "sec-websocket-version": "8" }));
    const text = buildErrorResponse(result.status, result.reason, result.headers);
    expect(text.startsWith("HTTP/1.1 426 Upgrade Required\r\n")).toBe(true);
    expect(text).toContain("\r\nSec-WebSocket-Version: 13\r\n");
    expect(buildErrorResponse(405, "Method Not Allowed", { Allow: "GET" })).toContain("\r\nAllow: GET\r\n\r\n");
  });

  it("counts Content-Length in UTF-8 bytes", () => {
    expect(buildErrorResponse(400, "é€😀")).toContain("Content-Length: 9\r\n");
    expect(buildErrorResponse(400, "")).toContain("Content-Length: 0\r\n\r\n");
  });

  it("keeps an empty reason-phrase for a status it does not name", () => {
    expect(buildErrorResponse(499, "x").startsWith("HTTP/1.1 499 \r\n")).toBe(true);
  });

  it("throws a TypeError for a bad status or header", () => {
    for (const status of [101, 200, 399, 600, 400.5, Number.NaN]) {
      expect(() => buildErrorResponse(status, "x")).toThrow(TypeError);
    }
    expect(() => buildErrorResponse(400, "x", { "X-A": "1\r\n\r\nHTTP/1.1 200 OK" })).toThrow(TypeError);
    expect(() => buildErrorResponse(400, "x", { "Content-Length": "0" })).toThrow(TypeError);
    expect(() => buildErrorResponse(400, "x", { connection: "keep-alive" })).toThrow(TypeError);
  });
});
