// The opening handshake validators take peer-controlled header objects (SECURITY.md rows 1, 3 and
// 10): every header may be absent, repeated, of the wrong type or garbage. They must answer with
// `ok: false`, never throw, and agree with the list parsers they delegate to.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isValidKey, computeAccept, validateUpgradeRequest, validateUpgradeResponse } from "../../src/handshake/index.js";
import { parseExtensionHeader, parseSubprotocolHeader } from "../../src/index.js";
import { PROTO_KEYS, headerText, token } from "./arbitraries.js";
import { TEST_TIMEOUT_MS, budget } from "./budget.js";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** A header value as Node might give it, or something no HTTP parser would produce. */
const headerValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: headerText },
  { weight: 2, arbitrary: fc.array(headerText, { maxLength: 3 }) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.integer(),
      fc.array(fc.oneof(fc.integer(), fc.constant(null), headerText), { maxLength: 3 }),
      fc.object({ maxDepth: 1 }),
    ),
  },
);

const requestHeaderNames = [
  "upgrade",
  "connection",
  "sec-websocket-version",
  "sec-websocket-key",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "host",
  "origin",
];
const responseHeaderNames = [
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
];

type Edit = { name: string; action: "delete" | "set"; value: unknown };

function edits(names: string[]): fc.Arbitrary<Edit[]> {
  return fc.array(
    fc.record({
      name: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...names) }, fc.constantFrom(...PROTO_KEYS), token),
      action: fc.constantFrom("delete" as const, "set" as const),
      value: headerValue,
    }),
    { maxLength: 4 },
  );
}

/** Applies edits with defineProperty, so that `__proto__` becomes an own key as in a parsed request. */
function applyEdits(base: Record<string, unknown>, list: Edit[]): Record<string, unknown> {
  const headers: Record<string, unknown> = { ...base };
  for (const { name, action, value } of list) {
    if (action === "delete") delete headers[name];
    else Object.defineProperty(headers, name, { value, enumerable: true, configurable: true, writable: true });
  }
  return headers;
}

function validRequestHeaders(): Record<string, unknown> {
  return {
    host: "example.com",
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-version": "13",
    "sec-websocket-key": KEY,
  };
}

describe("validateUpgradeRequest under hostile headers", () => {
  it("never throws; rejects with 400/405/426; accepts only a well-formed request", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(
        edits(requestHeaderNames),
        fc.oneof(fc.constant("GET"), fc.constant("POST"), fc.string({ maxLength: 5 })),
        fc.oneof(fc.constant("1.1"), fc.constant(undefined), fc.constantFrom("1.0", "2.0", "0.9", "1.10", "x"), fc.string({ maxLength: 6 })),
        (list, method, httpVersion) => {
          const headers = applyEdits(validRequestHeaders(), list);
          const result = validateUpgradeRequest({ method, httpVersion, headers } as never);
          if (!result.ok) {
            expect([400, 405, 426]).toContain(result.status);
            expect(typeof result.reason).toBe("string");
            return;
          }
          expect(method).toBe("GET");
          expect(isValidKey(result.key)).toBe(true);
          // What the validator returns is exactly what the list parsers make of the header.
          const protocols = headers["sec-websocket-protocol"];
          if (protocols === undefined || (Array.isArray(protocols) && protocols.length === 0)) {
            expect(result.protocols).toEqual([]);
          } else {
            const joined = Array.isArray(protocols) ? protocols.join(",") : (protocols as string);
            expect(result.protocols).toEqual(parseSubprotocolHeader(joined));
          }
          const extensions = headers["sec-websocket-extensions"];
          if (extensions !== undefined && !(Array.isArray(extensions) && extensions.length === 0)) {
            const joined = Array.isArray(extensions) ? extensions.join(",") : (extensions as string);
            expect(result.extensions).toEqual(parseExtensionHeader(joined));
          }
        },
      ),
      budget(),
    );
  });

  it("agrees with parseSubprotocolHeader on every Sec-WebSocket-Protocol value", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(headerText, (value) => {
        const result = validateUpgradeRequest({
          method: "GET",
          httpVersion: "1.1",
          headers: { ...validRequestHeaders(), "sec-websocket-protocol": value } as never,
        });
        const parsed = parseSubprotocolHeader(value);
        expect(result.ok).toBe(parsed !== null);
        if (result.ok) expect(result.protocols).toEqual(parsed);
      }),
      budget(),
    );
  });

  it("never throws for arbitrary values in place of the request or its headers", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (request, headers) => {
        expect(validateUpgradeRequest(request as never).ok).toBe(false);
        expect(validateUpgradeRequest({ method: "GET", headers } as never).ok).toBe(false);
      }),
      budget(),
    );
  });
});

describe("validateUpgradeResponse under hostile headers", () => {
  const accept = computeAccept(KEY);

  it("never throws; accepts only a chosen protocol among those offered", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(
        edits(responseHeaderNames),
        fc.oneof({ weight: 4, arbitrary: fc.constant(101) }, fc.integer({ min: -1, max: 1000 }), fc.constant(undefined)),
        fc.uniqueArray(token, { maxLength: 3 }),
        fc.boolean(),
        (list, statusCode, protocols, extensionsOffered) => {
          const base = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-accept": accept };
          const headers = applyEdits(base, list);
          const result = validateUpgradeResponse({ statusCode, headers } as never, { key: KEY, protocols, extensionsOffered });
          if (!result.ok) {
            expect(typeof result.reason).toBe("string");
            return;
          }
          expect(statusCode).toBe(101);
          if (result.protocol !== "") expect(protocols).toContain(result.protocol);
          if (result.extensions.length > 0) expect(extensionsOffered).toBe(true);
        },
      ),
      budget(),
    );
  });

  it("never throws for arbitrary values in place of the response or its headers", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (response, headers) => {
        const expected = { key: KEY, protocols: ["chat"], extensionsOffered: true };
        expect(validateUpgradeResponse(response as never, expected).ok).toBe(false);
        expect(validateUpgradeResponse({ statusCode: 101, headers } as never, expected).ok).toBe(false);
      }),
      budget(),
    );
  });
});
