import { channel } from "node:diagnostics_channel";
import type { WebSocketError } from "@ws/codec";
import type { Connection } from "./connection.js";
import type { UpgradeRequest } from "./options.js";
import type { WebSocketServerError } from "./errors.js";
import type { WebSocketServer } from "./server.js";

/**
 * The names of the `node:diagnostics_channel` channels the server publishes on: `ws:server:` and
 * the event, in lower case (snake case when it has two words). Stable: a rename is a breaking change.
 * Nothing is built or published while a channel has no subscriber.
 */
export const DiagnosticsChannel = {
  /** A connection was accepted: its 101 was written, before its `connection` event. {@link OpenDiagnostic} */
  Open: "ws:server:open",
  /** A connection's TCP connection closed, before its `close` event. {@link CloseDiagnostic} */
  Close: "ws:server:close",
  /** A connection failed (the error its `error` event carries; a close follows). {@link ErrorDiagnostic} */
  Error: "ws:server:error",
  /** A ping arrived, or one of ours (asked for or the heartbeat's) was queued. {@link PingDiagnostic} */
  Ping: "ws:server:ping",
  /** A pong arrived, or one of ours (asked for or the automatic answer) was queued. {@link PongDiagnostic} */
  Pong: "ws:server:pong",
  /** A connection's `bufferedAmount` met `highWaterMark` or `maxBufferedAmount`. {@link BackpressureDiagnostic} */
  Backpressure: "ws:server:backpressure",
  /** A handshake did not end in a connection (the `handshakeError` event). {@link HandshakeErrorDiagnostic} */
  HandshakeError: "ws:server:handshake_error",
} as const;

export type DiagnosticsChannel = (typeof DiagnosticsChannel)[keyof typeof DiagnosticsChannel];

/** What every connection's message carries. */
export interface ConnectionDiagnostic<T = unknown> {
  server: WebSocketServer<T>;
  connection: Connection<T>;
}

export interface OpenDiagnostic<T = unknown> extends ConnectionDiagnostic<T> {
  request: UpgradeRequest;
  /**
   * Milliseconds from the upgrade request reaching the server (`handleUpgrade`) to its 101 written:
   * the checks, the `upgrade` hook, negotiation.
   */
  handshakeDuration: number;
}

export interface CloseDiagnostic<T = unknown> extends ConnectionDiagnostic<T> {
  /** As in the `close` event: the peer's close code (1005 when its frame had none), or 1006 when none arrived. */
  code: number;
  reason: string;
  /** A close frame went each way before TCP closed (RFC 6455 §7.1.4: closed cleanly). */
  wasClean: boolean;
  /** Why the connection failed, when it did (`conn.closeError`); published on `ws:server:error` already. */
  error: WebSocketError | WebSocketServerError | null;
  /** Milliseconds from the connection starting to its TCP close. */
  duration: number;
  /** The connection's traffic over its life, as `conn.bytesIn` and the others count it. */
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
}

export interface ErrorDiagnostic<T = unknown> extends ConnectionDiagnostic<T> {
  /** A `WebSocketError` (the peer broke the protocol or a limit) or a `WebSocketServerError`; switch on `error.code`. */
  error: WebSocketError | WebSocketServerError;
}

/** A ping or pong frame, either way. */
export interface ControlFrameDiagnostic<T = unknown> extends ConnectionDiagnostic<T> {
  /** "received" from the peer, or "sent": queued by us, asked for or automatic. */
  direction: "received" | "sent";
  /** A copy of the frame's payload (0 to 125 bytes). */
  payload: Buffer;
}

export type PingDiagnostic<T = unknown> = ControlFrameDiagnostic<T>;
export type PongDiagnostic<T = unknown> = ControlFrameDiagnostic<T>;

export interface BackpressureDiagnostic<T = unknown> extends ConnectionDiagnostic<T> {
  /**
   * The limit met. `highWaterMark`: sends return false until `drain` and reading pauses (published
   * once each time it is reached). `maxBufferedAmount`: the `backpressure` policy applied.
   */
  limit: "highWaterMark" | "maxBufferedAmount";
  /**
   * What was done: "wait" (at `highWaterMark`: the message is queued), "close" (the connection is
   * closed with 1008), "reject" (the send threw `WS_ERR_SEND_REJECTED`, or an automatic pong was
   * withheld).
   */
  policy: "wait" | "close" | "reject";
  /** `conn.bufferedAmount` then, with the message that met the limit when it was queued ("wait"), without it otherwise. */
  bufferedAmount: number;
}

export interface HandshakeErrorDiagnostic<T = unknown> {
  server: WebSocketServer<T>;
  /** Undefined when the request head never arrived whole. */
  request: UpgradeRequest | undefined;
  /** The `handshakeError` event's error: `WS_ERR_HANDSHAKE_REFUSED`, `WS_ERR_HANDSHAKE_TIMEOUT` or `WS_ERR_SOCKET`. */
  error: WebSocketServerError;
  /** The HTTP status answered, or undefined when the socket was cut without an answer. */
  status: number | undefined;
  /** The reason phrase answered ("" without an answer). */
  reason: string;
}

/** Each channel's message type, by name: `message as DiagnosticMessages[typeof DiagnosticsChannel.Close]`. */
export interface DiagnosticMessages<T = unknown> {
  "ws:server:open": OpenDiagnostic<T>;
  "ws:server:close": CloseDiagnostic<T>;
  "ws:server:error": ErrorDiagnostic<T>;
  "ws:server:ping": PingDiagnostic<T>;
  "ws:server:pong": PongDiagnostic<T>;
  "ws:server:backpressure": BackpressureDiagnostic<T>;
  "ws:server:handshake_error": HandshakeErrorDiagnostic<T>;
}

/**
 * @internal The channels, created once and held here (Node holds unsubscribed channels weakly).
 * Every publish site checks `hasSubscribers` first, so no message is built while no one listens,
 * and none of them is on the per-message path.
 */
export const channels = {
  open: channel(DiagnosticsChannel.Open),
  close: channel(DiagnosticsChannel.Close),
  error: channel(DiagnosticsChannel.Error),
  ping: channel(DiagnosticsChannel.Ping),
  pong: channel(DiagnosticsChannel.Pong),
  backpressure: channel(DiagnosticsChannel.Backpressure),
  handshakeError: channel(DiagnosticsChannel.HandshakeError),
};
