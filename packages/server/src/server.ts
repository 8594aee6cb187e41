import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Server as HttpServer } from "node:http";
import type { Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { Duplex } from "node:stream";
import type { ExtensionOffer } from "@ws/codec";
import {
  computeAccept,
  buildUpgradeResponse,
  isWebSocketConnect,
  validateConnectRequest,
  validateUpgradeRequest,
  type ExtraHeaders,
  type UpgradeRequestAccepted,
} from "@ws/codec/handshake";
import { PerMessageDeflate, formatDeflateEntry, negotiateServer } from "@ws/codec/deflate";
import { broadcast, PreparedMessage, type BroadcastOptions, type BroadcastResult } from "./broadcast.js";
import { decodeBrokerMessage, encodeBrokerMessage, type Broker } from "./broker.js";
import { CloseDeadlines, Connection, type ConnectionSettings, type SendData, type Transport } from "./connection.js";
import { channels, type HandshakeErrorDiagnostic, type OpenDiagnostic } from "./diagnostics.js";
import { ServerErrorCode, WebSocketServerError } from "./errors.js";
import { createStandaloneServer, type RequestHeadFailure } from "./standalone.js";
import { HandshakeDeadlines } from "./handshake-deadlines.js";
import { DenseSet, type DenseSetMember } from "./dense-set.js";
import { Heartbeat } from "./heartbeat.js";
import {
  acceptStream,
  createHttp2Server,
  enableConnectProtocol,
  isHttp2Server,
  refuseStream,
  requestOf,
  type AnyHttp2Server,
} from "./http2.js";
import {
  resolveOptions,
  type HeadersInit,
  type ResolvedOptions,
  type ServerOptions,
  type UpgradeAccept,
  type UpgradeDecision,
  type UpgradeRequest,
} from "./options.js";
import { kSocketOwner } from "./socket-owner.js";
import { TopicRegistry } from "./topics.js";
import {
  headerCount,
  isReject,
  mergeHeaders,
  originAllowed,
  parseRequestTarget,
  rejectSocket,
  type RequestTarget,
} from "./upgrade.js";

export interface ServerEvents<T> {
  /** A connection was accepted (after the 101 was written, before any of its messages). */
  connection: [conn: Connection<T>, req: UpgradeRequest];
  /** The own-port server is listening. */
  listening: [];
  /** Server-level failures: the own-port server failed to listen, an `upgrade` hook threw. */
  error: [error: Error];
  /**
   * A handshake did not end in a connection: it was answered with an HTTP error
   * (`WS_ERR_HANDSHAKE_REFUSED`, `error.status`), cut by `handshakeTimeout`
   * (`WS_ERR_HANDSHAKE_TIMEOUT`), or its socket failed (`WS_ERR_SOCKET`). The socket is already
   * answered or destroyed; this is for logs and metrics. `req` is undefined when the request head
   * never arrived whole. Peers cause these at will, so they are never `error` events.
   */
  handshakeError: [error: WebSocketServerError, req: UpgradeRequest | undefined];
  /**
   * The broker failed (`WS_ERR_BROKER`, the broker's error as `cause`): a publish, subscribe or
   * unsubscribe rejected, its connection was lost, or a message on a channel was not ours. Local
   * delivery goes on; what the broker guarantees meanwhile is its own to document.
   */
  brokerError: [error: WebSocketServerError];
  /** `close()` finished: no connection is left. */
  close: [];
}

/** What `server.stats()` returns: totals since the server started, and what is held now. */
export interface ServerStats {
  connections: number;
  /** Topics with at least one local subscriber. */
  topics: number;
  /** Connection-topic pairs. */
  subscriptions: number;
  /** Bytes read from and written to connections' sockets after their handshakes (frames). */
  bytesIn: number;
  bytesOut: number;
  /** Whole messages received, and messages queued on connections (a publish to 3 subscribers counts 3). */
  messagesIn: number;
  messagesOut: number;
  /** `server.publish` calls, and messages from other servers delivered here through the broker. */
  published: number;
  fromBroker: number;
  /** The sum of every connection's `bufferedAmount` now. */
  bufferedAmount: number;
}

export interface PublishOptions<T> {
  /** Send bytes as text or a string as binary. Default: strings are text, bytes binary. */
  binary?: boolean;
  /** `send`'s option of the same name; travels to the other servers with the message. */
  compress?: boolean;
  /** A local connection not to send to (usually the publisher's own). */
  except?: Connection<T>;
}

export interface CloseOptions {
  /** Close code sent to every connection. Default 1001 (going away). */
  code?: number;
  reason?: string;
  /** Milliseconds to wait for the closing handshakes before destroying what is left. Default: `closeTimeout`. */
  timeout?: number;
}

type UpgradeCallback<T> = (conn: Connection<T>, req: UpgradeRequest) => void;

/** A socket or an HTTP/2 stream in its opening handshake. */
type TimedSocket = Transport;

/**
 * A handshake waiting for the `upgrade` hook: in the server's `waitingForHook`, so that `close()`
 * finds it, and in its transport's owner slot (socket-owner.ts), so that the handshake timer finds
 * the request from the transport.
 */
class HookWait implements DenseSetMember {
  denseIndex = -1;
  constructor(
    readonly transport: Transport,
    readonly req: UpgradeRequest,
  ) {}
}

type WaitingTransport = Transport & { [kSocketOwner]?: unknown };

/** The transport's wait for the `upgrade` hook, if it is waiting. */
function hookWaitOf(transport: Transport): HookWait | undefined {
  const owner = (transport as WaitingTransport)[kSocketOwner];
  return owner instanceof HookWait ? owner : undefined;
}

/**
 * One opening handshake after the transport-specific checks: an HTTP/1.1 upgrade on a socket or an
 * extended CONNECT on an HTTP/2 stream. The rest (origin, the hook, subprotocol, compression, the
 * connection) is the same for both.
 */
interface Handshake {
  transport: TimedSocket;
  req: UpgradeRequest;
  target: RequestTarget;
  protocols: readonly string[];
  extensions: ExtensionOffer[];
  /** Bytes read past the request head (HTTP/1.1 only). */
  head: Buffer | undefined;
  httpVersion: "1.1" | "2.0";
  /** `performance.now()` when the request arrived, for the open diagnostic's handshake duration. */
  started: number;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  /** Answers an HTTP error and ends the transport; never throws. Returns the status sent. */
  refuse(status: number, reason: string, headers?: HeadersInit): number;
  /** Writes the accepting answer (101, or 200 on HTTP/2). Throws a TypeError for a header that cannot be written. */
  accept(protocol: string, extensions: ExtensionOffer[], headers: ExtraHeaders | undefined): void;
}

/** An HTTP/1.1 upgrade's handshake: the answer, 101 or an error, is written to the socket. */
class UpgradeHandshake implements Handshake {
  readonly protocols: readonly string[];
  readonly extensions: ExtensionOffer[];
  readonly head: Buffer;
  readonly httpVersion = "1.1";
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** The request's `Sec-WebSocket-Key`, for the accept value. */
  private readonly key: string;

  constructor(
    readonly transport: Socket,
    readonly req: IncomingMessage,
    readonly target: RequestTarget,
    request: UpgradeRequestAccepted,
    head: Buffer,
    readonly started: number,
  ) {
    this.protocols = request.protocols;
    this.extensions = request.extensions;
    this.head = head;
    this.remoteAddress = transport.remoteAddress;
    this.remotePort = transport.remotePort;
    this.key = request.key;
  }

  refuse(status: number, reason: string, headers?: HeadersInit): number {
    return rejectSocket(this.transport, status, reason, headers);
  }

  accept(protocol: string, extensions: ExtensionOffer[], headers: ExtraHeaders | undefined): void {
    const response = buildUpgradeResponse({
      accept: computeAccept(this.key),
      protocol: protocol === "" ? undefined : protocol,
      extensions,
      headers,
    });
    this.transport.write(response, "latin1");
  }
}

/**
 * A WebSocket server: on its own port, on an existing HTTP(S) server, or fed upgrades by hand.
 *
 * ```ts
 * const server = await createServer({ port: 8080 });
 * server.on("connection", (conn) => conn.on("message", (data, isBinary) => conn.send(data, { binary: isBinary })));
 * ```
 */
export class WebSocketServer<T = unknown> extends EventEmitter<ServerEvents<T>> {
  /** The open connections (see `clients`): a `DenseSet`, not a `Set` (dense-set.ts says why). */
  private readonly open = new DenseSet<Connection<T>>();
  /**
   * Open connections (accepted and not yet closed), as a read-only set. Iterating it visits the
   * connections open when the iteration starts; their order is not the order they opened in.
   */
  readonly clients: ReadonlySet<Connection<T>> = this.open;
  private readonly options: ResolvedOptions<T>;
  private readonly settings: ConnectionSettings;
  /** The own-port listener (a net.Server, see standalone.ts) or the attached HTTP(S) server. */
  private readonly httpServer: HttpServer | HttpsServer | NetServer | null;
  /** Own port: sockets still receiving their request head (destroyed by `close()`). */
  private readonly readingHead: ReadonlySet<{ readonly socket: Socket }> | null;
  private readonly ownsServer: boolean;
  /** The own-port server speaks TLS (its URL is wss:). */
  private readonly secure: boolean = false;
  /** HTTP/2 sessions of the own-port server (closed on shutdown), and WebSocket streams per session. */
  private readonly sessions = new Set<Http2Session>();
  private readonly streamsPerSession = new WeakMap<Http2Session, number>();
  /** The own-port HTTP/2 server's connections, destroyed when `close` times out. */
  private readonly ownSockets = new Set<Duplex>();
  private closing: Promise<void> | null = null;
  private listenWaiters = 0;
  private listenFailed = false;
  /** Handshakes waiting for the `upgrade` hook (for shutdown; the timer finds them from the transport). */
  private readonly waitingForHook = new DenseSet<HookWait>();
  /** The deadlines of the handshakes in progress; null with `handshakeTimeout: 0`. */
  private readonly deadlines: HandshakeDeadlines<TimedSocket> | null;
  /** Pings, pong deadlines and idle timeouts for every connection, on one timer. */
  private readonly heartbeat: Heartbeat;
  /** This server's id among those sharing a broker: its own messages coming back are dropped. */
  readonly id: string = randomUUID();
  private readonly broker: Broker | null;
  private readonly registry: TopicRegistry<T>;
  /** Traffic of the connections that have closed; `stats()` adds the open ones' own counts. */
  private readonly closedTraffic = { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 };
  private published = 0;
  private fromBroker = 0;

  constructor(options: ServerOptions<T>, onConnection?: UpgradeCallback<T>) {
    super();
    const resolved = resolveOptions(options);
    this.options = resolved;
    // Validate the deflate options now, not on the first handshake.
    if (resolved.perMessageDeflate !== null) negotiateServer([], resolved.perMessageDeflate);
    this.heartbeat = new Heartbeat(this.open.members, resolved);
    this.deadlines = resolved.handshakeTimeout === 0 ? null : new HandshakeDeadlines(resolved.handshakeTimeout, this.handshakeExpired);
    const broker = options.broker ?? null;
    this.broker = broker;
    // Subscribed on the broker only while someone here is in the topic.
    this.registry = new TopicRegistry<T>(
      broker === null
        ? null
        : {
            first: (topic) => {
              broker.subscribe(topic, (bytes) => this.receiveFromBroker(topic, bytes)).catch(this.brokerFailed);
            },
            last: (topic) => {
              broker.unsubscribe(topic).catch(this.brokerFailed);
            },
          },
    );
    broker?.onError?.(this.brokerFailed);
    this.settings = {
      maxPayload: resolved.maxPayload,
      maxFragments: resolved.maxFragments,
      maxBufferedChunks: resolved.maxBufferedChunks,
      receiveHighWaterMark: resolved.receiveHighWaterMark,
      highWaterMark: resolved.highWaterMark,
      maxBufferedAmount: resolved.maxBufferedAmount,
      backpressure: resolved.backpressure,
      pingInterval: resolved.pingInterval,
      pongTimeout: resolved.pongTimeout,
      idleTimeout: resolved.idleTimeout,
      server: this,
      onClosed: this.removeClient,
      topics: this.registry,
      closeDeadlines: new CloseDeadlines(resolved.closeTimeout),
    };
    if (onConnection !== undefined) this.on("connection", onConnection);

    this.readingHead = null;
    if (options.port !== undefined && options.http2 !== undefined) {
      const { server, secure } = createHttp2Server(options.http2 === true ? {} : options.http2, resolved);
      this.secure = secure;
      // The TLS socket is the one an HTTP/1.1 upgrade then arrives on (allowHTTP1).
      server.on(secure ? "secureConnection" : "connection", this.onTcpConnection);
      server.on(secure ? "secureConnection" : "connection", (socket: Duplex) => {
        this.ownSockets.add(socket);
        socket.once("close", () => this.ownSockets.delete(socket));
      });
      server.on("session", this.onOwnSession);
      server.on("request", this.onPlainRequest);
      this.attachHttp2(server);
      server.on("upgrade", this.onUpgradeEvent);
      this.httpServer = this.listenOwn(server, options);
      this.ownsServer = true;
    } else if (options.port !== undefined) {
      // SECURITY.md rows 9 and 14: the head is bounded in bytes and lines, and timed from accept.
      const { server, reading } = createStandaloneServer(
        { maxHeaderSize: resolved.maxHeaderSize, maxHeaderCount: resolved.maxHeaderCount },
        {
          connection: this.onStandaloneConnection,
          closed: this.onHeadSocketClosed,
          upgrade: this.onUpgradeEvent,
          plainRequest: this.onStandalonePlainRequest,
          badHead: this.onBadHead,
          socketFailed: this.onHeadSocketFailed,
        },
      );
      this.readingHead = reading;
      this.httpServer = this.listenOwn(server, options);
      this.ownsServer = true;
    } else if (options.server !== undefined) {
      this.httpServer = options.server;
      this.ownsServer = false;
      // An http2 server with allowHTTP1 emits HTTP/1.1 upgrades too.
      options.server.on("upgrade", this.onUpgradeEvent);
      if (isHttp2Server(options.server)) {
        enableConnectProtocol(options.server, []);
        this.attachHttp2(options.server);
      }
    } else {
      this.httpServer = null;
      this.ownsServer = false;
    }
  }

  /** Starts the own-port listener (net.Server or HTTP/2) and forwards its `listening` and `error`. */
  private listenOwn<S extends NetServer>(server: S, { port, host, backlog }: Pick<ServerOptions<T>, "port" | "host" | "backlog">): S {
    server.on("error", (error) => {
      if (!server.listening) this.listenFailed = true;
      // While `listening()` waits, it reports the failure; otherwise the usual 'error' rules apply.
      if (this.listenWaiters === 0 || this.listenerCount("error") > 0) this.emit("error", error);
    });
    server.on("listening", () => this.emit("listening"));
    server.listen(port, host, backlog);
    return server;
  }

  /** The own-port server's address (or the attached server's), null before listening or in noServer mode. */
  address(): AddressInfo | string | null {
    return this.httpServer?.address() ?? null;
  }

  /** The `ws://host:port` URL of the own-port server, once listening. */
  get url(): string | null {
    const address = this.address();
    if (address === null || typeof address === "string") return null;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    return `${this.secure ? "wss" : "ws"}://${host}:${address.port}${this.options.path ?? ""}`;
  }

  /** Resolves once the own-port server listens (at once in the other modes); rejects if it cannot. */
  listening(): Promise<void> {
    const server = this.httpServer;
    if (server === null || !this.ownsServer || server.listening) return Promise.resolve();
    this.listenWaiters++;
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        this.listenWaiters--;
        server.off("listening", onListening);
        reject(error);
      };
      const onListening = (): void => {
        this.listenWaiters--;
        server.off("error", onError);
        resolve();
      };
      server.once("listening", onListening);
      server.once("error", onError);
    });
  }

  /**
   * Completes an upgrade request received elsewhere (any mode; required with `noServer`). Answers
   * an HTTP error and closes the socket when the handshake is refused. Resolves to the connection,
   * or null when refused; emits `connection` and calls `callback` on success.
   */
  handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback?: UpgradeCallback<T>,
  ): Promise<Connection<T> | null> {
    return Promise.resolve(this.startUpgrade(req, socket, head, callback));
  }

  /**
   * `handleUpgrade` without its promise unless something waits (the `upgrade` hook): what the
   * server's own listeners call, so that a handshake without a hook allocates no promise, no async
   * frame and no microtask.
   */
  private startUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: UpgradeCallback<T> | undefined,
  ): Connection<T> | null | Promise<Connection<T> | null> {
    const tcp = socket as TimedSocket;
    // For the open diagnostic's handshake duration: one clock read per handshake, not per message.
    const started = performance.now();
    // Without a hook the handshake ends in this tick; `askUpgradeHook` watches the close otherwise.
    this.startHandshakeTimer(tcp, false);
    try {
      const result = this.upgrade(req, tcp, head, callback, started);
      return result instanceof Promise ? result.catch((error: unknown) => this.upgradeFailed(tcp, error)) : result;
    } catch (error) {
      return this.upgradeFailed(tcp, error);
    }
  }

  /** Only our own bugs or a user callback land here; the socket must not be left open. */
  private upgradeFailed(socket: Duplex, error: unknown): null {
    this.clearHandshakeTimer(socket as TimedSocket);
    ignoreErrors(socket);
    socket.destroy();
    this.reportError(error);
    return null;
  }

  /** Frames a message once for `broadcast` or many `conn.sendPrepared` calls. */
  prepare(data: SendData, options?: { binary?: boolean }): PreparedMessage {
    return new PreparedMessage(data, options);
  }

  /**
   * Sends one message to every open connection (or those passing `filter`, minus `except`),
   * framing it once. Connections that are closing or refuse it (backpressure) are skipped.
   */
  broadcast(data: SendData | PreparedMessage, options?: BroadcastOptions<T>): BroadcastResult {
    return broadcast(this.open.members, data, options);
  }

  /**
   * Sends one message to every subscriber of `topic`, framing it once and compressing it once per
   * distinct compression setting; a subscriber over its backpressure limit is handled by its policy
   * (closed or skipped) without holding back the others. With a `broker`, the message also goes to
   * the other servers' subscribers. Returns how many local connections it was queued on.
   */
  publish(topic: string, data: SendData | PreparedMessage, options?: PublishOptions<T>): number {
    if (typeof topic !== "string") throw new TypeError("a topic is a string");
    const message = data instanceof PreparedMessage ? data : new PreparedMessage(data, options);
    const compress = options?.compress;
    this.published++;
    const sent = this.deliver(topic, message, compress, options?.except);
    if (this.broker !== null && this.closing === null) {
      const bytes = encodeBrokerMessage({ origin: this.id, isBinary: message.isBinary, compress, payload: message.payload });
      this.broker.publish(topic, bytes).catch(this.brokerFailed);
    }
    return sent;
  }

  /** How many local connections are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.registry.count(topic);
  }

  /**
   * Counts of connections, subscriptions, traffic and queued bytes. It walks the connections (each
   * counts its own traffic, so that the message path touches nothing shared).
   */
  stats(): ServerStats {
    let { bytesIn, bytesOut, messagesIn, messagesOut } = this.closedTraffic;
    let bufferedAmount = 0;
    for (const conn of this.open.members) {
      bytesIn += conn.bytesIn;
      bytesOut += conn.bytesOut;
      messagesIn += conn.messagesIn;
      messagesOut += conn.messagesOut;
      bufferedAmount += conn.bufferedAmount;
    }
    return {
      connections: this.clients.size,
      topics: this.registry.topicCount,
      subscriptions: this.registry.subscriptions,
      bytesIn,
      bytesOut,
      messagesIn,
      messagesOut,
      published: this.published,
      fromBroker: this.fromBroker,
      bufferedAmount,
    };
  }

  /** The topics with at least one local subscriber. */
  topics(): string[] {
    return this.registry.topics();
  }

  /**
   * Graceful shutdown: stops accepting, sends a close frame (default 1001) to every connection
   * behind whatever is already queued for it, waits up to `timeout` for the closing handshakes,
   * destroys what is left, and closes the own-port HTTP server. An attached server is left running.
   */
  close(options?: CloseOptions): Promise<void> {
    if (this.closing !== null) return this.closing;
    const code = options?.code ?? 1001;
    const timeout = options?.timeout ?? this.options.closeTimeout;
    if (this.httpServer !== null && !this.ownsServer) {
      this.httpServer.off("upgrade", this.onUpgradeEvent);
      this.httpServer.off("stream", this.onHttp2Stream);
      this.httpServer.off("connect", this.onHttp2Connect);
    }
    const serverClosed = new Promise<void>((resolve) => {
      const server = this.httpServer;
      if (server === null || !this.ownsServer || this.listenFailed) resolve();
      else if (server.listening) server.close(() => resolve());
      else {
        // Closed before it finished binding: close it as soon as it does (or fails to).
        server.once("listening", () => server.close(() => resolve()));
        server.once("error", () => resolve());
      }
    });
    for (const wait of this.waitingForHook) {
      this.stopWaiting(wait.transport);
      wait.transport.destroy();
    }
    if (this.readingHead !== null) for (const { socket } of this.readingHead) socket.destroy();
    // GOAWAY: the own-port sessions take no new streams; the WebSocket streams close below.
    for (const session of this.sessions) session.close();
    this.heartbeat.stop();
    const connections = [...this.clients];
    const allClosed = Promise.all(
      connections.map(
        (conn) =>
          new Promise<void>((resolve) => {
            if (conn.readyState === 3) return resolve();
            conn.once("close", () => resolve());
            conn.close(code, options?.reason);
          }),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const conn of connections) conn.terminate();
        // An own-port HTTP/2 session whose peer keeps it open (an unread response) holds the server.
        for (const session of this.sessions) session.destroy();
        // After the GOAWAY above, a session's destroy() waits for the peer to close TCP.
        for (const socket of this.ownSockets) socket.destroy();
        resolve();
      }, timeout);
    });
    this.closing = Promise.race([allClosed, deadline])
      .then(() => allClosed)
      .then(() => Promise.race([serverClosed, deadline]))
      .then(() => {
        clearTimeout(timer);
        return serverClosed;
      })
      .then(() => this.broker?.close().catch(this.brokerFailed))
      .then(() => {
        this.emit("close");
      });
    return this.closing;
  }

  // --- internals ---

  private deliver(topic: string, message: PreparedMessage, compress: boolean | undefined, except: Connection<T> | undefined): number {
    return this.registry.deliver(topic, message, compress, except);
  }

  private receiveFromBroker(topic: string, bytes: Uint8Array): void {
    const message = decodeBrokerMessage(bytes);
    if (message === null) {
      this.brokerFailed(new Error(`a message on topic ${JSON.stringify(topic)} is not in broker wire format 1`));
      return;
    }
    // Delivered locally when it was published: the copy coming back is not sent twice.
    if (message.origin === this.id) return;
    this.fromBroker++;
    this.deliver(topic, new PreparedMessage(message.payload, { binary: message.isBinary }), message.compress, undefined);
  }

  private readonly brokerFailed = (error: unknown): void => {
    const cause = error instanceof Error ? error : new Error(String(error));
    const message = `broker: ${cause.message}`;
    this.emit("brokerError", new WebSocketServerError(ServerErrorCode.BrokerFailed, message, 1006, { cause }));
  };

  private readonly onTcpConnection = (socket: Socket): void => {
    // Own port: the handshake timeout runs from TCP accept (SECURITY.md row 14, slowloris).
    this.startHandshakeTimer(socket as TimedSocket, true);
  };

  /** The same for the standalone listener, which reports the close of a socket still in its head. */
  private readonly onStandaloneConnection = (socket: Socket): void => {
    this.startHandshakeTimer(socket as TimedSocket, false);
  };

  private readonly onHeadSocketClosed = (socket: Socket): void => {
    this.clearHandshakeTimer(socket as TimedSocket);
  };

  private readonly onPlainRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // On the own HTTP/2 port, HTTP/2 requests were answered by `onHttp2Stream`; this is HTTP/1.1
    // (allowHTTP1) that is not an upgrade.
    if (req.httpVersion === "2.0") return;
    this.clearHandshakeTimer(req.socket as TimedSocket);
    this.handshakeRefused(req, 426, "Upgrade Required");
    const body = "Upgrade Required";
    res.writeHead(426, {
      Connection: "close",
      Upgrade: "websocket",
      "Content-Type": "text/plain",
      "Content-Length": Buffer.byteLength(body),
    });
    res.end(body);
  };

  private readonly onStandalonePlainRequest = (req: IncomingMessage, socket: Socket): void => {
    this.clearHandshakeTimer(socket as TimedSocket);
    this.handshakeRefused(req, 426, "Upgrade Required");
    rejectSocket(socket, 426, "Upgrade Required", { Upgrade: "websocket" });
  };

  private readonly onBadHead = (socket: Socket, status: number, reason: string, error: RequestHeadFailure): void => {
    this.clearHandshakeTimer(socket as TimedSocket);
    this.handshakeRefused(undefined, status, reason, error);
    rejectSocket(socket, status, reason);
  };

  private readonly onHeadSocketFailed = (socket: Socket, error: Error | undefined): void => {
    this.clearHandshakeTimer(socket as TimedSocket);
    this.handshakeFailed(ServerErrorCode.SocketError, "the socket failed during the handshake", undefined, { cause: error });
  };

  private readonly onUpgradeEvent = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = this.options.path;
    // The path of the target, whatever its form (RFC 9112 §3.2.2: absolute-form too).
    if (path !== undefined && parseRequestTarget(req.url)?.path !== path) {
      // Another upgrade listener on a shared server may own this path; if there is none, say so.
      if (this.ownsServer || this.httpServer!.listenerCount("upgrade") === 1) {
        this.refuse(socket as TimedSocket, req, 400, "Bad Request");
      }
      return;
    }
    void this.startUpgrade(req, socket, head, undefined);
  };

  private upgrade(
    req: IncomingMessage,
    socket: TimedSocket,
    head: Buffer,
    callback: UpgradeCallback<T> | undefined,
    started: number,
  ): Connection<T> | null | Promise<Connection<T> | null> {
    const options = this.options;
    // No listener guards the socket here: until the connection attaches its own, in this same
    // tick, no event can reach it. Where the socket is left waiting, the guards go on first: a
    // refusal (`refuse`, `refuseHandshake`) and the `upgrade` hook (`guard`).
    if (this.closing !== null) return this.refuse(socket, req, 503, "Server Is Closing");
    if (headerCount(req) > options.maxHeaderCount) return this.refuse(socket, req, 431, "Too Many Header Fields");
    const request = validateUpgradeRequest(req);
    if (!request.ok) return this.refuse(socket, req, request.status, request.reason, request.headers);
    // RFC 9112 §3.2.3, §3.2.4: asterisk-form and authority-form are for OPTIONS and CONNECT, not GET.
    const target = parseRequestTarget(req.url);
    if (target === null) return this.refuse(socket, req, 400, "Invalid Request Target");
    return this.negotiate(new UpgradeHandshake(socket as Socket, req, target, request, head, started), callback);
  }

  /**
   * An extended CONNECT stream (RFC 8441 §4-5) on an HTTP/2 server: the per-session stream limit,
   * the same header-count limit as an upgrade, validation shared with the client in @ws/codec, then
   * the same negotiation as an upgrade.
   */
  private async upgradeStream(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    rawHeaders: string[],
  ): Promise<Connection<T> | null> {
    const started = performance.now();
    const transport = stream as unknown as TimedSocket;
    this.startHandshakeTimer(transport, true);
    transport.on("error", noop);
    // A client that ends its side before our answer has given up.
    transport.on("end", destroyOnEnd);
    const req = requestOf(stream, headers, rawHeaders);
    const session = stream.session;
    const refuse = (status: number, reason: string, extra?: HeadersInit): number => refuseStream(stream, status, reason, extra);
    const handshake = (target: RequestTarget, protocols: readonly string[], extensions: ExtensionOffer[], key?: string): Handshake => ({
      transport,
      req,
      target,
      protocols,
      extensions,
      head: undefined,
      httpVersion: "2.0",
      started,
      remoteAddress: session?.socket?.remoteAddress,
      remotePort: session?.socket?.remotePort,
      refuse,
      accept: (protocol, accepted, extra) => acceptStream(stream, key, protocol, accepted, extra),
    });
    const early = handshake({ path: "/", search: "" }, [], []);
    if (this.closing !== null) return this.refuseHandshake(early, 503, "Server Is Closing");
    // rawHeaders counts the pseudo-headers too, which a browser always sends (four or five).
    if (rawHeaders.length >>> 1 > this.options.maxHeaderCount + 5) return this.refuseHandshake(early, 431, "Too Many Header Fields");
    const request = validateConnectRequest({ headers: headers as Record<string, string | string[] | undefined>, rawHeaders });
    if (!request.ok) return this.refuseHandshake(early, request.status, request.reason, request.headers);
    const target = parseRequestTarget(request.path);
    if (target === null) return this.refuseHandshake(early, 400, "Invalid Request Target");
    if (session !== undefined) {
      const open = this.streamsPerSession.get(session) ?? 0;
      if (open >= this.options.maxStreamsPerSession) return this.refuseHandshake(early, 503, "Too Many WebSockets On This Connection");
      this.streamsPerSession.set(session, open + 1);
      stream.once("close", () => this.streamsPerSession.set(session, (this.streamsPerSession.get(session) ?? 1) - 1));
    }
    return this.negotiate(handshake(target, request.protocols, request.extensions, request.key), undefined);
  }

  /**
   * What both transports share: origin, the `upgrade` hook, subprotocol, compression, the connection.
   * Synchronous unless there is a hook to wait for.
   */
  private negotiate(handshake: Handshake, callback: UpgradeCallback<T> | undefined): Connection<T> | null | Promise<Connection<T> | null> {
    const options = this.options;
    if (this.clients.size >= options.maxConnections) return this.refuseHandshake(handshake, 503, "Too Many Connections");
    if (!originAllowed(options, handshake.req)) return this.refuseHandshake(handshake, 403, "Origin Not Allowed");
    // In this tick the clock read at the handshake's start is still now (the connection keeps whole
    // milliseconds): one read fewer per handshake.
    if (options.upgrade === undefined) return this.complete(handshake, undefined, callback, handshake.started);
    return this.askUpgradeHook(handshake, options.upgrade, callback);
  }

  /** Waits for the `upgrade` hook's decision, then refuses or completes the handshake by it. */
  private async askUpgradeHook(
    handshake: Handshake,
    hook: NonNullable<ResolvedOptions<T>["upgrade"]>,
    callback: UpgradeCallback<T> | undefined,
  ): Promise<Connection<T> | null> {
    const { req, transport: socket } = handshake;
    guard(socket);
    // While the hook runs, the handshake timer and `close()` must find the request, and a transport
    // that closes must leave the deadlines.
    const wait = new HookWait(socket, req);
    (socket as WaitingTransport)[kSocketOwner] = wait;
    this.waitingForHook.add(wait);
    this.deadlines?.watchClose(socket);
    let decision: UpgradeDecision<T>;
    try {
      decision = await hook(req, {
        protocols: handshake.protocols,
        origin: typeof req.headers.origin === "string" ? req.headers.origin : undefined,
      });
    } catch (error) {
      this.stopWaiting(socket);
      this.reportError(new WebSocketServerError(ServerErrorCode.UpgradeHookFailed, "the upgrade hook failed", 1006, { cause: error }));
      return this.refuseHandshake(handshake, 500, "Internal Server Error");
    }
    this.stopWaiting(socket);
    // The client may have gone, the timer fired, or the server started closing while we waited.
    if (socket.destroyed || !socket.writable) return null;
    if (this.closing !== null) return this.refuseHandshake(handshake, 503, "Server Is Closing");
    if (isReject(decision)) return this.refuseHandshake(handshake, decision.status, decision.reason ?? "", decision.headers);
    return this.complete(handshake, decision, callback, this.heartbeat.now());
  }

  /**
   * Subprotocol, compression and the 101, then the connection: the handshake is accepted. `now` is
   * the clock (`performance.now()`) the connection starts its heartbeat times from.
   */
  private complete(
    handshake: Handshake,
    decision: UpgradeAccept<T> | undefined | void,
    callback: UpgradeCallback<T> | undefined,
    now: number,
  ): Connection<T> | null {
    const options = this.options;
    const { req, transport: socket } = handshake;
    // A transport that went away while the request was read has nothing to answer.
    if (socket.destroyed || !socket.writable) {
      this.clearHandshakeTimer(socket);
      return null;
    }

    let protocol = "";
    if (options.handleProtocols !== undefined && handshake.protocols.length > 0) {
      const chosen = options.handleProtocols([...handshake.protocols], req);
      if (chosen !== false) {
        // RFC 6455 §4.2.2: the server selects one of the values the client offered.
        if (!handshake.protocols.includes(chosen)) {
          this.reportError(new TypeError(`handleProtocols chose ${JSON.stringify(chosen)}, which the client did not offer`));
          return this.refuseHandshake(handshake, 500, "Internal Server Error");
        }
        protocol = chosen;
      }
    }

    let compression: PerMessageDeflate | null = null;
    let extensions = "";
    const extensionEntries = [];
    if (options.perMessageDeflate !== null && handshake.extensions.length > 0) {
      const negotiated = negotiateServer(handshake.extensions, options.perMessageDeflate);
      if (negotiated !== null) {
        compression = new PerMessageDeflate(negotiated.params, "server", options.perMessageDeflate);
        extensions = formatDeflateEntry(negotiated.response);
        extensionEntries.push(negotiated.response);
      }
    }

    const configured = typeof options.headers === "function" ? options.headers(req) : options.headers;
    const extra = mergeHeaders(configured, decision?.headers);
    this.clearHandshakeTimer(socket);
    try {
      handshake.accept(protocol, extensionEntries, extra);
    } catch (error) {
      compression?.close();
      this.reportError(error);
      return this.refuseHandshake(handshake, 500, "Internal Server Error");
    }

    const { target } = handshake;
    const conn = new Connection<T>(
      socket,
      {
        data: decision?.data as T,
        protocol,
        extensions,
        // Origin-form as sent; an absolute-form target gives its path and query.
        url: target.path + target.search,
        compression,
        httpVersion: handshake.httpVersion,
        remoteAddress: handshake.remoteAddress,
        remotePort: handshake.remotePort,
      },
      this.settings,
    );
    this.open.add(conn);
    if (this.closing === null) this.heartbeat.start();
    if (channels.open.hasSubscribers) {
      const handshakeDuration = performance.now() - handshake.started;
      channels.open.publish({ server: this, connection: conn, request: req, handshakeDuration } satisfies OpenDiagnostic<T>);
    }
    // Listeners first, then reading: no message can arrive before they are attached (same tick).
    // If a handler throws, the connection still starts, so that its socket's end is seen and it
    // leaves `clients`; handleUpgrade then destroys the socket and reports the error.
    try {
      callback?.(conn, req);
      this.emit("connection", conn, req);
    } finally {
      socket.off("error", noop);
      socket.off("end", destroyOnEnd);
      conn.start(handshake.head, now);
    }
    return conn;
  }

  /** Takes extended CONNECT streams for WebSockets on our path; the server's other streams are left to it. */
  private attachHttp2(server: AnyHttp2Server): void {
    server.on("stream", this.onHttp2Stream);
    // With a `request` listener, Node's compatibility layer answers every CONNECT with 405 unless
    // someone listens to `connect`: we say the WebSocket ones are taken.
    server.on("connect", this.onHttp2Connect);
  }

  private readonly onHttp2Stream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]): void => {
    const ours = isWebSocketConnect(headers as Record<string, string | string[] | undefined>);
    if (ours && this.pathMatches(headers[":path"])) {
      void this.upgradeStream(stream, headers, rawHeaders).catch((error: unknown) => {
        stream.destroy();
        this.reportError(error);
      });
      return;
    }
    if (this.ownsServer) {
      // A WebSocket-only port: other requests learn what it takes (405 Allow: CONNECT, 501 for
      // another :protocol), WebSockets on another path get 404.
      stream.on("error", noop);
      const request = ours ? null : validateConnectRequest({ headers: headers as Record<string, string | string[] | undefined>, rawHeaders });
      const status = request === null || request.ok ? 404 : request.status;
      const reason = request === null || request.ok ? "Not Found" : request.reason;
      this.handshakeRefused(undefined, refuseStream(stream, status, reason, request !== null && !request.ok ? request.headers : undefined), reason);
    } else if (ours && this.httpServer!.listenerCount("stream") === 1) {
      // A shared server with no one else to take it (no other stream listener, no request handler).
      stream.on("error", noop);
      refuseStream(stream, 404, "Not Found");
    }
  };

  private readonly onHttp2Connect = (req: { headers: IncomingHttpHeaders; stream: ServerHttp2Stream }, res: { statusCode: number; end(): void }): void => {
    const headers = req.headers as Record<string, string | string[] | undefined>;
    if (isWebSocketConnect(headers) && this.pathMatches(req.headers[":path"])) return;
    // Not ours: answer as Node would without a `connect` listener, unless someone else listens.
    if (this.ownsServer || this.httpServer!.listenerCount("connect") > 1) return;
    res.statusCode = isWebSocketConnect(headers) ? 404 : 405;
    res.end();
  };

  private pathMatches(target: string | undefined): boolean {
    const path = this.options.path;
    return path === undefined || parseRequestTarget(target)?.path === path;
  }

  private readonly onOwnSession = (session: Http2Session): void => {
    this.sessions.add(session);
    session.on("error", noop);
    session.once("close", () => this.sessions.delete(session));
    // The TCP handshake timer ends with the first stream: the session is speaking HTTP/2.
    // `session.socket` is a Proxy that forwards property access to the TLS socket, which is how it
    // reaches the deadline kept on that socket (see handshake-deadlines.ts).
    session.once("stream", () => this.clearHandshakeTimer(session.socket as unknown as TimedSocket));
  };

  private readonly removeClient = (conn: Connection<T>): void => {
    this.open.delete(conn);
    const traffic = this.closedTraffic;
    traffic.bytesIn += conn.bytesIn;
    traffic.bytesOut += conn.bytesOut;
    traffic.messagesIn += conn.messagesIn;
    traffic.messagesOut += conn.messagesOut;
  };

  private refuse(socket: TimedSocket, req: IncomingMessage, status: number, reason: string, headers?: HeadersInit): null {
    this.clearHandshakeTimer(socket);
    // The answer is written, then the socket ends: a reset meanwhile must not crash the process.
    ignoreErrors(socket);
    socket.off("end", destroyOnEnd);
    this.stopWaiting(socket);
    const sent = rejectSocket(socket as Socket, status, reason, headers);
    this.handshakeRefused(req, sent, sent === status ? reason : "Internal Server Error");
    return null;
  }

  private refuseHandshake(handshake: Handshake, status: number, reason: string, headers?: HeadersInit): null {
    const socket = handshake.transport;
    this.clearHandshakeTimer(socket);
    ignoreErrors(socket);
    socket.off("end", destroyOnEnd);
    this.stopWaiting(socket);
    const sent = handshake.refuse(status, reason, headers);
    this.handshakeRefused(handshake.req, sent, sent === status ? reason : "Internal Server Error");
    return null;
  }

  private handshakeRefused(req: UpgradeRequest | undefined, status: number, reason: string, cause?: unknown): void {
    const message = `handshake refused with ${status}${reason === "" ? "" : ` ${reason}`}`;
    this.handshakeFailed(ServerErrorCode.HandshakeRefused, message, req, { status, cause }, reason);
  }

  private handshakeFailed(
    code: ServerErrorCode,
    message: string,
    req: UpgradeRequest | undefined,
    options?: { cause?: unknown; status?: number },
    reason = "",
  ): void {
    // Built only when someone listens: refusals are cheap for a peer to cause.
    const listened = this.listenerCount("handshakeError") > 0;
    if (!listened && !channels.handshakeError.hasSubscribers) return;
    const error = new WebSocketServerError(code, message, 1006, options);
    if (channels.handshakeError.hasSubscribers) {
      const status = options?.status;
      channels.handshakeError.publish({ server: this, request: req, error, status, reason } satisfies HandshakeErrorDiagnostic<T>);
    }
    if (listened) this.emit("handshakeError", error, req);
  }

  /**
   * Starts the handshake's deadline (none with `handshakeTimeout: 0`). `watchClose`: clear it when the
   * transport closes; a caller that sees the close itself, or finishes in this tick, passes false.
   */
  private startHandshakeTimer(socket: TimedSocket, watchClose: boolean): void {
    this.deadlines?.start(socket, watchClose);
  }

  private clearHandshakeTimer(socket: TimedSocket): void {
    this.deadlines?.clear(socket);
  }

  /** The transport waits for the `upgrade` hook no more (answered, refused, timed out). */
  private stopWaiting(transport: Transport): void {
    const wait = hookWaitOf(transport);
    if (wait === undefined) return;
    this.waitingForHook.delete(wait);
    (transport as WaitingTransport)[kSocketOwner] = undefined;
  }

  private readonly handshakeExpired = (socket: TimedSocket): void => {
    const req = hookWaitOf(socket)?.req;
    this.stopWaiting(socket);
    socket.destroy();
    this.handshakeFailed(ServerErrorCode.HandshakeTimeout, `the handshake did not finish within ${this.options.handshakeTimeout} ms`, req);
  };

  private reportError(error: unknown): void {
    const value = error instanceof Error ? error : new Error(String(error));
    if (this.listenerCount("error") > 0) this.emit("error", value);
    else process.emitWarning(value);
  }
}

function noop(): void {}

function destroyOnEnd(this: Duplex): void {
  this.destroy();
}

/** An error on a socket no one else listens to must not crash the process (`error` without a listener throws). */
function ignoreErrors(socket: Duplex): void {
  if (socket.listenerCount("error") === 0) socket.on("error", noop);
}

/**
 * The listeners a socket needs while its handshake waits (for the `upgrade` hook): an error must
 * not crash the process, and a client that half-closes before the 101 has given up (sockets from
 * `http.Server` allow half-open). An HTTP/2 stream has them from its start (`upgradeStream`).
 */
function guard(socket: Duplex): void {
  ignoreErrors(socket);
  if (!socket.listeners("end").includes(destroyOnEnd)) socket.on("end", destroyOnEnd);
}

/**
 * Creates a server and, with `port`, resolves once it listens.
 *
 * ```ts
 * const server = await createServer({ port: 0, host: "127.0.0.1" });
 * console.log(server.url);
 * ```
 */
export async function createServer<T = unknown>(
  options: ServerOptions<T>,
  onConnection?: UpgradeCallback<T>,
): Promise<WebSocketServer<T>> {
  const server = new WebSocketServer<T>(options, onConnection);
  await server.listening();
  return server;
}
