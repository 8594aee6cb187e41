import { Opcode, encodeFrame } from "@ws/codec";
import { deflateStandalone, type StandaloneDeflateSettings } from "@ws/codec/deflate";
import { toBytes, type Connection, type SendData } from "./connection.js";

/**
 * A message framed once and sent to many connections (the frame header is shared, the payload is
 * never copied). It is also compressed once per distinct zlib setting for the connections that
 * compress without context takeover (`perMessageDeflate: { serverNoContextTakeover: true }`);
 * connections with context takeover compress it themselves, since each one's window differs.
 */
export class PreparedMessage {
  readonly payload: Uint8Array;
  readonly isBinary: boolean;
  private chunks: Uint8Array[] | null = null;
  private readonly compressed = new Map<string, Uint8Array[]>();

  constructor(data: SendData, options?: { binary?: boolean }) {
    this.payload = toBytes(data);
    this.isBinary = options?.binary ?? typeof data !== "string";
  }

  /** The unmasked, uncompressed frame (RFC 6455 §5.2: server frames are never masked). */
  frame(): Uint8Array[] {
    let chunks = this.chunks;
    if (chunks === null) {
      chunks = encodeFrame(this.isBinary ? Opcode.Binary : Opcode.Text, this.payload, { fin: true, rsv1: false, mask: false });
      this.chunks = chunks;
    }
    return chunks;
  }

  /** The frame compressed from an empty window with `settings` (RSV1 set, RFC 7692 §6). */
  compressedFrame(settings: StandaloneDeflateSettings): Uint8Array[] {
    const key = `${settings.windowBits}:${settings.level}:${settings.memLevel}`;
    let chunks = this.compressed.get(key);
    if (chunks === undefined) {
      const opcode = this.isBinary ? Opcode.Binary : Opcode.Text;
      chunks = encodeFrame(opcode, deflateStandalone(this.payload, settings), { fin: true, rsv1: true, mask: false });
      this.compressed.set(key, chunks);
    }
    return chunks;
  }
}

export interface BroadcastOptions<T> {
  /** A connection (usually the sender) or set of connections to skip. */
  except?: Connection<T> | ReadonlySet<Connection<T>>;
  /** Only connections for which this returns true. */
  filter?: (conn: Connection<T>) => boolean;
  binary?: boolean;
  /**
   * Compress where permessage-deflate was negotiated: true even below its threshold, false never.
   * Default: at least the threshold. Done once per distinct zlib setting, as `PreparedMessage` says.
   */
  compress?: boolean;
}

export interface BroadcastResult {
  /** Connections the message was queued on. */
  sent: number;
  /** Connections that were closing, or whose send was refused by backpressure limits. */
  skipped: number;
}

/** Sends one message to every open connection in `clients` that passes `options`. */
export function broadcast<T>(
  clients: Iterable<Connection<T>>,
  data: SendData | PreparedMessage,
  options?: BroadcastOptions<T>,
): BroadcastResult {
  const message = data instanceof PreparedMessage ? data : new PreparedMessage(data, options);
  const except = options?.except;
  const filter = options?.filter;
  const compress = options?.compress;
  // A set of connections to skip (a `Set`, `server.clients` or any other read-only set), or one.
  const skipSet = except !== undefined && typeof (except as ReadonlySet<Connection<T>>).has === "function" ? (except as ReadonlySet<Connection<T>>) : undefined;
  let sent = 0;
  let skipped = 0;
  for (const conn of clients) {
    if (except !== undefined && (except === conn || skipSet?.has(conn) === true)) continue;
    if (filter !== undefined && !filter(conn)) continue;
    if (offer(conn, message, compress)) sent++;
    else skipped++;
  }
  return { sent, skipped };
}

/** Queues `message` on `conn`; false when it is closing or refused it (backpressure). */
export function offer<T>(conn: Connection<T>, message: PreparedMessage, compress: boolean | undefined): boolean {
  if (conn.readyState !== 1) return false;
  try {
    conn.sendPrepared(message, compress);
    return conn.readyState === 1;
  } catch {
    // backpressure: "reject" refused it for this slow connection; the others still get it.
    return false;
  }
}
