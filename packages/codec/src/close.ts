/**
 * Close frame payloads (RFC 6455 §5.5.1): empty, or a 2-byte big-endian status code followed by a
 * UTF-8 reason. Status codes are those of RFC 6455 §7.4 and the IANA "WebSocket Close Code Number"
 * registry.
 */
import { ErrorCode, WebSocketError } from "./errors.js";
import { isValidUtf8 } from "./utf8.js";

export const CloseCode = {
  NormalClosure: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Never on the wire: reported when a close frame had no status code (RFC 6455 §7.1.5). */
  NoStatusReceived: 1005,
  /** Never on the wire: reported when the connection closed without a close frame (§7.1.5). */
  AbnormalClosure: 1006,
  InvalidPayloadData: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Never on the wire: reported when the TLS handshake failed (RFC 6455 §7.4.1). */
  TlsHandshake: 1015,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * True if `code` may be sent in a close frame. RFC 6455 §7.4.1/§7.4.2: 1004 is reserved, 1005, 1006
 * and 1015 are only for reporting, 0-999 are unused, 1016-2999 are reserved for future RFCs (none
 * registered beyond 1014); 3000-3999 (IANA-registered) and 4000-4999 (private use) are open.
 */
export function isValidCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  return (
    (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
  );
}

/** A control frame payload is at most 125 bytes (RFC 6455 §5.5); 2 of them hold the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
// ignoreBOM: a reason that starts with U+FEFF keeps it (the default decoder would drop it).
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** Uint8Array or a subclass (such as Node's Buffer), also from another realm. */
function isUint8Array(value: unknown): value is Uint8Array {
  return ArrayBuffer.isView(value) && (value as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] === "Uint8Array";
}

/**
 * Builds a close frame payload. With no `code` the payload is empty (RFC 6455 §5.5.1), and then a
 * non-empty reason is an error, since it can only follow a code. A string reason is UTF-8 encoded
 * (a lone surrogate becomes U+FFFD, as TextEncoder and the browser WebSocket API do); a Uint8Array
 * reason must already be valid UTF-8 (RFC 6455 §5.5.1) and is copied.
 *
 * @throws TypeError if `reason` is neither a string nor a Uint8Array, is invalid UTF-8, or is given
 *   without a code. RangeError if `code` may not be sent or the reason is over 123 bytes.
 */
export function encodeClosePayload(code?: number, reason?: string | Uint8Array): Uint8Array {
  let reasonBytes: Uint8Array;
  if (reason === undefined) {
    reasonBytes = EMPTY;
  } else if (typeof reason === "string") {
    // Every UTF-16 code unit encodes to at least one byte, so a long string can be refused
    // before it is encoded.
    if (reason.length > MAX_CLOSE_REASON_BYTES) throw reasonTooLong();
    reasonBytes = encoder.encode(reason);
  } else if (isUint8Array(reason)) {
    if (!isValidUtf8(reason)) throw new TypeError("close reason is not valid UTF-8");
    reasonBytes = reason;
  } else {
    throw new TypeError(`close reason must be a string or a Uint8Array, got ${describe(reason)}`);
  }

  if (code === undefined) {
    if (reasonBytes.length > 0) throw new TypeError("a close reason needs a close code");
    return new Uint8Array(0);
  }
  if (!isValidCloseCode(code)) {
    throw new RangeError(
      `invalid close code ${String(code)}: must be 1000-1003, 1007-1014 or 3000-4999 (RFC 6455 §7.4)`,
    );
  }
  if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) throw reasonTooLong(reasonBytes.length);

  // A fresh, fully written buffer: the payload never aliases the caller's memory, and every byte
  // of it is the code or the reason (never leftover memory).
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

function reasonTooLong(length?: number): RangeError {
  const size = length === undefined ? "" : ` (${length} bytes)`;
  return new RangeError(`close reason is longer than ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8${size}`);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}

/**
 * Parses a received close frame payload (at most 125 bytes, checked by the frame parser).
 * An empty payload means "no status code" and is reported as 1005 (RFC 6455 §7.1.5).
 *
 * @throws WebSocketError for a 1-byte payload or a code that may not be sent (close code 1002),
 *   or a reason that is not valid UTF-8 (close code 1007, RFC 6455 §8.1).
 */
export function decodeClosePayload(payload: Uint8Array): { code: number; reason: string } {
  if (payload.length === 0) return { code: CloseCode.NoStatusReceived, reason: "" };
  if (payload.length === 1) {
    throw new WebSocketError(
      ErrorCode.InvalidClosePayload,
      CloseCode.ProtocolError,
      "close frame payload is 1 byte; it must be empty or hold a 2-byte status code",
    );
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidCloseCode(code)) {
    throw new WebSocketError(ErrorCode.InvalidCloseCode, CloseCode.ProtocolError, `invalid close code ${code}`);
  }
  const reasonBytes = payload.subarray(2);
  if (!isValidUtf8(reasonBytes)) {
    throw new WebSocketError(ErrorCode.InvalidUtf8, CloseCode.InvalidPayloadData, "close reason is not valid UTF-8");
  }
  return { code, reason: decoder.decode(reasonBytes) };
}
