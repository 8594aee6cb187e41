/**
 * Parsers and formatters for the comma-separated header lists of the opening handshake:
 * `Sec-WebSocket-Protocol` (RFC 6455 §4.1, §11.3.4) and `Sec-WebSocket-Extensions` (RFC 6455 §9.1).
 *
 * Every value here comes from the peer, so the scanners walk the string once, left to right, and never
 * back up (SECURITY.md row 2: a backtracking regex split was a ReDoS). Invalid input gives `null`, never
 * an exception. Runtime-neutral: no `node:` imports.
 */
import type { ExtensionOffer } from "./extension.js";

const HTAB = 0x09;
const SP = 0x20;
const DQUOTE = 0x22;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;

/**
 * tchar (RFC 7230 §3.2.6): "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" /
 * "`" / "|" / "~" / DIGIT / ALPHA. A lookup table indexed by char code; anything at or past 0x80 is
 * not a tchar, which also rejects every non-ASCII character (SECURITY.md row 10).
 */
const TCHAR = new Uint8Array(128);
for (const ch of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[ch.charCodeAt(0)] = 1;
}

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** Whether `value` is a non-empty `token` (RFC 7230 §3.2.6). */
export function isToken(value: string): boolean {
  if (typeof value !== "string" || value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    if (!isTchar(value.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * qdtext (RFC 7230 §3.2.6) restricted to ASCII: HTAB / SP / %x21 / %x23-5B / %x5D-7E. obs-text is
 * left out because RFC 6455 §9.1 requires the unquoted value to be a token, which is ASCII anyway.
 */
function isQdtext(code: number): boolean {
  return code === HTAB || (code >= SP && code <= 0x7e && code !== DQUOTE && code !== BACKSLASH);
}

/** The character after "\" in a quoted-pair (RFC 7230 §3.2.6): HTAB / SP / VCHAR (ASCII only, as above). */
function isQuotedPairChar(code: number): boolean {
  return code === HTAB || (code >= SP && code <= 0x7e);
}

/** A cursor over one header value. Each method moves `pos` forward only, so a parse is linear. */
class Scanner {
  pos = 0;
  readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  /** The char code under the cursor, or -1 at the end. */
  peek(): number {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  /** OWS = *( SP / HTAB ) (RFC 7230 §3.2.3). */
  skipOws(): void {
    let code = this.peek();
    while (code === SP || code === HTAB) {
      this.pos++;
      code = this.peek();
    }
  }

  /** Reads a token, or returns null (without moving) when there is none here. */
  token(): string | null {
    const start = this.pos;
    while (this.pos < this.text.length && isTchar(this.text.charCodeAt(this.pos))) this.pos++;
    return this.pos === start ? null : this.text.slice(start, this.pos);
  }

  /**
   * Reads a quoted-string (RFC 7230 §3.2.6) with the cursor on its opening DQUOTE and returns its
   * content with each quoted-pair replaced by the escaped character; null if malformed or unterminated.
   */
  quotedString(): string | null {
    const text = this.text;
    let i = this.pos + 1;
    let segmentStart = i;
    let value = "";
    while (i < text.length) {
      const code = text.charCodeAt(i);
      if (code === DQUOTE) {
        this.pos = i + 1;
        return value + text.slice(segmentStart, i);
      }
      if (code === BACKSLASH) {
        if (i + 1 >= text.length || !isQuotedPairChar(text.charCodeAt(i + 1))) return null;
        value += text.slice(segmentStart, i) + text.charAt(i + 1);
        i += 2;
        segmentStart = i;
        continue;
      }
      if (!isQdtext(code)) return null;
      i++;
    }
    return null;
  }
}

/**
 * Parses a `Sec-WebSocket-Protocol` value: `1#token` (RFC 6455 §4.1, §11.3.4) with OWS around the
 * commas. Returns the subprotocols in order, or null for an invalid token, an empty element or a
 * subprotocol named twice (RFC 6455 §4.1: the values "MUST all be unique").
 */
export function parseSubprotocolHeader(value: string): string[] | null {
  if (typeof value !== "string") return null;
  const scanner = new Scanner(value);
  const protocols: string[] = [];
  const seen = new Set<string>();
  while (true) {
    scanner.skipOws();
    const protocol = scanner.token();
    if (protocol === null || seen.has(protocol)) return null;
    seen.add(protocol);
    protocols.push(protocol);
    scanner.skipOws();
    if (scanner.atEnd()) return protocols;
    if (scanner.peek() !== COMMA) return null;
    scanner.pos++;
  }
}

/**
 * Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1):
 *
 *     extension-list = 1#extension
 *     extension      = extension-token *( ";" extension-param )
 *     extension-param = token [ "=" (token | quoted-string) ]
 *
 * with OWS around `,`, `;` and `=`. A quoted value is unquoted and must then be a token (§9.1: "the
 * value MUST conform to the 'token' ABNF"). `params` is a null-prototype object because the peer picks
 * its keys (SECURITY.md row 3): `__proto__` or `constructor` are ordinary own keys. A name offered
 * twice gives two entries, since a client may offer alternatives (RFC 7692 §5). Returns null on any
 * syntax error.
 */
export function parseExtensionHeader(value: string): ExtensionOffer[] | null {
  if (typeof value !== "string") return null;
  const scanner = new Scanner(value);
  const offers: ExtensionOffer[] = [];
  while (true) {
    scanner.skipOws();
    const name = scanner.token();
    if (name === null) return null;
    const params = Object.create(null) as Record<string, Array<string | true>>;
    scanner.skipOws();
    while (scanner.peek() === SEMICOLON) {
      scanner.pos++;
      scanner.skipOws();
      const param = scanner.token();
      if (param === null) return null;
      scanner.skipOws();
      let paramValue: string | true = true;
      if (scanner.peek() === EQUALS) {
        scanner.pos++;
        scanner.skipOws();
        const parsed = scanner.peek() === DQUOTE ? scanner.quotedString() : scanner.token();
        if (parsed === null || !isToken(parsed)) return null;
        paramValue = parsed;
        scanner.skipOws();
      }
      const values = params[param];
      if (values === undefined) params[param] = [paramValue];
      else values.push(paramValue);
    }
    offers.push({ name, params });
    if (scanner.atEnd()) return offers;
    if (scanner.peek() !== COMMA) return null;
    scanner.pos++;
  }
}

/**
 * Formats offers as a `Sec-WebSocket-Extensions` value, the inverse of `parseExtensionHeader`:
 * `permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-foo`. Values are written
 * as bare tokens. Throws a TypeError for a name, parameter or value that is not a token: that is a
 * programmer error, and letting it through could inject text into the handshake.
 */
export function formatExtensionHeader(offers: readonly ExtensionOffer[]): string {
  const parts: string[] = [];
  for (const offer of offers) {
    if (!isToken(offer.name)) throw new TypeError(`Invalid extension name: ${JSON.stringify(offer.name)}`);
    let part = offer.name;
    for (const param of Object.keys(offer.params)) {
      if (!isToken(param)) throw new TypeError(`Invalid extension parameter: ${JSON.stringify(param)}`);
      for (const paramValue of offer.params[param] ?? []) {
        if (paramValue === true) {
          part += `; ${param}`;
        } else if (isToken(paramValue)) {
          part += `; ${param}=${paramValue}`;
        } else {
          throw new TypeError(`Invalid value for extension parameter ${param}: ${JSON.stringify(paramValue)}`);
        }
      }
    }
    parts.push(part);
  }
  return parts.join(", ");
}

/**
 * Whether a comma-separated header list (`#token`, RFC 7230 §7) holds an element equal to `token`,
 * ASCII case-insensitively: `Connection: keep-alive, Upgrade` includes `upgrade` (RFC 6455 §4.2.1).
 * `token` must be given in lower case. Elements are trimmed of OWS; empty elements are skipped.
 */
export function headerListIncludes(value: string, token: string): boolean {
  if (typeof value !== "string") return false;
  let start = 0;
  while (start <= value.length) {
    let end = value.indexOf(",", start);
    if (end === -1) end = value.length;
    let from = start;
    let to = end;
    while (from < to && isOws(value.charCodeAt(from))) from++;
    while (to > from && isOws(value.charCodeAt(to - 1))) to--;
    if (to - from === token.length && asciiLowerEquals(value, from, token)) return true;
    start = end + 1;
  }
  return false;
}

function isOws(code: number): boolean {
  return code === SP || code === HTAB;
}

/**
 * ASCII case-insensitive comparison of `value` from `from` with lower-case `lower`. Not
 * `toLowerCase()`: that folds non-ASCII letters too (U+212A KELVIN SIGN becomes "k"), and RFC 6455
 * §4.2.1 asks for an ASCII case-insensitive match.
 *
 * @internal shared with the handshake's field readers
 */
export function asciiLowerEquals(value: string, from: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    let code = value.charCodeAt(from + i);
    if (code >= 0x41 && code <= 0x5a) code |= 0x20;
    if (code !== lower.charCodeAt(i)) return false;
  }
  return true;
}
