import { describe, expect, it } from "vitest";
import {
  buildConnectErrorHeaders,
  buildConnectRequestHeaders,
  buildConnectResponseHeaders,
  isWebSocketConnect,
  validateConnectRequest,
  validateConnectResponse,
} from "./extended-connect.js";
import type { HeaderFields } from "./request.js";

/** The RFC 8441 §5.1 example request, as `node:http2` presents it. */
function request(extra: HeaderFields = {}): HeaderFields {
  return {
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": "https",
    ":path": "/chat",
    ":authority": "server.example.com",
    "sec-websocket-protocol": "chat, superchat",
    "sec-websocket-extensions": "permessage-deflate",
    "sec-websocket-version": "13",
    origin: "http://www.example.com",
    ...extra,
  };
}

function rejection(headers: HeaderFields, rawHeaders?: string[]) {
  const result = validateConnectRequest(rawHeaders === undefined ? { headers } : { headers, rawHeaders });
  if (result.ok) throw new Error("expected a rejection");
  return result;
}

describe("validateConnectRequest (RFC 8441 §4-5)", () => {
  it("accepts the RFC 8441 §5.1 request and parses its lists", () => {
    expect(validateConnectRequest({ headers: request() })).toEqual({
      ok: true,
      version: 13,
      path: "/chat",
      authority: "server.example.com",
      scheme: "https",
      protocols: ["chat", "superchat"],
      extensions: [{ name: "permessage-deflate", params: expect.anything() }],
    });
  });

  it("needs no Sec-WebSocket-Key, ignores an invalid one and reports a valid one", () => {
    const garbage = validateConnectRequest({ headers: request({ "sec-websocket-key": "garbage" }) });
    expect(garbage.ok && garbage.key).toBe(undefined);
    const valid = validateConnectRequest({ headers: request({ "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" }) });
    expect(valid.ok && valid.key).toBe("dGhlIHNhbXBsZSBub25jZQ==");
    expect(buildConnectResponseHeaders({ accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" })).toEqual({
      ":status": 200,
      "sec-websocket-accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    });
  });

  it("refuses other methods with 405 and other protocols with 501", () => {
    expect(rejection(request({ ":method": "GET" }))).toMatchObject({ status: 405, headers: { allow: "CONNECT" } });
    expect(rejection(request({ ":protocol": "webtransport" })).status).toBe(501);
    expect(rejection(request({ ":protocol": undefined })).status).toBe(501);
  });

  it("refuses missing or invalid :scheme, :path and :authority with 400", () => {
    for (const bad of [{ ":scheme": undefined }, { ":scheme": "ftp" }, { ":path": undefined }, { ":path": "*" }, { ":authority": "" }, { ":authority": undefined }]) {
      expect(rejection(request(bad)).status).toBe(400);
    }
  });

  it("answers a missing or other version with 426 and the version spoken", () => {
    expect(rejection(request({ "sec-websocket-version": "8" }))).toMatchObject({ status: 426, headers: { "sec-websocket-version": "13" } });
    expect(rejection(request({ "sec-websocket-version": undefined })).status).toBe(426);
  });

  it("counts repeated lines from rawHeaders: two :path or two versions are refused", () => {
    const raw = [":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", "/a", ":path", "/b", ":authority", "h", "sec-websocket-version", "13"];
    expect(rejection({}, raw).status).toBe(400);
    const twoVersions = [":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", "/", ":authority", "h", "sec-websocket-version", "13", "sec-websocket-version", "13"];
    expect(rejection({}, twoVersions).status).toBe(426);
  });

  it("refuses garbage lists with 400, never throwing (SECURITY rows 2, 3, 10)", () => {
    expect(rejection(request({ "sec-websocket-protocol": "chat, , \u00e9" })).status).toBe(400);
    expect(rejection(request({ "sec-websocket-extensions": "permessage-deflate; =" })).status).toBe(400);
    expect(validateConnectRequest({ headers: request({ "sec-websocket-extensions": "x; __proto__=1; constructor" }) }).ok).toBe(true);
    expect(rejection(null as never).status).toBe(400);
    expect(rejection({}, ["odd"]).status).toBe(400);
  });

  it("isWebSocketConnect picks only CONNECT with :protocol websocket", () => {
    expect(isWebSocketConnect(request())).toBe(true);
    expect(isWebSocketConnect(request({ ":protocol": "WebSocket" }))).toBe(true);
    expect(isWebSocketConnect(request({ ":method": "GET" }))).toBe(false);
    expect(isWebSocketConnect({ ":method": "CONNECT", ":authority": "proxy.example:443" })).toBe(false);
  });
});

describe("connect headers", () => {
  it("builds the request of RFC 8441 §5.1, no key, no Upgrade or Connection", () => {
    const headers = buildConnectRequestHeaders({
      path: "/chat?x=1",
      authority: "server.example.com",
      scheme: "https",
      protocols: ["chat", "superchat"],
      extensions: [{ name: "permessage-deflate", params: { client_max_window_bits: [true] } }],
      origin: "http://www.example.com",
      headers: { Cookie: "a=1" },
    });
    expect(headers).toEqual({
      ":method": "CONNECT",
      ":protocol": "websocket",
      ":scheme": "https",
      ":path": "/chat?x=1",
      ":authority": "server.example.com",
      "sec-websocket-version": "13",
      "sec-websocket-protocol": "chat, superchat",
      "sec-websocket-extensions": "permessage-deflate; client_max_window_bits",
      origin: "http://www.example.com",
      cookie: "a=1",
    });
    // What we build, the server side accepts.
    expect(validateConnectRequest({ headers: headers as HeaderFields }).ok).toBe(true);
  });

  it("refuses connection-specific and handshake headers, and values with CR or LF", () => {
    const base = { path: "/", authority: "h", scheme: "https" as const };
    expect(() => buildConnectRequestHeaders({ ...base, headers: { Connection: "close" } })).toThrow(TypeError);
    expect(() => buildConnectRequestHeaders({ ...base, headers: { "Sec-WebSocket-Key": "x" } })).toThrow(TypeError);
    expect(() => buildConnectRequestHeaders({ ...base, headers: { "x-a": "1\r\nx-b: 2" } })).toThrow(TypeError);
    expect(() => buildConnectRequestHeaders({ ...base, path: "chat" })).toThrow(TypeError);
    expect(() => buildConnectResponseHeaders({ headers: { upgrade: "websocket" } })).toThrow(TypeError);
    expect(() => buildConnectResponseHeaders({ protocol: "a b" })).toThrow(TypeError);
    expect(() => buildConnectErrorHeaders(200)).toThrow(TypeError);
  });

  it("answers 200 with the chosen subprotocol and extensions", () => {
    expect(
      buildConnectResponseHeaders({
        protocol: "chat",
        extensions: [{ name: "permessage-deflate", params: { server_no_context_takeover: [true] } }],
        headers: { "X-Id": ["1", "2"] },
      }),
    ).toEqual({
      ":status": 200,
      "sec-websocket-protocol": "chat",
      "sec-websocket-extensions": "permessage-deflate; server_no_context_takeover",
      "x-id": ["1", "2"],
    });
    expect(buildConnectErrorHeaders(403, { "x-why": "origin" })).toEqual({ ":status": 403, "content-type": "text/plain", "x-why": "origin" });
  });
});

describe("validateConnectResponse", () => {
  const offer = { protocols: ["chat"], extensions: [{ name: "permessage-deflate", params: {} }] };

  it("accepts any 2xx and reads the choices", () => {
    expect(validateConnectResponse({ headers: { ":status": 200, "sec-websocket-protocol": "chat" } }, offer)).toEqual({
      ok: true,
      protocol: "chat",
      extensions: [],
    });
    expect(validateConnectResponse({ headers: { ":status": 204 } }, offer).ok).toBe(true);
  });

  it("fails 101, 3xx, 4xx and a missing status", () => {
    for (const status of [101, 301, 400, 503, undefined]) {
      expect(validateConnectResponse({ headers: { ":status": status } }, offer).ok).toBe(false);
    }
  });

  it("fails a subprotocol or an extension that was not offered (RFC 6455 §4.1, SECURITY row 22)", () => {
    expect(validateConnectResponse({ headers: { ":status": 200, "sec-websocket-protocol": "other" } }, offer)).toMatchObject({ ok: false });
    expect(validateConnectResponse({ headers: { ":status": 200, "sec-websocket-extensions": "x-other" } }, offer)).toMatchObject({ ok: false });
    expect(
      validateConnectResponse({ headers: { ":status": 200, "sec-websocket-protocol": "chat" } }, { protocols: [], extensions: [] }),
    ).toMatchObject({ ok: false });
  });
});
