/**
 * Scale-out: what a server needs from a message engine (Redis, NATS, Postgres LISTEN/NOTIFY…) to
 * share its topics with other servers, and the bytes servers exchange through it.
 */

/**
 * A pub/sub engine shared by several servers, passed as `createServer({ broker })`. The server
 * calls `subscribe` when a topic gains its first local subscriber and `unsubscribe` when it loses
 * its last, publishes every `server.publish` with `publish`, and calls `close` from its own
 * `close()`. Calls for one channel are made in order; an implementation must apply them in that
 * order. A rejected promise becomes a `brokerError` event on the server, never a crash.
 */
export interface Broker {
  /** Sends `message` (opaque bytes, see `encodeBrokerMessage`) to every subscriber of `channel`, this process's too. */
  publish(channel: string, message: Uint8Array): Promise<void>;
  /** Starts calling `onMessage` with every message published to `channel`. */
  subscribe(channel: string, onMessage: (message: Uint8Array) => void): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  close(): Promise<void>;
  /** Optional: failures not tied to a call (connection lost, reconnecting), for `brokerError`. */
  onError?(listener: (error: Error) => void): void;
}

/** One message as it travels between servers. */
export interface BrokerMessage {
  /** The id of the server that published it (`server.id`). */
  origin: string;
  isBinary: boolean;
  /** The publisher's `compress` option, carried so every server applies the same one. */
  compress: boolean | undefined;
  payload: Uint8Array;
}

/**
 * Wire format, version 1, all binary-safe:
 *   byte 0      version (1)
 *   byte 1      flags: bit 0 binary, bit 1 `compress` given, bit 2 its value
 *   byte 2      length n of the origin id (UTF-8, 1..255 bytes)
 *   3 .. 3+n    origin id
 *   3+n ..      payload, as sent
 * A reader refuses versions it does not know, so a newer format can be rolled out behind a new number.
 */
export const BROKER_WIRE_VERSION = 1;

const FLAG_BINARY = 1;
const FLAG_COMPRESS_SET = 2;
const FLAG_COMPRESS = 4;

export function encodeBrokerMessage(message: BrokerMessage): Uint8Array {
  const origin = Buffer.from(message.origin, "utf8");
  if (origin.length === 0 || origin.length > 255) throw new RangeError("an origin id is 1 to 255 bytes");
  let flags = message.isBinary ? FLAG_BINARY : 0;
  if (message.compress !== undefined) flags |= FLAG_COMPRESS_SET | (message.compress ? FLAG_COMPRESS : 0);
  const out = Buffer.allocUnsafe(3 + origin.length + message.payload.length);
  out[0] = BROKER_WIRE_VERSION;
  out[1] = flags;
  out[2] = origin.length;
  out.set(origin, 3);
  out.set(message.payload, 3 + origin.length);
  return out;
}

/** Decodes a message; null when it is not one this version understands (another sender on the channel). */
export function decodeBrokerMessage(bytes: Uint8Array): BrokerMessage | null {
  if (bytes.length < 3 || bytes[0] !== BROKER_WIRE_VERSION) return null;
  const flags = bytes[1]!;
  const originLength = bytes[2]!;
  if (originLength === 0 || bytes.length < 3 + originLength) return null;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    origin: buffer.toString("utf8", 3, 3 + originLength),
    isBinary: (flags & FLAG_BINARY) !== 0,
    compress: (flags & FLAG_COMPRESS_SET) === 0 ? undefined : (flags & FLAG_COMPRESS) !== 0,
    // A view, not a copy: the payload is framed as it is.
    payload: buffer.subarray(3 + originLength),
  };
}
