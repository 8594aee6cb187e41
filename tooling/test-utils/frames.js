// A WebSocket frame encoder for tests, written independently of @ws/codec so that a bug in the
// codec's own serializer cannot hide a bug in a parser under test (and the other way round).

/**
 * Encodes one frame (RFC 6455 §5.2) as a fresh Uint8Array. `declaredLength` writes a length other
 * than the payload's (a bigint forces the 64-bit form); `lengthForm` forces a longer form than
 * needed; `mask` is the 4-byte key, or absent for an unmasked frame.
 */
export function encodeTestFrame(spec) {
  const payload = typeof spec.payload === "string" ? new TextEncoder().encode(spec.payload) : (spec.payload ?? new Uint8Array(0));
  const length = spec.declaredLength ?? payload.length;
  const form = spec.lengthForm ?? (typeof length === "bigint" ? 64 : length < 126 ? 7 : length < 65536 ? 16 : 64);
  const mask = spec.mask ?? null;
  const headerSize = 2 + (form === 16 ? 2 : form === 64 ? 8 : 0) + (mask ? 4 : 0);
  const out = new Uint8Array(headerSize + payload.length);
  const view = new DataView(out.buffer);
  out[0] =
    (spec.fin === false ? 0 : 0x80) | (spec.rsv1 ? 0x40 : 0) | (spec.rsv2 ? 0x20 : 0) | (spec.rsv3 ? 0x10 : 0) | spec.opcode;
  const maskBit = mask ? 0x80 : 0;
  let offset = 2;
  if (form === 7) out[1] = maskBit | Number(length);
  else if (form === 16) {
    out[1] = maskBit | 126;
    view.setUint16(2, Number(length));
    offset = 4;
  } else {
    out[1] = maskBit | 127;
    view.setBigUint64(2, BigInt(length));
    offset = 10;
  }
  if (mask) {
    out.set(mask, offset);
    offset += 4;
  }
  for (let i = 0; i < payload.length; i++) out[offset + i] = payload[i] ^ (mask ? mask[i & 3] : 0);
  return out;
}
