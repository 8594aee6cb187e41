/**
 * permessage-deflate negotiation (RFC 7692 §5 and §7.1): the server picks the first acceptable offer
 * and answers it; the client builds its offer and checks the server's answer.
 *
 * Parameter names and values come from the peer. They are read with `Object.keys` from a
 * null-prototype object and matched against a fixed list, so names like `__proto__` are simply
 * unknown parameters (SECURITY.md row 3).
 */
import type { ExtensionOffer } from "../extension.js";
import type { DeflateParams, PerMessageDeflateOptions } from "./options.js";
import { MAX_WINDOW_BITS, validateOptions } from "./options.js";

export const EXTENSION_NAME = "permessage-deflate";

/** The four parameters of one offer or response, as the peer wrote them. */
interface DeflateParameters {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: present without a value (only allowed in an offer). */
  clientMaxWindowBits: number | true | undefined;
}

/**
 * §7.1.2: "a decimal integer value without leading zeroes between 8 to 15 inclusive". Anything else
 * (`7`, `16`, `08`, `1000`, `abc`, `+9`) is invalid, so zlib never sees an out-of-range value
 * (SECURITY.md row 7).
 */
const WINDOW_BITS_VALUES: ReadonlyMap<string, number> = new Map(
  ["8", "9", "10", "11", "12", "13", "14", "15"].map((text) => [text, Number(text)]),
);

function parseWindowBits(value: string | true, name: string, optionalValue: boolean): number | true | string {
  if (value === true) return optionalValue ? true : `${name} needs a value`;
  const bits = WINDOW_BITS_VALUES.get(value);
  return bits ?? `${name} has an invalid value "${value}" (must be an integer from 8 to 15)`;
}

/**
 * Reads the parameters of one permessage-deflate entry. Returns a reason string when the entry is
 * invalid: an unknown parameter, a repeated one, or a bad value (§7.1: such an offer is declined;
 * such a response fails the connection).
 */
function readParameters(entry: ExtensionOffer, isOffer: boolean): DeflateParameters | string {
  const result: DeflateParameters = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const params = entry.params;
  for (const name of Object.keys(params)) {
    const values = params[name];
    if (!Array.isArray(values) || values.length === 0) return `parameter ${name} has no value list`;
    if (values.length > 1) return `parameter ${name} is repeated`;
    const value = values[0] as string | true;
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        // §7.1.1: these parameters have no value.
        if (value !== true) return `${name} must not have a value`;
        if (name === "server_no_context_takeover") result.serverNoContextTakeover = true;
        else result.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits": {
        const bits = parseWindowBits(value, name, false);
        if (typeof bits !== "number") return bits === true ? `${name} needs a value` : bits;
        result.serverMaxWindowBits = bits;
        break;
      }
      case "client_max_window_bits": {
        // §7.1.2.2: the value is optional in an offer but required in a response.
        const bits = parseWindowBits(value, name, isOffer);
        if (typeof bits === "string") return bits;
        result.clientMaxWindowBits = bits;
        break;
      }
      default:
        return `unknown parameter ${JSON.stringify(name)}`;
    }
  }
  return result;
}

function isDeflateEntry(entry: ExtensionOffer): boolean {
  // Extension tokens are compared case-insensitively, like other HTTP tokens.
  return entry.name.toLowerCase() === EXTENSION_NAME;
}

function newParams(): Record<string, Array<string | true>> {
  return Object.create(null) as Record<string, Array<string | true>>;
}

/**
 * Server side: accepts the first permessage-deflate offer that is valid, in the client's order of
 * preference (§5.1), and builds the response. Returns null when no offer can be accepted (the
 * server then answers without the extension).
 */
export function negotiateServer(
  offers: readonly ExtensionOffer[],
  options: PerMessageDeflateOptions = {},
): { params: DeflateParams; response: ExtensionOffer } | null {
  validateOptions(options);
  for (const offer of offers) {
    if (!isDeflateEntry(offer)) continue;
    const offered = readParameters(offer, true);
    if (typeof offered === "string") continue;
    return acceptOffer(offered, options);
  }
  return null;
}

function acceptOffer(
  offered: DeflateParameters,
  options: PerMessageDeflateOptions,
): { params: DeflateParams; response: ExtensionOffer } {
  const response = newParams();

  // §7.1.1.1: an offer with server_no_context_takeover is accepted by including it in the
  // response; the server may also include it unasked.
  const serverNoContextTakeover = offered.serverNoContextTakeover || options.serverNoContextTakeover === true;
  if (serverNoContextTakeover) response.server_no_context_takeover = [true];

  // §7.1.1.2: the server may include client_no_context_takeover whether or not it was offered;
  // an offered one is a hint the client will not use context takeover anyway, so echo it.
  const clientNoContextTakeover = offered.clientNoContextTakeover || options.clientNoContextTakeover === true;
  if (clientNoContextTakeover) response.client_no_context_takeover = [true];

  // §7.1.2.1: with server_max_window_bits=N offered, the server must use at most N and say so.
  // Compressing with a smaller window than offered is always allowed, so never decline over it.
  const preferredServerBits =
    typeof options.serverMaxWindowBits === "number" ? options.serverMaxWindowBits : MAX_WINDOW_BITS;
  const serverMaxWindowBits = Math.min(preferredServerBits, offered.serverMaxWindowBits ?? MAX_WINDOW_BITS);
  if (offered.serverMaxWindowBits !== undefined || serverMaxWindowBits < MAX_WINDOW_BITS) {
    response.server_max_window_bits = [String(serverMaxWindowBits)];
  }

  // §7.1.2.2: client_max_window_bits may only appear in the response if the offer had it; its
  // value then is at most the offered one. Without it in the offer the client may use 15.
  let clientMaxWindowBits = MAX_WINDOW_BITS;
  if (offered.clientMaxWindowBits !== undefined) {
    const offeredLimit = offered.clientMaxWindowBits === true ? MAX_WINDOW_BITS : offered.clientMaxWindowBits;
    const preferred =
      typeof options.clientMaxWindowBits === "number" ? options.clientMaxWindowBits : MAX_WINDOW_BITS;
    clientMaxWindowBits = Math.min(offeredLimit, preferred);
    if (offered.clientMaxWindowBits !== true || clientMaxWindowBits < MAX_WINDOW_BITS) {
      response.client_max_window_bits = [String(clientMaxWindowBits)];
    }
  }

  return {
    params: { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits },
    response: { name: EXTENSION_NAME, params: response },
  };
}

/**
 * Client side: the offer to send. By default `permessage-deflate; client_max_window_bits`, which
 * tells the server it may limit the client's window (§7.1.2.2).
 */
export function createOffer(options: PerMessageDeflateOptions = {}): ExtensionOffer {
  validateOptions(options);
  const params = newParams();
  if (options.serverNoContextTakeover === true) params.server_no_context_takeover = [true];
  if (options.clientNoContextTakeover === true) params.client_no_context_takeover = [true];
  if (typeof options.serverMaxWindowBits === "number") {
    params.server_max_window_bits = [String(options.serverMaxWindowBits)];
  }
  const { clientMaxWindowBits } = options;
  if (typeof clientMaxWindowBits === "number") params.client_max_window_bits = [String(clientMaxWindowBits)];
  else if (clientMaxWindowBits !== false) params.client_max_window_bits = [true];
  return { name: EXTENSION_NAME, params };
}

/**
 * Client side: checks the server's `Sec-WebSocket-Extensions` entries against the offer made from the
 * same `options`, and returns the parameters to use. Entries for other extensions are ignored here:
 * `validateUpgradeResponse` fails a response that names one the client did not offer (RFC 6455
 * §9.1). Throws an Error saying what is wrong; the client then fails the handshake
 * (§7.1: a response the client cannot accept fails the WebSocket connection).
 */
export function acceptResponse(
  response: readonly ExtensionOffer[],
  options: PerMessageDeflateOptions = {},
): DeflateParams {
  validateOptions(options);
  const entries = response.filter(isDeflateEntry);
  if (entries.length !== 1) {
    throw new Error(
      `Invalid permessage-deflate response: expected exactly one permessage-deflate entry, got ${entries.length}`,
    );
  }
  const answer = readParameters(entries[0] as ExtensionOffer, false);
  if (typeof answer === "string") throw new Error(`Invalid permessage-deflate response: ${answer}`);

  if (options.serverNoContextTakeover === true && !answer.serverNoContextTakeover) {
    throw new Error("Invalid permessage-deflate response: server_no_context_takeover was requested but not accepted");
  }
  if (typeof options.serverMaxWindowBits === "number") {
    if (answer.serverMaxWindowBits === undefined) {
      throw new Error("Invalid permessage-deflate response: server_max_window_bits was requested but is missing");
    }
    if (answer.serverMaxWindowBits > options.serverMaxWindowBits) {
      throw new Error(
        `Invalid permessage-deflate response: server_max_window_bits=${answer.serverMaxWindowBits} is above the requested ${options.serverMaxWindowBits}`,
      );
    }
  }

  let clientMaxWindowBits = MAX_WINDOW_BITS;
  if (answer.clientMaxWindowBits !== undefined) {
    if (options.clientMaxWindowBits === false) {
      throw new Error("Invalid permessage-deflate response: client_max_window_bits was not offered");
    }
    clientMaxWindowBits = answer.clientMaxWindowBits as number;
  }
  // The value we offered is a promise to use at most that (§7.1.2.2); a smaller window is always
  // allowed, so keep to the lower of the two.
  if (typeof options.clientMaxWindowBits === "number") {
    clientMaxWindowBits = Math.min(clientMaxWindowBits, options.clientMaxWindowBits);
  }

  return {
    serverNoContextTakeover: answer.serverNoContextTakeover,
    clientNoContextTakeover: answer.clientNoContextTakeover || options.clientNoContextTakeover === true,
    serverMaxWindowBits: answer.serverMaxWindowBits ?? MAX_WINDOW_BITS,
    clientMaxWindowBits,
  };
}

/** Formats one entry as header text, e.g. `permessage-deflate; client_max_window_bits=10`. */
export function formatDeflateEntry(entry: ExtensionOffer): string {
  let text = entry.name;
  for (const name of Object.keys(entry.params)) {
    for (const value of entry.params[name] ?? []) text += value === true ? `; ${name}` : `; ${name}=${value}`;
  }
  return text;
}
