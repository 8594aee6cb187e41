import { Blob } from "node:buffer";
import { isAnyArrayBuffer } from "node:util/types";
import { Connection, type CloseInfo, type Message } from "./connection.js";
import { ClientError, ClientErrorCode } from "./errors.js";
import { CloseEvent, ErrorEvent, MessageEvent } from "./events.js";
import { openHandshake, type PendingHandshake } from "./handshake.js";
import { parseWebSocketUrl, protocolListProblem, resolveOptions, type ClientOptions } from "./options.js";

export type BinaryType = "blob" | "arraybuffer" | "nodebuffer";

/** The Node-only third constructor argument (or the second, as an object, like undici's). */
export interface WebSocketOptions extends Omit<ClientOptions, "protocols"> {
  protocols?: string | string[];
}

type Handler = ((this: WebSocket, event: Event) => unknown) | null;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/**
 * The WHATWG `WebSocket` (HTML §9.3) for Node, so that browser code runs unchanged. Node-only
 * additions: options (headers, TLS, proxy, limits...) as the second or third argument, and
 * `binaryType = "nodebuffer"`.
 */
export class WebSocket extends EventTarget {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
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
  /** Bytes sent after CLOSING (counted, then discarded, per the spec) and Blobs being read. */
  #extraBuffered = 0;
  #connection: Connection | null = null;
  #pending: PendingHandshake | null;
  /** Sends waiting for a Blob ahead of them to be read, to keep their order. */
  #sendQueue: Array<Promise<Uint8Array> | Uint8Array | string> | null = null;
  readonly #handlers = new Map<string, { handler: Handler; listener: (event: Event) => void }>();

  constructor(url: string | URL, protocols?: string | string[] | WebSocketOptions, options?: WebSocketOptions) {
    super();
    let opts: WebSocketOptions = options ?? {};
    let list: string[];
    if (protocols !== undefined && typeof protocols === "object" && !Array.isArray(protocols)) {
      opts = protocols;
      protocols = opts.protocols;
    }
    if (protocols === undefined) list = [];
    else if (typeof protocols === "string") list = [protocols];
    else list = Array.from(protocols, String);

    let target: URL;
    try {
      target = parseWebSocketUrl(url);
    } catch (error) {
      throw new DOMException((error as Error).message, "SyntaxError");
    }
    const problem = protocolListProblem(list);
    if (problem !== null) throw new DOMException(problem, "SyntaxError");

    this.#url = target.href;
    this.#origin = target.origin;
    const resolved = resolveOptions({ ...opts, protocols: list });
    const pending = openHandshake(target, resolved);
    this.#pending = pending;
    pending.promise.then(
      (handshake) => {
        this.#pending = null;
        if (this.#readyState !== CONNECTING) {
          // close() was called while the last step of the handshake was completing.
          handshake.socket.destroy();
          handshake.compression?.close();
          const error = new ClientError(ClientErrorCode.Aborted, "close() was called before the connection opened");
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
        connection.start();
      },
      (error: Error) => {
        this.#pending = null;
        this.#onClose({ code: 1006, reason: "", wasClean: false, error });
      },
    );
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

  /** Bytes queued by `send` and not yet sent (including, per the spec, those sent after closing). */
  get bufferedAmount(): number {
    return (this.#connection?.bufferedAmount ?? 0) + this.#extraBuffered;
  }

  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    // WebIDL enumerations: an unknown value is ignored.
    if (value === "blob" || value === "arraybuffer" || value === "nodebuffer") this.#binaryType = value;
  }

  send(data: string | ArrayBuffer | ArrayBufferView | Blob): void {
    if (this.#readyState === CONNECTING) {
      throw new DOMException("the WebSocket is still connecting", "InvalidStateError");
    }
    let item: Promise<Uint8Array> | Uint8Array | string;
    let size: number;
    if (typeof data === "string") {
      item = data;
      size = Buffer.byteLength(data);
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
      item = String(data);
      size = Buffer.byteLength(item);
    }
    const connection = this.#connection;
    if (this.#readyState !== OPEN || connection === null || connection.readyState !== Connection.OPEN) {
      // HTML §9.3.4: after close(), increase bufferedAmount and discard the data.
      this.#extraBuffered += size;
      return;
    }
    if (typeof item !== "string" && !(item instanceof Uint8Array)) this.#extraBuffered += size;
    if (this.#sendQueue !== null || !(typeof item === "string" || item instanceof Uint8Array)) {
      this.#enqueue(item);
      return;
    }
    connection.send(item);
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
        this.#extraBuffered -= bytes.length;
      }
      void queue.shift();
      this.#connection?.send(bytes, { binary: typeof bytes !== "string" });
    }
    this.#sendQueue = null;
  }

  close(code?: number, reason?: string): void {
    if (code !== undefined) {
      // WebIDL [Clamp] unsigned short, then HTML §9.3.4 step 1.
      code = clampUnsignedShort(code);
      if (code !== 1000 && (code < 3000 || code > 4999)) {
        throw new DOMException(`close code must be 1000 or 3000-4999, got ${code}`, "InvalidAccessError");
      }
    }
    if (reason !== undefined) {
      reason = String(reason);
      if (Buffer.byteLength(toScalarValues(reason)) > 123) {
        throw new DOMException("close reason must be at most 123 UTF-8 bytes", "SyntaxError");
      }
      reason = toScalarValues(reason);
    }
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
    this.dispatchEvent(new MessageEvent("message", { data: value, origin: this.#origin }));
  }

  #onClose(info: CloseInfo): void {
    if (this.#readyState === CLOSED) return;
    this.#readyState = CLOSED;
    this.#connection?.removeAllListeners();
    // HTML §9.3.5: an error event first when the connection was failed.
    if (info.error !== undefined) {
      this.dispatchEvent(new ErrorEvent("error", { message: info.error.message, error: info.error }));
    }
    this.dispatchEvent(new CloseEvent("close", { code: info.code, reason: info.reason, wasClean: info.wasClean }));
  }

  get onopen(): Handler {
    return this.#getHandler("open");
  }
  set onopen(handler: Handler) {
    this.#setHandler("open", handler);
  }
  get onmessage(): Handler {
    return this.#getHandler("message");
  }
  set onmessage(handler: Handler) {
    this.#setHandler("message", handler);
  }
  get onerror(): Handler {
    return this.#getHandler("error");
  }
  set onerror(handler: Handler) {
    this.#setHandler("error", handler);
  }
  get onclose(): Handler {
    return this.#getHandler("close");
  }
  set onclose(handler: Handler) {
    this.#setHandler("close", handler);
  }

  #getHandler(type: string): Handler {
    return this.#handlers.get(type)?.handler ?? null;
  }

  /** HTML event handler attributes: one listener, added at first set, keeping its place on change. */
  #setHandler(type: string, handler: Handler): void {
    const entry = this.#handlers.get(type);
    if (typeof handler !== "function") {
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
        if (current !== null) current.call(this, event);
      },
    };
    this.#handlers.set(type, created);
    this.addEventListener(type, created.listener);
  }
}

Object.defineProperties(WebSocket.prototype, {
  CONNECTING: { value: CONNECTING, enumerable: true },
  OPEN: { value: OPEN, enumerable: true },
  CLOSING: { value: CLOSING, enumerable: true },
  CLOSED: { value: CLOSED, enumerable: true },
});

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

function clampUnsignedShort(value: number): number {
  const number = Number(value);
  if (Number.isNaN(number)) return 0;
  return Math.min(Math.max(Math.round(number), 0), 65535);
}

/** WebIDL USVString: lone surrogates become U+FFFD (which is what UTF-8 encoding does too). */
function toScalarValues(value: string): string {
  return Buffer.from(value, "utf8").toString("utf8");
}
