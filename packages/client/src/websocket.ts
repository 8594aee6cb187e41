import { Blob } from "node:buffer";
import { isAnyArrayBuffer } from "node:util/types";
import { Connection, type CloseInfo, type Message } from "./connection.js";
import { ClientError, ClientErrorCode } from "./errors.js";
import {
  assertCloseCodeAndReason,
  CloseEvent,
  ErrorEvent,
  MessageEvent,
  toDOMString,
  toUSVString,
  webIdlShape,
  type ConnectionFailure,
} from "./events.js";
import { openHandshake, type PendingHandshake } from "./handshake.js";
import { destroyTransport } from "./http2.js";
import { parseWebSocketUrl, protocolListProblem, resolveOptions, type ClientOptions } from "./options.js";

export type BinaryType = "blob" | "arraybuffer" | "nodebuffer";

/** The Node-only third constructor argument (or the second, as an object, like undici's). */
export interface WebSocketOptions extends Omit<ClientOptions, "protocols"> {
  protocols?: string | string[];
  /**
   * The base a relative URL is resolved against, as a page's URL is in a browser (WHATWG
   * WebSockets §3.1 step 2). Without it a relative URL throws a `SyntaxError`. Send the page's
   * origin with the `origin` option.
   */
  baseURL?: string | URL;
}

/** The events a `WebSocket` fires, for typed `addEventListener` calls. */
export interface WebSocketEventMap {
  open: Event;
  message: MessageEvent;
  error: ErrorEvent;
  close: CloseEvent;
}

/** An event handler attribute's value (WebIDL `EventHandler`). */
type Handler<E extends Event> = ((this: WebSocket, event: E) => unknown) | null;
type StoredHandler = ((this: WebSocket, event: Event) => unknown) | object | null;

/** Whether a value was made by the WebSocket constructor (the WebIDL brand check). */
let isWebSocket: (value: unknown) => boolean;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

// The interface of the same name below adds typed addEventListener overloads, types only.
/* eslint-disable @typescript-eslint/no-unsafe-declaration-merging */
/**
 * The WHATWG `WebSocket` (the WHATWG WebSockets standard, §3) for Node, so that browser code runs
 * unchanged. Node-only additions: options (headers, origin, baseURL, TLS, proxy, limits...) as the
 * second or third argument, and `binaryType = "nodebuffer"`.
 */
export class WebSocket extends EventTarget {
  /* eslint-enable @typescript-eslint/no-unsafe-declaration-merging */
  // Defined below as WebIDL constants: read-only, non-configurable, on the class and the prototype.
  declare static readonly CONNECTING: 0;
  declare static readonly OPEN: 1;
  declare static readonly CLOSING: 2;
  declare static readonly CLOSED: 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  readonly #url: string;
  readonly #origin: string;
  #readyState = CONNECTING;
  #protocol = "";
  #extensions = "";
  #binaryType: BinaryType = "blob";
  /** Bytes of data passed to send() after close() (counted, then discarded, per the spec). */
  #discarded = 0;
  /** Bytes of Blobs being read before they are sent. */
  #reading = 0;
  /**
   * Bytes of data handed to the connection since its buffer was last seen empty. What the
   * connection still holds, capped at this, is the part not yet transmitted.
   */
  #handedOver = 0;
  /** The subprotocols offered. */
  readonly #offered: string[];
  #connection: Connection | null = null;
  #pending: PendingHandshake | null;
  /** Sends waiting for a Blob ahead of them to be read, to keep their order. */
  #sendQueue: Array<Promise<Uint8Array> | Uint8Array | string> | null = null;
  readonly #handlers = new Map<string, { handler: StoredHandler; listener: (event: Event) => void }>();

  /**
   * `new WebSocket(url, protocols)` as in browsers. Node-only: an options object as the second
   * argument (in place of `protocols`) or the third.
   */
  constructor(
    url: string | URL,
    ...[protocols, options]: [protocols?: string | Iterable<string> | WebSocketOptions, options?: WebSocketOptions]
  ) {
    // WebIDL: a missing required argument is a TypeError; `url` is a USVString.
    if (arguments.length === 0) throw new TypeError("WebSocket: the url argument is required");
    const href = toUSVString(url);
    super();
    let opts: WebSocketOptions = options ?? {};
    if (isOptionsObject(protocols)) {
      opts = protocols;
      protocols = opts.protocols;
    }
    // WebIDL (DOMString or sequence<DOMString>): an iterable object is a sequence, anything else
    // (including null) a string; undefined is the default, [].
    let list: string[];
    if (protocols === undefined) list = [];
    else if (typeof protocols === "object" && protocols !== null) list = Array.from(protocols, toDOMString);
    else list = [toDOMString(protocols)];

    let target: URL;
    try {
      target = parseWebSocketUrl(href, opts.baseURL);
    } catch (error) {
      throw new DOMException((error as Error).message, "SyntaxError");
    }
    // WHATWG WebSockets §3.1 step 8: repeated values are compared case-insensitively here.
    const problem = protocolListProblem(list, { caseInsensitive: true });
    if (problem !== null) throw new DOMException(problem, "SyntaxError");

    this.#url = target.href;
    this.#origin = target.origin;
    this.#offered = list;
    const { baseURL: _baseURL, ...clientOptions } = opts;
    const resolved = resolveOptions({ ...clientOptions, protocols: list });
    const pending = openHandshake(target, resolved);
    this.#pending = pending;
    pending.promise.then(
      (handshake) => {
        this.#pending = null;
        if (this.#readyState !== CONNECTING) {
          // close() was called while the last step of the handshake was completing.
          destroyTransport(handshake.socket);
          handshake.compression?.close();
          const error = new ClientError(ClientErrorCode.Aborted, "close() was called before the connection opened");
          this.#onClose({ code: 1006, reason: "", wasClean: false, error });
          return;
        }
        if (this.#offered.length > 0 && handshake.protocol === "") {
          // WHATWG Fetch, "establish a WebSocket connection": subprotocols were offered and the
          // server chose none, so the connection fails (RFC 6455 alone would allow it).
          destroyTransport(handshake.socket);
          handshake.compression?.close();
          const error = new ClientError(
            ClientErrorCode.InvalidHandshake,
            "the server selected none of the subprotocols offered (no Sec-WebSocket-Protocol)",
          );
          this.#onClose({ code: 1006, reason: "", wasClean: false, error });
          return;
        }
        const connection = new Connection(handshake, resolved);
        this.#connection = connection;
        this.#protocol = connection.protocol;
        this.#extensions = connection.extensions;
        connection.on("message", (data, isBinary) => this.#onMessage(data, isBinary));
        connection.on("close", (info) => this.#onClose(info));
        this.#readyState = OPEN;
        this.dispatchEvent(new Event("open"));
        // Frames that came with the 101 are handled in a later task, as in browsers: what the
        // open handlers queued as microtasks runs first.
        setImmediate(() => connection.start());
      },
      (error: Error) => {
        this.#pending = null;
        this.#onClose({ code: 1006, reason: "", wasClean: false, error });
      },
    );
  }

  static {
    isWebSocket = (value) => typeof value === "object" && value !== null && #url in value;
  }

  get url(): string {
    return this.#url;
  }

  get readyState(): number {
    return this.#readyState;
  }

  /** The subprotocol the server chose, or "". */
  get protocol(): string {
    return this.#protocol;
  }

  /** The extensions the server accepted, or "". */
  get extensions(): string {
    return this.#extensions;
  }

  /**
   * Bytes of application data (UTF-8 bytes of strings, bytes of binary data) passed to `send` and
   * not yet transmitted, plus, per the standard, all data passed to `send` after `close()`. Frame
   * headers and masks are not counted. With compression, the compressed bytes still waiting count.
   */
  get bufferedAmount(): number {
    return this.#inFlight() + this.#reading + this.#discarded;
  }

  /** Handed-over application bytes still held by the connection. */
  #inFlight(): number {
    const held = this.#connection?.bufferedAmount ?? 0;
    if (held === 0) this.#handedOver = 0;
    return Math.min(held, this.#handedOver);
  }

  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    // WebIDL: `this` is checked first (TypeError); enumerations are converted to a string and an
    // unknown value is ignored.
    assertWebSocket(this);
    const name = toDOMString(value);
    if (name === "blob" || name === "arraybuffer" || name === "nodebuffer") this.#binaryType = name;
  }

  send(data: string | ArrayBuffer | ArrayBufferView | Blob): void {
    // WebIDL: `this` is checked, then the arguments (a missing one is a TypeError), then the state.
    assertWebSocket(this);
    if (arguments.length === 0) throw new TypeError("WebSocket.send: the data argument is required");
    let item: Promise<Uint8Array> | Uint8Array | string;
    let size: number;
    if (typeof data === "string") {
      item = toUSVString(data);
      size = Buffer.byteLength(item);
    } else if (data instanceof Blob || isBlobLike(data)) {
      const blob = data as Blob;
      size = blob.size;
      item = blob.arrayBuffer().then((buffer) => new Uint8Array(buffer));
    } else if (ArrayBuffer.isView(data)) {
      item = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      size = data.byteLength;
    } else if (isAnyArrayBuffer(data)) {
      item = new Uint8Array(data);
      size = data.byteLength;
    } else {
      item = toUSVString(data);
      size = Buffer.byteLength(item);
    }
    if (this.#readyState === CONNECTING) {
      throw new DOMException("the WebSocket is still connecting", "InvalidStateError");
    }
    const connection = this.#connection;
    if (this.#readyState !== OPEN || connection === null || connection.readyState !== Connection.OPEN) {
      // WHATWG WebSockets §3.2: after close(), increase bufferedAmount and discard the data.
      if (typeof item !== "string" && !(item instanceof Uint8Array)) item.catch(() => {});
      this.#discarded += size;
      return;
    }
    if (typeof item !== "string" && !(item instanceof Uint8Array)) this.#reading += size;
    if (this.#sendQueue !== null || !(typeof item === "string" || item instanceof Uint8Array)) {
      this.#enqueue(item);
      return;
    }
    this.#handOver(connection, item, size);
  }

  #handOver(connection: Connection, data: Uint8Array | string, size: number): void {
    this.#inFlight(); // forgets what was handed over if the connection's buffer is empty now
    this.#handedOver += size;
    connection.send(data, { binary: typeof data !== "string" });
  }

  /** Blobs are read asynchronously; later sends wait for them so messages keep their order. */
  #enqueue(item: Promise<Uint8Array> | Uint8Array | string): void {
    if (this.#sendQueue === null) {
      this.#sendQueue = [item];
      void this.#flushQueue();
    } else {
      this.#sendQueue.push(item);
    }
  }

  async #flushQueue(): Promise<void> {
    const queue = this.#sendQueue!;
    while (queue.length > 0) {
      const item = queue[0]!;
      let bytes: Uint8Array | string;
      if (typeof item === "string" || item instanceof Uint8Array) bytes = item;
      else {
        try {
          bytes = await item;
        } catch {
          bytes = new Uint8Array(0);
        }
        this.#reading -= bytes.length;
      }
      void queue.shift();
      const connection = this.#connection;
      if (connection !== null && connection.readyState === Connection.OPEN && this.#readyState === OPEN) {
        this.#handOver(connection, bytes, typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.length);
      } else {
        this.#discarded += typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.length;
      }
    }
    this.#sendQueue = null;
  }

  close(code?: number, reason?: string): void {
    assertWebSocket(this); // WebIDL: before the arguments are converted and checked
    // WebIDL [Clamp] unsigned short and USVString, then HTML §9.3.4 step 1.
    if (code !== undefined) code = clampUnsignedShort(code);
    if (reason !== undefined) reason = toUSVString(reason);
    assertCloseCodeAndReason(code, reason);
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    if (this.#readyState === CONNECTING) {
      // "Fail the WebSocket connection": error and close events follow, with code 1006.
      this.#readyState = CLOSING;
      this.#pending?.abort(new ClientError(ClientErrorCode.Aborted, "close() was called before the connection opened"));
      return;
    }
    this.#readyState = CLOSING;
    // Code absent but reason present: 1000 (HTML §9.3.4 step 5).
    void this.#connection?.close(code ?? (reason !== undefined ? 1000 : undefined), reason);
  }

  #onMessage(data: Message, isBinary: boolean): void {
    if (this.#readyState !== OPEN && this.#readyState !== CLOSING) return;
    let value: unknown = data;
    if (isBinary) {
      const buffer = data as Buffer;
      if (this.#binaryType === "nodebuffer") value = buffer;
      else if (this.#binaryType === "arraybuffer") value = toArrayBuffer(buffer);
      else value = new Blob([buffer]);
    }
    this.dispatchEvent(new MessageEvent<unknown>("message", { data: value, origin: this.#origin }));
  }

  #onClose(info: CloseInfo): void {
    if (this.#readyState === CLOSED) return;
    this.#readyState = CLOSED;
    this.#connection?.removeAllListeners();
    // HTML §9.3.5: an error event first when the connection was failed.
    if (info.error !== undefined) {
      this.dispatchEvent(new ErrorEvent("error", { message: info.error.message, error: info.error as ConnectionFailure }));
    }
    this.dispatchEvent(new CloseEvent("close", { code: info.code, reason: info.reason, wasClean: info.wasClean }));
  }

  get onopen(): Handler<Event> {
    return this.#getHandler("open") as Handler<Event>;
  }
  set onopen(handler: Handler<Event>) {
    this.#setHandler("open", handler);
  }
  get onmessage(): Handler<MessageEvent> {
    return this.#getHandler("message") as Handler<MessageEvent>;
  }
  set onmessage(handler: Handler<MessageEvent>) {
    this.#setHandler("message", handler as StoredHandler);
  }
  get onerror(): Handler<ErrorEvent> {
    return this.#getHandler("error") as Handler<ErrorEvent>;
  }
  set onerror(handler: Handler<ErrorEvent>) {
    this.#setHandler("error", handler as StoredHandler);
  }
  get onclose(): Handler<CloseEvent> {
    return this.#getHandler("close") as Handler<CloseEvent>;
  }
  set onclose(handler: Handler<CloseEvent>) {
    this.#setHandler("close", handler as StoredHandler);
  }

  #getHandler(type: string): StoredHandler {
    return this.#handlers.get(type)?.handler ?? null;
  }

  /**
   * HTML event handler attributes: one listener, added at first set, keeping its place on change.
   * WebIDL [LegacyTreatNonObjectAsNull]: any object is kept (a non-callable one is never called);
   * anything else is null.
   */
  #setHandler(type: string, handler: StoredHandler): void {
    const entry = this.#handlers.get(type);
    if ((typeof handler !== "object" && typeof handler !== "function") || handler === null) {
      if (entry !== undefined) {
        this.removeEventListener(type, entry.listener);
        this.#handlers.delete(type);
      }
      return;
    }
    if (entry !== undefined) {
      entry.handler = handler;
      return;
    }
    const created = {
      handler,
      listener: (event: Event) => {
        const current = created.handler;
        if (typeof current === "function") (current as (event: Event) => unknown).call(this, event);
      },
    };
    this.#handlers.set(type, created);
    this.addEventListener(type, created.listener);
  }
}

/** Typed listeners for the four events (browsers' lib.dom.d.ts has the same overloads). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface WebSocket {
  addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: WebSocket, event: WebSocketEventMap[K]) => unknown,
    options?: Parameters<EventTarget["addEventListener"]>[2],
  ): void;
  addEventListener(
    type: string,
    listener: Parameters<EventTarget["addEventListener"]>[1],
    options?: Parameters<EventTarget["addEventListener"]>[2],
  ): void;
  removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: WebSocket, event: WebSocketEventMap[K]) => unknown,
    options?: Parameters<EventTarget["removeEventListener"]>[2],
  ): void;
  removeEventListener(
    type: string,
    listener: Parameters<EventTarget["removeEventListener"]>[1],
    options?: Parameters<EventTarget["removeEventListener"]>[2],
  ): void;
}

// WebIDL: enumerable attributes and operations, [object WebSocket], WebSocket.length 1 (the url).
webIdlShape(WebSocket, "WebSocket", 1);
// Optional arguments do not count in an operation's length.
Object.defineProperty(WebSocket.prototype.close, "length", { value: 0 });
// WebIDL constants: on the interface object and the prototype, enumerable, read-only, permanent.
for (const target of [WebSocket, WebSocket.prototype]) {
  Object.defineProperties(target, {
    CONNECTING: { value: CONNECTING, enumerable: true, writable: false, configurable: false },
    OPEN: { value: OPEN, enumerable: true, writable: false, configurable: false },
    CLOSING: { value: CLOSING, enumerable: true, writable: false, configurable: false },
    CLOSED: { value: CLOSED, enumerable: true, writable: false, configurable: false },
  });
}

/** WebIDL's check that `this` implements the interface, done before anything else. */
function assertWebSocket(value: WebSocket): void {
  if (!isWebSocket(value)) throw new TypeError("not a WebSocket: called on another object");
}

/** A Node-only options object in the protocols position: an object that is not iterable. */
function isOptionsObject(value: unknown): value is WebSocketOptions {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function"
  );
}

function isBlobLike(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Blob).arrayBuffer === "function" &&
    typeof (value as Blob).size === "number" &&
    !ArrayBuffer.isView(value)
  );
}

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
}

/** WebIDL [Clamp] unsigned short: NaN is 0, then clamp, then round half to even. */
function clampUnsignedShort(value: number): number {
  const number = Number(value);
  if (Number.isNaN(number)) return 0;
  const clamped = Math.min(Math.max(number, 0), 65535);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
