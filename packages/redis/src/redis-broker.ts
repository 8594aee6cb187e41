import { Redis, type RedisOptions } from "ioredis";
import type { Broker } from "@ws/server";
import { backoff, type BackoffOptions } from "./backoff.js";

export interface RedisBrokerOptions {
  /** `redis://` or `rediss://` URL. Either this or `client`. */
  url?: string;
  /**
   * A connected ioredis client to reuse for publishing; the subscribing connection is its
   * `duplicate()`. The broker never closes a client it was given.
   */
  client?: Redis;
  /** Prepended to every topic to make the Redis channel name, so several apps can share a Redis. Default "ws:". */
  prefix?: string;
  /** Reconnect delays, for the connections the broker opens. */
  reconnect?: BackoffOptions;
  /** More ioredis options for the connections the broker opens (TLS, password…). */
  redisOptions?: RedisOptions;
}

/**
 * Shares `@ws/server` topics through Redis pub/sub on two connections per process, one publishing
 * and one subscribing (a subscribed Redis connection can do nothing else), whatever the number of
 * topics. See the README for what is guaranteed while Redis is away.
 */
export class RedisBroker implements Broker {
  /**
   * Messages not sent to Redis because the publishing connection was down, and messages in flight
   * when it went down (which may or may not have reached Redis): at-most-once.
   */
  dropped = 0;
  /** Publishes written to the current publishing connection and not answered yet. */
  private inFlight = 0;
  /** Bumped when the publishing connection goes down: answers for older publishes no longer count. */
  private connectionGeneration = 0;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly ownsPublisher: boolean;
  private readonly prefix: string;
  private readonly listeners = new Map<string, (message: Uint8Array) => void>();
  private readonly errorListeners: Array<(error: Error) => void> = [];
  private closed = false;

  /** @internal Use `createRedisBroker`, which waits until both connections are ready. */
  constructor(options: RedisBrokerOptions) {
    this.prefix = options.prefix ?? "ws:";
    const retryStrategy = backoff(options.reconnect);
    if (options.client !== undefined) {
      this.publisher = options.client;
      this.ownsPublisher = false;
    } else if (options.url !== undefined) {
      // No offline queue: a publish while Redis is away is dropped now, not sent late and out of
      // step with what other servers saw. Nor are unanswered publishes re-sent after a reconnect:
      // Redis may have run them before it went away, and a re-send would deliver them twice.
      this.publisher = new Redis(options.url, {
        ...options.redisOptions,
        retryStrategy,
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        lazyConnect: true,
      });
      this.ownsPublisher = true;
    } else {
      throw new TypeError("createRedisBroker needs `url` or `client`");
    }
    // The subscriber queues SUBSCRIBE/UNSUBSCRIBE while away; on reconnect ioredis re-subscribes
    // what Redis had confirmed, then re-sends what was unanswered, then the queue, so the channel
    // set catches up by itself (a SUBSCRIBE in flight when Redis went away is not lost).
    this.subscriber = this.publisher.duplicate({
      ...(options.client === undefined ? options.redisOptions : {}),
      retryStrategy,
      autoResubscribe: true,
      autoResendUnfulfilledCommands: true,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      lazyConnect: true,
    });
    this.subscriber.on("messageBuffer", this.onMessage);
    this.publisher.on("close", () => {
      // What was in flight is lost or was delivered; either way it is never sent again.
      this.dropped += this.inFlight;
      this.inFlight = 0;
      this.connectionGeneration++;
    });
    for (const [name, connection] of [["publishing", this.publisher], ["subscribing", this.subscriber]] as const) {
      // An ioredis 'error' with no listener would crash the process; report it instead.
      connection.on("error", (error: Error) => this.report(new Error(`Redis ${name} connection: ${error.message}`, { cause: error })));
      connection.on("close", () => {
        if (!this.closed) this.report(new Error(`Redis ${name} connection lost; reconnecting`));
      });
    }
  }

  /** @internal */
  async connect(): Promise<void> {
    const connections = this.ownsPublisher ? [this.publisher, this.subscriber] : [this.subscriber];
    await Promise.all(connections.map((connection) => connection.connect()));
  }

  publish(channel: string, message: Uint8Array): Promise<void> {
    if (this.closed || this.publisher.status !== "ready") {
      this.dropped++;
      return Promise.resolve();
    }
    const bytes = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    const generation = this.connectionGeneration;
    this.inFlight++;
    return this.publisher.publish(this.prefix + channel, bytes).then(
      () => {
        if (generation === this.connectionGeneration) this.inFlight--;
      },
      (error: Error) => {
        if (generation === this.connectionGeneration) {
          this.inFlight--;
          this.dropped++;
        }
        throw error;
      },
    );
  }

  async subscribe(channel: string, onMessage: (message: Uint8Array) => void): Promise<void> {
    if (this.closed) return;
    this.listeners.set(this.prefix + channel, onMessage);
    await this.subscriber.subscribe(this.prefix + channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    if (this.closed) return;
    this.listeners.delete(this.prefix + channel);
    await this.subscriber.unsubscribe(this.prefix + channel);
  }

  onError(listener: (error: Error) => void): void {
    this.errorListeners.push(listener);
  }

  /** Closes the connections the broker opened (not a `client` it was given). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    const connections = this.ownsPublisher ? [this.subscriber, this.publisher] : [this.subscriber];
    await Promise.all(connections.map((connection) => (connection.status === "ready" ? connection.quit().then(noop, () => connection.disconnect()) : connection.disconnect())));
  }

  private readonly onMessage = (channel: Buffer, message: Buffer): void => {
    this.listeners.get(channel.toString("utf8"))?.(message);
  };

  private report(error: Error): void {
    for (const listener of this.errorListeners) listener(error);
  }
}

/**
 * Connects to Redis and resolves once both connections are ready; pass the result as
 * `createServer({ broker })`. Rejects (and closes what it opened) when Redis cannot be reached.
 *
 * ```ts
 * const broker = await createRedisBroker({ url: "redis://127.0.0.1:6379" });
 * const server = await createServer({ port: 8080, broker });
 * ```
 */
export async function createRedisBroker(options: RedisBrokerOptions): Promise<RedisBroker> {
  const broker = new RedisBroker(options);
  try {
    await broker.connect();
  } catch (error) {
    await broker.close();
    throw error;
  }
  return broker;
}

function noop(): void {}
