// The own-port listener (`createServer({ port })`): a plain `net.Server` that reads the request head
// itself with @ws/codec's bounded, linear parser, instead of going through `node:http`. An upgrade
// needs one request and then the raw socket, so Node's HTTP machinery (its parser, timers and
// per-socket state, kept for the connection's life) is cost without use here. Attaching to an existing
// http/https server keeps Node's parser; both paths meet in `validateUpgradeRequest`.
import { IncomingMessage } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { findRequestHeadEnd, parseRequestHead, type RequestHead, type RequestHeadErrorCode } from "@ws/codec/handshake";
import { DenseSet, type DenseSetMember } from "./dense-set.js";
import { kSocketOwner } from "./socket-owner.js";

/** What the standalone listener hands back to the WebSocket server. */
export interface StandaloneHandlers {
  /** A TCP connection was accepted (the handshake timer starts here: SECURITY.md row 14). */
  connection(socket: Socket): void;
  /** A socket closed before its head was whole (whatever the reason: the peer, an error, `destroy`). */
  closed(socket: Socket): void;
  /** A whole head naming an upgrade arrived; `head` holds the bytes after it. The socket is paused. */
  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void;
  /** A whole head without `Upgrade`: a plain HTTP request on a WebSocket-only port. */
  plainRequest(req: IncomingMessage, socket: Socket): void;
  /** The head cannot be read (malformed, too large): answer `status` and close. */
  badHead(socket: Socket, status: number, reason: string, error: RequestHeadFailure): void;
  /** The socket failed, or the peer gave up with part of a head sent. */
  socketFailed(socket: Socket, error: Error | undefined): void;
}

export interface StandaloneLimits {
  /** Bytes of request head allowed, request line included (`maxHeaderSize`). */
  maxHeaderSize: number;
  /** Header lines allowed; one more is read so that "too many" is visible to the server's check. */
  maxHeaderCount: number;
}

/** The `cause` of a refused head, with the codec's stable code. */
export class RequestHeadFailure extends Error {
  readonly code: RequestHeadErrorCode | "WS_ERR_HEAD_TOO_LARGE";
  constructor(code: RequestHeadFailure["code"], message: string) {
    super(message);
    this.name = "RequestHeadFailure";
    this.code = code;
  }
}

/**
 * Per-socket state while the head arrives, in the socket's owner slot (socket-owner.ts) and in the
 * listener's set of sockets reading a head; dropped once the head is whole (nothing of it outlives
 * the handshake).
 */
class HeadState implements DenseSetMember {
  denseIndex = -1;
  /**
   * The head so far when it spans reads (null while it fits in the current chunk): a buffer that
   * doubles when full, so that a head sent a byte at a time costs linear copying, not quadratic.
   */
  pending: Buffer | null = null;
  /** How many bytes of `pending` hold the head. */
  length = 0;
  /** How many of those bytes were searched for the end already. */
  scanned = 0;

  constructor(readonly socket: Socket) {}
}

type ReadingSocket = Socket & { [kSocketOwner]?: unknown };

/** The socket's head state, if it is still reading its head. */
function headStateOf(socket: Socket): HeadState | undefined {
  const owner = (socket as ReadingSocket)[kSocketOwner];
  return owner instanceof HeadState ? owner : undefined;
}

/** Appends `chunk` to the head kept so far and returns the whole head received (a view). */
function appendToHead(state: HeadState, chunk: Buffer): Buffer {
  let pending = state.pending!;
  const length = state.length + chunk.length;
  if (length > pending.length) {
    const grown = Buffer.allocUnsafe(Math.max(pending.length * 2, length));
    pending.copy(grown, 0, 0, state.length);
    pending = state.pending = grown;
  }
  chunk.copy(pending, state.length);
  state.length = length;
  return pending.subarray(0, length);
}

/**
 * A `net.Server` answering nothing by itself: every accepted socket is read up to the end of its
 * request head and handed to `handlers`. `reading` holds the sockets still inside their head, so that
 * shutdown can destroy them.
 */
export function createStandaloneServer(
  limits: StandaloneLimits,
  handlers: StandaloneHandlers,
): { server: NetServer; reading: ReadonlySet<{ readonly socket: Socket }> } {
  const reading = new DenseSet<HeadState>();

  function finish(socket: Socket): void {
    const state = headStateOf(socket);
    if (state !== undefined) {
      reading.delete(state);
      (socket as ReadingSocket)[kSocketOwner] = undefined;
    }
    socket.off("data", onData);
    socket.off("end", onEnd);
    socket.off("error", onError);
    socket.off("close", onClose);
  }

  function onData(this: Socket, chunk: Buffer): void {
    const state = headStateOf(this);
    if (state === undefined) return;
    let bytes = chunk;
    let from = 0;
    if (state.pending !== null) {
      bytes = appendToHead(state, chunk);
      from = state.scanned;
    }
    const end = findRequestHeadEnd(bytes, from);
    if (end === -1 || end > limits.maxHeaderSize) {
      if (end === -1 && bytes.length <= limits.maxHeaderSize) {
        if (state.pending === null) {
          // Kept as a copy: a chunk from the socket may be a view into a larger pooled buffer.
          state.pending = Buffer.from(bytes);
          state.length = bytes.length;
        }
        state.scanned = bytes.length;
        return;
      }
      // SECURITY.md row 9: the head is bounded; past the bound nothing more is buffered.
      finish(this);
      this.pause();
      handlers.badHead(this, 431, "Request Header Fields Too Large", new RequestHeadFailure("WS_ERR_HEAD_TOO_LARGE", `the request head exceeds ${limits.maxHeaderSize} bytes`));
      return;
    }
    finish(this);
    // Whatever follows the head (frames sent before the 101 arrived) waits in the socket for the
    // connection: paused, nothing is lost.
    this.pause();
    const parsed = parseRequestHead(bytes, end, limits.maxHeaderCount + 1);
    if (!parsed.ok) {
      handlers.badHead(this, parsed.status, parsed.reason, new RequestHeadFailure(parsed.code, `malformed request head (${parsed.code})`));
      return;
    }
    const req = incomingMessage(this, parsed.head);
    // As node:http decides between its 'upgrade' and 'request' events: an Upgrade field is present.
    // Read from the raw lines, so that `req.headers` is only built if someone reads it.
    if (!hasField(parsed.head.rawHeaders, "upgrade")) {
      handlers.plainRequest(req, this);
      return;
    }
    handlers.upgrade(req, this, end === bytes.length ? EMPTY : bytes.subarray(end));
  }

  function onEnd(this: Socket): void {
    // The peer half-closed before its head was whole: it has given up (a failure worth reporting
    // only when it had started one; a bare connect and close is not a handshake).
    const state = headStateOf(this);
    const started = state !== undefined && state.pending !== null;
    finish(this);
    this.destroy();
    if (started) handlers.socketFailed(this, undefined);
  }

  function onError(this: Socket, error: Error): void {
    finish(this);
    this.destroy();
    handlers.socketFailed(this, error);
  }

  function onClose(this: Socket): void {
    finish(this);
    handlers.closed(this);
  }

  const server = createNetServer({ allowHalfOpen: true, noDelay: true }, (socket: Socket) => {
    const state = new HeadState(socket);
    (socket as ReadingSocket)[kSocketOwner] = state;
    reading.add(state);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("error", onError);
    socket.on("close", onClose);
    handlers.connection(socket);
  });
  return { server, reading };
}

const EMPTY = Buffer.alloc(0);

/** Whether a header line named `lowerName` (ASCII lower case) is in `rawHeaders`. */
function hasField(rawHeaders: readonly string[], lowerName: string): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    // Names are tokens (ASCII), so toLowerCase folds only A-Z here.
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return true;
  }
  return false;
}

/**
 * The request as an `IncomingMessage`, so that hooks and `connection` listeners see the same object
 * on both paths: `headers` folded by Node's own rules (first `Host` kept, others joined), and
 * `rawHeaders` as received, which the validator reads (SECURITY.md row 22). It has no body: a GET.
 */
function incomingMessage(socket: Socket, head: RequestHead): IncomingMessage {
  const req = new IncomingMessage(socket);
  req.method = head.method;
  req.url = head.url;
  req.httpVersion = head.httpVersion;
  req.httpVersionMajor = head.httpVersionMajor;
  req.httpVersionMinor = head.httpVersionMinor;
  req.rawHeaders = head.rawHeaders;
  (req as IncomingMessage & { _addHeaderLines(lines: string[], n: number): void })._addHeaderLines(head.rawHeaders, head.rawHeaders.length);
  req.complete = true;
  // No body: the stream ends when first read. Pushing its end here would cost a tick's work on
  // every handshake for the few hooks that read a GET's body (IncomingMessage's own `_read` would
  // start reading the socket, which belongs to the handshake).
  req._read = endOfBody;
  return req;
}

function endOfBody(this: IncomingMessage): void {
  this.push(null);
}
