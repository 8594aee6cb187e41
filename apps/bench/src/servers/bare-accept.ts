// What the two bare-upgrade floors share: the 101 answer and the two frames they ever send.
import { createHash } from "node:crypto";
import type { Socket } from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** A minimal valid 101 for `key` (RFC 6455 §4.2.2). */
export function switchingProtocols(key: string): string {
  const accept = createHash("sha1").update(key + GUID).digest("base64");
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
}

const CLOSE_1000 = Buffer.from([0x88, 0x02, 0x03, 0xe8]);

/**
 * Answers what the connect and idle workloads send after the 101: a close frame with a close frame
 * (1000) and the end of the TCP stream, so that a connect cycle finishes, and a ping with a pong, so
 * that the idle workload sees the connection alive. Only small masked frames, whole in one read,
 * are expected (wsbench sends nothing else in those modes); anything else ends the connection. No
 * parser state is kept: the floor holds nothing of its own per connection.
 */
export function answerControlFrames(socket: Socket, chunk: Buffer): void {
  let at = 0;
  while (at + 6 <= chunk.length) {
    const opcode = chunk[at]! & 0x0f;
    const length = chunk[at + 1]! & 0x7f;
    if (length > 125 || at + 6 + length > chunk.length) break;
    if (opcode === 0x8) {
      socket.end(CLOSE_1000);
      return;
    }
    if (opcode === 0x9) {
      const pong = Buffer.allocUnsafe(2 + length);
      pong[0] = 0x8a;
      pong[1] = length;
      for (let i = 0; i < length; i++) pong[2 + i] = chunk[at + 6 + i]! ^ chunk[at + 2 + (i & 3)]!;
      socket.write(pong);
    }
    at += 6 + length;
  }
  if (at !== chunk.length) socket.destroy();
}
