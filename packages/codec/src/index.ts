// @ws/codec: the sans-I/O WebSocket protocol core. Runtime-neutral: Uint8Array, DataView,
// TextEncoder/TextDecoder and crypto.getRandomValues only. Node-specific parts live in the
// `@ws/codec/handshake` (node:crypto) and `@ws/codec/deflate` (node:zlib) subpaths.
export { ErrorCode, WebSocketError } from "./errors.js";
export { Opcode, isControlOpcode, isKnownOpcode } from "./opcode.js";
export {
  CloseCode,
  MAX_CLOSE_REASON_BYTES,
  decodeClosePayload,
  encodeClosePayload,
  isValidCloseCode,
} from "./close.js";
export { Utf8Validator, isValidUtf8 } from "./utf8.js";
export { applyMask, unmask } from "./mask.js";
export { MaskKeyPool, defaultMaskKeyPool } from "./mask-key.js";
export {
  encodeFrame,
  encodeFrameInto,
  frameHeaderSize,
  writeFrameHeader,
  type EncodeFrameOptions,
} from "./frame-writer.js";
export {
  formatExtensionHeader,
  headerListIncludes,
  isToken,
  parseExtensionHeader,
  parseSubprotocolHeader,
} from "./header-lists.js";
export type { CompressionCallback, ExtensionOffer, MessageCompression } from "./extension.js";
export {
  DEFAULT_MAX_BUFFERED_CHUNKS,
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_PAYLOAD,
  maxCompressedLength,
  resolveLimits,
  type ReceiveLimits,
} from "./limits.js";
export { INFLATE_BACKLOG_LIMIT, Receiver, type ReceiverHandler, type ReceiverOptions } from "./receiver.js";
export {
  Protocol,
  QUEUE_ENTRY_OVERHEAD,
  type ProtocolHandler,
  type ProtocolOptions,
  type ProtocolState,
  type SendOptions,
} from "./protocol.js";
export { WRITE_OVERHEAD, WriteBatch } from "./write-batch.js";
export { defineFlags } from "./flags.js";
