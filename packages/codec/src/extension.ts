import type { WebSocketError } from "./errors.js";

/**
 * One entry of a parsed `Sec-WebSocket-Extensions` header (RFC 6455 §9.1): an extension name and its
 * parameters. `params` has a null prototype because its keys are chosen by the peer; a parameter
 * given without a value maps to `true`, and a parameter repeated keeps every value in order.
 */
export interface ExtensionOffer {
  name: string;
  params: Record<string, Array<string | true>>;
}

/** Called back when a (de)compression step finishes. */
export type CompressionCallback = (error: WebSocketError | Error | null, chunks: Uint8Array[]) => void;

/**
 * A negotiated per-message compression extension (permessage-deflate, RFC 7692) as the protocol core
 * sees it. The work may be asynchronous; the core keeps messages in order around it.
 */
export interface MessageCompression {
  /** Messages shorter than this many bytes are sent uncompressed. */
  readonly threshold: number;
  /**
   * Compresses one fragment of an outgoing message. `fin` marks its last fragment: the compressor
   * then flushes, drops the trailing `00 00 ff ff` (RFC 7692 §7.2.1) and resets its context when
   * context takeover is off for this side.
   */
  compress(data: Uint8Array, fin: boolean, callback: CompressionCallback): void;
  /**
   * Inflates one frame's payload of an incoming compressed message. `fin` marks the last frame; the
   * `00 00 ff ff` tail is appended before the final flush (RFC 7692 §7.2.2). Fails with a
   * `WebSocketError` (`MessageTooBig`, 1009) as soon as the inflated message would pass
   * `maxPayload`, or (`InflateFailed`, 1007) for data that does not inflate.
   */
  decompress(data: Uint8Array, fin: boolean, maxPayload: number, callback: CompressionCallback): void;
  /** Releases the zlib streams; later calls fail. */
  close(): void;
}
