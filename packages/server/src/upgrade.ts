import type { Socket } from "node:net";
import { buildErrorResponse, type ExtraHeaders } from "@ws/codec/handshake";
import type { HeadersInit, ResolvedOptions, UpgradeDecision, UpgradeReject, UpgradeRequest } from "./options.js";

/** Merges header records, dropping undefined values (the handshake writers refuse them). */
export function mergeHeaders(...sources: Array<HeadersInit | undefined>): ExtraHeaders | undefined {
  let result: ExtraHeaders | undefined;
  for (const source of sources) {
    if (source === undefined) continue;
    for (const name of Object.keys(source)) {
      const value = source[name];
      if (value === undefined) continue;
      result ??= Object.create(null) as ExtraHeaders;
      result[name] = value;
    }
  }
  return result;
}

/** The path and query of a request target; `search` is "" or starts with "?". */
export interface RequestTarget {
  path: string;
  search: string;
}

/** scheme "://" (RFC 3986 §3.1), one quantifier and no nesting, so linear (SECURITY.md row 2). */
const ABSOLUTE_FORM_PREFIX = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
/** Schemes whose absolute-form a WebSocket upgrade may use (RFC 9110 §4.2, RFC 6455 §3). */
const TARGET_SCHEMES: ReadonlySet<string> = new Set(["http", "https", "ws", "wss"]);

/**
 * The path and query of a GET request target (RFC 9112 §3.2): origin-form `/ws?x=1` as it is, and
 * absolute-form `http://host:port/ws?x=1` (§3.2.2, which a server must accept) by its path and
 * query, an empty path being "/". Null for asterisk-form (`*`) and authority-form (`host:port`),
 * which only OPTIONS and CONNECT may use, for an absolute-form with another scheme or no host, and
 * for anything else.
 */
export function parseRequestTarget(url: string | undefined): RequestTarget | null {
  if (url === undefined) return { path: "/", search: "" };
  if (typeof url !== "string") return null;
  let rest = url;
  if (!url.startsWith("/")) {
    const prefix = ABSOLUTE_FORM_PREFIX.exec(url);
    if (prefix === null || !TARGET_SCHEMES.has(prefix[1]!.toLowerCase())) return null;
    const authorityStart = prefix[0].length;
    let authorityEnd = authorityStart;
    while (authorityEnd < url.length && url[authorityEnd] !== "/" && url[authorityEnd] !== "?") authorityEnd++;
    // RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid.
    if (authorityEnd === authorityStart) return null;
    rest = url.slice(authorityEnd);
  }
  const query = rest.indexOf("?");
  const path = query === -1 ? rest : rest.slice(0, query);
  return { path: path === "" ? "/" : path, search: query === -1 ? "" : rest.slice(query) };
}

/** Whether the `Origin` header passes the allow-list (absent option: everything passes). */
export function originAllowed<T>(options: ResolvedOptions<T>, req: UpgradeRequest): boolean {
  const allowed = options.allowedOrigins;
  if (allowed === undefined) return true;
  const origin = req.headers.origin;
  const value = typeof origin === "string" ? origin : undefined;
  if (typeof allowed === "function") return allowed(value, req);
  // A missing Origin (a non-browser client) fails a list: the list says who may connect.
  return value !== undefined && allowed.includes(value);
}

/** Header lines in the request; Node truncates at `maxHeadersCount`, so equal means "maybe more". */
export function headerCount(req: UpgradeRequest): number {
  return req.rawHeaders.length >>> 1;
}

export function isReject<T>(decision: UpgradeDecision<T>): decision is UpgradeReject {
  return typeof decision === "object" && decision !== null && "status" in decision;
}

/** Answers a refused handshake with an HTTP error and closes the socket; never throws. Returns the status sent. */
export function rejectSocket(socket: Socket, status: number, reason: string, headers?: HeadersInit): number {
  if (socket.destroyed) return status;
  let response: string;
  try {
    response = buildErrorResponse(status, reason, mergeHeaders(headers));
  } catch {
    // A user hook gave a status outside 400-599 or a header that cannot be written.
    status = 500;
    response = buildErrorResponse(status, "Internal Server Error");
  }
  socket.end(response, "utf8", () => socket.destroy());
  return status;
}
