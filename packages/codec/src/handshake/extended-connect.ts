/**
 * The opening handshake over HTTP/2 (RFC 8441): an extended CONNECT request with `:protocol`
 * websocket, answered with a 2xx. Both sides, as plain header objects in the shape `node:http2`
 * uses (lower-case names, pseudo-headers starting with ":"), so that a server and a client share one
 * reading of the rules.
 *
 * RFC 8441 §5: the request carries no `Sec-WebSocket-Key` and the answer no `Sec-WebSocket-Accept`
 * (the stream is the proof that both ends speak HTTP/2 and agreed on the protocol); `Upgrade` and
 * `Connection` are connection-specific fields that HTTP/2 forbids (RFC 9113 §8.2.2). Version,
 * subprotocol and extension negotiation are those of RFC 6455, read with the same parsers.
 */
import type { ExtensionOffer } from "../extension.js";
import { formatExtensionHeader, isToken, parseExtensionHeader, parseSubprotocolHeader } from "../header-lists.js";
import { isValidKey } from "./key.js";
import { type HeaderFields, joinedHeader, messageFields, singleHeaderValue } from "./fields.js";
import { type ExtraHeaders, isFieldValue, parseOfferedLists } from "./request.js";

/** The parts of an HTTP/2 request that validation reads: Node's `stream` event arguments fit. */
export interface ConnectRequestLike {
  /** Header fields, pseudo-headers included (`:method`, `:protocol`, `:path`...). */
  headers: Readonly<Record<string, unknown>>;
  /** `[name, value, ...]` as received; read instead of `headers` when given, so repeats count. */
  rawHeaders?: readonly string[];
}

/** A valid extended CONNECT for a WebSocket. */
export interface ConnectRequestAccepted {
  ok: true;
  version: 13;
  /** `:path`: the request target (path and query). */
  path: string;
  /** `:authority`: host and port the client addressed. */
  authority: string;
  /** `:scheme`: "https" or "http". */
  scheme: string;
  protocols: string[];
  extensions: ExtensionOffer[];
  /**
   * A valid `sec-websocket-key` the client sent although RFC 8441 §5 has no use for it; undici 7
   * sends one and checks the answer's `sec-websocket-accept`, so a server may answer it.
   */
  key?: string;
}

/** An invalid request: answer `:status` with `status` (and `headers`), then end the stream. */
export interface ConnectRequestRejected {
  ok: false;
  status: 400 | 405 | 426 | 501;
  reason: string;
  headers?: Record<string, string>;
}

export type ConnectRequestResult = ConnectRequestAccepted | ConnectRequestRejected;

function reject(status: 400 | 405 | 426 | 501, reason: string, headers?: Record<string, string>): ConnectRequestRejected {
  return headers === undefined ? { ok: false, status, reason } : { ok: false, status, reason, headers };
}

/** ASCII case-insensitive "websocket" (the Upgrade token registry's name, RFC 8441 §4). */
function isWebsocket(value: string): boolean {
  return value.length === 9 && /^websocket$/i.test(value);
}

/**
 * Whether a request is an extended CONNECT for a WebSocket (`:method` CONNECT, `:protocol`
 * websocket): the ones a WebSocket server takes; others are left to the application.
 */
export function isWebSocketConnect(headers: Readonly<Record<string, unknown>>): boolean {
  const method = headers[":method"];
  const protocol = headers[":protocol"];
  return method === "CONNECT" && typeof protocol === "string" && isWebsocket(protocol);
}

/**
 * Validates an extended CONNECT request for a WebSocket (RFC 8441 §4-5). Every field may be absent,
 * repeated or garbage; this never throws. The pseudo-headers must each appear once (`:scheme`,
 * `:path` and `:authority` are required with `:protocol`, RFC 8441 §4), `sec-websocket-version`
 * must be 13 (426 otherwise, as over HTTP/1.1), and the subprotocol and extension lists parse as
 * in RFC 6455 §4.2.1.
 */
export function validateConnectRequest(req: ConnectRequestLike): ConnectRequestResult {
  if (typeof req !== "object" || req === null) return reject(400, "Invalid request");
  const headers = messageFields(req);
  if (headers === null) return reject(400, "Invalid request headers");
  if (singleHeaderValue(headers, ":method") !== "CONNECT") return reject(405, "Method Not Allowed", { allow: "CONNECT" });
  const protocol = singleHeaderValue(headers, ":protocol");
  // RFC 8441 §4: a CONNECT for another protocol is not a WebSocket; 501 as for an unknown upgrade.
  if (protocol === null || !isWebsocket(protocol)) return reject(501, "Unsupported :protocol");
  const scheme = singleHeaderValue(headers, ":scheme");
  if (scheme !== "https" && scheme !== "http") return reject(400, "Missing or invalid :scheme");
  const path = singleHeaderValue(headers, ":path");
  if (path === null || !path.startsWith("/")) return reject(400, "Missing or invalid :path");
  const authority = singleHeaderValue(headers, ":authority");
  if (authority === null || authority === "") return reject(400, "Missing or invalid :authority");

  // RFC 8441 §5 keeps RFC 6455 §4.2.1 item 6: version 13, or 426 with the versions we speak.
  if (singleHeaderValue(headers, "sec-websocket-version") !== "13") {
    return reject(426, "Unsupported or missing Sec-WebSocket-Version", { "sec-websocket-version": "13" });
  }
  const offered = parseOfferedLists(headers);
  if (typeof offered === "string") return reject(400, offered);
  const { protocols, extensions } = offered;
  const key = singleHeaderValue(headers, "sec-websocket-key");
  const accepted: ConnectRequestAccepted = { ok: true, version: 13, path, authority, scheme, protocols, extensions };
  if (key !== null && isValidKey(key)) accepted.key = key;
  return accepted;
}

/** HTTP/2 header fields as `node:http2` takes them for `respond()` and `request()`. */
export type Http2HeaderFields = Record<string, string | string[] | number>;

/** RFC 9113 §8.2.2: connection-specific fields are malformed in HTTP/2; the handshake sets the rest. */
const CONNECT_RESERVED: ReadonlySet<string> = new Set([
  "connection",
  "upgrade",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "content-length",
  "sec-websocket-key",
  "sec-websocket-accept",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);


/**
 * Copies user headers into `target` under lower-case names (RFC 9113 §8.2.1: upper case is
 * malformed). Throws a TypeError for a name that is not a token or is set by the handshake, a
 * pseudo-header, or a value with controls.
 */
function addExtraHeaders(target: Http2HeaderFields, headers: ExtraHeaders | undefined, reserved: ReadonlySet<string>): void {
  if (headers === undefined) return;
  for (const name of Object.keys(headers)) {
    if (!isToken(name)) throw new TypeError(`Invalid header name: ${JSON.stringify(name)}`);
    const lower = name.toLowerCase();
    if (reserved.has(lower)) throw new TypeError(`Header ${name} is set by the handshake itself or not allowed in HTTP/2`);
    const value = headers[name];
    const values = Array.isArray(value) ? value : [value];
    for (const item of values) {
      if (typeof item !== "string" || !isFieldValue(item)) {
        throw new TypeError(`Invalid value for header ${name}: ${JSON.stringify(item)}`);
      }
    }
    target[lower] = values.length === 1 ? values[0]! : [...(values as string[])];
  }
}

export interface ConnectResponseOptions {
  /** `computeAccept(key)` when the request carried a key (see `ConnectRequestAccepted.key`); no field otherwise. */
  accept?: string;
  /** The subprotocol chosen from the client's list, if any. */
  protocol?: string;
  /** The extensions accepted, with the parameters of the answer. */
  extensions?: readonly ExtensionOffer[];
  /** Further header fields (names are sent in lower case). */
  headers?: ExtraHeaders;
}

/** The `:status` 200 answer that accepts a WebSocket over HTTP/2. Throws a TypeError for an invalid argument. */
export function buildConnectResponseHeaders(options: ConnectResponseOptions = {}): Http2HeaderFields {
  const result: Http2HeaderFields = { ":status": 200 };
  if (options.accept !== undefined) {
    if (typeof options.accept !== "string" || options.accept === "" || !isFieldValue(options.accept)) {
      throw new TypeError("Invalid Sec-WebSocket-Accept value");
    }
    result["sec-websocket-accept"] = options.accept;
  }
  if (options.protocol !== undefined) {
    if (!isToken(options.protocol)) throw new TypeError(`Invalid subprotocol: ${JSON.stringify(options.protocol)}`);
    result["sec-websocket-protocol"] = options.protocol;
  }
  if (options.extensions !== undefined && options.extensions.length > 0) {
    result["sec-websocket-extensions"] = formatExtensionHeader(options.extensions);
  }
  addExtraHeaders(result, options.headers, CONNECT_RESERVED);
  return result;
}

/**
 * A refusal (`status` 400-599) with `content-type: text/plain`: the body is `reason`, to be written
 * after these headers. Throws a TypeError for a status outside 400-599 or an invalid header.
 */
export function buildConnectErrorHeaders(status: number, headers?: ExtraHeaders): Http2HeaderFields {
  if (!Number.isInteger(status) || status < 400 || status > 599) throw new TypeError(`Invalid error status: ${String(status)}`);
  const result: Http2HeaderFields = { ":status": status, "content-type": "text/plain" };
  addExtraHeaders(result, headers, ERROR_RESERVED);
  return result;
}

const ERROR_RESERVED: ReadonlySet<string> = new Set(["connection", "upgrade", "keep-alive", "proxy-connection", "transfer-encoding", "content-type", "content-length"]);

export interface ConnectRequestOptions {
  /** `:path`: path and query, starting with "/". */
  path: string;
  /** `:authority`: host, and port when not the default. */
  authority: string;
  /** `:scheme`: "https" for wss:, "http" for ws:. */
  scheme: "https" | "http";
  protocols?: readonly string[];
  extensions?: readonly ExtensionOffer[];
  origin?: string;
  headers?: ExtraHeaders;
}

/** The request headers of an extended CONNECT for a WebSocket (RFC 8441 §4-5). Throws a TypeError for an invalid argument. */
export function buildConnectRequestHeaders(options: ConnectRequestOptions): Http2HeaderFields {
  const { path, authority, scheme, protocols, extensions, origin, headers } = options;
  if (typeof path !== "string" || !path.startsWith("/") || !isFieldValue(path) || path.includes(" ")) {
    throw new TypeError(`Invalid request path: ${JSON.stringify(path)}`);
  }
  if (typeof authority !== "string" || authority === "" || !isFieldValue(authority) || authority.includes(" ")) {
    throw new TypeError(`Invalid authority: ${JSON.stringify(authority)}`);
  }
  const result: Http2HeaderFields = {
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": scheme,
    ":path": path,
    ":authority": authority,
    "sec-websocket-version": "13",
  };
  if (protocols !== undefined && protocols.length > 0) {
    for (const protocol of protocols) {
      if (!isToken(protocol)) throw new TypeError(`Invalid subprotocol: ${JSON.stringify(protocol)}`);
    }
    if (new Set(protocols).size !== protocols.length) throw new TypeError("Subprotocols must be unique");
    result["sec-websocket-protocol"] = protocols.join(", ");
  }
  if (extensions !== undefined && extensions.length > 0) {
    result["sec-websocket-extensions"] = formatExtensionHeader(extensions);
  }
  let reserved = CONNECT_RESERVED;
  if (origin !== undefined) {
    if (typeof origin !== "string" || origin === "" || !isFieldValue(origin)) throw new TypeError(`Invalid origin: ${JSON.stringify(origin)}`);
    result.origin = origin;
    reserved = new Set([...CONNECT_RESERVED, "origin"]);
  }
  addExtraHeaders(result, headers, reserved);
  return result;
}

/** The server's answer as `node:http2`'s `response` event gives it. */
export interface ConnectResponseLike {
  headers: Readonly<Record<string, unknown>>;
}

export interface ConnectResponseExpectations {
  protocols: readonly string[];
  extensions: readonly ExtensionOffer[];
}

export type ConnectResponseResult =
  | { ok: true; protocol: string; extensions: ExtensionOffer[] }
  | { ok: false; reason: string };

/** A response `:status` as a number, or NaN. */
export function connectResponseStatus(res: ConnectResponseLike): number {
  const status = (res.headers as Record<string, unknown>)[":status"];
  return typeof status === "number" ? status : typeof status === "string" && /^\d{3}$/.test(status) ? Number(status) : Number.NaN;
}

/**
 * Validates the answer to our extended CONNECT: a 2xx status (RFC 9110 §9.3.6: a successful
 * CONNECT), and a subprotocol and extensions among those offered (RFC 6455 §4.1 items 5-6, kept by
 * RFC 8441 §5). Never throws; on failure the client must fail the WebSocket connection.
 */
export function validateConnectResponse(res: ConnectResponseLike, expected: ConnectResponseExpectations): ConnectResponseResult {
  const status = connectResponseStatus(res);
  if (!(status >= 200 && status < 300)) return { ok: false, reason: `Unexpected server response: ${String(status)}` };
  const headers = messageFields({ headers: stringFields(res.headers) });
  if (headers === null) return { ok: false, reason: "Invalid response headers" };
  let protocol = "";
  const protocolHeader = joinedHeader(headers, "sec-websocket-protocol");
  if (protocolHeader !== undefined) {
    if (expected.protocols.length === 0) return { ok: false, reason: "Server sent a subprotocol but none was requested" };
    const chosen = protocolHeader === null ? null : parseSubprotocolHeader(protocolHeader);
    if (chosen === null || chosen.length !== 1) return { ok: false, reason: "Invalid Sec-WebSocket-Protocol header" };
    protocol = chosen[0]!;
    if (!expected.protocols.includes(protocol)) return { ok: false, reason: "Server sent a subprotocol that was not requested" };
  }
  let extensions: ExtensionOffer[] = [];
  const extensionHeader = joinedHeader(headers, "sec-websocket-extensions");
  if (extensionHeader !== undefined) {
    const offered = new Set(expected.extensions.map((offer) => offer.name.toLowerCase()));
    if (offered.size === 0) return { ok: false, reason: "Server sent extensions but none were requested" };
    const parsed = extensionHeader === null ? null : parseExtensionHeader(extensionHeader);
    if (parsed === null) return { ok: false, reason: "Invalid Sec-WebSocket-Extensions header" };
    for (const entry of parsed) {
      if (!offered.has(entry.name.toLowerCase())) {
        return { ok: false, reason: `Server selected the extension ${JSON.stringify(entry.name)}, which was not offered` };
      }
    }
    extensions = parsed;
  }
  return { ok: true, protocol, extensions };
}

/** Drops the numeric `:status` so the shared header readers see strings only. */
function stringFields(headers: ConnectResponseLike["headers"]): HeaderFields {
  const result = Object.create(null) as HeaderFields;
  for (const name of Object.keys(headers)) {
    const value = (headers as Record<string, unknown>)[name];
    if (typeof value === "string" || Array.isArray(value)) result[name] = value as string | string[];
  }
  return result;
}
