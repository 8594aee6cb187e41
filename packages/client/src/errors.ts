/**
 * Errors the client raises for things that go wrong outside the frame protocol: the URL, the
 * transport, the proxy, the opening handshake, timeouts and backpressure. Each has a stable string
 * `code` to switch on. Protocol violations by the server are the codec's `WebSocketError` (whose
 * codes start with the same `WS_ERR_` prefix) and reach users unchanged.
 */
export const ClientErrorCode = {
  /** The URL is not a ws:, wss:, http: or https: URL, or has a fragment. */
  InvalidUrl: "WS_ERR_INVALID_URL",
  /** An option has a value it cannot take. */
  InvalidOption: "WS_ERR_INVALID_OPTION",
  /** The TCP or TLS connection failed, or broke during the handshake. */
  ConnectionFailed: "WS_ERR_CONNECTION_FAILED",
  /** The opening handshake took longer than `handshakeTimeout`. */
  HandshakeTimeout: "WS_ERR_HANDSHAKE_TIMEOUT",
  /** The server answered with a status other than 101 (and it was not a followed redirect). */
  UnexpectedStatus: "WS_ERR_UNEXPECTED_STATUS",
  /** The 101 response broke RFC 6455 §4.1 (Upgrade, Connection, Sec-WebSocket-Accept, subprotocol, extensions). */
  InvalidHandshake: "WS_ERR_INVALID_HANDSHAKE",
  /** More redirects than `maxRedirects`, or a redirect to a URL that is not usable. */
  InvalidRedirect: "WS_ERR_INVALID_REDIRECT",
  /** The HTTP CONNECT proxy refused the tunnel or failed. */
  ProxyFailed: "WS_ERR_PROXY_FAILED",
  /** `close()` or `terminate()` was called before the connection opened. */
  Aborted: "WS_ERR_ABORTED",
  /** The server did not complete the closing handshake within `closeTimeout`. */
  CloseTimeout: "WS_ERR_CLOSE_TIMEOUT",
  /** More than `maxBufferedAmount` bytes waited to be sent (SECURITY.md row 15). */
  BufferOverflow: "WS_ERR_BUFFER_OVERFLOW",
  /** No byte arrived within `pongTimeout` of a heartbeat ping: the server is taken for dead. */
  PongTimeout: "WS_ERR_PONG_TIMEOUT",
} as const;

export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

export class ClientError extends Error {
  readonly code: ClientErrorCode;
  /** The HTTP status, for `UnexpectedStatus`, `InvalidRedirect` and `ProxyFailed`. */
  readonly statusCode: number | undefined;

  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown; statusCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ClientError";
    this.code = code;
    this.statusCode = options?.statusCode;
  }
}
