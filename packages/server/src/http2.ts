// WebSockets over HTTP/2 (RFC 8441): the server side of the transport. Which servers are HTTP/2,
// building one for the own-port mode, and answering an extended CONNECT stream.
import {
  constants,
  createSecureServer,
  createServer as createPlainHttp2Server,
  Http2ServerRequest,
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type SecureServerOptions,
  type ServerHttp2Stream,
  type ServerOptions as PlainHttp2ServerOptions,
} from "node:http2";
import type { Server as NetServer } from "node:net";
import type { Duplex } from "node:stream";
import { buildConnectErrorHeaders, buildConnectResponseHeaders, computeAccept } from "@ws/codec/handshake";
import type { ExtensionOffer } from "@ws/codec";
import type { HeadersInit } from "./options.js";
import { mergeHeaders } from "./upgrade.js";

/**
 * Options of the own-port HTTP/2 server: those of `http2.createSecureServer` (with a certificate:
 * `key`/`cert`, `pfx`, `SNICallback` or `secureContext`) or, without one, of `http2.createServer`
 * (cleartext h2c with prior knowledge, for a TLS-terminating proxy in front). `allowHTTP1` (TLS
 * only: ALPN picks) lets the same port take HTTP/1.1 upgrades too.
 */
export type Http2ListenOptions = SecureServerOptions | PlainHttp2ServerOptions;

export type AnyHttp2Server = Http2Server | Http2SecureServer;

/** Whether a server given in the `server` option is a `node:http2` one. */
export function isHttp2Server(server: unknown): server is AnyHttp2Server {
  return typeof server === "object" && server !== null && typeof (server as { updateSettings?: unknown }).updateSettings === "function";
}

function hasCertificate(options: SecureServerOptions): boolean {
  return (
    options.key !== undefined ||
    options.cert !== undefined ||
    options.pfx !== undefined ||
    options.SNICallback !== undefined ||
    options.secureContext !== undefined
  );
}

/**
 * The own-port HTTP/2 server. SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3) is advertised in the
 * first SETTINGS of every session; the header list size limit is our `maxHeaderSize`.
 */
export function createHttp2Server(options: Http2ListenOptions, limits: { maxHeaderSize: number; handshakeTimeout: number }): { server: AnyHttp2Server; secure: boolean } {
  const settings = { ...options.settings, enableConnectProtocol: true, maxHeaderListSize: limits.maxHeaderSize };
  const secure = hasCertificate(options as SecureServerOptions);
  if (secure) {
    const tlsOptions: SecureServerOptions = { ...(options as SecureServerOptions), settings };
    // SECURITY.md row 14: a TLS handshake sent a byte a minute is cut too.
    if (limits.handshakeTimeout > 0) tlsOptions.handshakeTimeout ??= limits.handshakeTimeout;
    return { server: createSecureServer(tlsOptions), secure };
  }
  if ((options as SecureServerOptions).allowHTTP1 === true) {
    throw new TypeError("http2.allowHTTP1 needs TLS (ALPN chooses the protocol): give a key and cert");
  }
  return { server: createPlainHttp2Server({ ...options, settings }), secure };
}

/** Turns on the extended CONNECT protocol on a server we were given: for its future sessions and those open now. */
export function enableConnectProtocol(server: AnyHttp2Server, sessions: Iterable<Http2Session>): void {
  server.updateSettings({ enableConnectProtocol: true });
  for (const session of sessions) {
    if (!session.destroyed && !session.closed) session.settings({ enableConnectProtocol: true });
  }
}

/** The request object the `upgrade` hook and `connection` event see for an HTTP/2 stream (`httpVersion` "2.0"). */
export function requestOf(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[]): Http2ServerRequest {
  return new Http2ServerRequest(stream, headers, {}, rawHeaders);
}

/**
 * Refuses an extended CONNECT with an HTTP status and `reason` as a text body, then ends the stream
 * (RFC 8441 §5: 4xx/5xx refuse). Never throws: a status or header a user hook gave that cannot be
 * sent becomes a 500. Returns the status sent.
 */
export function refuseStream(stream: ServerHttp2Stream, status: number, reason: string, headers?: HeadersInit): number {
  if (stream.destroyed || stream.headersSent) {
    stream.destroy();
    return status;
  }
  let fields;
  try {
    fields = buildConnectErrorHeaders(status, mergeHeaders(headers));
  } catch {
    status = 500;
    reason = "Internal Server Error";
    fields = buildConnectErrorHeaders(status);
  }
  try {
    stream.respond(fields);
    // RFC 9113 §8.1: after a complete response the server may end the request with RST_STREAM
    // NO_ERROR; otherwise a client that never ends its side would hold the stream open.
    stream.end(reason, () => {
      if (!stream.closed) stream.close(constants.NGHTTP2_NO_ERROR);
    });
  } catch {
    stream.destroy();
  }
  return status;
}

/** Accepts an extended CONNECT: `:status` 200 with the negotiated fields. Throws a TypeError for a header that cannot be sent. */
export function acceptStream(
  stream: ServerHttp2Stream,
  key: string | undefined,
  protocol: string,
  extensions: ExtensionOffer[],
  headers: ReturnType<typeof mergeHeaders>,
): void {
  const fields = buildConnectResponseHeaders({
    // Not part of RFC 8441, but harmless, and what undici 7's client checks for.
    accept: key === undefined ? undefined : computeAccept(key),
    protocol: protocol === "" ? undefined : protocol,
    extensions,
    headers,
  });
  // Headers only: the stream stays open both ways for the frames (RFC 8441 §5).
  stream.respond(fields, { endStream: false });
}

/** Whether a Duplex is an HTTP/2 stream (the shells close those with RST_STREAM, not a TCP reset). */
export function isHttp2Stream(transport: Duplex): transport is ServerHttp2Stream {
  return typeof (transport as { respond?: unknown }).respond === "function" && "session" in transport;
}

/** RFC 8441 §5: an abort is RST_STREAM with CANCEL, the counterpart of a TCP reset. */
export function cancelStream(stream: { close(code?: number): void }): void {
  stream.close(constants.NGHTTP2_CANCEL);
}

export type { NetServer };
