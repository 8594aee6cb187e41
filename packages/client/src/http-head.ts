import type { Socket } from "node:net";
import { ClientError, ClientErrorCode } from "./errors.js";

/** SECURITY.md row 9: the response head is bounded, and parsed once when it is complete. */
export const MAX_HEAD_BYTES = 16 * 1024;

/** An HTTP/1.1 response head. Header names are lower case; repeated headers keep every value. */
export interface ResponseHead {
  /** The status line's HTTP-version, `major.minor`: "1.1" or "1.0". */
  httpVersion: string;
  statusCode: number;
  statusMessage: string;
  /** Null prototype: the names are the peer's choice (SECURITY.md row 3). */
  headers: Record<string, string[]>;
}

const CRLFCRLF = Buffer.from("\r\n\r\n");

/**
 * Reads one HTTP response head from `socket` and resolves with it and the bytes that followed it
 * (the first WebSocket frames, or a tunnel's first bytes). The socket is left paused with no
 * listeners of ours, so its next owner loses nothing. Rejects (without destroying the socket) on a
 * malformed or oversized head or on EOF.
 */
export function readResponseHead(socket: Socket): Promise<{ head: ResponseHead; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    const cleanup = (): void => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", onError);
      socket.off("close", onEnd);
    };
    const fail = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      const searchFrom = Math.max(0, received.length - 3);
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const end = received.indexOf(CRLFCRLF, searchFrom);
      if (end === -1) {
        if (received.length > MAX_HEAD_BYTES) {
          fail(invalid(`the response head is larger than ${MAX_HEAD_BYTES} bytes`));
        }
        return;
      }
      if (end > MAX_HEAD_BYTES) return fail(invalid(`the response head is larger than ${MAX_HEAD_BYTES} bytes`));
      socket.pause();
      cleanup();
      let head: ResponseHead;
      try {
        head = parseResponseHead(received.toString("latin1", 0, end));
      } catch (error) {
        reject(error as Error);
        return;
      }
      resolve({ head, rest: received.subarray(end + 4) });
    };
    const onEnd = (): void => {
      fail(new ClientError(ClientErrorCode.ConnectionFailed, "the server closed the connection during the handshake"));
    };
    const onError = (error: Error): void => {
      fail(new ClientError(ClientErrorCode.ConnectionFailed, `connection failed: ${error.message}`, { cause: error }));
    };
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
    socket.on("error", onError);
    socket.resume();
  });
}

function invalid(message: string): ClientError {
  return new ClientError(ClientErrorCode.InvalidHandshake, message);
}

/** Parses `HTTP/1.1 101 Switching Protocols\r\nName: value\r\n...` (RFC 7230 §3). */
export function parseResponseHead(text: string): ResponseHead {
  const lines = text.split("\r\n");
  const statusLine = lines[0] ?? "";
  // status-line = HTTP-version SP status-code SP reason-phrase. HTTP/1.0 is parsed, since a proxy's
  // CONNECT answer or an error may come in it; a 101 must be HTTP/1.1 (checked by the handshake).
  if (!statusLine.startsWith("HTTP/1.1 ") && !statusLine.startsWith("HTTP/1.0 ")) {
    throw invalid(`not an HTTP/1.1 status line: ${JSON.stringify(statusLine.slice(0, 64))}`);
  }
  const codeText = statusLine.slice(9, 12);
  if (!/^[1-9][0-9][0-9]$/.test(codeText) || (statusLine.length > 12 && statusLine[12] !== " ")) {
    throw invalid(`invalid status line: ${JSON.stringify(statusLine.slice(0, 64))}`);
  }
  const headers = Object.create(null) as Record<string, string[]>;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    // No obs-fold (RFC 7230 §3.2.4), no empty or whitespace-ended names.
    if (colon <= 0 || line.charCodeAt(0) <= 0x20 || line.charCodeAt(colon - 1) <= 0x20) {
      throw invalid(`invalid header line: ${JSON.stringify(line.slice(0, 64))}`);
    }
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    for (let j = 0; j < value.length; j++) {
      const c = value.charCodeAt(j);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) throw invalid(`invalid character in header ${name}`);
    }
    const values = headers[name];
    if (values === undefined) headers[name] = [value];
    else values.push(value);
  }
  return { httpVersion: statusLine.slice(5, 8), statusCode: Number(codeText), statusMessage: statusLine.slice(13), headers };
}

/** The single value of a header, or undefined when absent; repeated values are joined with ", ". */
export function headerValue(head: ResponseHead, name: string): string | undefined {
  const values = head.headers[name];
  return values === undefined ? undefined : values.join(", ");
}
