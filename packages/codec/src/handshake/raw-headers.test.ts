// Repeated header lines read from the raw list (SECURITY.md row 22; issue 12, item 10): Node's
// `IncomingMessage.headers` keeps only the first `Host`, so the count comes from `rawHeaders`.
import { describe, expect, it } from "vitest";
import { type UpgradeRequestLike, validateUpgradeRequest } from "./request.js";
import { validateUpgradeResponse } from "./response.js";
import { computeAccept } from "./key.js";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const LINES = [
  "Upgrade", "websocket",
  "Connection", "Upgrade",
  "Sec-WebSocket-Key", KEY,
  "Sec-WebSocket-Version", "13",
];

/** A request as Node's IncomingMessage presents it: `headers` as Node folds them, and the raw lines. */
function nodeRequest(rawHeaders: string[], headers: Record<string, string> = {}): UpgradeRequestLike {
  return {
    method: "GET",
    httpVersion: "1.1",
    headers: {
      host: "a.example",
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": KEY,
      "sec-websocket-version": "13",
      ...headers,
    },
    rawHeaders,
  };
}

describe("validateUpgradeRequest with rawHeaders", () => {
  it("accepts one Host line", () => {
    expect(validateUpgradeRequest(nodeRequest(["Host", "a.example", ...LINES])).ok).toBe(true);
  });

  it.each([
    ["Node kept the first", ["Host", "a.example", "Host", "b.example"], { host: "a.example" }],
    ["Node joined them", ["Host", "a.example", "Host", "b.example"], { host: "a.example, b.example" }],
    ["the same value twice", ["Host", "a.example", "host", "a.example"], { host: "a.example" }],
    ["an empty second line", ["HOST", "a.example", "Host", ""], { host: "a.example" }],
  ])("refuses two Host lines with 400 (%s)", (_name, hosts, headers) => {
    const result = validateUpgradeRequest(nodeRequest([...hosts, ...LINES], headers));
    expect(result).toMatchObject({ ok: false, status: 400 });
    expect(!result.ok && result.reason).toMatch(/Host/);
  });

  it("refuses a missing Host even when headers shows one", () => {
    expect(validateUpgradeRequest(nodeRequest(LINES))).toMatchObject({ ok: false, status: 400 });
  });

  it("compares names ASCII case-insensitively only (no Kelvin sign folding)", () => {
    // "\u212Aey" would become "key" with toLowerCase().
    const lines = ["Host", "a.example", "Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Version", "13", "Sec-WebSocket-\u212Aey", KEY];
    expect(validateUpgradeRequest(nodeRequest(lines)).ok).toBe(false);
  });

  it("reads list headers over all their lines", () => {
    const lines = ["Host", "a.example", ...LINES, "Sec-WebSocket-Protocol", "chat", "sec-websocket-protocol", "superchat"];
    expect(validateUpgradeRequest(nodeRequest(lines))).toMatchObject({ ok: true, protocols: ["chat", "superchat"] });
  });

  it("keeps names like __proto__ as ordinary names", () => {
    const lines = ["Host", "a.example", ...LINES, "__proto__", "x", "constructor", "y"];
    expect(validateUpgradeRequest(nodeRequest(lines)).ok).toBe(true);
  });

  it.each([
    ["an odd length", ["Host"]],
    ["a non-string", ["Host", 1]],
    ["not an array", "Host: a"],
    ["null", null],
  ])("refuses garbage in rawHeaders (%s) with 400, never throws", (_name, raw) => {
    const req = { ...nodeRequest([]), rawHeaders: raw } as unknown as UpgradeRequestLike;
    expect(validateUpgradeRequest(req)).toMatchObject({ ok: false, status: 400 });
  });
});

describe("validateUpgradeResponse with rawHeaders", () => {
  const accept = computeAccept(KEY);
  it("counts repeated Sec-WebSocket-Accept lines that headers would hide", () => {
    const rawHeaders = ["Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Accept", accept];
    const expected = { key: KEY, protocols: [] };
    const headers = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-accept": accept };
    expect(validateUpgradeResponse({ statusCode: 101, headers, rawHeaders }, expected).ok).toBe(true);
    const twice = [...rawHeaders, "sec-websocket-accept", accept];
    expect(validateUpgradeResponse({ statusCode: 101, headers, rawHeaders: twice }, expected).ok).toBe(false);
  });
});
