// Timeouts that all last the same time, on one timer. A server gives all its handshakes the same
// timeout, and all its closing connections the same close timeout, so their deadlines fall in the
// order they started: the next to expire is the oldest one still waiting. Starting and clearing a
// deadline then cost two array stores, not a timer object, a closure and a timer-list insertion:
// garbage that a burst of handshakes or closes would otherwise make the young generation grow for.

/**
 * The queue. Where an item keeps its slot number (so that clearing it is a store, not a search)
 * is up to the subclass: `slotOf` and `setSlot`.
 */
export abstract class DeadlineQueue<T> {
  /** The items in start order; null where one was cleared. Slot numbers never move. */
  private readonly waiting: (T | null)[] = [];
  /** When each expires, in `performance.now()` milliseconds. */
  private readonly deadlines: number[] = [];
  /** Index in `waiting` of the first entry not yet passed by the timer. */
  private next = 0;
  /** The slot number of `waiting[0]`: the entries before it were dropped. */
  private firstSlot = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly timeout: number,
    private readonly onExpired: (item: T) => void,
  ) {}

  /** The item's slot number, or -1 when it waits for no deadline. */
  protected abstract slotOf(item: T): number;
  /** Records the item's slot number; -1 once it waits no more. */
  protected abstract setSlot(item: T, slot: number): void;
  /** The item leaves the queue (cleared, or expired just before `onExpired`). */
  protected released(_item: T): void {}

  /** Starts the item's deadline; false, changing nothing, when it has one already. */
  add(item: T): boolean {
    if (this.slotOf(item) !== -1) return false;
    this.setSlot(item, this.firstSlot + this.waiting.length);
    this.waiting.push(item);
    this.deadlines.push(performance.now() + this.timeout);
    if (this.timer === null) this.arm(this.timeout);
    return true;
  }

  /** Takes the item out of the queue, if it is in it. */
  clear(item: T): void {
    const slot = this.slotOf(item);
    if (slot === -1) return;
    this.released(item);
    this.setSlot(item, -1);
    this.waiting[slot - this.firstSlot] = null;
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
        const item = waiting[i]!;
        if (item === null) continue;
        if (deadlines[i]! > now) break;
        this.clear(item);
        this.onExpired(item);
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
   * lists stay within the items of the last `timeout` and each entry is moved at most once.
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
