import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { buildErrorResponse, type ExtraHeaders } from "@ws/codec/handshake";
import type { HeadersInit, ResolvedOptions, UpgradeDecision, UpgradeReject } from "./options.js";

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

/** The request target's path, without the query string (RFC 9112 §3.2). */
export function requestPath(url: string | undefined): string {
  if (url === undefined) return "/";
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

/** Whether the `Origin` header passes the allow-list (absent option: everything passes). */
export function originAllowed<T>(options: ResolvedOptions<T>, req: IncomingMessage): boolean {
  const allowed = options.allowedOrigins;
  if (allowed === undefined) return true;
  const origin = req.headers.origin;
  const value = typeof origin === "string" ? origin : undefined;
  if (typeof allowed === "function") return allowed(value, req);
  // A missing Origin (a non-browser client) fails a list: the list says who may connect.
  return value !== undefined && allowed.includes(value);
}

/** Header lines in the request; Node truncates at `maxHeadersCount`, so equal means "maybe more". */
export function headerCount(req: IncomingMessage): number {
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
