/**
 * Errors raised by the server shell itself (protocol violations by the peer are the codec's
 * `WebSocketError`). Each carries a stable string `code` to switch on, and, where the connection is
 * closed because of it, the close code that was sent.
 */
export const ServerErrorCode = {
  /** `send` refused because `bufferedAmount` would pass `maxBufferedAmount` (`backpressure: "reject"`). */
  SendRejected: "WS_ERR_SEND_REJECTED",
  /** `bufferedAmount` would pass `maxBufferedAmount` (`backpressure: "close"`): closed with 1008. */
  BufferOverflow: "WS_ERR_BUFFER_OVERFLOW",
  /** No pong (nor any other byte) arrived within `pongTimeout` of a ping: the socket was destroyed. */
  PongTimeout: "WS_ERR_PONG_TIMEOUT",
  /** The peer did not finish the closing handshake within `closeTimeout`: the socket was destroyed. */
  CloseTimeout: "WS_ERR_CLOSE_TIMEOUT",
  /** The `upgrade` hook threw or rejected; the client got 500. */
  UpgradeHookFailed: "WS_ERR_UPGRADE_HOOK_FAILED",
  /** A handshake was answered with an HTTP error (`status`) instead of 101 (`handshakeError` event). */
  HandshakeRefused: "WS_ERR_HANDSHAKE_REFUSED",
  /** A handshake did not finish within `handshakeTimeout`: the socket was destroyed (`handshakeError` event). */
  HandshakeTimeout: "WS_ERR_HANDSHAKE_TIMEOUT",
  /** The TCP socket failed (reset, broken pipe...). */
  SocketError: "WS_ERR_SOCKET",
  /** The broker failed (a call rejected, its connection was lost) or sent bytes that are not a message (`brokerError` event). */
  BrokerFailed: "WS_ERR_BROKER",
  /** An argument that cannot be sent (wrong type, close code or reason). */
  InvalidArgument: "WS_ERR_INVALID_ARGUMENT",
} as const;

export type ServerErrorCode = (typeof ServerErrorCode)[keyof typeof ServerErrorCode];

export class WebSocketServerError extends Error {
  readonly code: ServerErrorCode;
  /** The close code sent because of this error, or 1006 when the socket was just destroyed. */
  readonly closeCode: number;
  /** For `WS_ERR_HANDSHAKE_REFUSED`: the HTTP status the client was answered with. */
  readonly status: number | undefined;

  constructor(
    code: ServerErrorCode,
    message: string,
    closeCode = 1006,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options);
    this.name = "WebSocketServerError";
    this.code = code;
    this.closeCode = closeCode;
    this.status = options?.status;
  }
}
