export { WebSocket, type BinaryType, type WebSocketEventMap, type WebSocketOptions } from "./websocket.js";
export {
  CloseEvent,
  ErrorEvent,
  MessageEvent,
  type CloseEventInit,
  type ConnectionFailure,
  type ErrorEventInit,
} from "./events.js";
export {
  Connection,
  connect,
  type CloseInfo,
  type ConnectionEvents,
  type Message,
  type MessageSendOptions,
  type SendData,
} from "./connection.js";
export { ClientError, ClientErrorCode } from "./errors.js";
export type { ClientOptions } from "./options.js";
export type { DeflateOptions } from "./handshake.js";
export { WebSocketError, ErrorCode } from "@ws/codec";
export {
  ReconnectingConnection,
  backoffDelay,
  reconnecting,
  type ReconnectEvent,
  type ReconnectOptions,
  type ReconnectingEvents,
  type ReconnectingOptions,
} from "./reconnect.js";
export {
  WebSocketStream,
  WebSocketStreamError,
  type WebSocketCloseInfo,
  type WebSocketOpenInfo,
  type WebSocketStreamOptions,
  type BufferSource,
} from "./websocket-stream.js";
export { Http2Agent } from "./http2.js";
