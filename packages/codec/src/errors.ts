/**
 * Errors the protocol core raises for peer misbehaviour. Each carries a stable string `code` that
 * users can switch on, and the close code (RFC 6455 §7.4.1) that the endpoint sends when it fails
 * the connection because of it.
 */
export const ErrorCode = {
  /** An opcode RFC 6455 reserves (3-7, 11-15). */
  InvalidOpcode: "WS_ERR_INVALID_OPCODE",
  /** An RSV bit set that no negotiated extension defines (RFC 6455 §5.2). */
  UnexpectedRsv: "WS_ERR_UNEXPECTED_RSV",
  /** A client frame without the mask bit (RFC 6455 §5.1). */
  ExpectedMask: "WS_ERR_EXPECTED_MASK",
  /** A server frame with the mask bit (RFC 6455 §5.1). */
  UnexpectedMask: "WS_ERR_UNEXPECTED_MASK",
  /** A control frame with FIN clear (RFC 6455 §5.5). */
  FragmentedControlFrame: "WS_ERR_FRAGMENTED_CONTROL_FRAME",
  /** A control frame whose payload is over 125 bytes (RFC 6455 §5.5). */
  ControlFrameTooLong: "WS_ERR_CONTROL_FRAME_TOO_LONG",
  /** A 64-bit payload length with the most significant bit set (RFC 6455 §5.2). */
  InvalidPayloadLength: "WS_ERR_INVALID_PAYLOAD_LENGTH",
  /** A continuation frame with no message in progress (RFC 6455 §5.4). */
  UnexpectedContinuation: "WS_ERR_UNEXPECTED_CONTINUATION",
  /** A new text or binary frame while a fragmented message is still in progress (RFC 6455 §5.4). */
  ExpectedContinuation: "WS_ERR_EXPECTED_CONTINUATION",
  /** A message (declared or inflated) larger than `maxPayload`. */
  MessageTooBig: "WS_ERR_MESSAGE_TOO_BIG",
  /** A message split into more fragments than `maxFragments` (empty fragments count). */
  TooManyFragments: "WS_ERR_TOO_MANY_FRAGMENTS",
  /** More received chunks held for one frame or message than `maxBufferedChunks`. */
  TooManyBufferedChunks: "WS_ERR_TOO_MANY_BUFFERED_CHUNKS",
  /** Text or close-reason bytes that are not valid UTF-8 (RFC 6455 §8.1). */
  InvalidUtf8: "WS_ERR_INVALID_UTF8",
  /** A close frame whose status code may not appear on the wire (RFC 6455 §7.4). */
  InvalidCloseCode: "WS_ERR_INVALID_CLOSE_CODE",
  /** A close frame with a one-byte payload (RFC 6455 §5.5.1). */
  InvalidClosePayload: "WS_ERR_INVALID_CLOSE_PAYLOAD",
  /** Compressed data that does not inflate (RFC 7692 §7.2.2). */
  InflateFailed: "WS_ERR_INFLATE_FAILED",
  /** Our own compressor failed (an internal error, 1011): nothing the peer did. */
  DeflateFailed: "WS_ERR_DEFLATE_FAILED",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Marks WebSocketError instances. Each subpath bundle (`@ws/codec`, `@ws/codec/deflate`) carries
 * its own copy of this class, and an application may load two versions of the package, so
 * `instanceof` checks this brand instead of the prototype chain.
 */
const brand: unique symbol = Symbol.for("@ws/codec:WebSocketError") as never;

/** A protocol violation by the peer: `code` says what, `closeCode` is what to send in the close frame. */
export class WebSocketError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== WebSocketError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === "object" && value !== null && (value as { [brand]?: boolean })[brand] === true;
  }

  private readonly [brand] = true;
  readonly code: ErrorCode;
  readonly closeCode: number;

  constructor(code: ErrorCode, closeCode: number, message: string) {
    super(message);
    this.name = "WebSocketError";
    this.code = code;
    this.closeCode = closeCode;
  }
}
