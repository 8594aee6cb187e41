export { WebSocketServer, createServer, type CloseOptions, type PublishOptions, type ServerEvents, type ServerStats } from "./server.js";
export {
  BROKER_WIRE_VERSION,
  decodeBrokerMessage,
  encodeBrokerMessage,
  type Broker,
  type BrokerMessage,
} from "./broker.js";
export {
  Connection,
  ReadyState,
  type ConnectionEvents,
  type IteratedMessage,
  type SendData,
  type SendOptions,
  type Transport,
} from "./connection.js";
export {
  DiagnosticsChannel,
  type BackpressureDiagnostic,
  type CloseDiagnostic,
  type ConnectionDiagnostic,
  type ControlFrameDiagnostic,
  type DiagnosticMessages,
  type ErrorDiagnostic,
  type HandshakeErrorDiagnostic,
  type OpenDiagnostic,
  type PingDiagnostic,
  type PongDiagnostic,
} from "./diagnostics.js";
export { PreparedMessage, broadcast, type BroadcastOptions, type BroadcastResult } from "./broadcast.js";
export { ServerErrorCode, WebSocketServerError } from "./errors.js";
export { safeEqual } from "./credentials.js";
export type {
  HeadersInit,
  ServerOptions,
  UpgradeAccept,
  UpgradeDecision,
  UpgradeHook,
  UpgradeInfo,
  UpgradeReject,
  UpgradeRequest,
} from "./options.js";
export type { Http2ListenOptions } from "./http2.js";
export { CloseCode, ErrorCode, WebSocketError } from "@ws/codec";
export type { PerMessageDeflateOptions } from "@ws/codec/deflate";
