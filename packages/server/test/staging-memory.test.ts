// SECURITY.md row 19, issue 12 item 7: one byte of a frame declared as 1 MiB must not pin a
// receive buffer sized from the declared length.
import type { Socket } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import { delay, frame, OP, RawClient, startServer, until } from "./helpers.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const CONNECTIONS = 200;
const MiB = 1024 * 1024;

/** Bytes held in ArrayBuffers (Buffers included) once garbage is collected. */
function arrayBuffers(): number {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

describe("receive staging buffer (SECURITY.md row 19)", () => {
  it("1 byte of a declared 1 MiB frame costs bytes, not 64 KiB, per connection", async () => {
    const server = await startServer({ perMessageDeflate: false, pingInterval: 0, maxPayload: 4 * MiB });
    const serverSockets = new Map<number, Socket>();
    server.on("connection", (conn) => {
      // The shell's socket is private; the test needs it only to know when the byte was read.
      const socket = (conn as unknown as { socket: Socket }).socket;
      serverSockets.set(socket.remotePort!, socket);
    });
    cleanup.push(() => server.close());

    const clients: RawClient[] = [];
    for (let i = 0; i < CONNECTIONS; i++) clients.push(await RawClient.connect(server.port));
    cleanup.push(() => clients.forEach((client) => client.destroy()));
    await until(() => serverSockets.size === CONNECTIONS);

    /** Every byte each client wrote has been read by the server. */
    const allRead = () =>
      clients.every((client) => serverSockets.get(client.tcp.localPort!)?.bytesRead === client.tcp.bytesWritten);
    await until(allRead);
    const idle = arrayBuffers();

    // A header declaring 1 MiB, then 1 byte of payload, in separate segments.
    const header = frame({ opcode: OP.binary, payload: Buffer.alloc(0), declaredLength: MiB }).subarray(0, 14);
    for (const client of clients) client.send(header);
    await until(allRead);
    for (const client of clients) client.send(Buffer.of(0x42));
    await until(allRead);
    const perConnection = (arrayBuffers() - idle) / CONNECTIONS;

    // Before the fix: 64 KiB each. Now at most a 256-byte staging buffer plus small change.
    expect(perConnection).toBeLessThan(2048);
    expect(server.clients.size).toBe(CONNECTIONS);
  });

  it("a peer that trickles one frame a byte at a time is closed at idleTimeout (README, Limits)", async () => {
    const server = await startServer({ perMessageDeflate: false, idleTimeout: 300 });
    cleanup.push(() => server.close());
    const client = await RawClient.connect(server.port);
    cleanup.push(() => client.destroy());
    client.tcp.setNoDelay(true);
    client.send(frame({ opcode: OP.binary, payload: Buffer.alloc(0), declaredLength: MiB }).subarray(0, 14));
    const started = Date.now();
    let trickling = true;
    void (async () => {
      for (let i = 0; trickling && i < 100 && !client.ended; i++) {
        client.send(Buffer.of(i));
        await delay(20);
      }
    })();
    try {
      const close = await client.readClose(3000);
      expect(close).toMatchObject({ code: 1000, reason: "idle timeout" });
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      trickling = false;
    }
  });
});
