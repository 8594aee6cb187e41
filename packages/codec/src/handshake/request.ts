/**
 * Server side of the opening handshake: validating the client's upgrade request (RFC 6455 §4.2.1) and
 * writing the 101 answer or an error response (§4.2.2).
 *
 * Every header may be absent, repeated or garbage (SECURITY.md row 1: ws crashed when Node's
 * `maxHeadersCount` left `Upgrade` undefined), so validation returns a failure with an HTTP status
 * and never throws. The builders do throw a TypeError for invalid arguments: those come from our
 * own code or the user's, not from the peer.
 */
import { Buffer } from "node:buffer";
import type { ExtensionOffer } from "../extension.js";
import { formatExtensionHeader, isToken, parseExtensionHeader, parseSubprotocolHeader } from "../header-lists.js";
import { type FieldSource, type HeaderFields, joinedHeader, headerIncludes, messageFields, singleHeaderValue } from "./fields.js";
import { isValidKey } from "./key.js";

export type { HeaderFields } from "./fields.js";

/** The parts of an HTTP request that validation reads; Node's `IncomingMessage` fits. */
export interface UpgradeRequestLike {
  method?: string;
  httpVersion?: string;
  headers: HeaderFields;
  /**
   * The header lines as received, `[name, value, name, value, ...]` (Node's `rawHeaders`). When
   * present it is read instead of `headers`: Node keeps only the first of some repeated fields
   * (`Host`) and joins others, so only the raw list shows how many lines there were.
   */
  rawHeaders?: readonly string[];
}

/** A valid WebSocket upgrade request, with its offered subprotocols and extensions parsed. */
export interface UpgradeRequestAccepted {
  ok: true;
  /** The `Sec-WebSocket-Key`, to pass to `computeAccept`. */
  key: string;
  version: 13;
  /** Subprotocols the client offered, in its order of preference (RFC 6455 §4.1); may be empty. */
  protocols: string[];
  /** Extensions the client offered, in order (RFC 6455 §9.1); may be empty. */
  extensions: ExtensionOffer[];
}

/** An invalid request: answer with `buildErrorResponse(status, reason, headers)` and close. */
export interface UpgradeRequestRejected {
  ok: false;
  /** 400 for a malformed handshake, 405 for a method other than GET, 426 for an unsupported version. */
  status: 400 | 405 | 426;
  reason: string;
  /** Headers the response must carry: `Allow` with 405, `Sec-WebSocket-Version` with 426. */
  headers?: Record<string, string>;
}

export type UpgradeRequestResult = UpgradeRequestAccepted | UpgradeRequestRejected;

function reject(status: 400 | 405 | 426, reason: string, headers?: Record<string, string>): UpgradeRequestRejected {
  return headers === undefined ? { ok: false, status, reason } : { ok: false, status, reason, headers };
}

/** HTTP-version "1.1" or later, as Node's `httpVersion` spells it (`major.minor`). */
function isHttp11OrLater(version: string): boolean {
  const match = /^(\d{1,3})\.(\d{1,3})$/.exec(version);
  if (match === null) return false;
  const major = Number(match[1]);
  return major > 1 || (major === 1 && Number(match[2]) >= 1);
}

/**
 * The subprotocols and extensions a request offers, shared by the upgrade (RFC 6455) and the
 * extended CONNECT (RFC 8441 §5, which keeps both headers). Either field may be repeated: the lines
 * form one list (§4.2.1 items 8 and 9, §11.3.4). Extensions are checked for syntax only here; each
 * validates its own parameters. Returns the reason of a 400 for a malformed one.
 */
export function parseOfferedLists(headers: FieldSource): { protocols: string[]; extensions: ExtensionOffer[] } | string {
  let protocols: string[] = [];
  const protocolHeader = joinedHeader(headers, "sec-websocket-protocol");
  if (protocolHeader !== undefined) {
    const parsed = protocolHeader === null ? null : parseSubprotocolHeader(protocolHeader);
    if (parsed === null) return "Invalid Sec-WebSocket-Protocol header";
    protocols = parsed;
  }
  let extensions: ExtensionOffer[] = [];
  const extensionHeader = joinedHeader(headers, "sec-websocket-extensions");
  if (extensionHeader !== undefined) {
    const parsed = extensionHeader === null ? null : parseExtensionHeader(extensionHeader);
    if (parsed === null) return "Invalid Sec-WebSocket-Extensions header";
    extensions = parsed;
  }
  return { protocols, extensions };
}

/**
 * Validates a client's opening handshake (RFC 6455 §4.2.1). Header names are read in lower case, as
 * Node gives them; with `rawHeaders` (as on Node's `IncomingMessage`) every received line counts, so
 * two `Host` lines are refused however `headers` shows them. Never throws: a bad request gives
 * `{ ok: false, status, reason, headers? }`.
 *
 * `httpVersion` may be left out by a caller whose HTTP parser has already checked it; `method` may not.
 */
export function validateUpgradeRequest(req: UpgradeRequestLike): UpgradeRequestResult {
  if (typeof req !== "object" || req === null) return reject(400, "Invalid request");
  const headers = messageFields(req);
  if (headers === null) return reject(400, "Invalid request headers");

  // §4.2.1 item 1: "An HTTP/1.1 or higher GET request". RFC 9110 §15.5.6: a 405 lists allowed methods.
  if (req.method !== "GET") return reject(405, "Method Not Allowed", { Allow: "GET" });
  if (req.httpVersion !== undefined && (typeof req.httpVersion !== "string" || !isHttp11OrLater(req.httpVersion))) {
    return reject(400, "HTTP/1.1 or later required");
  }

  // §4.2.1 item 2: exactly one Host with the server's authority (and RFC 9112 §3.2: an HTTP/1.1
  // request without one, or with more than one, gets 400). Counted over the raw lines when given.
  // Which authorities to serve is the application's call.
  const host = singleHeaderValue(headers, "host");
  if (host === null || host === "") return reject(400, "Missing or invalid Host header");

  // §4.2.1 items 3 and 4: both are comma lists (RFC 7230 §6.1, §6.7), e.g. `keep-alive, Upgrade`.
  if (!headerIncludes(headers, "upgrade", "websocket")) return reject(400, "Missing or invalid Upgrade header");
  if (!headerIncludes(headers, "connection", "upgrade")) return reject(400, "Missing or invalid Connection header");

  // §4.2.1 item 6 and §4.4: an unsupported version gets 426 with the versions we speak. Checked before
  // the key so that a client of another protocol version, whose key may differ, learns to retry with 13.
  if (singleHeaderValue(headers, "sec-websocket-version") !== "13") {
    return reject(426, "Unsupported or missing Sec-WebSocket-Version", { "Sec-WebSocket-Version": "13" });
  }

  // §4.2.1 item 5: exactly one key, base64 of 16 bytes.
  const key = singleHeaderValue(headers, "sec-websocket-key");
  if (key === null || !isValidKey(key)) return reject(400, "Missing or invalid Sec-WebSocket-Key header");

  const offered = parseOfferedLists(headers);
  if (typeof offered === "string") return reject(400, offered);
  const { protocols, extensions } = offered;

  return { ok: true, key, version: 13, protocols, extensions };
}

/** Extra header fields for a handshake message we write. An array gives one field line per value. */
export type ExtraHeaders = Record<string, string | string[]>;

/**
 * field-value (RFC 9110 §5.5): HTAB, SP, VCHAR and obs-text; no CR, LF, NUL or other controls, which
 * could end the field early and inject headers or a body. The same rule Node's `setHeader` applies.
 */
export function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x09) continue;
    if (code < 0x20 || code === 0x7f || code > 0xff) return false;
  }
  return true;
}

/**
 * `Name: value\r\n` lines for user-supplied headers. Throws a TypeError for a name that is not a token,
 * a value with CR, LF or another control character, or a name in `reserved` (lower case): fields the
 * handshake writes itself, which a second copy would contradict.
 *
 * @internal shared with response.ts
 */
export function formatExtraHeaders(headers: ExtraHeaders | undefined, reserved: ReadonlySet<string>): string {
  if (headers === undefined) return "";
  let text = "";
  for (const name of Object.keys(headers)) {
    if (!isToken(name)) throw new TypeError(`Invalid header name: ${JSON.stringify(name)}`);
    if (reserved.has(name.toLowerCase())) throw new TypeError(`Header ${name} is set by the handshake itself`);
    const value = headers[name];
    const values = Array.isArray(value) ? value : [value];
    for (const item of values) {
      if (typeof item !== "string" || !isFieldValue(item)) {
        throw new TypeError(`Invalid value for header ${name}: ${JSON.stringify(item)}`);
      }
      text += `${name}: ${item}\r\n`;
    }
  }
  return text;
}

/** Fields the 101 response writes itself; a 1xx response has no body (RFC 9110 §8.6, §6.4.1). */
const UPGRADE_RESPONSE_RESERVED: ReadonlySet<string> = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "content-length",
  "transfer-encoding",
]);

export interface UpgradeResponseOptions {
  /** `computeAccept(key)` for the request's key. */
  accept: string;
  /** The subprotocol chosen from the client's list (RFC 6455 §4.2.2 item 5.5), if any. */
  protocol?: string;
  /** The extensions accepted, with the parameters of the answer (RFC 6455 §9.1); none when empty. */
  extensions?: readonly ExtensionOffer[];
  /** Further header fields, e.g. `Set-Cookie`. */
  headers?: ExtraHeaders;
}

/**
 * The full `HTTP/1.1 101 Switching Protocols` response text (RFC 6455 §4.2.2 item 5), ending with the
 * blank line. Throws a TypeError for an invalid argument (see `formatExtraHeaders`).
 */
export function buildUpgradeResponse(options: UpgradeResponseOptions): string {
  const { accept, protocol, extensions, headers } = options;
  if (typeof accept !== "string" || !isFieldValue(accept) || accept.length === 0) {
    throw new TypeError("Invalid Sec-WebSocket-Accept value");
  }
  let text =
    "HTTP/1.1 101 Switching Protocols\r\n" +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${accept}\r\n`;
  if (protocol !== undefined) {
    if (!isToken(protocol)) throw new TypeError(`Invalid subprotocol: ${JSON.stringify(protocol)}`);
    text += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  }
  if (extensions !== undefined && extensions.length > 0) {
    text += `Sec-WebSocket-Extensions: ${formatExtensionHeader(extensions)}\r\n`;
  }
  return `${text}${formatExtraHeaders(headers, UPGRADE_RESPONSE_RESERVED)}\r\n`;
}

/** Reason phrases (RFC 9110 §15) for the statuses a handshake is likely to answer with. */
const REASON_PHRASES: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Fields the error response writes itself. */
const ERROR_RESPONSE_RESERVED: ReadonlySet<string> = new Set([
  "connection",
  "content-type",
  "content-length",
  "transfer-encoding",
]);

/**
 * A complete HTTP/1.1 error response, `reason` as its plain-text body, with `Connection: close`: after
 * a failed handshake the server closes the connection (RFC 6455 §4.2.1). `Content-Length` counts the
 * UTF-8 bytes of `reason`, so write the result as UTF-8. Throws a TypeError for a status outside
 * 400-599 or an invalid header.
 */
export function buildErrorResponse(status: number, reason: string, headers?: ExtraHeaders): string {
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    throw new TypeError(`Invalid error status: ${String(status)}`);
  }
  if (typeof reason !== "string") throw new TypeError("The reason must be a string");
  // An unknown status keeps an empty reason-phrase, which RFC 9112 §4 allows.
  const phrase = REASON_PHRASES[status] ?? "";
  return (
    `HTTP/1.1 ${status} ${phrase}\r\n` +
    "Connection: close\r\n" +
    "Content-Type: text/plain\r\n" +
    `Content-Length: ${Buffer.byteLength(reason, "utf8")}\r\n` +
    formatExtraHeaders(headers, ERROR_RESPONSE_RESERVED) +
    `\r\n${reason}`
  );
}
