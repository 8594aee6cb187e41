import type { Connection } from "./connection.js";

/** Told when a topic gains its first local subscriber and loses its last (for a broker). */
export interface TopicHooks {
  first(topic: string): void;
  last(topic: string): void;
}

/**
 * Topic name → its subscribers. A publish looks up one set and walks it, so its cost is
 * O(subscribers of that topic), whatever the number of topics on the server or per connection.
 * Empty sets are dropped at once, so `topics()` lists only topics someone is in.
 */
export class TopicRegistry<T> {
  private readonly subscribers = new Map<string, Set<Connection<T>>>();
  /** Connection-topic pairs, over all topics. */
  subscriptions = 0;

  constructor(private readonly hooks: TopicHooks | null = null) {}

  add(topic: string, conn: Connection<T>): void {
    let set = this.subscribers.get(topic);
    if (set === undefined) {
      set = new Set();
      this.subscribers.set(topic, set);
      set.add(conn);
      this.subscriptions++;
      this.hooks?.first(topic);
      return;
    }
    const before = set.size;
    set.add(conn);
    this.subscriptions += set.size - before;
  }

  remove(topic: string, conn: Connection<T>): void {
    const set = this.subscribers.get(topic);
    if (set === undefined || !set.delete(conn)) return;
    this.subscriptions--;
    if (set.size === 0) {
      this.subscribers.delete(topic);
      this.hooks?.last(topic);
    }
  }

  subscribersOf(topic: string): ReadonlySet<Connection<T>> | undefined {
    return this.subscribers.get(topic);
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
