import type { Duplex } from "node:stream";

/** Buffers what a socket receives and hands it out in exact pieces. */
export class SocketReader {
  constructor(socket: Duplex);
  readonly socket: Duplex;
  /** Resolves once the socket closed. */
  readonly closed: Promise<void>;
  /** Bytes received and not taken yet. */
  get buffered(): number;
  /** The peer ended, or the socket failed or closed. */
  get ended(): boolean;
  /** Waits until `n` bytes are buffered: true, or false at EOF; rejects past `deadline` (ms epoch). */
  need(n: number, deadline?: number): Promise<boolean>;
  /** Takes exactly `n` buffered bytes (call `need(n)` first). */
  take(n: number): Buffer;
  /** The bytes before `delimiter` (which is consumed), or null at EOF; rejects past `deadline`. */
  readUntil(delimiter: string | Uint8Array, deadline?: number): Promise<Buffer | null>;
  /** Everything until EOF; rejects past `deadline`. */
  readAll(deadline?: number): Promise<Buffer>;
  /** Waits for EOF; rejects past `deadline`. */
  waitEnded(deadline?: number): Promise<void>;
}

export interface TestFrameRead {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  /** The 4-byte key, empty when unmasked. */
  maskKey: Buffer;
  /** Unmasked. */
  payload: Buffer;
}

/**
 * Reads one frame (RFC 6455 §5.2) and unmasks its payload. Resolves to null when the socket ends
 * before a whole frame; rejects past `deadline`.
 */
export function readTestFrame(reader: SocketReader, deadline?: number): Promise<TestFrameRead | null>;
