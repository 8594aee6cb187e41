import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Compares a secret the peer sent (a token, a password) with the expected one in constant time
 * (SECURITY.md row 11: `===` leaks, through timing, how many leading characters matched). Both
 * sides are hashed first so that their lengths do not leak either and `timingSafeEqual` always
 * gets equal-length inputs.
 */
export function safeEqual(received: string | Uint8Array, expected: string | Uint8Array): boolean {
  const a = createHash("sha256").update(received).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}
