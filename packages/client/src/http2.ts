// WebSockets over HTTP/2 (RFC 8441), client side: finding or opening an HTTP/2 session to the
// server (ALPN h2 on wss:, prior-knowledge h2c on ws:), waiting for its SETTINGS, and telling the
// handshake when to fall back to HTTP/1.1.
import { connect as http2Connect, constants, type ClientHttp2Session } from "node:http2";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions, type TLSSocket } from "node:tls";
import { ClientError, ClientErrorCode } from "./errors.js";
import type { ResolvedOptions } from "./options.js";
import { stripBrackets } from "./proxy.js";

/** An HTTP/2 session to use for a WebSocket, and how to give it back. */
export interface SessionLease {
  session: ClientHttp2Session;
  /** Called once when the WebSocket's stream closes (or its handshake fails). */
  release(): void;
}

/**
 * What the agent found: a session whose server allows extended CONNECT (RFC 8441 §3), or HTTP/1.1:
 * the server chose it in ALPN (then `socket` is that TLS connection, ready for the upgrade
 * request) or did not enable the connect protocol.
 */
export type SessionResult = { kind: "h2"; lease: SessionLease } | { kind: "http1"; socket: TLSSocket | null };

interface SessionEntry {
  session: ClientHttp2Session;
  users: number;
}

/**
 * Shares HTTP/2 sessions between WebSockets to the same origin (and the same TLS options): the
 * second WebSocket opens a stream on the first one's session, with no TCP or TLS handshake. A
 * session is closed when its last WebSocket closes. `connect(url, { http2: true })` uses
 * `Http2Agent.default`; pass an agent of your own to keep sessions apart.
 */
export class Http2Agent {
  /** The agent of `http2: true`. */
  static readonly default = new Http2Agent();

  readonly #sessions = new Map<string, SessionEntry>();
  readonly #pending = new Map<string, Promise<SessionEntry | "http1" | TLSSocket>>();

  /** Open sessions (for tests and metrics). */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** @internal A session for `url`, shared when one is open; or why HTTP/1.1 is to be used. */
  async acquire(url: URL, options: ResolvedOptions): Promise<SessionResult> {
    const key = sessionKey(url, options);
    for (;;) {
      const open = this.#sessions.get(key);
      if (open !== undefined && usable(open.session)) return { kind: "h2", lease: this.#lease(key, open) };
      let pending = this.#pending.get(key);
      const mine = pending === undefined;
      if (pending === undefined) {
        pending = openSession(url, options).then((found) => {
          if (typeof found === "object" && "request" in found) {
            const entry: SessionEntry = { session: found, users: 0 };
            this.#sessions.set(key, entry);
            // A GOAWAY takes no new streams: later WebSockets open a new session.
            const forget = (): void => {
              if (this.#sessions.get(key) === entry) this.#sessions.delete(key);
            };
            found.once("close", forget);
            found.once("goaway", forget);
            return entry;
          }
          return found;
        });
        this.#pending.set(key, pending);
        // Settled either way before the next acquire looks again.
        pending.then(
          () => this.#pending.delete(key),
          () => this.#pending.delete(key),
        );
      }
      const found = await pending;
      if (found === "http1") return { kind: "http1", socket: null };
      // The TLS socket that ALPN kept on HTTP/1.1 goes to the caller who opened it; others connect anew.
      if (!("session" in found)) return { kind: "http1", socket: mine ? found : null };
      if (usable(found.session)) return { kind: "h2", lease: this.#lease(key, found) };
      // It closed meanwhile: look again (bounded by the session failing to open, which throws).
    }
  }

  /** Closes every session now; WebSockets on them end with 1006. */
  destroy(): void {
    for (const entry of this.#sessions.values()) entry.session.destroy();
    this.#sessions.clear();
  }

  #lease(key: string, entry: SessionEntry): SessionLease {
    entry.users++;
    let released = false;
    return {
      session: entry.session,
      release: () => {
        if (released) return;
        released = true;
        entry.users--;
        if (entry.users > 0) return;
        // The last WebSocket on it closed (a session forgotten after a GOAWAY closes too).
        if (this.#sessions.get(key) === entry) this.#sessions.delete(key);
        entry.session.close();
      },
    };
  }
}

function usable(session: ClientHttp2Session): boolean {
  return !session.closed && !session.destroyed && session.remoteSettings.enableConnectProtocol === true;
}

/** A session given by the caller (`http2: session`): used as is, never closed by us. */
export async function borrowSession(session: ClientHttp2Session): Promise<SessionResult> {
  if (session.closed || session.destroyed) {
    throw new ClientError(ClientErrorCode.InvalidOption, "the http2 session passed is closed");
  }
  await settingsOf(session);
  if (session.remoteSettings.enableConnectProtocol !== true) return { kind: "http1", socket: null };
  return { kind: "h2", lease: { session, release: () => {} } };
}

/**
 * Resolves once the server's first SETTINGS arrived; rejects if the session fails first. Before
 * they arrive `remoteSettings` holds the protocol defaults, and a session handed to us may have had
 * them long ago (no event then): a PING answered proves they came, since a server sends its
 * SETTINGS first (RFC 9113 §3.4).
 */
function settingsOf(session: ClientHttp2Session): Promise<void> {
  if (session.remoteSettings.enableConnectProtocol === true) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (error?: Error): void => {
      if (settled) return;
      settled = true;
      session.off("remoteSettings", onSettings);
      session.off("connect", sendPing);
      session.off("error", onError);
      session.off("close", onClose);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onSettings = (): void => done();
    const onError = (error: Error): void => done(error);
    const onClose = (): void => done(new Error("the HTTP/2 session closed before the server's SETTINGS"));
    const sendPing = (): void => {
      try {
        session.ping((error) => done(error ?? undefined));
      } catch {
        // Too many pings in flight or closing: the events above still settle this.
      }
    };
    session.on("remoteSettings", onSettings);
    session.on("error", onError);
    session.on("close", onClose);
    if (session.connecting) session.once("connect", sendPing);
    else sendPing();
  });
}

/**
 * Opens a session to the URL's origin: TLS with ALPN ["h2", "http/1.1"] on wss: (the TLS socket is
 * handed back when the server picks HTTP/1.1), h2c with prior knowledge on ws:. Resolves "http1"
 * when the server's SETTINGS lack SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3) or, for h2c, when
 * the server does not speak HTTP/2 at all.
 */
async function openSession(url: URL, options: ResolvedOptions): Promise<ClientHttp2Session | "http1" | TLSSocket> {
  const secure = url.protocol === "wss:";
  const host = stripBrackets(url.hostname);
  const port = Number(url.port) || (secure ? 443 : 80);
  let session: ClientHttp2Session;
  if (secure) {
    const socket = tlsConnect({ ...http2TlsOptions(host, options), host, port });
    socket.on("error", ignore);
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", () => resolve());
      socket.once("error", (error) => reject(connectionFailed(error)));
    });
    if (socket.alpnProtocol !== "h2") {
      socket.off("error", ignore);
      return socket;
    }
    session = http2Connect(`https://${url.host}`, { createConnection: () => socket, settings: { enablePush: false } });
  } else {
    session = http2Connect(`http://${url.host}`, { settings: { enablePush: false } });
  }
  session.on("error", ignore);
  try {
    await settingsOf(session);
  } catch (error) {
    session.destroy();
    // Prior knowledge was wrong: the server speaks HTTP/1.1 only; try that.
    if (!secure && (error as { code?: string }).code !== "ECONNREFUSED") return "http1";
    throw connectionFailed(error as Error);
  }
  if (session.remoteSettings.enableConnectProtocol !== true) {
    session.close();
    return "http1";
  }
  return session;
}

function http2TlsOptions(host: string, options: ResolvedOptions): TlsConnectionOptions {
  const result = { ...options.tls, ALPNProtocols: ["h2", "http/1.1"], allowHalfOpen: true } as TlsConnectionOptions;
  for (const name of ["ca", "cert", "key", "pfx", "passphrase", "rejectUnauthorized"] as const) {
    if (options[name] !== undefined) (result as Record<string, unknown>)[name] = options[name];
  }
  const servername = options.servername ?? options.tls?.servername ?? (isIP(host) === 0 ? host : undefined);
  if (servername !== undefined) result.servername = servername;
  return result;
}

function connectionFailed(error: Error): ClientError {
  if (error instanceof ClientError) return error;
  return new ClientError(ClientErrorCode.ConnectionFailed, `connection failed: ${error.message}`, { cause: error });
}

function ignore(): void {}

const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;

/**
 * Sessions are shared only between WebSockets that would have made the same TLS connection: the
 * origin plus every TLS option (buffers by content, functions and other objects by identity).
 */
function sessionKey(url: URL, options: ResolvedOptions): string {
  const tls = {
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    pfx: options.pfx,
    passphrase: options.passphrase,
    rejectUnauthorized: options.rejectUnauthorized,
    servername: options.servername,
    tls: options.tls,
  };
  return `${url.protocol}//${url.host} ${JSON.stringify(tls, keyPart)}`;
}

function keyPart(this: unknown, _name: string, value: unknown): unknown {
  if (typeof value === "function") return `fn#${idOf(value)}`;
  if (value !== null && typeof value === "object" && (value as { type?: string }).type === "Buffer") return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype) {
    return `obj#${idOf(value)}`;
  }
  return value;
}

function idOf(value: object): number {
  let id = objectIds.get(value);
  if (id === undefined) {
    id = nextObjectId++;
    objectIds.set(value, id);
  }
  return id;
}

/**
 * Ends a transport at once. RFC 8441 §5: an HTTP/2 stream is reset with CANCEL (the counterpart
 * of a TCP reset), which leaves the session and its other streams alone.
 */
export function destroyTransport(transport: Duplex): void {
  const stream = transport as Duplex & { rstCode?: number; close?: (code?: number) => void };
  if (typeof stream.close === "function" && "rstCode" in stream) {
    // close() sends the RST_STREAM; destroy() then ends it here too, even with unread data.
    if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
    stream.destroy();
  } else transport.destroy();
}
