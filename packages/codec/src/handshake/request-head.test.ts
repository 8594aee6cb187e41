import { Buffer } from "node:buffer";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findRequestHeadEnd, parseRequestHead, type RequestHeadResult } from "./request-head.js";
import { validateUpgradeRequest } from "./request.js";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const SAMPLE =
  "GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  `Sec-WebSocket-Key: ${KEY}\r\nOrigin: http://example.com\r\nSec-WebSocket-Version: 13\r\n\r\n`;

function parse(text: string, maxHeaderCount = 100): RequestHeadResult {
  const bytes = Buffer.from(text, "latin1");
  const end = findRequestHeadEnd(bytes);
  if (end === -1) throw new Error("no end of head");
  return parseRequestHead(bytes, end, maxHeaderCount);
}

describe("findRequestHeadEnd", () => {
  it("finds the empty line however the head is split across reads, scanning each byte once", () => {
    const bytes = Buffer.from(`${SAMPLE}<frame bytes>`, "latin1");
    for (let split = 1; split <= SAMPLE.length; split++) {
      // The server calls it on what has arrived so far, then again on more, passing how much it
      // scanned before (the first call found nothing, so the end lies at or after the split).
      expect(findRequestHeadEnd(bytes, 0, split)).toBe(split === SAMPLE.length ? SAMPLE.length : -1);
      expect(findRequestHeadEnd(bytes, split - 1, bytes.length)).toBe(SAMPLE.length);
    }
  });

  it("ends at an empty line made of a bare LF, so such a head fails fast", () => {
    const text = "GET / HTTP/1.1\nHost: x\n\n";
    expect(findRequestHeadEnd(Buffer.from(text))).toBe(text.length);
    expect(parse(text)).toMatchObject({ ok: false, status: 400, code: "WS_ERR_HEAD_LINE_ENDING" });
  });
});

describe("parseRequestHead", () => {
  it("gives common names and values (shared strings) and every other spelling exactly as sent", () => {
    const text =
      "GET / HTTP/1.1\r\nHOST: a\r\nHosx: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nsec-websocket-version: 13\r\n" +
      "User-Agent: websockeT\r\nX-Odd: 14\r\n\r\n";
    const first = parse(text);
    const second = parse(text);
    if (!first.ok || !second.ok) throw new Error("expected both to parse");
    expect(first.head.rawHeaders).toEqual([
      "HOST", "a", "Hosx", "b", "Upgrade", "websocket", "Connection", "Upgrade", "sec-websocket-version", "13",
      "User-Agent", "websockeT", "X-Odd", "14",
    ]);
    expect(first.head).toMatchObject({ method: "GET", url: "/", httpVersion: "1.1" });
    // Sharing is invisible to JavaScript (strings compare by value): what must hold is that a
    // spelling close to a common one (another case, one byte off) is never replaced by it.
    expect(second.head).toEqual(first.head);
  });

  it("keeps obs-text bytes of a value that starts like a common one", () => {
    const result = parse("GET /\xe9 HTTP/1.0\r\nHost: x\r\nUpgrade: websocke\xf4\r\n\r\n");
    expect(result).toMatchObject({ ok: false, code: "WS_ERR_HEAD_REQUEST_LINE" });
    const value = parse("GET / HTTP/1.0\r\nHost: x\r\nUpgrade: websocke\xf4\r\n\r\n");
    expect(value).toMatchObject({ ok: true, head: { httpVersion: "1.0", rawHeaders: ["Host", "x", "Upgrade", "websocke\xf4"] } });
  });

  it("reads the RFC 6455 §1.3 sample as IncomingMessage presents it, and it validates", () => {
    const result = parse(SAMPLE);
    expect(result).toEqual({
      ok: true,
      head: {
        method: "GET",
        url: "/chat?room=1",
        httpVersion: "1.1",
        httpVersionMajor: 1,
        httpVersionMinor: 1,
        rawHeaders: [
          "Host", "server.example.com", "Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Key", KEY,
          "Origin", "http://example.com", "Sec-WebSocket-Version", "13",
        ],
      },
    });
    if (!result.ok) return;
    expect(validateUpgradeRequest({ ...result.head, headers: {} })).toMatchObject({ ok: true, key: KEY });
  });

  it("trims OWS around values, keeps inner spaces and obs-text (latin1), and keeps repeated lines", () => {
    const result = parse("GET / HTTP/1.1\r\nHost:\t a b \t\r\nX: \xe9t\xe9\r\nhost: c\r\nEmpty:\r\n\r\n");
    expect(result.ok && result.head.rawHeaders).toEqual(["Host", "a b", "X", "\xe9t\xe9", "host", "c", "Empty", ""]);
  });

  it.each([
    ["no method", " / HTTP/1.1\r\n\r\n", 400, "WS_ERR_HEAD_REQUEST_LINE"],
    ["two spaces", "GET  / HTTP/1.1\r\n\r\n", 400, "WS_ERR_HEAD_REQUEST_LINE"],
    ["a control byte in the target", "GET /\x01 HTTP/1.1\r\n\r\n", 400, "WS_ERR_HEAD_REQUEST_LINE"],
    ["a non-ASCII target", "GET /\xe9 HTTP/1.1\r\n\r\n", 400, "WS_ERR_HEAD_REQUEST_LINE"],
    ["no version", "GET /\r\n\r\n", 400, "WS_ERR_HEAD_REQUEST_LINE"],
    ["a lower-case version", "GET / http/1.1\r\n\r\n", 400, "WS_ERR_HEAD_VERSION"],
    ["a long version", "GET / HTTP/1.11\r\n\r\n", 400, "WS_ERR_HEAD_VERSION"],
    ["HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505, "WS_ERR_HEAD_VERSION"],
    ["a field without a colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n", 400, "WS_ERR_HEAD_FIELD"],
    ["a space before the colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "WS_ERR_HEAD_FIELD"],
    ["an empty field name", "GET / HTTP/1.1\r\n: x\r\n\r\n", 400, "WS_ERR_HEAD_FIELD"],
    ["a non-token field name", "GET / HTTP/1.1\r\nHo(st: x\r\n\r\n", 400, "WS_ERR_HEAD_FIELD"],
    ["a NUL in a value", "GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n", 400, "WS_ERR_HEAD_FIELD"],
    ["a bare CR in a value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400, "WS_ERR_HEAD_FIELD"],
    ["a bare LF line", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400, "WS_ERR_HEAD_LINE_ENDING"],
    ["obs-fold", "GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", 400, "WS_ERR_HEAD_OBS_FOLD"],
  ])("refuses %s", (_name, text, status, code) => {
    expect(parse(text)).toMatchObject({ ok: false, status, code });
  });

  it("stops at maxHeaderCount lines with 431", () => {
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: y\r\n`).join("");
    expect(parse(`GET / HTTP/1.1\r\n${lines(3)}\r\n`, 3).ok).toBe(true);
    expect(parse(`GET / HTTP/1.1\r\n${lines(4)}\r\n`, 3)).toMatchObject({ ok: false, status: 431, code: "WS_ERR_HEAD_TOO_MANY_FIELDS" });
  });

  it("never throws on arbitrary bytes, and what it accepts has only token names and clean values", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (noise) => {
        const bytes = Buffer.concat([Buffer.from("GET / HTTP/1.1\r\n"), Buffer.from(noise), Buffer.from("\r\n\r\n")]);
        const end = findRequestHeadEnd(bytes);
        const result = parseRequestHead(bytes, end, 100);
        if (!result.ok) return;
        for (let i = 0; i < result.head.rawHeaders.length; i += 2) {
          expect(result.head.rawHeaders[i]).toMatch(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/);
          expect(result.head.rawHeaders[i + 1]).not.toMatch(/[\r\n\0]/);
        }
      }),
    );
  });

  it("takes linear time on a head of many tiny fields", () => {
    const text = `GET / HTTP/1.1\r\n${"a:\r\n".repeat(4000)}\r\n`;
    const result = parse(text, 5000);
    expect(result.ok && result.head.rawHeaders.length).toBe(8000);
  });
});
