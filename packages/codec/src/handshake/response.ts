/**
 * Client side of the opening handshake: writing the upgrade request (RFC 6455 §4.1) and validating
 * the server's answer (§4.1, "the client MUST validate the server's response"). Validation never
 * throws; the request builder throws a TypeError for invalid arguments, which are a programmer error.
 */
import type { ExtensionOffer } from "../extension.js";
import { asciiLowerEquals, formatExtensionHeader, isToken, parseExtensionHeader, parseSubprotocolHeader } from "../header-lists.js";
import { computeAccept, isValidKey } from "./key.js";
import { type HeaderFields, headerIncludes, joinedHeader, messageFields, singleHeaderValue } from "./fields.js";
import { type ExtraHeaders, formatExtraHeaders } from "./request.js";

/** The parts of the server's response that validation reads; Node's `IncomingMessage` fits. */
export interface UpgradeResponseLike {
  statusCode?: number;
  /**
   * The status line's HTTP-version as `major.minor` (Node's `httpVersion`). When given it must be
   * "1.1"; leave it out only if the caller's HTTP parser has checked it.
   */
  httpVersion?: string;
  headers: HeaderFields;
  /** The header lines as received, `[name, value, ...]` (Node's `rawHeaders`); read instead of `headers` when given. */
  rawHeaders?: readonly string[];
}

/** What the client sent, to check the answer against. */
export interface UpgradeResponseExpectations {
  /** The `Sec-WebSocket-Key` the request carried. */
  key: string;
  /** The subprotocols the request offered; empty when it sent no `Sec-WebSocket-Protocol`. */
  protocols: readonly string[];
  /**
   * The extensions the request offered, as given to `buildUpgradeRequest`. The response may select
   * only these, by name (RFC 6455 §9.1); any other name fails the connection. Empty or absent: the
   * response may select none (unless the deprecated `extensionsOffered` is true).
   */
  extensions?: readonly ExtensionOffer[];
  /**
   * @deprecated Pass `extensions`, so that names are checked. Used only without `extensions`: true
   * accepts any syntactically valid extension, leaving the name check to the caller.
   */
  extensionsOffered?: boolean;
}

export type UpgradeResponseResult =
  | {
      ok: true;
      /** The subprotocol the server chose, or "" when it chose none. */
      protocol: string;
      /** The extensions the server accepted, syntax-checked only: each extension validates its own parameters. */
      extensions: ExtensionOffer[];
    }
  | { ok: false; reason: string };

function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

/**
 * Validates the server's answer to our upgrade request (RFC 6455 §4.1, the numbered list after "the
 * client MUST validate the server's response"): an HTTP/1.1 101 status line, Upgrade, Connection,
 * the accept value, and a subprotocol and extensions among those offered. Header names are read in
 * lower case, as Node gives them (or from `rawHeaders` when given). On failure the client must fail
 * the WebSocket connection.
 */
export function validateUpgradeResponse(
  res: UpgradeResponseLike,
  expected: UpgradeResponseExpectations
): UpgradeResponseResult {
  if (typeof res !== "object" || res === null) return fail("Invalid response");
  const headers = messageFields(res);
  if (headers === null) return fail("Invalid response headers");
  const { statusCode, httpVersion } = res;

  // Item 1: anything but 101 is handled per HTTP (e.g. a redirect or auth) and is not a WebSocket.
  if (statusCode !== 101) return fail(`Unexpected server response: ${String(statusCode)}`);
  // §4.1: "the status line MUST be HTTP/1.1 101"; an HTTP/1.0 peer cannot have switched protocols
  // (RFC 9110 §7.8: Upgrade is for HTTP/1.1).
  if (httpVersion !== undefined && httpVersion !== "1.1") {
    return fail(`Unexpected HTTP version ${JSON.stringify(String(httpVersion))} in a 101 response: HTTP/1.1 is required`);
  }

  // Item 2: the whole Upgrade value must be "websocket", ASCII case-insensitively.
  const upgrade = singleHeaderValue(headers, "upgrade");
  if (upgrade === null || !isWebsocketToken(upgrade)) return fail("Missing or invalid Upgrade header");

  // Item 3: Connection must contain the token "upgrade" (it is a comma list).
  if (!headerIncludes(headers, "connection", "upgrade")) return fail("Missing or invalid Connection header");

  // Item 4: exactly base64(SHA-1(key + GUID)). Neither value is secret, so a plain comparison is fine.
  const accept = singleHeaderValue(headers, "sec-websocket-accept");
  if (accept === null || accept !== computeAccept(expected.key)) {
    return fail("Missing or invalid Sec-WebSocket-Accept header");
  }

  // Item 6: a subprotocol the server picks must be exactly one of those we offered.
  let protocol = "";
  const protocolHeader = joinedHeader(headers, "sec-websocket-protocol");
  if (protocolHeader !== undefined) {
    if (expected.protocols.length === 0) return fail("Server sent a subprotocol but none was requested");
    const chosen = protocolHeader === null ? null : parseSubprotocolHeader(protocolHeader);
    if (chosen === null || chosen.length !== 1) return fail("Invalid Sec-WebSocket-Protocol header");
    protocol = chosen[0]!;
    if (!expected.protocols.includes(protocol)) return fail("Server sent a subprotocol that was not requested");
  }

  // Item 5 and §9.1: the server may only select extensions the client offered, so any other name
  // fails the connection. The parameters of the ones offered are checked by each extension itself.
  let extensions: ExtensionOffer[] = [];
  const extensionHeader = joinedHeader(headers, "sec-websocket-extensions");
  if (extensionHeader !== undefined) {
    const offered = offeredNames(expected);
    if (offered !== null && offered.size === 0) return fail("Server sent extensions but none were requested");
    const parsed = extensionHeader === null ? null : parseExtensionHeader(extensionHeader);
    if (parsed === null) return fail("Invalid Sec-WebSocket-Extensions header");
    for (const entry of parsed) {
      // Extension tokens compare case-insensitively, like other HTTP tokens; a token is ASCII.
      if (offered !== null && !offered.has(entry.name.toLowerCase())) {
        return fail(`Server selected the extension ${JSON.stringify(entry.name)}, which was not offered`);
      }
    }
    extensions = parsed;
  }

  return { ok: true, protocol, extensions };
}

/**
 * The lower-case names of the extensions offered, or null to accept any name (only the deprecated
 * `extensionsOffered: true` without `extensions`).
 */
function offeredNames(expected: UpgradeResponseExpectations): Set<string> | null {
  const offers: unknown = expected.extensions;
  if (offers === undefined) return expected.extensionsOffered === true ? null : new Set();
  const names = new Set<string>();
  if (!Array.isArray(offers)) return names;
  for (const offer of offers as unknown[]) {
    const name = (offer as Partial<ExtensionOffer> | null)?.name;
    if (typeof name === "string" && isToken(name)) names.add(name.toLowerCase());
  }
  return names;
}

/** "websocket", ASCII case-insensitively (not `toLowerCase()`, which also folds non-ASCII letters). */
function isWebsocketToken(value: string): boolean {
  return value.length === 9 && asciiLowerEquals(value, 0, "websocket");
}

export interface UpgradeRequestOptions {
  /** The request-target: path and query, starting with "/", already percent-encoded. */
  path: string;
  /** The `Host` value: host, and port when not the default (RFC 6455 §4.1 item 4). */
  host: string;
  /** A key from `generateKey()`. */
  key: string;
  /** Subprotocols to offer, most preferred first; no header when empty. */
  protocols?: readonly string[];
  /** Extensions to offer; no header when empty. */
  extensions?: readonly ExtensionOffer[];
  /** The `Origin` value, which browsers send (RFC 6455 §4.1 item 8). */
  origin?: string;
  /** Further header fields, e.g. `Authorization` or `Cookie`. */
  headers?: ExtraHeaders;
}

/** Fields the request writes itself; a GET upgrade request carries no body. */
const UPGRADE_REQUEST_RESERVED: ReadonlySet<string> = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "content-length",
  "transfer-encoding",
]);

/** Whether every character is a visible ASCII character (no SP, controls or non-ASCII). */
function isVisibleAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f) return false;
  }
  return value.length > 0;
}

/**
 * The opening handshake request text (RFC 6455 §4.1), ending with the blank line. Throws a TypeError
 * for an invalid argument: a path not starting with "/" or with a space, control or non-ASCII
 * character, a bad host, key, subprotocol or extension, a duplicate subprotocol, or a header value with
 * CR or LF.
 */
export function buildUpgradeRequest(options: UpgradeRequestOptions): string {
  const { path, host, key, protocols, extensions, origin, headers } = options;
  if (typeof path !== "string" || !path.startsWith("/") || !isVisibleAscii(path)) {
    throw new TypeError(`Invalid request path: ${JSON.stringify(path)}`);
  }
  if (typeof host !== "string" || !isVisibleAscii(host)) throw new TypeError(`Invalid host: ${JSON.stringify(host)}`);
  if (!isValidKey(key)) throw new TypeError(`Invalid Sec-WebSocket-Key: ${JSON.stringify(key)}`);

  let text =
    `GET ${path} HTTP/1.1\r\n` +
    `Host: ${host}\r\n` +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${key}\r\n` +
    "Sec-WebSocket-Version: 13\r\n";

  if (protocols !== undefined && protocols.length > 0) {
    // RFC 6455 §4.1 item 10: tokens, each unique.
    for (const protocol of protocols) {
      if (!isToken(protocol)) throw new TypeError(`Invalid subprotocol: ${JSON.stringify(protocol)}`);
    }
    if (new Set(protocols).size !== protocols.length) throw new TypeError("Subprotocols must be unique");
    text += `Sec-WebSocket-Protocol: ${protocols.join(", ")}\r\n`;
  }
  if (extensions !== undefined && extensions.length > 0) {
    text += `Sec-WebSocket-Extensions: ${formatExtensionHeader(extensions)}\r\n`;
  }

  let reserved = UPGRADE_REQUEST_RESERVED;
  if (origin !== undefined) {
    if (typeof origin !== "string" || !isVisibleAscii(origin)) {
      throw new TypeError(`Invalid origin: ${JSON.stringify(origin)}`);
    }
    text += `Origin: ${origin}\r\n`;
    reserved = new Set([...UPGRADE_REQUEST_RESERVED, "origin"]);
  }
  return `${text}${formatExtraHeaders(headers, reserved)}\r\n`;
}
