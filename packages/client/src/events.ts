/**
 * The DOM event classes the WHATWG `WebSocket` fires. Node 20 has `Event`, `EventTarget` and
 * `MessageEvent` as globals but not `CloseEvent` or `ErrorEvent`, so those two are defined here
 * (the global ones are used when a later Node provides them).
 */

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

class CloseEventPolyfill extends Event {
  readonly #code: number;
  readonly #reason: string;
  readonly #wasClean: boolean;

  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.#code = init.code ?? 0;
    this.#reason = init.reason ?? "";
    this.#wasClean = init.wasClean ?? false;
  }

  get code(): number {
    return this.#code;
  }

  get reason(): string {
    return this.#reason;
  }

  get wasClean(): boolean {
    return this.#wasClean;
  }
}

export interface ErrorEventInit extends EventInit {
  message?: string;
  error?: unknown;
}

class ErrorEventPolyfill extends Event {
  readonly #message: string;
  readonly #error: unknown;

  constructor(type: string, init: ErrorEventInit = {}) {
    super(type, init);
    this.#message = init.message ?? "";
    this.#error = init.error;
  }

  get message(): string {
    return this.#message;
  }

  /** The `ClientError` or `WebSocketError` that failed the connection (a Node extension). */
  get error(): unknown {
    return this.#error;
  }
}

type CloseEventClass = typeof CloseEventPolyfill;
type ErrorEventClass = typeof ErrorEventPolyfill;

const globals = globalThis as { CloseEvent?: CloseEventClass; ErrorEvent?: ErrorEventClass };

/** `close` events: `code`, `reason` and `wasClean` (WHATWG HTML §9.3.5). */
export const CloseEvent: CloseEventClass = globals.CloseEvent ?? CloseEventPolyfill;
export type CloseEvent = CloseEventPolyfill;

/** `error` events. Browsers fire a plain `Event`; this subclass also carries the cause. */
export const ErrorEvent: ErrorEventClass = globals.ErrorEvent ?? ErrorEventPolyfill;
export type ErrorEvent = ErrorEventPolyfill;

/** Node 20's global `MessageEvent` (`data`, `origin`). */
export const MessageEvent: typeof globalThis.MessageEvent = globalThis.MessageEvent;
export type MessageEvent = globalThis.MessageEvent;
