import type { IncomingMessage } from "node:http";
import type { Server as HttpServer } from "node:http";
import type { Http2SecureServer, Http2Server, Http2ServerRequest } from "node:http2";
import type { Server as HttpsServer } from "node:https";
import type { Http2ListenOptions } from "./http2.js";
import type { PerMessageDeflateOptions } from "@ws/codec/deflate";
import type { Broker } from "./broker.js";

/**
 * The request a handshake came with: an `http.IncomingMessage` for an HTTP/1.1 upgrade, an
 * `http2.Http2ServerRequest` (`httpVersion` "2.0", `req.stream` the HTTP/2 stream) for an extended
 * CONNECT. Both have `headers`, `rawHeaders`, `url` (path and query), `method` and `socket`.
 */
export type UpgradeRequest = IncomingMessage | Http2ServerRequest;

/** Extra response headers; entries whose value is undefined are left out. */
export type HeadersInit = Record<string, string | string[] | undefined>;

/** Accepts the upgrade, optionally with per-connection data (`conn.data`) and extra 101 headers. */
export interface UpgradeAccept<T> {
  data?: T;
  headers?: HeadersInit;
}

/** Rejects the upgrade with an HTTP status (not 101) and optional headers and body text. */
export interface UpgradeReject {
  status: number;
  reason?: string;
  headers?: HeadersInit;
}

export type UpgradeDecision<T> = UpgradeAccept<T> | UpgradeReject | undefined | void;

/** What the `upgrade` hook sees besides the request. */
export interface UpgradeInfo {
  /** Subprotocols the client offered, in its order. */
  protocols: readonly string[];
  /** The `Origin` header, if any. */
  origin: string | undefined;
}

export type UpgradeHook<T> = (
  req: UpgradeRequest,
  info: UpgradeInfo,
) => UpgradeDecision<T> | Promise<UpgradeDecision<T>>;

export interface ServerOptions<T = unknown> {
  // --- where to listen (exactly one of port / server / noServer) ---
  /** Listen on this port (0 picks a free one) with an HTTP server of our own. */
  port?: number;
  /** Host for `port`. Default: all interfaces, as `net.Server#listen`. */
  host?: string;
  /** Listen queue length for `port`. */
  backlog?: number;
  /**
   * Listen on this port with an HTTP/2 server of our own (RFC 8441): `http2.createSecureServer`
   * options with a certificate, or `http2.createServer` options without one (cleartext h2c), or
   * `true` for h2c with defaults. With TLS and `allowHTTP1: true` the port takes HTTP/1.1 upgrades too.
   */
  http2?: true | Http2ListenOptions;
  /**
   * Share an existing `http.Server`/`https.Server`, or an `http2.createSecureServer`/`createServer`
   * one (we turn on its extended CONNECT setting): upgrades and WebSocket streams on other paths are
   * left to others.
   */
  server?: HttpServer | HttpsServer | Http2SecureServer | Http2Server;
  /** Accept no connections by itself: call `handleUpgrade` from your own `upgrade` listener. */
  noServer?: boolean;
  /** Accept upgrades on this path only (the request target without its query string). */
  path?: string;

  // --- the opening handshake ---
  /** Decides, possibly asynchronously, whether to accept an upgrade; see `UpgradeDecision`. */
  upgrade?: UpgradeHook<T>;
  /** `Origin` values accepted (exact match, e.g. "https://example.com"), or a predicate. Default: any. */
  allowedOrigins?: readonly string[] | ((origin: string | undefined, req: UpgradeRequest) => boolean);
  /** Picks one of the client's subprotocols, or false for none. Default: none. */
  handleProtocols?: (protocols: string[], req: UpgradeRequest) => string | false;
  /** Headers added to every 101 response (and every HTTP/2 200 that accepts a WebSocket). */
  headers?: HeadersInit | ((req: UpgradeRequest) => HeadersInit);
  /**
   * Milliseconds from TCP accept (own port) or from `handleUpgrade` (other modes) to the 101
   * response, the `upgrade` hook included; then the socket is destroyed. Default 10,000; 0 = off.
   */
  handshakeTimeout?: number;
  /** Largest request head in bytes (own port only; set `maxHeaderSize` on your own server). Default 16 KiB. */
  maxHeaderSize?: number;
  /** Most request header lines; more gets 431. Default 100. */
  maxHeaderCount?: number;
  /** Most open connections; more gets 503. Default: unlimited. */
  maxConnections?: number;
  /**
   * Most WebSockets (open or in their handshake) on one HTTP/2 connection; more gets 503. Each
   * stream has all the per-connection limits below. Default 100.
   */
  maxStreamsPerSession?: number;

  // --- receive limits (enforced by the codec) ---
  /** Largest message in bytes, after reassembly and inflating. Default 16 MiB. */
  maxPayload?: number;
  /** Most frames per message. Default 65,536. */
  maxFragments?: number;
  /** Most buffered pieces for one frame or message. Default 16,384. */
  maxBufferedChunks?: number;
  /**
   * Bytes of received messages held for an async iterator that is not keeping up; past it the
   * socket is paused until the iterator catches up. Default 1 MiB.
   */
  receiveHighWaterMark?: number;

  // --- permessage-deflate (RFC 7692) ---
  /**
   * Off by default. `true` for the defaults, or options (window bits, context takeover, threshold...).
   * The server's defaults trade a little compression for much less memory per connection: 4 KiB
   * windows both ways (`serverMaxWindowBits` 12, and `clientMaxWindowBits` 12 when the client lets
   * the server choose) and `memLevel` 5, about 60 KiB of zlib state instead of about 300 KiB.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;

  // --- send side ---
  /** `send` returns false once `bufferedAmount` reaches this. Default 64 KiB. */
  highWaterMark?: number;
  /** Past this many buffered bytes, a send closes the connection or is rejected. Default 64 MiB. */
  maxBufferedAmount?: number;
  /** What a send past `maxBufferedAmount` does: close with 1008 (default) or throw `WS_ERR_SEND_REJECTED`. */
  backpressure?: "close" | "reject";

  // --- liveness ---
  /** Milliseconds between automatic pings. Default 30,000; 0 = off. */
  pingInterval?: number;
  /** Milliseconds after a ping by which some byte must arrive, or the socket is destroyed. Default 30,000. */
  pongTimeout?: number;
  /** Close (1000, "idle timeout") after this many milliseconds without a message from the peer. Default 0 = off. */
  idleTimeout?: number;
  /** Milliseconds to wait for the peer's close frame (or TCP close) after ours; then destroy. Default 10,000. */
  closeTimeout?: number;

  // --- scale-out ---
  /**
   * Shares topics with other servers through a pub/sub engine (e.g. `createRedisBroker` of
   * `@ws/redis`): every `publish` also goes to the broker, and what other servers publish reaches
   * this server's subscribers. The server closes it in `close()`.
   */
  broker?: Broker;
}

export interface ResolvedOptions<T> {
  path: string | undefined;
  upgrade: UpgradeHook<T> | undefined;
  allowedOrigins: ServerOptions<T>["allowedOrigins"];
  handleProtocols: ServerOptions<T>["handleProtocols"];
  headers: ServerOptions<T>["headers"];
  handshakeTimeout: number;
  maxHeaderSize: number;
  maxHeaderCount: number;
  maxConnections: number;
  maxStreamsPerSession: number;
  maxPayload: number;
  maxFragments: number;
  maxBufferedChunks: number;
  receiveHighWaterMark: number;
  perMessageDeflate: PerMessageDeflateOptions | null;
  highWaterMark: number;
  maxBufferedAmount: number;
  backpressure: "close" | "reject";
  pingInterval: number;
  pongTimeout: number;
  idleTimeout: number;
  closeTimeout: number;
}

export const DEFAULTS = {
  handshakeTimeout: 10_000,
  maxHeaderSize: 16 * 1024,
  maxHeaderCount: 100,
  maxStreamsPerSession: 100,
  maxPayload: 16 * 1024 * 1024,
  maxFragments: 65_536,
  maxBufferedChunks: 16_384,
  receiveHighWaterMark: 1024 * 1024,
  highWaterMark: 64 * 1024,
  maxBufferedAmount: 64 * 1024 * 1024,
  pingInterval: 30_000,
  pongTimeout: 30_000,
  idleTimeout: 0,
  closeTimeout: 10_000,
} as const;

function count(name: string, value: number | undefined, fallback: number, min = 0): number {
  const result = value ?? fallback;
  if (!Number.isSafeInteger(result) || result < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return result;
}

/**
 * zlib's defaults (32 KiB windows, memLevel 8) cost about 300 KiB per connection, which a server
 * pays per client; these cost about 60 KiB. The choice python-websockets makes, for the same reason.
 */
const DEFLATE_DEFAULTS: PerMessageDeflateOptions = { serverMaxWindowBits: 12, clientMaxWindowBits: 12, memLevel: 5 };

function definedOnly<O extends object>(options: O): Partial<O> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<O>;
}

export function resolveOptions<T>(options: ServerOptions<T>): ResolvedOptions<T> {
  const modes = Number(options.port !== undefined) + Number(options.server !== undefined) + Number(options.noServer === true);
  if (modes !== 1) throw new TypeError("exactly one of `port`, `server` or `noServer: true` must be given");
  if (options.http2 !== undefined && options.port === undefined) {
    throw new TypeError("`http2` configures the own-port server: give `port` with it (or pass an http2 server as `server`)");
  }
  if (options.backpressure !== undefined && options.backpressure !== "close" && options.backpressure !== "reject") {
    throw new TypeError('backpressure must be "close" or "reject"');
  }
  const deflate = options.perMessageDeflate;
  return {
    path: options.path,
    upgrade: options.upgrade,
    allowedOrigins: options.allowedOrigins,
    handleProtocols: options.handleProtocols,
    headers: options.headers,
    handshakeTimeout: count("handshakeTimeout", options.handshakeTimeout, DEFAULTS.handshakeTimeout),
    maxHeaderSize: count("maxHeaderSize", options.maxHeaderSize, DEFAULTS.maxHeaderSize, 1),
    maxHeaderCount: count("maxHeaderCount", options.maxHeaderCount, DEFAULTS.maxHeaderCount, 1),
    maxConnections: count("maxConnections", options.maxConnections, Number.MAX_SAFE_INTEGER, 1),
    maxStreamsPerSession: count("maxStreamsPerSession", options.maxStreamsPerSession, DEFAULTS.maxStreamsPerSession, 1),
    maxPayload: count("maxPayload", options.maxPayload, DEFAULTS.maxPayload, 1),
    maxFragments: count("maxFragments", options.maxFragments, DEFAULTS.maxFragments, 1),
    maxBufferedChunks: count("maxBufferedChunks", options.maxBufferedChunks, DEFAULTS.maxBufferedChunks, 1),
    receiveHighWaterMark: count("receiveHighWaterMark", options.receiveHighWaterMark, DEFAULTS.receiveHighWaterMark, 1),
    perMessageDeflate: deflate === true ? { ...DEFLATE_DEFAULTS } : deflate ? { ...DEFLATE_DEFAULTS, ...definedOnly(deflate) } : null,
    highWaterMark: count("highWaterMark", options.highWaterMark, DEFAULTS.highWaterMark, 1),
    maxBufferedAmount: count("maxBufferedAmount", options.maxBufferedAmount, DEFAULTS.maxBufferedAmount, 1),
    backpressure: options.backpressure ?? "close",
    pingInterval: count("pingInterval", options.pingInterval, DEFAULTS.pingInterval),
    pongTimeout: count("pongTimeout", options.pongTimeout, DEFAULTS.pongTimeout, 1),
    idleTimeout: count("idleTimeout", options.idleTimeout, DEFAULTS.idleTimeout),
    closeTimeout: count("closeTimeout", options.closeTimeout, DEFAULTS.closeTimeout, 1),
  };
}
