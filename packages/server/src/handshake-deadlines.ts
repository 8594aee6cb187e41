// The handshake timeouts of one server (SECURITY.md row 14: a client that never finishes its
// handshake must not hold a socket for ever), on one timer (see `DeadlineQueue`).
import { DeadlineQueue } from "./deadline-queue.js";

const kSlot = Symbol("handshakeSlot");

/**
 * What the queue keeps on a transport: its slot number, doubled, plus 1 when `close` is watched. A
 * property, not a map keyed by the transport: an HTTP/2 session's `socket` is a Proxy of the TLS
 * socket whose handshake timer started at accept, and only property access goes through it.
 */
type Entry = { [kSlot]?: number | undefined };

/** The least that a transport in the queue must offer. */
export interface DeadlineTransport {
  on(event: "close", listener: () => void): unknown;
  off(event: "close", listener: () => void): unknown;
}

export class HandshakeDeadlines<S extends DeadlineTransport> extends DeadlineQueue<S> {
  /**
   * A `close` listener that takes its emitter out of the queue: one function per queue, so that
   * watching a transport allocates nothing.
   */
  private readonly clearOnClose: (this: S) => void;

  constructor(timeout: number, onExpired: (transport: S) => void) {
    super(timeout, onExpired);
    const clear = (transport: S): void => this.clear(transport);
    this.clearOnClose = function (this: S): void {
      clear(this);
    };
  }

  /**
   * Starts the transport's deadline, unless it has one. `watchClose`: take it out of the queue
   * when it closes (a caller that sees the close itself, or finishes in this tick, need not).
   */
  start(transport: S, watchClose: boolean): void {
    if (this.add(transport) && watchClose) this.watchClose(transport);
  }

  /** Watches a waiting transport's `close` from now on (a handshake that waits for the hook). */
  watchClose(transport: S): void {
    const entry = transport as S & Entry;
    const value = entry[kSlot];
    if (value === undefined || value % 2 === 1) return;
    entry[kSlot] = value + 1;
    transport.on("close", this.clearOnClose);
  }

  protected slotOf(transport: S): number {
    const value = (transport as S & Entry)[kSlot];
    return value === undefined ? -1 : Math.floor(value / 2);
  }

  protected setSlot(transport: S, slot: number): void {
    (transport as S & Entry)[kSlot] = slot === -1 ? undefined : slot * 2;
  }

  protected override released(transport: S): void {
    if ((transport as S & Entry)[kSlot]! % 2 === 1) transport.off("close", this.clearOnClose);
  }
}
