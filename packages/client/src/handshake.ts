import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { ClientHttp2Stream, IncomingHttpHeaders } from "node:http2";
import { connect as netConnect, isIP, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions, type TLSSocket } from "node:tls";
import {
  formatExtensionHeader,
  type ExtensionOffer,
  type MessageCompression,
} from "@ws/codec";
import {
  PerMessageDeflate,
  acceptResponse,
  createOffer,
  type PerMessageDeflateOptions,
} from "@ws/codec/deflate";
import {
  buildConnectRequestHeaders,
  buildUpgradeRequest,
  connectResponseStatus,
  generateKey,
  validateConnectResponse,
  validateUpgradeResponse,
} from "@ws/codec/handshake";

import { ClientError, ClientErrorCode } from "./errors.js";
import { readResponseHead, type ResponseHead } from "./http-head.js";
import { Http2Agent, borrowSession, destroyTransport, type SessionResult } from "./http2.js";
import type { ResolvedOptions } from "./options.js";
import { openTunnel, stripBrackets } from "./proxy.js";

export type DeflateOptions = PerMessageDeflateOptions;

/** A completed opening handshake: the socket (paused) and what was negotiated. */
export interface HandshakeResult {
  /** The TCP/TLS socket after a 101, or the HTTP/2 stream after a 2xx to an extended CONNECT. */
  socket: Duplex;
  /** "1.1" or "2.0" (RFC 8441). */
  httpVersion: "1.1" | "2.0";
  /** Bytes that arrived after the response head: the first frames. */
  head: Buffer;
  /** The URL finally connected to, after any redirects. */
  url: URL;
  /** The subprotocol the server chose, or "". */
  protocol: string;
  /** The `Sec-WebSocket-Extensions` the server answered, or "". */
  extensions: string;
  compression: MessageCompression | null;
}

export interface PendingHandshake {
  promise: Promise<HandshakeResult>;
  /** Stops the handshake: the promise rejects with `reason` and the socket is destroyed. */
  abort(reason: Error): void;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Runs the opening handshake (RFC 6455 §4.1) for `url`: connects (TCP, TLS, proxy tunnel or agent),
 * sends the upgrade request, follows redirects when asked, and validates the 101 response. Any
 * failure rejects with a ClientError saying why, and destroys the socket. `handshakeTimeout`
 * bounds the whole sequence.
 */
export function openHandshake(url: URL, options: ResolvedOptions): PendingHandshake {
  let current: Duplex | null = null;
  let settled = false;
  let rejectOuter: (error: Error) => void = () => {};
  const abort = (reason: Error): void => {
    if (settled) return;
    if (current !== null) destroyTransport(current);
    rejectOuter(reason);
  };
  const promise = new Promise<HandshakeResult>((resolve, reject) => {
    rejectOuter = (error) => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(error);
    };
    let timer: NodeJS.Timeout | undefined;
    if (options.handshakeTimeout > 0 && Number.isFinite(options.handshakeTimeout)) {
      timer = setTimeout(() => {
        abort(
          new ClientError(
            ClientErrorCode.HandshakeTimeout,
            `the opening handshake did not complete within ${options.handshakeTimeout} ms`,
          ),
        );
      }, options.handshakeTimeout);
    }
    const signal = options.signal;
    const onAbort = (): void => abort(new ClientError(ClientErrorCode.Aborted, "the handshake was aborted", { cause: signal?.reason }));
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort);
    run(url, options, (socket) => {
      current = socket;
      if (settled) socket.destroy();
    }).then(
      (result) => {
        if (settled) {
          destroyTransport(result.socket);
          result.compression?.close();
          return;
        }
        settled = true;
        cleanup();
        resolve(result);
      },
      (error: Error) => {
        if (current !== null) destroyTransport(current);
        rejectOuter(error);
      },
    );
  });
  return { promise, abort };
}

async function run(startUrl: URL, options: ResolvedOptions, onSocket: (socket: Duplex) => void): Promise<HandshakeResult> {
  let url = startUrl;
  let headers = { ...options.headers };
  for (let redirects = 0; ; redirects++) {
    const outcome = await attempt(url, headers, options, onSocket);
    if (outcome.kind === "upgraded") return outcome.result;
    const { status, location } = outcome;
    if (!options.followRedirects) {
      throw new ClientError(
        ClientErrorCode.UnexpectedStatus,
        `the server answered ${status} (redirect to ${location ?? "nowhere"}) instead of 101; set followRedirects to follow it`,
        { statusCode: status },
      );
    }
    if (location === undefined) {
      throw new ClientError(ClientErrorCode.InvalidRedirect, `the server answered ${status} without a Location header`, {
        statusCode: status,
      });
    }
    if (redirects >= options.maxRedirects) {
      throw new ClientError(ClientErrorCode.InvalidRedirect, `more than ${options.maxRedirects} redirects`, {
        statusCode: status,
      });
    }
    let next: URL;
    try {
      next = new URL(location, url);
    } catch (cause) {
      throw new ClientError(ClientErrorCode.InvalidRedirect, `invalid redirect location ${JSON.stringify(location)}`, {
        cause,
        statusCode: status,
      });
    }
    if (next.protocol === "http:") next.protocol = "ws:";
    else if (next.protocol === "https:") next.protocol = "wss:";
    if (next.protocol !== "ws:" && next.protocol !== "wss:") {
      throw new ClientError(ClientErrorCode.InvalidRedirect, `cannot follow a redirect to ${next.protocol}`, {
        statusCode: status,
      });
    }
    next.hash = "";
    // SECURITY.md row 12: credentials never follow a redirect to another origin or from wss to ws.
    if (next.origin !== url.origin || (url.protocol === "wss:" && next.protocol === "ws:")) {
      headers = withoutCredentials(headers);
    }
    url = next;
  }
}

function withoutCredentials(headers: Record<string, string | string[]>): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower !== "authorization" && lower !== "cookie") kept[name] = value;
  }
  return kept;
}

type AttemptOutcome =
  | { kind: "upgraded"; result: HandshakeResult }
  | { kind: "redirect"; status: number; location: string | undefined };

interface RequestPlan {
  key: string;
  deflate: PerMessageDeflateOptions | false;
  extensions: ExtensionOffer[];
  headers: Record<string, string | string[]>;
}

function planRequest(url: URL, userHeaders: Record<string, string | string[]>, options: ResolvedOptions): RequestPlan {
  const deflate = options.perMessageDeflate;
  const headers = { ...userHeaders };
  // RFC 6455 §3: userinfo in a ws URL is not sent; we turn it into Basic auth, as ws does, unless
  // the caller set Authorization.
  if ((url.username !== "" || url.password !== "") && !hasHeader(headers, "authorization")) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.Authorization = `Basic ${Buffer.from(credentials).toString("base64")}`;
  }
  return {
    key: generateKey(),
    deflate,
    extensions: deflate === false ? [] : [createOffer(deflate)],
    headers,
  };
}

function hasHeader(headers: Record<string, unknown>, lowerName: string): boolean {
  return Object.keys(headers).some((name) => name.toLowerCase() === lowerName);
}

async function attempt(
  url: URL,
  userHeaders: Record<string, string | string[]>,
  options: ResolvedOptions,
  onSocket: (socket: Duplex) => void,
): Promise<AttemptOutcome> {
  const plan = planRequest(url, userHeaders, options);
  if (options.agent !== undefined && options.proxy === undefined) return attemptWithAgent(url, plan, options, onSocket);
  let reused: TLSSocket | null = null;
  if (options.http2 !== undefined && options.http2 !== false) {
    const found = await findSession(url, options);
    if (found.kind === "h2") return attemptHttp2(url, plan, options, found, onSocket);
    // HTTP/1.1 it is; over the TLS connection ALPN settled on, when there is one.
    reused = found.socket;
  }
  let request: string;
  try {
    request = buildUpgradeRequest({
      path: url.pathname + url.search,
      host: url.host,
      key: plan.key,
      protocols: options.protocols,
      extensions: plan.extensions,
      origin: options.origin,
      headers: plan.headers,
    });
  } catch (cause) {
    throw new ClientError(ClientErrorCode.InvalidOption, (cause as Error).message, { cause });
  }

  const secure = url.protocol === "wss:";
  const host = stripBrackets(url.hostname);
  const port = Number(url.port) || (secure ? 443 : 80);
  let socket: Socket;
  if (options.proxy !== undefined) {
    const tunnel = await openTunnel(options.proxy, { host, port }, options.proxyHeaders, onSocket);
    socket = secure ? tlsConnect({ ...tlsOptions(host, options), socket: tunnel }) : tunnel;
  } else if (reused !== null) {
    socket = reused;
  } else {
    // Half-open allowed: after the server's FIN we still write our close frame and end TCP
    // ourselves, once what arrived before the FIN has been processed (RFC 6455 §7.1.1).
    socket = secure ? tlsConnect({ ...tlsOptions(host, options), host, port }) : netConnect({ host, port, allowHalfOpen: true });
  }
  socket.on("error", ignoreError);
  socket.setNoDelay(true);
  onSocket(socket);

  socket.write(request);
  const { head, rest } = await readResponseHead(socket);
  return finish(url, socket, head, rest, plan, options);
}

function tlsOptions(host: string, options: ResolvedOptions): TlsConnectionOptions {
  // allowHalfOpen: tls.connect honours it (it is missing from the type); see attempt().
  const result = { ...options.tls, ALPNProtocols: ["http/1.1"], allowHalfOpen: true } as TlsConnectionOptions;
  for (const name of ["ca", "cert", "key", "pfx", "passphrase", "rejectUnauthorized"] as const) {
    if (options[name] !== undefined) (result as Record<string, unknown>)[name] = options[name];
  }
  // RFC 6066 §3: SNI carries host names only, never IP addresses.
  const servername = options.servername ?? options.tls?.servername ?? (isIP(host) === 0 ? host : undefined);
  if (servername !== undefined) result.servername = servername;
  return result;
}

function ignoreError(): void {
  // Errors during the handshake are reported by readResponseHead or the upgrade request.
}

/** Checks a response head against the request (RFC 6455 §4.1, client steps 1-6). */
function finish(
  url: URL,
  socket: Socket,
  head: ResponseHead,
  rest: Buffer,
  plan: RequestPlan,
  options: ResolvedOptions,
): AttemptOutcome {
  if (head.statusCode !== 101) {
    socket.destroy();
    if (REDIRECT_STATUSES.has(head.statusCode)) {
      return { kind: "redirect", status: head.statusCode, location: head.headers.location?.[0] };
    }
    throw new ClientError(
      ClientErrorCode.UnexpectedStatus,
      `the server answered ${head.statusCode} ${head.statusMessage} instead of 101 Switching Protocols`,
      { statusCode: head.statusCode },
    );
  }
  // RFC 6455 §4.1: an HTTP/1.1 101, and only extensions and a subprotocol that were offered.
  const negotiated = validateUpgradeResponse(
    { statusCode: head.statusCode, httpVersion: head.httpVersion, headers: head.headers },
    { key: plan.key, protocols: options.protocols, extensions: plan.extensions },
  );
  if (!negotiated.ok) {
    socket.destroy();
    throw new ClientError(ClientErrorCode.InvalidHandshake, `invalid handshake response: ${negotiated.reason}`);
  }
  let compression: MessageCompression | null;
  try {
    compression = compressionFor(plan, negotiated.extensions);
  } catch (error) {
    socket.destroy();
    throw error;
  }
  socket.off("error", ignoreError);
  return {
    kind: "upgraded",
    result: {
      socket,
      httpVersion: "1.1",
      head: rest,
      url,
      protocol: negotiated.protocol,
      extensions: head.headers["sec-websocket-extensions"]?.join(", ") ?? "",
      compression,
    },
  };
}

/** permessage-deflate as the server accepted it (RFC 7692 §5), or null; a ClientError when its answer is invalid. */
function compressionFor(plan: RequestPlan, accepted: ExtensionOffer[]): MessageCompression | null {
  if (plan.deflate === false || accepted.length === 0) return null;
  try {
    return new PerMessageDeflate(acceptResponse(accepted, plan.deflate), "client", plan.deflate);
  } catch (cause) {
    throw new ClientError(ClientErrorCode.InvalidHandshake, `invalid handshake response: ${(cause as Error).message}`, { cause });
  }
}

/** The session the `http2` option names: the caller's own, or one from an agent (shared per origin). */
function findSession(url: URL, options: ResolvedOptions): Promise<SessionResult> {
  const http2 = options.http2;
  if (http2 instanceof Http2Agent) return http2.acquire(url, options);
  if (http2 === true) return Http2Agent.default.acquire(url, options);
  return borrowSession(http2 as Exclude<typeof http2, boolean | undefined | Http2Agent>);
}

/**
 * The opening handshake over HTTP/2 (RFC 8441 §4-5): an extended CONNECT on a stream of `found`'s
 * session, answered 2xx with a subprotocol and extensions among those offered. The stream is the
 * WebSocket's transport; its session is released when the stream closes.
 */
async function attemptHttp2(
  url: URL,
  plan: RequestPlan,
  options: ResolvedOptions,
  found: Extract<SessionResult, { kind: "h2" }>,
  onSocket: (socket: Duplex) => void,
): Promise<AttemptOutcome> {
  const { session, release } = found.lease;
  let headers;
  try {
    headers = buildConnectRequestHeaders({
      path: url.pathname + url.search,
      authority: url.host,
      scheme: url.protocol === "wss:" ? "https" : "http",
      protocols: options.protocols,
      extensions: plan.extensions,
      origin: options.origin,
      headers: plan.headers,
    });
  } catch (cause) {
    release();
    throw new ClientError(ClientErrorCode.InvalidOption, (cause as Error).message, { cause });
  }
  let stream: ClientHttp2Stream;
  try {
    stream = session.request(headers, { endStream: false });
  } catch (cause) {
    release();
    throw new ClientError(ClientErrorCode.ConnectionFailed, `connection failed: ${(cause as Error).message}`, { cause });
  }
  stream.on("error", ignoreError);
  stream.once("close", release);
  onSocket(stream);
  const response = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
    const onClose = (): void => {
      reject(new ClientError(ClientErrorCode.ConnectionFailed, `the server reset the stream (HTTP/2 error code ${stream.rstCode ?? "none"})`));
    };
    stream.once("close", onClose);
    stream.once("response", (fields) => {
      stream.off("close", onClose);
      resolve(fields);
    });
  });
  const status = connectResponseStatus({ headers: response });
  if (!(status >= 200 && status < 300)) {
    destroyTransport(stream);
    if (REDIRECT_STATUSES.has(status)) {
      const location = response.location;
      return { kind: "redirect", status, location: typeof location === "string" ? location : undefined };
    }
    throw new ClientError(ClientErrorCode.UnexpectedStatus, `the server answered ${status} to the extended CONNECT instead of 200`, {
      statusCode: status,
    });
  }
  const negotiated = validateConnectResponse({ headers: response }, { protocols: options.protocols, extensions: plan.extensions });
  if (!negotiated.ok) {
    destroyTransport(stream);
    throw new ClientError(ClientErrorCode.InvalidHandshake, `invalid handshake response: ${negotiated.reason}`);
  }
  let compression: MessageCompression | null;
  try {
    compression = compressionFor(plan, negotiated.extensions);
  } catch (error) {
    destroyTransport(stream);
    throw error;
  }
  stream.off("error", ignoreError);
  const extensions = response["sec-websocket-extensions"];
  return {
    kind: "upgraded",
    result: {
      socket: stream,
      httpVersion: "2.0",
      head: Buffer.alloc(0),
      url,
      protocol: negotiated.protocol,
      extensions: Array.isArray(extensions) ? extensions.join(", ") : (extensions ?? ""),
      compression,
    },
  };
}

/** The `agent` path: `http.request` with the caller's agent, taking the socket from `upgrade`. */
function attemptWithAgent(
  url: URL,
  plan: RequestPlan,
  options: ResolvedOptions,
  onSocket: (socket: Duplex) => void,
): Promise<AttemptOutcome> {
  const secure = url.protocol === "wss:";
  const host = stripBrackets(url.hostname);
  const headers: Record<string, string | string[]> = {
    ...plan.headers,
    Connection: "Upgrade",
    Upgrade: "websocket",
    "Sec-WebSocket-Key": plan.key,
    "Sec-WebSocket-Version": "13",
  };
  if (options.protocols.length > 0) headers["Sec-WebSocket-Protocol"] = options.protocols.join(", ");
  if (plan.extensions.length > 0) headers["Sec-WebSocket-Extensions"] = formatExtensionHeader(plan.extensions);
  if (options.origin !== undefined) headers.Origin = options.origin;
  const requestOptions = {
    ...(secure ? tlsOptions(host, options) : {}),
    host,
    port: Number(url.port) || (secure ? 443 : 80),
    path: url.pathname + url.search,
    headers,
    agent: options.agent,
  };
  return new Promise((resolve, reject) => {
    const request = (secure ? httpsRequest : httpRequest)(requestOptions);
    request.on("socket", (socket: Socket) => onSocket(socket));
    request.on("error", (error) => {
      reject(new ClientError(ClientErrorCode.ConnectionFailed, `connection failed: ${error.message}`, { cause: error }));
    });
    request.on("response", (response: IncomingMessage) => {
      response.resume();
      request.destroy();
      try {
        resolve(finish(url, response.socket, toHead(response), Buffer.alloc(0), plan, options));
      } catch (error) {
        reject(error as Error);
      }
    });
    request.on("upgrade", (response: IncomingMessage, socket: Socket, rest: Buffer) => {
      socket.on("error", ignoreError);
      socket.pause();
      try {
        resolve(finish(url, socket, toHead(response), rest, plan, options));
      } catch (error) {
        reject(error as Error);
      }
    });
    request.end();
  });
}

function toHead(response: IncomingMessage): ResponseHead {
  const headers = Object.create(null) as Record<string, string[]>;
  const raw = response.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    (headers[name] ??= []).push(raw[i + 1]!);
  }
  return {
    httpVersion: response.httpVersion,
    statusCode: response.statusCode ?? 0,
    statusMessage: response.statusMessage ?? "",
    headers,
  };
}
