/**
 * Reading the header fields of a handshake message, shared by the request, response and extended
 * CONNECT validators.
 *
 * The lookups allocate nothing beyond the string they return: a handshake is cheap for a peer to
 * send, so the server answers every one, and what it allocates per handshake is garbage the young
 * generation has to grow for (it shows in the memory a burst of connections leaves behind). They
 * read the raw lines in place, once per lookup, instead of building a dictionary of arrays per
 * message; a validator makes a fixed number of lookups, so the cost stays linear in the lines, which
 * the server bounds (`maxHeaderCount`).
 *
 * @internal
 */
import { asciiLowerEquals, headerListIncludes } from "../header-lists.js";

/**
 * Header fields as Node's `IncomingMessage.headers` gives them: names in lower case, a value a string,
 * an array of strings for some repeated fields, or undefined.
 */
export type HeaderFields = Record<string, string | string[] | undefined>;

/**
 * The fields of one message as the validators read them: its raw lines `[name, value, ...]` (names
 * as sent, every string checked), or, for a message without them, its `headers` object.
 */
export type FieldSource = readonly string[] | HeaderFields;

/**
 * The fields of a request or response: `rawHeaders` when the message has it, else its `headers`.
 * Null when the one read is not an object (an array, for `headers`), or `rawHeaders` is not an
 * even-length list of strings.
 *
 * SECURITY.md row 22: a header that must appear once (`Host`) is counted over the raw lines, because
 * `IncomingMessage.headers` drops the second `Host` (or joins it with `joinDuplicateHeaders`).
 * SECURITY.md row 3: the peer picks the names, so nothing here uses them as keys of an object; a
 * `headers` object is read through its own properties only.
 */
export function messageFields(message: { headers?: unknown; rawHeaders?: unknown }): FieldSource | null {
  const raw = message.rawHeaders;
  if (raw === undefined) {
    const { headers } = message;
    return typeof headers === "object" && headers !== null && !Array.isArray(headers) ? (headers as HeaderFields) : null;
  }
  if (!Array.isArray(raw) || raw.length % 2 !== 0) return null;
  for (let i = 0; i < raw.length; i++) if (typeof raw[i] !== "string") return null;
  return raw as readonly string[];
}

/** Whether a field name as sent is `lower` (ASCII lower case), ASCII case-insensitively. */
function nameIs(name: string, lower: string): boolean {
  return name.length === lower.length && asciiLowerEquals(name, 0, lower);
}

/**
 * The field lines of `name` (lower case) in a `headers` object, uncopied: undefined when absent,
 * null when not a string or an array of strings. Reads own properties only, so a header object
 * whose prototype was tampered with (`__proto__` as a key) cannot supply values.
 */
function objectLines(headers: HeaderFields, name: string): string | readonly string[] | null | undefined {
  if (!Object.hasOwn(headers, name)) return undefined;
  const value: unknown = headers[name];
  if (value === undefined || typeof value === "string") return value;
  if (!Array.isArray(value)) return null;
  if (value.length === 0) return undefined;
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== "string") return null;
  return value as readonly string[];
}

/**
 * The value of a header that must appear exactly once, trimmed of OWS (RFC 7230 §3.2.4: it is not part
 * of the field value), or null when absent, repeated or garbage.
 */
export function singleHeaderValue(fields: FieldSource, name: string): string | null {
  let value: string | null = null;
  if (Array.isArray(fields)) {
    const raw = fields as readonly string[];
    for (let i = 0; i < raw.length; i += 2) {
      if (!nameIs(raw[i]!, name)) continue;
      if (value !== null) return null;
      value = raw[i + 1]!;
    }
  } else {
    const lines = objectLines(fields as HeaderFields, name);
    if (typeof lines === "string") value = lines;
    else if (lines !== null && lines !== undefined && lines.length === 1) value = lines[0]!;
  }
  return value === null ? null : trimOws(value);
}

/**
 * Whether the comma list in header `name`, over all its field lines, holds `token` (lower case)
 * ASCII case-insensitively.
 */
export function headerIncludes(fields: FieldSource, name: string, token: string): boolean {
  if (Array.isArray(fields)) {
    const raw = fields as readonly string[];
    for (let i = 0; i < raw.length; i += 2) {
      if (nameIs(raw[i]!, name) && headerListIncludes(raw[i + 1]!, token)) return true;
    }
    return false;
  }
  const lines = objectLines(fields as HeaderFields, name);
  if (typeof lines === "string") return headerListIncludes(lines, token);
  if (lines === null || lines === undefined) return false;
  for (let i = 0; i < lines.length; i++) if (headerListIncludes(lines[i]!, token)) return true;
  return false;
}

/**
 * Repeated field lines of a list header are equivalent to one line with the values joined by commas
 * (RFC 7230 §3.2.2). Undefined when absent, null when garbage.
 */
export function joinedHeader(fields: FieldSource, name: string): string | null | undefined {
  if (Array.isArray(fields)) {
    const raw = fields as readonly string[];
    let joined: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      if (nameIs(raw[i]!, name)) joined = joined === undefined ? raw[i + 1]! : `${joined},${raw[i + 1]!}`;
    }
    return joined;
  }
  const lines = objectLines(fields as HeaderFields, name);
  return typeof lines === "string" || lines === null || lines === undefined ? lines : lines.join(",");
}

/** `value` without leading and trailing SP and HTAB; the same string when it has none. */
function trimOws(value: string): string {
  let from = 0;
  let to = value.length;
  while (from < to && (value.charCodeAt(from) === 0x20 || value.charCodeAt(from) === 0x09)) from++;
  while (to > from && (value.charCodeAt(to - 1) === 0x20 || value.charCodeAt(to - 1) === 0x09)) to--;
  return from === 0 && to === value.length ? value : value.slice(from, to);
}
