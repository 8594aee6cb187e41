// The handshake timeouts of one server (SECURITY.md row 14: a client that never finishes its
// handshake must not hold a socket for ever). One timer serves every waiting handshake instead of a
// `setTimeout` per handshake: a server gives all its handshakes the same timeout, so their deadlines
// fall in the order they started, and the next to expire is the oldest one still waiting. Starting
// and finishing a handshake then cost two array stores, not a timer object, a closure and a
// timer-list insertion: garbage that a burst of handshakes would otherwise make the young
// generation grow for.

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

export class HandshakeDeadlines<S extends DeadlineTransport> {
  /**
   * A `close` listener that takes its emitter out of the queue: one function per queue, so that
   * watching a transport allocates nothing.
   */
  private readonly clearOnClose: (this: S) => void;
  /** The transports in start order; null where one finished. Slot numbers never move. */
  private readonly waiting: (S | null)[] = [];
  /** When each expires, in `performance.now()` milliseconds. */
  private readonly deadlines: number[] = [];
  /** Index in `waiting` of the first entry not yet passed by the timer. */
  private next = 0;
  /** The slot number of `waiting[0]`: the entries before it were dropped. */
  private firstSlot = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly timeout: number,
    private readonly onExpired: (transport: S) => void,
  ) {
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
    const entry = transport as S & Entry;
    if (entry[kSlot] !== undefined) return;
    entry[kSlot] = (this.firstSlot + this.waiting.length) * 2 + (watchClose ? 1 : 0);
    if (watchClose) transport.on("close", this.clearOnClose);
    this.waiting.push(transport);
    this.deadlines.push(performance.now() + this.timeout);
    if (this.timer === null) this.arm(this.timeout);
  }

  /** Watches a waiting transport's `close` from now on (a handshake that waits for the hook). */
  watchClose(transport: S): void {
    const entry = transport as S & Entry;
    const value = entry[kSlot];
    if (value === undefined || value % 2 === 1) return;
    entry[kSlot] = value + 1;
    transport.on("close", this.clearOnClose);
  }

  /** Takes the transport out of the queue: its handshake finished or failed. */
  clear(transport: S): void {
    const entry = transport as S & Entry;
    const value = entry[kSlot];
    if (value === undefined) return;
    entry[kSlot] = undefined;
    if (value % 2 === 1) transport.off("close", this.clearOnClose);
    this.waiting[Math.floor(value / 2) - this.firstSlot] = null;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(this.expire, ms);
    this.timer.unref();
  }

  private readonly expire = (): void => {
    this.timer = null;
    const { waiting, deadlines } = this;
    const now = performance.now();
    let i = this.next;
    try {
      for (; i < waiting.length; i++) {
        const transport = waiting[i]!;
        if (transport === null) continue;
        if (deadlines[i]! > now) break;
        this.clear(transport);
        this.onExpired(transport);
      }
    } finally {
      // Even when a listener of the expiry throws, the queue goes on.
      this.next = i;
      this.compact();
      // The timer's clock may run a little behind `performance.now()`: never re-arm for 0.
      if (this.timer === null && this.next < waiting.length) this.arm(Math.max(1, Math.ceil(deadlines[this.next]! - now)));
    }
  };

  /**
   * Drops the entries the timer passed once they are at least half of the list, so that the
   * lists stay within the handshakes of the last `timeout` and each entry is moved at most once.
   */
  private compact(): void {
    const passed = this.next;
    if (passed === 0 || passed * 2 < this.waiting.length) return;
    this.waiting.splice(0, passed);
    this.deadlines.splice(0, passed);
    this.firstSlot += passed;
    this.next = 0;
  }
}
