import { EventEmitter } from "node:events";
import { connect, type CloseInfo, type Connection, type Message, type MessageSendOptions, type SendData } from "./connection.js";
import { ClientError, ClientErrorCode } from "./errors.js";
import { parseWebSocketUrl, type ClientOptions } from "./options.js";

/** Capped exponential backoff with jitter. */
export interface ReconnectOptions {
  /** Retries after a drop or failed attempt before giving up (reset when a connection opens). Default Infinity. */
  retries?: number;
  /** Delay before the first retry, in ms. Default 500. */
  minDelay?: number;
  /** Largest delay, in ms. Default 30,000. */
  maxDelay?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Fraction (0-1) of each delay that is randomised, so clients do not retry in step. Default 0.5. */
  jitter?: number;
  /**
   * Whether to reconnect after a connection ended (not called after `close()`, which always stops).
   * Default: always.
   */
  shouldReconnect?: (info: CloseInfo) => boolean;
}

export interface ReconnectingOptions extends ClientOptions {
  reconnect?: ReconnectOptions;
}

export interface ReconnectEvent {
  /** 1 for the first retry after a drop or failure. */
  attempt: number;
  /** Milliseconds until the attempt. */
  delay: number;
  /** Why the previous attempt or connection ended. */
  reason: CloseInfo | Error;
}

export interface ReconnectingEvents {
  /** A connection opened (the first one, or after a reconnect). */
  open: [connection: Connection];
  message: [data: Message, isBinary: boolean];
  /** One connection closed; a reconnect may follow. */
  close: [info: CloseInfo];
  /** A retry is scheduled. */
  reconnecting: [event: ReconnectEvent];
  /** Emitted only when a listener is attached: a connection attempt failed. */
  error: [error: Error];
  /** No more connections: `close()` was called, retries ran out, or `shouldReconnect` said no. */
  end: [];
}

/** The delay before retry number `attempt` (0-based): min(maxDelay, minDelay·factor^attempt), jittered down. */
export function backoffDelay(attempt: number, options: ReconnectOptions = {}, random: () => number = Math.random): number {
  const minDelay = options.minDelay ?? 500;
  const maxDelay = options.maxDelay ?? 30_000;
  const factor = options.factor ?? 2;
  const jitter = Math.min(Math.max(options.jitter ?? 0.5, 0), 1);
  const base = Math.min(maxDelay, minDelay * factor ** attempt);
  return Math.round(base * (1 - jitter * random()));
}

/**
 * A connection that reconnects after drops (off unless you use this class): it keeps one
 * `Connection` open at a time, re-emitting its messages, and waits with capped exponential backoff
 * between attempts.
 */
export class ReconnectingConnection extends EventEmitter<ReconnectingEvents> {
  readonly url: URL;
  readonly #options: ReconnectingOptions;
  #connection: Connection | null = null;
  /** Retries scheduled since the last successful open. */
  #retries = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #abort: AbortController | null = null;

  constructor(url: string | URL, options: ReconnectingOptions = {}) {
    super();
    this.url = parseWebSocketUrl(url);
    this.#options = options;
    queueMicrotask(() => this.#attempt());
  }

  /** The open connection, or null between connections. */
  get connection(): Connection | null {
    return this.#connection;
  }

  /**
   * Sends on the current connection. Between connections it returns false and the message is
   * dropped (nothing is queued: resend what a new connection needs from the `open` handler); on an
   * open one, false means backpressure (the message is queued).
   */
  send(data: SendData, options?: MessageSendOptions): boolean {
    return this.#connection?.send(data, options) ?? false;
  }

  /** Stops reconnecting and closes the current connection. */
  async close(code?: number, reason?: string): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#abort?.abort();
    const connection = this.#connection;
    if (connection !== null) await connection.close(code, reason);
    else this.emit("end");
  }

  #attempt(): void {
    if (this.#stopped) return;
    const abort = new AbortController();
    this.#abort = abort;
    const { reconnect: _reconnect, signal: _signal, ...options } = this.#options;
    connect(this.url, { ...options, signal: abort.signal }).then(
      (connection) => {
        this.#abort = null;
        if (this.#stopped) {
          connection.terminate();
          return;
        }
        this.#retries = 0;
        this.#connection = connection;
        connection.on("message", (data, isBinary) => this.emit("message", data, isBinary));
        connection.on("close", (info) => {
          this.#connection = null;
          this.emit("close", info);
          if (this.#stopped) {
            this.emit("end");
            return;
          }
          const should = this.#options.reconnect?.shouldReconnect ?? (() => true);
          if (!should(info)) {
            this.#stopped = true;
            this.emit("end");
            return;
          }
          this.#schedule(info);
        });
        this.emit("open", connection);
      },
      (error: Error) => {
        this.#abort = null;
        if (this.#stopped) return;
        if (this.listenerCount("error") > 0) this.emit("error", error);
        this.#schedule(error);
      },
    );
  }

  #schedule(reason: CloseInfo | Error): void {
    const options = this.#options.reconnect ?? {};
    const retries = options.retries ?? Infinity;
    if (this.#retries >= retries) {
      this.#stopped = true;
      if (this.listenerCount("error") > 0) {
        this.emit("error", new ClientError(ClientErrorCode.ConnectionFailed, `gave up after ${this.#retries} retries`));
      }
      this.emit("end");
      return;
    }
    const delay = backoffDelay(this.#retries, options);
    this.#retries++;
    this.emit("reconnecting", { attempt: this.#retries, delay, reason });
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#attempt();
    }, delay);
  }
}

/** Opens a connection that reconnects with backoff when it drops. */
export function reconnecting(url: string | URL, options?: ReconnectingOptions): ReconnectingConnection {
  return new ReconnectingConnection(url, options);
}
