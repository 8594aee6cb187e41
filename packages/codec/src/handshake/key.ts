/**
 * `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` (RFC 6455 §1.3, §4.1, §4.2.2).
 */
import { Buffer } from "node:buffer";
import * as nodeCrypto from "node:crypto";
import { createHash, randomFillSync } from "node:crypto";

/** The GUID that RFC 6455 §1.3 appends to the key before hashing. */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** RFC 6455 §4.1: the key is "a randomly selected 16-byte value". */
const KEY_BYTES = 16;
/** Keys drawn per `randomFillSync` call: one system call per 256 keys instead of one per key. */
const POOL_SIZE = KEY_BYTES * 256;

let pool: Buffer | undefined;
let poolOffset = POOL_SIZE;

/**
 * A fresh `Sec-WebSocket-Key`: 16 random bytes, base64 (RFC 6455 §4.1). Each byte of the pool is used
 * once and then refilled, so no two keys share randomness.
 */
export function generateKey(): string {
  if (pool === undefined) pool = Buffer.allocUnsafe(POOL_SIZE);
  if (poolOffset + KEY_BYTES > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const key = pool.toString("base64", poolOffset, poolOffset + KEY_BYTES);
  poolOffset += KEY_BYTES;
  return key;
}

function isBase64Char(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2b || // +
    code === 0x2f // /
  );
}

/**
 * Whether `key` is a valid `Sec-WebSocket-Key`: base64 that decodes to exactly 16 bytes (RFC 6455
 * §4.2.1 item 5), i.e. 22 alphabet characters then `==`. The low four bits of the 22nd character are not
 * required to be zero (RFC 4648 §3.5 lets decoders accept such non-canonical text); the accept hash
 * is computed over the key text as sent, so that leniency cannot change the result.
 */
export function isValidKey(key: string): boolean {
  if (typeof key !== "string" || key.length !== 24) return false;
  if (key.charCodeAt(22) !== 0x3d || key.charCodeAt(23) !== 0x3d) return false;
  for (let i = 0; i < 22; i++) {
    if (!isBase64Char(key.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * `crypto.hash` (Node 20.12 and later): one call and no `Hash` object per handshake. Read from the
 * namespace, since a named import of an export that an older Node lacks fails to load.
 */
const oneShotHash = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: "base64") => string }).hash;

/** `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key + GUID)) (RFC 6455 §1.3, §4.2.2 item 5.4). */
export function computeAccept(key: string): string {
  const input = key + WEBSOCKET_GUID;
  if (oneShotHash !== undefined) return oneShotHash("sha1", input, "base64");
  return createHash("sha1").update(input).digest("base64");
}
