import { types } from "node:util";
import { Connection, unsentAtServerClose, type CloseInfo, type Message } from "./connection.js";
import { ClientError, ClientErrorCode } from "./errors.js";
import { assertCloseCodeAndReason, toUSVString } from "./events.js";
import { openHandshake } from "./handshake.js";
import { parseWebSocketUrl, protocolListProblem, resolveOptions, type ClientOptions } from "./options.js";

/** What the writable side accepts (the DOM's BufferSource, which Node's types lack). */
export type BufferSource = ArrayBuffer | ArrayBufferView;

export interface WebSocketStreamOptions {
  /** Subprotocols to offer. */
  protocols?: string[];
  /** Aborts the opening handshake. */
  signal?: AbortSignal;
  /** Node-only: any other client option (headers, TLS, limits, heartbeat...). */
  client?: Omit<ClientOptions, "protocols" | "signal">;
}

export interface WebSocketOpenInfo {
  readable: ReadableStream<string | Uint8Array>;
  writable: WritableStream<string | BufferSource>;
  extensions: string;
  protocol: string;
}

export interface WebSocketCloseInfo {
  closeCode?: number;
  reason?: string;
}

/** Sets the fields of a WebSocketStreamError without the constructor's checks (for 1006, which it refuses). */
let setCloseFields: (error: WebSocketStreamError, closeCode: number | null, reason: string) => void;

/**
 * The standard's `WebSocketError` (its `name`; exported under another name because the package's
 * `WebSocketError` is the protocol error). What `closed` rejects with, and the streams error with,
 * when the connection did not close cleanly; passed to `writable.abort()` or `readable.cancel()`,
 * its `closeCode` and `reason` are what the connection closes with.
 */
export class WebSocketStreamError extends DOMException {
  #closeCode: number | null = null;
  #reason = "";

  /** Throws like `close()`: InvalidAccessError for a code not 1000 or 3000-4999, SyntaxError for a reason over 123 bytes. */
  constructor(message: string = "", init: WebSocketCloseInfo | null = {}) {
    super(message, "WebSocketError");
    const { code, reason } = checkCloseInfo(init);
    this.#closeCode = code ?? null;
    this.#reason = reason ?? "";
  }

  get closeCode(): number | null {
    return this.#closeCode;
  }

  get reason(): string {
    return this.#reason;
  }

  static {
    setCloseFields = (error, closeCode, reason) => {
      error.#closeCode = closeCode;
      error.#reason = reason;
    };
  }
}

/** A WebSocketStreamError the way the standard makes one internally: any code, e.g. 1006, and a cause. */
function webSocketError(message: string, closeCode: number, reason: string, cause?: unknown): WebSocketStreamError {
  const error = new WebSocketStreamError(message);
  setCloseFields(error, closeCode, reason);
  if (cause !== undefined) Object.defineProperty(error, "cause", { value: cause, configurable: true, writable: true });
  return error;
}

/**
 * The WHATWG `WebSocketStream` (as Chromium and Deno ship it), on the same engine as `connect()`.
 * The readable side pulls: while nothing reads it, the socket stops reading and TCP pushes back on
 * the server. The writable side waits for the send buffer to drain below `highWaterMark`.
 */
export class WebSocketStream {
  readonly #url: string;
  readonly opened: Promise<WebSocketOpenInfo>;
  readonly closed: Promise<WebSocketCloseInfo>;
  #connection: Connection | null = null;
  #abortHandshake: ((reason: Error) => void) | null = null;
  #closeRequested: { code?: number; reason?: string } | null = null;

  constructor(url: string | URL, options?: WebSocketStreamOptions | null) {
    // WebIDL: a missing required argument is a TypeError (an explicit undefined is the URL "undefined").
    if (arguments.length === 0) throw new TypeError("WebSocketStream needs a URL");
    const init = dictionary(options, "the WebSocketStream options") as WebSocketStreamOptions;
    let target: URL;
    try {
      target = parseWebSocketUrl(url);
    } catch (error) {
      throw new DOMException((error as Error).message, "SyntaxError");
    }
    const protocols = init.protocols === undefined ? [] : stringSequence(init.protocols, "protocols");
    const problem = protocolListProblem(protocols);
    if (problem !== null) throw new DOMException(problem, "SyntaxError");
    this.#url = target.href;

    let resolveOpened!: (info: WebSocketOpenInfo) => void;
    let rejectOpened!: (error: unknown) => void;
    let resolveClosed!: (info: WebSocketCloseInfo) => void;
    let rejectClosed!: (error: unknown) => void;
    this.opened = new Promise((resolve, reject) => {
      resolveOpened = resolve;
      rejectOpened = reject;
    });
    this.closed = new Promise((resolve, reject) => {
      resolveClosed = resolve;
      rejectClosed = reject;
    });
    // Unhandled rejections of these are the caller's choice, not a crash.
    this.opened.catch(() => {});
    this.closed.catch(() => {});

    const signal = init.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError("signal must be an AbortSignal");
    const failOpen = (error: unknown): void => {
      rejectOpened(error);
      rejectClosed(error);
    };
    if (signal?.aborted) {
      failOpen(abortError(signal));
      return;
    }
    const resolved = resolveOptions({ ...init.client, protocols });
    const pending = openHandshake(target, resolved);
    this.#abortHandshake = (reason) => pending.abort(reason);
    const onAbort = (): void => pending.abort(new ClientError(ClientErrorCode.Aborted, "the handshake was aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
    pending.promise.then(
      (handshake) => {
        signal?.removeEventListener("abort", onAbort);
        this.#abortHandshake = null;
        const connection = new Connection(handshake, resolved);
        this.#connection = connection;
        const { readable, writable, finish } = this.#streams(connection, resolved.highWaterMark);
        connection.closed.then((info) => {
          // One error, made once: the standard errors both streams and rejects closed with the same object.
          const error = info.wasClean ? null : closeError(info);
          finish(error);
          if (error === null) resolveClosed({ closeCode: info.code, reason: info.reason });
          else rejectClosed(error);
        }, rejectClosed);
        resolveOpened({ readable, writable, extensions: connection.extensions, protocol: connection.protocol });
        const requested = this.#closeRequested;
        if (requested !== null) void connection.close(requested.code, requested.reason);
        // Reading starts in a later task, as in browsers: the code after `await opened` runs before
        // any frame that came with the 101 (a close frame among them) is handled.
        setImmediate(() => connection.start());
      },
      (error: Error) => {
        signal?.removeEventListener("abort", onAbort);
        this.#abortHandshake = null;
        if (signal?.aborted) failOpen(abortError(signal));
        else failOpen(webSocketError(`the WebSocket connection could not be established: ${error.message}`, 1006, "", error));
      },
    );
  }

  get url(): string {
    return this.#url;
  }

  /**
   * Starts the closing handshake with `closeCode` (1000 or 3000-4999) and `reason` (at most 123
   * UTF-8 bytes); before the connection opened, fails the handshake.
   */
  close(closeInfo?: WebSocketCloseInfo | null): void {
    const { code, reason } = checkCloseInfo(closeInfo);
    const connection = this.#connection;
    if (connection !== null) {
      void connection.close(code, reason);
      return;
    }
    if (this.#abortHandshake !== null) {
      this.#closeRequested = { code, reason };
      this.#abortHandshake(new ClientError(ClientErrorCode.Aborted, "close() was called before the connection opened"));
    }
  }

  /** The two streams, and `finish(error)` for when the connection closed (cleanly when `error` is null). */
  #streams(
    connection: Connection,
    highWaterMark: number,
  ): Pick<WebSocketOpenInfo, "readable" | "writable"> & { finish(error: WebSocketStreamError | null): void } {
    let controller!: ReadableStreamDefaultController<string | Uint8Array>;
    const readable = new ReadableStream<string | Uint8Array>(
      {
        start(c) {
          controller = c;
        },
        // A pull means the queue has room again: read from the socket.
        pull() {
          connection.setReadPaused(false);
        },
        cancel(reason) {
          const { code, reason: text } = closeInfoFromReason(reason);
          void connection.close(code, text);
        },
      },
      { highWaterMark: 1 },
    );
    const onMessage = (data: Message, isBinary: boolean): void => {
      controller.enqueue(isBinary ? new Uint8Array((data as Buffer).buffer, (data as Buffer).byteOffset, data.length) : data);
      // The queue is full: stop reading, so TCP pushes back on the server.
      if ((controller.desiredSize ?? 0) <= 0) connection.setReadPaused(true);
    };
    connection.on("message", onMessage);
    connection.setReadPaused(true);
    let writableController!: WritableStreamDefaultController;
    const writable = new WritableStream<string | BufferSource>({
      start(c) {
        writableController = c;
      },
      async write(chunk) {
        if (connection.readyState !== Connection.OPEN) throw new DOMException("the connection is closing", "InvalidStateError");
        if (typeof chunk === "string") connection.send(chunk);
        // Copied: the caller may reuse its buffer once the write resolved.
        else connection.send(Buffer.from(bufferSourceBytes(chunk)), { binary: true });
        if (connection.bufferedAmount >= highWaterMark) await connection.drain();
        // The server closed while this chunk still waited for the network: it may never read it.
        if (connection[unsentAtServerClose]) throw new DOMException("the connection closed before this chunk was sent", "InvalidStateError");
      },
      // Resolves once the closing handshake is over (the standard: not when the close frame is queued).
      async close() {
        await connection.close();
      },
      abort(reason) {
        const { code, reason: text } = closeInfoFromReason(reason);
        void connection.close(code, text);
      },
    });
    const finish = (error: WebSocketStreamError | null): void => {
      connection.off("message", onMessage);
      try {
        if (error === null) controller.close();
        else controller.error(error);
      } catch {
        // Already cancelled.
      }
      // After a clean close nothing can be sent any more: writes and `ready` reject, as the standard
      // says, with an InvalidStateError. (A no-op when the writable was closed or aborted already.)
      writableController.error(error ?? new DOMException("the WebSocketStream is closed", "InvalidStateError"));
    };
    return { readable, writable, finish };
  }
}

/**
 * The bytes of a WebIDL BufferSource: an ArrayBuffer or a view on one. Without [AllowShared] and
 * [AllowResizable] a SharedArrayBuffer, a resizable ArrayBuffer, or a view on either is a TypeError
 * (their bytes can change, or vanish, under the send).
 */
function bufferSourceBytes(chunk: unknown): Uint8Array {
  const view = ArrayBuffer.isView(chunk) ? chunk : null;
  const buffer: unknown = view === null ? chunk : view.buffer;
  // isArrayBuffer checks the internal slot: false for a SharedArrayBuffer, whatever its prototype.
  if (!types.isArrayBuffer(buffer)) throw new TypeError("a WebSocketStream writes strings and (non-shared) BufferSources");
  if ((buffer as { resizable?: boolean }).resizable === true) throw new TypeError("a WebSocketStream does not write resizable ArrayBuffers");
  return view === null ? new Uint8Array(buffer) : new Uint8Array(buffer, view.byteOffset, view.byteLength);
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("the WebSocket handshake was aborted", "AbortError");
}

function closeError(info: CloseInfo): WebSocketStreamError {
  return webSocketError(info.error?.message ?? "the connection was not closed cleanly", info.code, info.reason, info.error);
}

/**
 * Only a WebSocketError reason closes with its code and reason (the standard checks the type, not
 * the shape): anything else, a look-alike object included, closes without a code. An internal one's
 * code (1006) cannot be sent, so it too closes without one.
 */
function closeInfoFromReason(reason: unknown): { code?: number; reason?: string } {
  if (!(reason instanceof WebSocketStreamError)) return {};
  try {
    return checkCloseInfo({ closeCode: reason.closeCode ?? undefined, reason: reason.reason });
  } catch {
    return {};
  }
}

/** WebIDL dictionary conversion: undefined and null are `{}`, any other non-object a TypeError. */
function dictionary(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" && typeof value !== "function") throw new TypeError(`${what} must be an object`);
  return value as Record<string, unknown>;
}

/** WebIDL sequence<USVString>: any iterable object; a string is not one (it would split into characters). */
function stringSequence(value: unknown, what: string): string[] {
  const iterable = value as Iterable<unknown> | null;
  if ((typeof value !== "object" && typeof value !== "function") || iterable === null || typeof iterable[Symbol.iterator] !== "function") {
    throw new TypeError(`${what} must be a sequence of strings`);
  }
  return Array.from(iterable, toUSVString);
}

/** WebIDL [EnforceRange] unsigned short: a non-finite or out-of-range number is a TypeError. */
function unsignedShort(value: unknown, what: string): number {
  const number = Math.trunc(Number(value));
  if (!Number.isFinite(number) || number < 0 || number > 0xffff) throw new TypeError(`${what} must be 0-65535`);
  return number;
}

function checkCloseInfo(closeInfo: unknown): { code?: number; reason?: string } {
  const info = dictionary(closeInfo, "the close info");
  const code = info.closeCode === undefined ? undefined : unsignedShort(info.closeCode, "closeCode");
  const reason = info.reason === undefined ? undefined : toUSVString(info.reason);
  assertCloseCodeAndReason(code, reason);
  // A reason with no code closes with 1000, as the standard says.
  return { code: code ?? (reason ? 1000 : undefined), reason };
}
