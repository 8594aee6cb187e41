export interface TestFrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** The 4-byte masking key; absent or null for an unmasked frame. */
  mask?: Uint8Array | null;
  /** Force the 16-bit (126) or 64-bit (127) length form even when a shorter one fits. */
  lengthForm?: 7 | 16 | 64;
  /** Declare this length instead of the payload's; a bigint forces the 64-bit form. */
  declaredLength?: number | bigint;
}

/** Encodes one frame (RFC 6455 §5.2) independently of @ws/codec, as a fresh Uint8Array. */
export function encodeTestFrame(spec: TestFrameSpec): Uint8Array;
