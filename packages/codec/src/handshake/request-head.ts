/**
 * Reading an HTTP/1.1 request head from bytes (RFC 9112 §2, §3, §5), for a server that owns its TCP
 * listener and so skips `node:http`. Only what an upgrade request needs: the request line and the
 * header lines, as `IncomingMessage` would give them (`rawHeaders`, names as sent, values latin1).
 * The result goes to `validateUpgradeRequest`, the one validator both server paths share.
 *
 * Bounded and linear (SECURITY.md rows 2, 9): `findRequestHeadEnd` resumes where the previous read
 * stopped, so every byte is scanned once however the head is split across reads; `parseRequestHead`
 * walks the head once, with no regular expression, and stops at `maxHeaderCount` lines.
 */
import { Buffer } from "node:buffer";

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/** tchar (RFC 9110 §5.6.2): the bytes of a method or a field name. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** field-vchar, SP and HTAB (RFC 9110 §5.5): what a field value may hold; obs-text (0x80-0xFF) too. */
const FIELD_BYTE = new Uint8Array(256);
FIELD_BYTE[HTAB] = 1;
for (let c = 0x20; c <= 0x7e; c++) FIELD_BYTE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) FIELD_BYTE[c] = 1;

/** A request head as `IncomingMessage` presents it. */
export interface RequestHead {
  method: string;
  /** The request-target as sent (origin-form `/path?query`, or absolute-form). */
  url: string;
  /** "1.1" */
  httpVersion: string;
  httpVersionMajor: number;
  httpVersionMinor: number;
  /** `[name, value, name, value, ...]`, names as sent, values without surrounding OWS. */
  rawHeaders: string[];
}

/** Why a head cannot be read: the status to answer with, and a stable code for logs. */
export interface RequestHeadError {
  ok: false;
  status: 400 | 431 | 505;
  reason: string;
  code: RequestHeadErrorCode;
}

export type RequestHeadErrorCode =
  | "WS_ERR_HEAD_REQUEST_LINE"
  | "WS_ERR_HEAD_VERSION"
  | "WS_ERR_HEAD_FIELD"
  | "WS_ERR_HEAD_LINE_ENDING"
  | "WS_ERR_HEAD_OBS_FOLD"
  | "WS_ERR_HEAD_TOO_MANY_FIELDS";

export type RequestHeadResult = { ok: true; head: RequestHead } | RequestHeadError;

function fail(status: RequestHeadError["status"], reason: string, code: RequestHeadErrorCode): RequestHeadError {
  return { ok: false, status, reason, code };
}

/**
 * The index just past the empty line that ends the head in `bytes[0, length)`, or -1 when it has not
 * arrived. `from` is how many bytes an earlier call already scanned (0 at first): the search resumes
 * two bytes before it, so a terminator split across reads is found and no byte is scanned twice more.
 * A bare LF also ends a line here, so that a head with bare LFs ends (and `parseRequestHead` refuses
 * it) instead of waiting for the size limit.
 */
export function findRequestHeadEnd(bytes: Uint8Array, from = 0, length = bytes.length): number {
  let i = from > 2 ? from - 2 : 0;
  for (;;) {
    i = bytes.indexOf(LF, i);
    if (i === -1 || i >= length) return -1;
    // An empty line: LF right after the previous line's LF, or CR LF right after it.
    if (i >= 1 && bytes[i - 1] === LF) return i + 1;
    if (i >= 2 && bytes[i - 1] === CR && bytes[i - 2] === LF) return i + 1;
    i++;
  }
}

/** The end of the line starting at `start` (the index of its CR), or a failure for a bare LF. */
function lineEnd(bytes: Uint8Array, start: number, end: number): number {
  const lf = bytes.indexOf(LF, start);
  // RFC 9112 §2.2: a bare LF, or a bare CR anywhere (checked per byte by the callers), is refused.
  if (lf === -1 || lf >= end || lf === start || bytes[lf - 1] !== CR) return -1;
  return lf - 1;
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.prototype.latin1Slice.call(bytes, start, end) as string;
}

/**
 * Strings most upgrade requests carry, as browsers and libraries spell them: the common field names
 * and the values that do not vary. A line that matches one byte for byte gets the shared string, not
 * a new one: a dozen strings per handshake would otherwise be garbage for every connection.
 */
const COMMON_STRINGS = [
  "GET", "/", "Host", "Upgrade", "upgrade", "websocket", "Connection", "connection", "keep-alive, Upgrade",
  "Sec-WebSocket-Key", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol",
  "permessage-deflate; client_max_window_bits", "Origin", "User-Agent", "Accept-Encoding", "gzip, deflate",
  "gzip, deflate, br", "gzip, deflate, br, zstd", "Accept-Language", "Cache-Control", "no-cache", "Pragma", "Cookie",
  "host", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol",
  "origin", "user-agent", "accept-encoding", "accept-language", "cache-control", "pragma", "cookie",
];

/** The common strings by length, each with its bytes. */
const COMMON_BY_LENGTH: { text: string; bytes: Uint8Array }[][] = [];
for (const text of COMMON_STRINGS) {
  (COMMON_BY_LENGTH[text.length] ??= []).push({ text, bytes: Buffer.from(text, "latin1") });
}

/** `latin1(bytes, start, end)`, as a shared string when it is a common one. */
function text(bytes: Uint8Array, start: number, end: number): string {
  const candidates = COMMON_BY_LENGTH[end - start];
  if (candidates !== undefined) {
    for (const candidate of candidates) {
      const common = candidate.bytes;
      let i = 0;
      while (i < common.length && common[i] === bytes[start + i]) i++;
      if (i === common.length) return candidate.text;
    }
  }
  return latin1(bytes, start, end);
}

/** HTTP versions as `IncomingMessage.httpVersion` spells them, built once. */
const VERSIONS = ["1.0", "1.1"];

/**
 * Parses the head in `bytes[0, end)`, `end` being what `findRequestHeadEnd` returned. Refuses (400)
 * anything outside the grammar: a request line that is not `method SP target SP HTTP/x.y`, a target
 * with bytes outside VCHAR, a field name that is not a token, a control byte in a value, obs-fold
 * (RFC 9112 §5.2 lets a server refuse it), a bare CR or LF. 505 for a major version other than 1,
 * 431 past `maxHeaderCount` header lines.
 */
export function parseRequestHead(bytes: Uint8Array, end: number, maxHeaderCount: number): RequestHeadResult {
  // Request line (RFC 9112 §3).
  const lineStop = lineEnd(bytes, 0, end);
  if (lineStop === -1) return fail(400, "Bad Request", "WS_ERR_HEAD_LINE_ENDING");
  let i = 0;
  while (i < lineStop && TCHAR[bytes[i]!] === 1) i++;
  if (i === 0 || bytes[i] !== SP) return fail(400, "Bad Request", "WS_ERR_HEAD_REQUEST_LINE");
  const method = text(bytes, 0, i);
  const targetStart = ++i;
  while (i < lineStop && bytes[i]! > SP && bytes[i]! < 0x7f) i++;
  if (i === targetStart || bytes[i] !== SP) return fail(400, "Bad Request", "WS_ERR_HEAD_REQUEST_LINE");
  const url = text(bytes, targetStart, i);
  i++;
  // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3), and nothing after it.
  if (
    lineStop - i !== 8 ||
    bytes[i] !== 0x48 || bytes[i + 1] !== 0x54 || bytes[i + 2] !== 0x54 || bytes[i + 3] !== 0x50 || bytes[i + 4] !== 0x2f ||
    !isDigit(bytes[i + 5]!) || bytes[i + 6] !== 0x2e || !isDigit(bytes[i + 7]!)
  ) {
    return fail(400, "Bad Request", "WS_ERR_HEAD_VERSION");
  }
  const major = bytes[i + 5]! - 0x30;
  const minor = bytes[i + 7]! - 0x30;
  if (major !== 1) return fail(505, "HTTP Version Not Supported", "WS_ERR_HEAD_VERSION");

  // Header lines (RFC 9112 §5), up to the empty line.
  const rawHeaders: string[] = [];
  let start = lineStop + 2;
  for (;;) {
    const stop = lineEnd(bytes, start, end);
    if (stop === -1) return fail(400, "Bad Request", "WS_ERR_HEAD_LINE_ENDING");
    if (stop === start) break;
    if (rawHeaders.length >= maxHeaderCount * 2) return fail(431, "Too Many Header Fields", "WS_ERR_HEAD_TOO_MANY_FIELDS");
    const first = bytes[start]!;
    if (first === SP || first === HTAB) return fail(400, "Bad Request", "WS_ERR_HEAD_OBS_FOLD");
    let j = start;
    while (j < stop && TCHAR[bytes[j]!] === 1) j++;
    // RFC 9112 §5.1: no whitespace between the name and the colon.
    if (j === start || bytes[j] !== COLON) return fail(400, "Bad Request", "WS_ERR_HEAD_FIELD");
    const name = text(bytes, start, j);
    let valueStart = j + 1;
    let valueEnd = stop;
    for (let k = valueStart; k < stop; k++) {
      if (FIELD_BYTE[bytes[k]!] !== 1) return fail(400, "Bad Request", "WS_ERR_HEAD_FIELD");
    }
    while (valueStart < valueEnd && (bytes[valueStart] === SP || bytes[valueStart] === HTAB)) valueStart++;
    while (valueEnd > valueStart && (bytes[valueEnd - 1] === SP || bytes[valueEnd - 1] === HTAB)) valueEnd--;
    rawHeaders.push(name, text(bytes, valueStart, valueEnd));
    start = stop + 2;
  }
  return {
    ok: true,
    head: { method, url, httpVersion: VERSIONS[minor] ?? `${major}.${minor}`, httpVersionMajor: major, httpVersionMinor: minor, rawHeaders },
  };
}

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}
