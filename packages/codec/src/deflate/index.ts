/**
 * `@ws/codec/deflate`: permessage-deflate (RFC 7692) negotiation and the per-connection
 * compressor/decompressor, on `node:zlib`.
 */
export type { DeflateParams, PerMessageDeflateOptions } from "./options.js";
export { DEFAULT_CONCURRENCY, DEFAULT_THRESHOLD } from "./options.js";
export { EXTENSION_NAME, acceptResponse, createOffer, formatDeflateEntry, negotiateServer } from "./negotiation.js";
export {
  PerMessageDeflate,
  deflateStandalone,
  type PerMessageDeflateRuntimeOptions,
  type StandaloneDeflateSettings,
} from "./per-message-deflate.js";
export { createLimiter, sharedLimiter, type Limiter, type LimiterJob } from "./limiter.js";
