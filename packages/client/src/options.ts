import type { Agent } from "node:http";
import type { ClientHttp2Session } from "node:http2";
import { isToken } from "@ws/codec";
import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import { ClientError, ClientErrorCode } from "./errors.js";
import type { DeflateOptions } from "./handshake.js";
import type { Http2Agent } from "./http2.js";

/** Options shared by `connect()`, `reconnecting()` and the `WebSocket` constructor's third argument. */
export interface ClientOptions {
  /** Subprotocols to offer in `Sec-WebSocket-Protocol`, in order of preference. */
  protocols?: string | string[];
  /** Extra request headers. The WebSocket handshake headers themselves cannot be overridden. */
  headers?: Record<string, string | string[]>;
  /** Sends an `Origin` header, as a browser would. */
  origin?: string;
  /**
   * permessage-deflate (RFC 7692): offered by default, as browsers do; `false` turns it off; an
   * object sets its parameters.
   */
  perMessageDeflate?: boolean | DeflateOptions;
  /** Milliseconds for the TCP, TLS, proxy and HTTP steps of the opening handshake. Default 30,000. */
  handshakeTimeout?: number;
  /** Milliseconds to wait for the server's close frame and TCP close after ours. Default 10,000. */
  closeTimeout?: number;
  /** Largest message accepted, in bytes, after inflating. Default 16 MiB. Larger ones close with 1009. */
  maxPayload?: number;
  /** Most frames one message may be split into. Default 65,536. */
  maxFragments?: number;
  /** Most buffered pieces held for one incomplete message. Default 16,384. */
  maxBufferedChunks?: number;
  /** `send()` returns false once this many bytes wait to be sent. Default 64 KiB. */
  highWaterMark?: number;
  /**
   * The connection fails (`WS_ERR_BUFFER_OVERFLOW`) when a send would make more than this many bytes
   * wait: memory stays bounded when the server stops reading. Default 64 MiB; `Infinity` turns it off.
   */
  maxBufferedAmount?: number;
  /**
   * Heartbeat: milliseconds of each cycle before a ping is sent. Default 0 (off, as in browsers).
   * Any byte received within `pongTimeout` of the ping counts as an answer; otherwise the
   * connection is destroyed (close code 1006, error `WS_ERR_PONG_TIMEOUT`).
   */
  pingInterval?: number;
  /** Heartbeat: milliseconds to hear back after a ping. Default 10,000. */
  pongTimeout?: number;
  /** Answer pings automatically. Default true. */
  autoPong?: boolean;
  /** Follow 301, 302, 303, 307 and 308 answers to the upgrade request. Default false. */
  followRedirects?: boolean;
  /** Most redirects followed. Default 10. */
  maxRedirects?: number;
  /** An HTTP agent for the upgrade request (not used with `proxy`). */
  agent?: Agent;
  /**
   * WebSockets over HTTP/2 (RFC 8441): an extended CONNECT on an HTTP/2 stream. `true` offers h2
   * in ALPN on `wss:` (h2c with prior knowledge on `ws:`), waits for the server's SETTINGS, and
   * shares one session per origin between WebSockets (`Http2Agent.default`); an `Http2Agent`
   * shares sessions within that agent; an `http2.connect()` session is used as is (and left open).
   * When the server picks HTTP/1.1 in ALPN or does not enable the connect protocol, the handshake
   * falls back to an HTTP/1.1 upgrade. Not with `proxy` or `agent`. Default false.
   */
  http2?: boolean | Http2Agent | ClientHttp2Session;
  /** An HTTP proxy URL (`http://user:pass@host:port`) to tunnel through with CONNECT. */
  proxy?: string | URL;
  /** Extra headers for the CONNECT request. */
  proxyHeaders?: Record<string, string>;
  /** TLS for `wss:`: trusted CAs. */
  ca?: TlsConnectionOptions["ca"];
  /** TLS for `wss:`: a client certificate. */
  cert?: TlsConnectionOptions["cert"];
  /** TLS for `wss:`: the client certificate's key. */
  key?: TlsConnectionOptions["key"];
  /** TLS for `wss:`: a PFX/PKCS#12 bundle. */
  pfx?: TlsConnectionOptions["pfx"];
  /** TLS for `wss:`: passphrase of `key` or `pfx`. */
  passphrase?: string;
  /** TLS for `wss:`: verify the server certificate. Default true. */
  rejectUnauthorized?: boolean;
  /** TLS for `wss:`: the SNI name and the name checked in the certificate. Default the URL's host. */
  servername?: string;
  /** Any other `tls.connect` options. */
  tls?: TlsConnectionOptions;
  /** Aborts the opening handshake. */
  signal?: AbortSignal;
}

export interface ResolvedOptions extends ClientOptions {
  protocols: string[];
  perMessageDeflate: false | DeflateOptions;
  handshakeTimeout: number;
  closeTimeout: number;
  highWaterMark: number;
  maxBufferedAmount: number;
  followRedirects: boolean;
  maxRedirects: number;
  pingInterval: number;
  pongTimeout: number;
}

export function resolveOptions(options: ClientOptions = {}): ResolvedOptions {
  const protocols = options.protocols === undefined ? [] : normalizeProtocols(options.protocols);
  const http2 = options.http2;
  if (http2 !== undefined && http2 !== false) {
    if (options.proxy !== undefined || options.agent !== undefined) {
      throw new ClientError(ClientErrorCode.InvalidOption, "http2 cannot be combined with proxy or agent");
    }
    if (http2 !== true && (typeof http2 !== "object" || http2 === null || !("acquire" in http2 || "request" in http2))) {
      throw new ClientError(ClientErrorCode.InvalidOption, "http2 must be a boolean, an Http2Agent or an http2 client session");
    }
  }
  const deflate = options.perMessageDeflate ?? true;
  return {
    ...options,
    protocols,
    perMessageDeflate: deflate === true ? {} : deflate === false ? false : deflate,
    handshakeTimeout: nonNegative("handshakeTimeout", options.handshakeTimeout ?? 30_000),
    closeTimeout: nonNegative("closeTimeout", options.closeTimeout ?? 10_000),
    highWaterMark: nonNegative("highWaterMark", options.highWaterMark ?? 64 * 1024),
    maxBufferedAmount: nonNegative("maxBufferedAmount", options.maxBufferedAmount ?? 64 * 1024 * 1024),
    followRedirects: options.followRedirects ?? false,
    maxRedirects: nonNegative("maxRedirects", options.maxRedirects ?? 10),
    pingInterval: nonNegative("pingInterval", options.pingInterval ?? 0),
    pongTimeout: nonNegative("pongTimeout", options.pongTimeout ?? 10_000),
  };
}

function nonNegative(name: string, value: number): number {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new ClientError(ClientErrorCode.InvalidOption, `${name} must be a non-negative number, got ${String(value)}`);
  }
  return value;
}

/**
 * Checks a subprotocol list: each one an RFC 7230 token, none repeated (RFC 6455 §4.1). With
 * `caseInsensitive` (the WHATWG `WebSocket`, WHATWG WebSockets §3.1 step 8), "chat" and "Chat"
 * count as the same. Returns the message of the first problem, or null.
 */
export function protocolListProblem(
  protocols: readonly string[],
  { caseInsensitive = false }: { caseInsensitive?: boolean } = {},
): string | null {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (typeof protocol !== "string" || !isToken(protocol)) {
      return `subprotocol ${JSON.stringify(protocol)} is not a valid token`;
    }
    const key = caseInsensitive ? protocol.toLowerCase() : protocol;
    if (seen.has(key)) return `subprotocol ${JSON.stringify(protocol)} is repeated`;
    seen.add(key);
  }
  return null;
}

function normalizeProtocols(protocols: string | string[]): string[] {
  const list = typeof protocols === "string" ? [protocols] : [...protocols];
  const problem = protocolListProblem(list);
  if (problem !== null) throw new ClientError(ClientErrorCode.InvalidOption, problem);
  return list;
}

/**
 * Parses a WebSocket URL the way WHATWG WebSockets §3.1 does: relative to `base` when given,
 * http(s) maps to ws(s), other schemes and any fragment are refused. Throws a ClientError (the
 * WHATWG class turns it into a SyntaxError).
 */
export function parseWebSocketUrl(input: string | URL, base?: string | URL): URL {
  let url: URL;
  try {
    url = base === undefined ? new URL(String(input)) : new URL(String(input), String(base));
  } catch {
    throw new ClientError(ClientErrorCode.InvalidUrl, `invalid URL: ${String(input)}`);
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new ClientError(ClientErrorCode.InvalidUrl, `the URL's scheme must be ws, wss, http or https, got ${url.protocol}`);
  }
  // A serialized URL has a "#" exactly when its fragment is non-null, even an empty one.
  if (url.href.includes("#")) {
    throw new ClientError(ClientErrorCode.InvalidUrl, "a WebSocket URL must not have a fragment");
  }
  return url;
}
