// What the two bare-upgrade floors share: the 101 answer and the one frame they ever send.
import { createHash } from "node:crypto";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** A minimal valid 101 for `key` (RFC 6455 §4.2.2). */
export function switchingProtocols(key: string): string {
  const accept = createHash("sha1").update(key + GUID).digest("base64");
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
}

/**
 * An unmasked close frame with code 1000. The floors parse no frames: whatever the client sends
 * after the 101 is taken as its close (the only thing the connect and idle workloads send besides
 * pings), answered with this and the end of the TCP stream, so that a connect cycle can finish.
 */
export const CLOSE_1000 = Buffer.from([0x88, 0x02, 0x03, 0xe8]);
