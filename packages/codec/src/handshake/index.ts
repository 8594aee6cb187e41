// `@ws/codec/handshake`: the opening handshake (RFC 6455 §4). Uses `node:crypto`, so it lives apart
// from the runtime-neutral main entry.
export { WEBSOCKET_GUID, computeAccept, generateKey, isValidKey } from "./key.js";
export {
  buildErrorResponse,
  buildUpgradeResponse,
  validateUpgradeRequest,
  type ExtraHeaders,
  type HeaderFields,
  type UpgradeRequestAccepted,
  type UpgradeRequestLike,
  type UpgradeRequestRejected,
  type UpgradeRequestResult,
  type UpgradeResponseOptions,
} from "./request.js";
export {
  findRequestHeadEnd,
  parseRequestHead,
  type RequestHead,
  type RequestHeadError,
  type RequestHeadErrorCode,
  type RequestHeadResult,
} from "./request-head.js";
export {
  buildUpgradeRequest,
  validateUpgradeResponse,
  type UpgradeRequestOptions,
  type UpgradeResponseExpectations,
  type UpgradeResponseLike,
  type UpgradeResponseResult,
} from "./response.js";
export {
  buildConnectErrorHeaders,
  buildConnectRequestHeaders,
  buildConnectResponseHeaders,
  connectResponseStatus,
  isWebSocketConnect,
  validateConnectRequest,
  validateConnectResponse,
  type ConnectRequestAccepted,
  type ConnectRequestLike,
  type ConnectRequestOptions,
  type ConnectRequestRejected,
  type ConnectRequestResult,
  type ConnectResponseExpectations,
  type ConnectResponseLike,
  type ConnectResponseOptions,
  type ConnectResponseResult,
  type Http2HeaderFields,
} from "./extended-connect.js";
