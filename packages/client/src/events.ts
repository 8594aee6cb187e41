/**
 * The DOM event classes the WHATWG `WebSocket` fires. Node 20 has `Event`, `EventTarget` and
 * `MessageEvent` as globals but not `CloseEvent` or `ErrorEvent`, so those two are defined here
 * with the shape WebIDL gives them (enumerable getters on the prototype, `[object CloseEvent]`).
 */
import type { WebSocketError } from "@ws/codec";
import type { ClientError } from "./errors.js";

/** The DOM `EventInit` dictionary (not among @types/node's globals). */
export interface EventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

export interface CloseEventInit extends EventInit {
  code?: number;
  reason?: string;
  wasClean?: boolean;
}

/** `close` events: `code`, `reason` and `wasClean` (WHATWG WebSockets §4, the CloseEvent interface). */
export class CloseEvent extends Event {
  readonly #code: number;
  readonly #reason: string;
  readonly #wasClean: boolean;

  constructor(type: string, init?: CloseEventInit) {
    if (arguments.length === 0) throw new TypeError("CloseEvent: the type argument is required");
    super(type, init);
    // WebIDL dictionary members: boolean, unsigned short (modulo 2^16), USVString.
    this.#wasClean = Boolean(init?.wasClean);
    this.#code = init?.code === undefined ? 0 : toUnsignedShort(init.code);
    this.#reason = init?.reason === undefined ? "" : toUSVString(init.reason);
  }

  get wasClean(): boolean {
    return this.#wasClean;
  }

  get code(): number {
    return this.#code;
  }

  get reason(): string {
    return this.#reason;
  }
}

/** What failed the connection: a protocol error (`WebSocketError`) or a client error (`ClientError`). */
export type ConnectionFailure = ClientError | WebSocketError;

export interface ErrorEventInit extends EventInit {
  message?: string;
  error?: ConnectionFailure;
}

/** `error` events. Browsers fire a plain `Event`; this subclass also carries the cause. */
export class ErrorEvent extends Event {
  readonly #message: string;
  readonly #error: ConnectionFailure | undefined;

  constructor(type: string, init?: ErrorEventInit) {
    if (arguments.length === 0) throw new TypeError("ErrorEvent: the type argument is required");
    super(type, init);
    this.#message = init?.message === undefined ? "" : toDOMString(init.message);
    this.#error = init?.error;
  }

  get message(): string {
    return this.#message;
  }

  /** The `ClientError` or `WebSocketError` that failed the connection (a Node extension). */
  get error(): ConnectionFailure | undefined {
    return this.#error;
  }
}

/**
 * `message` events: Node 20's global `MessageEvent` (so `instanceof MessageEvent` holds with either),
 * reporting itself as `[object MessageEvent]` as in browsers.
 */
export class MessageEvent<T = unknown> extends globalThis.MessageEvent<T> {}

for (const [constructor, name] of [
  [CloseEvent, "CloseEvent"],
  [ErrorEvent, "ErrorEvent"],
  [MessageEvent, "MessageEvent"],
] as const) {
  webIdlShape(constructor, name, 1);
}

/**
 * Gives a class the shape WebIDL interfaces have: enumerable attributes and operations on the
 * prototype, `Symbol.toStringTag` and the constructor's `length` (its required arguments).
 */
export function webIdlShape(constructor: abstract new (...args: never[]) => unknown, name: string, length: number): void {
  const prototype = constructor.prototype as object;
  for (const key of Object.getOwnPropertyNames(prototype)) {
    if (key === "constructor") continue;
    const descriptor = Object.getOwnPropertyDescriptor(prototype, key)!;
    Object.defineProperty(prototype, key, { ...descriptor, enumerable: true });
  }
  Object.defineProperty(prototype, Symbol.toStringTag, { value: name, configurable: true });
  Object.defineProperty(constructor, "length", { value: length, configurable: true });
}

/** WebIDL `unsigned short` without [Clamp] or [EnforceRange]: ToNumber, truncate, modulo 2^16. */
function toUnsignedShort(value: unknown): number {
  const number = Number(value);
  if (!Number.isFinite(number)) return 0;
  const truncated = Math.trunc(number);
  return ((truncated % 65536) + 65536) % 65536;
}

/** WebIDL DOMString: ToString, which throws a TypeError for a Symbol (String() would not). */
export function toDOMString(value: unknown): string {
  return `${value as string}`;
}

/**
 * The close code and reason rules that `WebSocket.close()` and `WebSocketStream`'s close info share
 * (WHATWG WebSockets, "validate close code and reason"): a code is 1000 or 3000-4999, a reason at
 * most 123 UTF-8 bytes. Each caller converts its arguments first (WebIDL [Clamp] for one,
 * [EnforceRange] for the other).
 */
export function assertCloseCodeAndReason(code: number | undefined, reason: string | undefined): void {
  if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) {
    throw new DOMException(`close code must be 1000 or 3000-4999, got ${code}`, "InvalidAccessError");
  }
  if (reason !== undefined && Buffer.byteLength(reason) > 123) {
    throw new DOMException("close reason must be at most 123 UTF-8 bytes", "SyntaxError");
  }
}

/** WebIDL USVString: a DOMString whose lone surrogates become U+FFFD. */
export function toUSVString(value: unknown): string {
  return Buffer.from(toDOMString(value), "utf8").toString("utf8");
}
