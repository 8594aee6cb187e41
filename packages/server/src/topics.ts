import { offer, type PreparedMessage } from "./broadcast.js";
import type { Connection } from "./connection.js";
import { DenseSet, type DenseSetMember } from "./dense-set.js";

/** Told when a topic gains its first local subscriber and loses its last (for a broker). */
export interface TopicHooks {
  first(topic: string): void;
  last(topic: string): void;
}

/** A connection's membership in one topic: what that topic's set holds. */
export class Subscription<T> implements DenseSetMember {
  denseIndex = -1;
  /** The last delivery that reached it (see `TopicRegistry.deliver`). */
  lastDelivery = 0;
  constructor(readonly conn: Connection<T>) {}
}

/**
 * Topic name → its subscribers. A publish looks up one set and walks it, so its cost is
 * O(subscribers of that topic), whatever the number of topics on the server or per connection.
 * Empty sets are dropped at once, so `topics()` lists only topics someone is in. A topic's set is
 * a `DenseSet` (dense-set.ts): a long-lived room that connections join and leave all day would
 * otherwise keep each one that left alive through the scavenges until the next full GC.
 */
export class TopicRegistry<T> {
  private readonly subscribers = new Map<string, DenseSet<Subscription<T>>>();
  /** Connection-topic pairs, over all topics. */
  subscriptions = 0;
  /** Deliveries so far, numbering each one. */
  private deliveries = 0;

  constructor(private readonly hooks: TopicHooks | null = null) {}

  /** Adds `conn`, which the caller knows is not in `topic`, and returns its membership. */
  add(topic: string, conn: Connection<T>): Subscription<T> {
    const subscription = new Subscription(conn);
    // Joining during a delivery: that delivery passes it by (it may land where the walk has yet to go).
    subscription.lastDelivery = this.deliveries;
    let set = this.subscribers.get(topic);
    const first = set === undefined;
    if (set === undefined) {
      set = new DenseSet();
      this.subscribers.set(topic, set);
    }
    set.add(subscription);
    this.subscriptions++;
    if (first) this.hooks?.first(topic);
    return subscription;
  }

  remove(topic: string, subscription: Subscription<T>): void {
    const set = this.subscribers.get(topic);
    if (set === undefined || !set.delete(subscription)) return;
    this.subscriptions--;
    if (set.size === 0) {
      this.subscribers.delete(topic);
      this.hooks?.last(topic);
    }
  }

  /**
   * Queues `message` on every subscriber of `topic` but `except`; returns on how many. Each is
   * visited once even when one's handler (an `error` listener, a diagnostics subscriber) joins or
   * leaves topics meanwhile: the walk goes from the last member to the first, a removal moves the
   * last member into the hole, and a member moved there was visited already (`lastDelivery`).
   * Who subscribes meanwhile gets the next message, not this one.
   */
  deliver(topic: string, message: PreparedMessage, compress: boolean | undefined, except: Connection<T> | undefined): number {
    const set = this.subscribers.get(topic);
    if (set === undefined) return 0;
    const delivery = ++this.deliveries;
    const members = set.members;
    let sent = 0;
    for (let i = members.length - 1; i >= 0; i--) {
      const subscription = members[i];
      if (subscription === undefined || subscription.lastDelivery === delivery) continue;
      subscription.lastDelivery = delivery;
      if (subscription.conn !== except && offer(subscription.conn, message, compress)) sent++;
    }
    return sent;
  }

  count(topic: string): number {
    return this.subscribers.get(topic)?.size ?? 0;
  }

  get topicCount(): number {
    return this.subscribers.size;
  }

  topics(): string[] {
    return [...this.subscribers.keys()];
  }
}

/** A connection's topics (`conn.topics`): a read-only set view of the names it is subscribed under. */
export class TopicNames implements ReadonlySet<string> {
  constructor(private readonly byName: ReadonlyMap<string, unknown>) {}

  get size(): number {
    return this.byName.size;
  }

  has(topic: string): boolean {
    return this.byName.has(topic);
  }

  forEach(callback: (value: string, key: string, set: ReadonlySet<string>) => void, thisArg?: unknown): void {
    for (const topic of this.byName.keys()) callback.call(thisArg, topic, topic, this);
  }

  values(): SetIterator<string> {
    return this.byName.keys();
  }

  keys(): SetIterator<string> {
    return this.byName.keys();
  }

  entries(): SetIterator<[string, string]> {
    return Array.from(this.byName.keys(), (topic): [string, string] => [topic, topic]).values();
  }

  [Symbol.iterator](): SetIterator<string> {
    return this.byName.keys();
  }
}
