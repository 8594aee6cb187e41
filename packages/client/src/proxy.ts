import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { ClientError, ClientErrorCode } from "./errors.js";
import { readResponseHead } from "./http-head.js";

/** Where to tunnel to through an HTTP proxy. */
export interface TunnelTarget {
  host: string;
  port: number;
}

/**
 * Opens a TCP tunnel to `target` through an HTTP proxy with CONNECT (RFC 9110 §9.3.6). The proxy URL
 * may be `http:` or `https:` and may carry `user:password` for `Proxy-Authorization: Basic`.
 * `onSocket` receives the proxy socket at once so that the caller can destroy it on timeout or abort.
 */
export async function openTunnel(
  proxy: string | URL,
  target: TunnelTarget,
  headers: Record<string, string> | undefined,
  onSocket: (socket: Socket) => void,
): Promise<Socket> {
  let proxyUrl: URL;
  try {
    proxyUrl = new URL(String(proxy));
  } catch (cause) {
    throw new ClientError(ClientErrorCode.InvalidOption, `invalid proxy URL: ${String(proxy)}`, { cause });
  }
  if (proxyUrl.protocol !== "http:" && proxyUrl.protocol !== "https:") {
    throw new ClientError(ClientErrorCode.InvalidOption, `the proxy URL must be http: or https:, got ${proxyUrl.protocol}`);
  }
  const secure = proxyUrl.protocol === "https:";
  const host = stripBrackets(proxyUrl.hostname);
  const port = Number(proxyUrl.port) || (secure ? 443 : 80);
  const authority = formatAuthority(target.host, target.port);
  let request = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (proxyUrl.username !== "" || proxyUrl.password !== "") {
    const credentials = `${decodeURIComponent(proxyUrl.username)}:${decodeURIComponent(proxyUrl.password)}`;
    request += `Proxy-Authorization: Basic ${Buffer.from(credentials).toString("base64")}\r\n`;
  }
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
      throw new ClientError(ClientErrorCode.InvalidOption, `invalid proxy header ${JSON.stringify(name)}`);
    }
    request += `${name}: ${value}\r\n`;
  }
  // Half-open allowed: the tunnel may become the WebSocket's own transport (see handshake.ts).
  const socket: Socket = secure
    ? tlsConnect({ host, port, servername: host, allowHalfOpen: true } as ConnectionOptions)
    : netConnect({ host, port, allowHalfOpen: true });
  socket.on("error", () => {
    // Reported through readResponseHead; this keeps a late error from being unhandled.
  });
  onSocket(socket);

  socket.write(`${request}\r\n`);

  let result;
  try {
    result = await readResponseHead(socket);
  } catch (error) {
    socket.destroy();
    if (error instanceof ClientError && error.code === ClientErrorCode.ConnectionFailed) {
      throw new ClientError(ClientErrorCode.ProxyFailed, `proxy ${proxyUrl.host}: ${error.message}`, { cause: error });
    }
    throw error;
  }
  const { head, rest } = result;
  if (head.statusCode < 200 || head.statusCode > 299) {
    socket.destroy();
    throw new ClientError(
      ClientErrorCode.ProxyFailed,
      `proxy ${proxyUrl.host} refused CONNECT ${authority}: ${head.statusCode} ${head.statusMessage}`,
      { statusCode: head.statusCode },
    );
  }
  // The tunnel is open; anything already read belongs to the next protocol.
  if (rest.length > 0) socket.unshift(rest);
  return socket;
}

export function stripBrackets(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
}

function formatAuthority(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
