import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { IncomingMessage, Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { computeAccept, buildUpgradeResponse, validateUpgradeRequest } from "@ws/codec/handshake";
import { PerMessageDeflate, formatDeflateEntry, negotiateServer } from "@ws/codec/deflate";
import { broadcast, PreparedMessage, type BroadcastOptions, type BroadcastResult } from "./broadcast.js";
import { decodeBrokerMessage, encodeBrokerMessage, type Broker } from "./broker.js";
import { Connection, type ConnectionSettings, type SendData } from "./connection.js";
import { ServerErrorCode, WebSocketServerError } from "./errors.js";
import { createStandaloneServer, type RequestHeadFailure } from "./standalone.js";
import { Heartbeat } from "./heartbeat.js";
import { resolveOptions, type HeadersInit, type ResolvedOptions, type ServerOptions, type UpgradeDecision } from "./options.js";
import { TopicRegistry } from "./topics.js";
import { headerCount, isReject, mergeHeaders, originAllowed, parseRequestTarget, rejectSocket } from "./upgrade.js";

export interface ServerEvents<T> {
  /** A connection was accepted (after the 101 was written, before any of its messages). */
  connection: [conn: Connection<T>, req: IncomingMessage];
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
  handshakeError: [error: WebSocketServerError, req: IncomingMessage | undefined];
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

type UpgradeCallback<T> = (conn: Connection<T>, req: IncomingMessage) => void;

const kHandshakeTimer = Symbol("handshakeTimer");
type TimedSocket = Socket & { [kHandshakeTimer]?: NodeJS.Timeout };

/**
 * A WebSocket server: on its own port, on an existing HTTP(S) server, or fed upgrades by hand.
 *
 * ```ts
 * const server = await createServer({ port: 8080 });
 * server.on("connection", (conn) => conn.on("message", (data, isBinary) => conn.send(data, { binary: isBinary })));
 * ```
 */
export class WebSocketServer<T = unknown> extends EventEmitter<ServerEvents<T>> {
  /** Open connections (accepted and not yet closed). */
  readonly clients = new Set<Connection<T>>();
  private readonly options: ResolvedOptions<T>;
  private readonly settings: ConnectionSettings;
  /** The own-port listener (a net.Server, see standalone.ts) or the attached HTTP(S) server. */
  private readonly httpServer: HttpServer | HttpsServer | NetServer | null;
  /** Own port: sockets still receiving their request head (destroyed by `close()`). */
  private readonly readingHead: Set<Socket> | null;
  private readonly ownsServer: boolean;
  private closing: Promise<void> | null = null;
  private listenWaiters = 0;
  private listenFailed = false;
  /** Sockets waiting for the `upgrade` hook, with their request (for shutdown and timeouts). */
  private readonly handshaking = new Map<Socket, IncomingMessage>();
  /** Pings, pong deadlines and idle timeouts for every connection, on one timer. */
  private readonly heartbeat: Heartbeat;
  /** This server's id among those sharing a broker: its own messages coming back are dropped. */
  readonly id: string = randomUUID();
  private readonly broker: Broker | null;
  private readonly registry: TopicRegistry<T>;
  private readonly counters = { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 };
  private published = 0;
  private fromBroker = 0;

  constructor(options: ServerOptions<T>, onConnection?: UpgradeCallback<T>) {
    super();
    const resolved = resolveOptions(options);
    this.options = resolved;
    // Validate the deflate options now, not on the first handshake.
    if (resolved.perMessageDeflate !== null) negotiateServer([], resolved.perMessageDeflate);
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
      closeTimeout: resolved.closeTimeout,
      counters: this.counters,
    };
    this.heartbeat = new Heartbeat(this.clients, resolved);
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
    if (onConnection !== undefined) this.on("connection", onConnection);

    this.readingHead = null;
    if (options.port !== undefined) {
      // SECURITY.md rows 9 and 14: the head is bounded in bytes and lines, and timed from accept.
      const { server, reading } = createStandaloneServer(
        { maxHeaderSize: resolved.maxHeaderSize, maxHeaderCount: resolved.maxHeaderCount },
        {
          connection: this.onTcpConnection,
          upgrade: this.onUpgradeEvent,
          plainRequest: this.onStandalonePlainRequest,
          badHead: this.onBadHead,
          socketFailed: this.onHeadSocketFailed,
        },
      );
      this.readingHead = reading;
      server.on("error", (error) => {
        if (!server.listening) this.listenFailed = true;
        // While `listening()` waits, it reports the failure; otherwise the usual 'error' rules apply.
        if (this.listenWaiters === 0 || this.listenerCount("error") > 0) this.emit("error", error);
      });
      server.on("listening", () => this.emit("listening"));
      server.listen(options.port, options.host, options.backlog);
      this.httpServer = server;
      this.ownsServer = true;
    } else if (options.server !== undefined) {
      this.httpServer = options.server;
      this.ownsServer = false;
      options.server.on("upgrade", this.onUpgradeEvent);
    } else {
      this.httpServer = null;
      this.ownsServer = false;
    }
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
    return `ws://${host}:${address.port}${this.options.path ?? ""}`;
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
    const tcp = socket as TimedSocket;
    this.startHandshakeTimer(tcp);
    return this.upgrade(req, tcp, head, callback).catch((error: unknown) => {
      // Only our own bugs or a user callback land here; the socket must not be left open.
      tcp.destroy();
      this.reportError(error);
      return null;
    });
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
    return broadcast(this.clients, data, options);
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

  /** Counts of connections, subscriptions, traffic and queued bytes (the last one walks the connections). */
  stats(): ServerStats {
    let bufferedAmount = 0;
    for (const conn of this.clients) bufferedAmount += conn.bufferedAmount;
    return {
      connections: this.clients.size,
      topics: this.registry.topicCount,
      subscriptions: this.registry.subscriptions,
      ...this.counters,
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
    if (this.httpServer !== null && !this.ownsServer) this.httpServer.off("upgrade", this.onUpgradeEvent);
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
    for (const socket of this.handshaking.keys()) socket.destroy();
    if (this.readingHead !== null) for (const socket of [...this.readingHead]) socket.destroy();
    this.handshaking.clear();
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
        resolve();
      }, timeout);
    });
    this.closing = Promise.race([allClosed, deadline])
      .then(() => {
        clearTimeout(timer);
        return allClosed;
      })
      .then(() => serverClosed)
      .then(() => this.broker?.close().catch(this.brokerFailed))
      .then(() => {
        this.emit("close");
      });
    return this.closing;
  }

  // --- internals ---

  private deliver(topic: string, message: PreparedMessage, compress: boolean | undefined, except: Connection<T> | undefined): number {
    const subscribers = this.registry.subscribersOf(topic);
    if (subscribers === undefined) return 0;
    return broadcast(subscribers, message, { compress, except }).sent;
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
    this.startHandshakeTimer(socket as TimedSocket);
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
        socket.on("error", noop);
        this.refuse(socket as TimedSocket, req, 400, "Bad Request");
      }
      return;
    }
    void this.handleUpgrade(req, socket, head);
  };

  private async upgrade(
    req: IncomingMessage,
    socket: TimedSocket,
    head: Buffer,
    callback: UpgradeCallback<T> | undefined,
  ): Promise<Connection<T> | null> {
    const options = this.options;
    // Errors before the socket is handed to a connection must not crash the process, and a client
    // that half-closes before the 101 has given up (sockets from http.Server allow half-open).
    socket.on("error", noop);
    socket.on("end", destroyOnEnd);
    if (this.closing !== null) return this.refuse(socket, req, 503, "Server Is Closing");
    if (headerCount(req) > options.maxHeaderCount) return this.refuse(socket, req, 431, "Too Many Header Fields");
    const request = validateUpgradeRequest(req);
    if (!request.ok) return this.refuse(socket, req, request.status, request.reason, request.headers);
    // RFC 9112 §3.2.3, §3.2.4: asterisk-form and authority-form are for OPTIONS and CONNECT, not GET.
    const target = parseRequestTarget(req.url);
    if (target === null) return this.refuse(socket, req, 400, "Invalid Request Target");
    if (this.clients.size >= options.maxConnections) return this.refuse(socket, req, 503, "Too Many Connections");
    if (!originAllowed(options, req)) return this.refuse(socket, req, 403, "Origin Not Allowed");

    this.handshaking.set(socket, req);
    let decision: UpgradeDecision<T>;
    try {
      decision = options.upgrade === undefined ? undefined : await options.upgrade(req, {
        protocols: request.protocols,
        origin: typeof req.headers.origin === "string" ? req.headers.origin : undefined,
      });
    } catch (error) {
      this.handshaking.delete(socket);
      this.reportError(new WebSocketServerError(ServerErrorCode.UpgradeHookFailed, "the upgrade hook failed", 1006, { cause: error }));
      return this.refuse(socket, req, 500, "Internal Server Error");
    }
    this.handshaking.delete(socket);
    // The client may have gone, the timer fired, or the server started closing while we waited.
    if (socket.destroyed || !socket.writable) return null;
    if (this.closing !== null) return this.refuse(socket, req, 503, "Server Is Closing");
    if (isReject(decision)) return this.refuse(socket, req, decision.status, decision.reason ?? "", decision.headers);

    let protocol = "";
    if (options.handleProtocols !== undefined && request.protocols.length > 0) {
      const chosen = options.handleProtocols([...request.protocols], req);
      if (chosen !== false) {
        // RFC 6455 §4.2.2: the server selects one of the values the client offered.
        if (!request.protocols.includes(chosen)) {
          this.reportError(new TypeError(`handleProtocols chose ${JSON.stringify(chosen)}, which the client did not offer`));
          return this.refuse(socket, req, 500, "Internal Server Error");
        }
        protocol = chosen;
      }
    }

    let compression: PerMessageDeflate | null = null;
    let extensions = "";
    const extensionEntries = [];
    if (options.perMessageDeflate !== null && request.extensions.length > 0) {
      const negotiated = negotiateServer(request.extensions, options.perMessageDeflate);
      if (negotiated !== null) {
        compression = new PerMessageDeflate(negotiated.params, "server", options.perMessageDeflate);
        extensions = formatDeflateEntry(negotiated.response);
        extensionEntries.push(negotiated.response);
      }
    }

    const configured = typeof options.headers === "function" ? options.headers(req) : options.headers;
    const extra = mergeHeaders(configured, decision?.headers);
    let response: string;
    try {
      response = buildUpgradeResponse({
        accept: computeAccept(request.key),
        protocol: protocol === "" ? undefined : protocol,
        extensions: extensionEntries,
        headers: extra,
      });
    } catch (error) {
      compression?.close();
      this.reportError(error);
      return this.refuse(socket, req, 500, "Internal Server Error");
    }
    this.clearHandshakeTimer(socket);
    socket.write(response, "latin1");

    const conn = new Connection<T>(
      socket,
      {
        data: decision?.data as T,
        protocol,
        extensions,
        // Origin-form as sent; an absolute-form target gives its path and query.
        url: target.path + target.search,
        compression,
        onClosed: this.removeClient,
        topics: this.registry,
      },
      this.settings,
    );
    this.clients.add(conn);
    if (this.closing === null) this.heartbeat.start();
    // Listeners first, then reading: no message can arrive before they are attached (same tick).
    // If a handler throws, the connection still starts, so that its socket's end is seen and it
    // leaves `clients`; handleUpgrade then destroys the socket and reports the error.
    try {
      callback?.(conn, req);
      this.emit("connection", conn, req);
    } finally {
      socket.off("error", noop);
      socket.off("end", destroyOnEnd);
      conn.start(head, this.heartbeat.now());
    }
    return conn;
  }

  private readonly removeClient = (conn: Connection<T>): void => {
    this.clients.delete(conn);
    if (this.clients.size === 0) this.heartbeat.stop();
  };

  private refuse(socket: TimedSocket, req: IncomingMessage, status: number, reason: string, headers?: HeadersInit): null {
    this.clearHandshakeTimer(socket);
    socket.off("end", destroyOnEnd);
    this.handshaking.delete(socket);
    const sent = rejectSocket(socket, status, reason, headers);
    this.handshakeRefused(req, sent, sent === status ? reason : "Internal Server Error");
    return null;
  }

  private handshakeRefused(req: IncomingMessage | undefined, status: number, reason: string, cause?: unknown): void {
    const message = `handshake refused with ${status}${reason === "" ? "" : ` ${reason}`}`;
    this.handshakeFailed(ServerErrorCode.HandshakeRefused, message, req, { status, cause });
  }

  private handshakeFailed(
    code: ServerErrorCode,
    message: string,
    req: IncomingMessage | undefined,
    options?: { cause?: unknown; status?: number },
  ): void {
    // Built only when someone listens: refusals are cheap for a peer to cause.
    if (this.listenerCount("handshakeError") === 0) return;
    this.emit("handshakeError", new WebSocketServerError(code, message, 1006, options), req);
  }

  private startHandshakeTimer(socket: TimedSocket): void {
    const ms = this.options.handshakeTimeout;
    if (ms === 0 || socket[kHandshakeTimer] !== undefined) return;
    const timer = setTimeout(() => {
      socket[kHandshakeTimer] = undefined;
      const req = this.handshaking.get(socket);
      this.handshaking.delete(socket);
      socket.destroy();
      this.handshakeFailed(ServerErrorCode.HandshakeTimeout, `the handshake did not finish within ${ms} ms`, req);
    }, ms);
    timer.unref();
    socket[kHandshakeTimer] = timer;
    socket.on("close", clearHandshakeTimerOnClose);
  }

  private clearHandshakeTimer(socket: TimedSocket): void {
    clearHandshakeTimerOnClose.call(socket);
  }

  private reportError(error: unknown): void {
    const value = error instanceof Error ? error : new Error(String(error));
    if (this.listenerCount("error") > 0) this.emit("error", value);
    else process.emitWarning(value);
  }
}

function noop(): void {}

function destroyOnEnd(this: Socket): void {
  this.destroy();
}

function clearHandshakeTimerOnClose(this: TimedSocket): void {
  const timer = this[kHandshakeTimer];
  if (timer === undefined) return;
  clearTimeout(timer);
  this[kHandshakeTimer] = undefined;
  this.off("close", clearHandshakeTimerOnClose);
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
