// SECURITY.md rows 17 and 18 (issue 12, items 5, 6 and 8): what a peer's frames cause us to send
// is bounded by what can leave. Queued frames are charged what they cost, small ones are coalesced,
// reading stops while the replies cannot leave, and a peer that reads is never cut off.
import { deflateRawSync, constants } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { WRITE_OVERHEAD } from "@ws/codec";
import type { Connection } from "../src/index.js";
import { OP, RawClient, frame, once, startServer, until } from "./helpers.js";

const cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const HWM = 64 * 1024;

async function setup(options: Parameters<typeof startServer>[0] = {}, extensions?: string) {
  const server = await startServer({ highWaterMark: HWM, ...options });
  cleanup.push(() => server.close({ timeout: 500 }));
  const next = once<[Connection]>(server, "connection");
  const client = await RawClient.connect(server.port, extensions === undefined ? {} : { extensions });
  cleanup.push(() => client.destroy());
  const conn = (await next)[0];
  const errors: string[] = [];
  conn.on("error", (error) => errors.push(error.code));
  return { server, client, conn, errors };
}

/** Waits until `value()` has not changed for 100 ms (at most 3 s): the server took in what it will. */
async function settled(value: () => number): Promise<number> {
  let last = value();
  let still = 0;
  for (let i = 0; i < 150 && still < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = value();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return last;
}

/** Writes `batch` until the server stops taking it (our writes pile up) or `max` batches went. */
async function writeUntilHeld(client: RawClient, batch: Buffer, max: number): Promise<boolean> {
  for (let i = 0; i < max; i++) {
    client.socket.write(batch);
    if (client.socket.writableLength >= 2 * 1024 * 1024) return true;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return false;
}

/** Counts the server's (unmasked) frames as they stream in, keeping only the last small payload. */
function countFrames(client: RawClient): { frames: number; last: Buffer; closeCode: number | null } {
  const state = { frames: 0, last: Buffer.alloc(0), closeCode: null as number | null };
  let pending = Buffer.alloc(0);
  let skip = 0;
  client.socket.on("data", (chunk: Buffer) => {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      return;
    }
    pending = Buffer.concat([pending, chunk.subarray(skip)]);
    skip = 0;
    let offset = 0;
    for (;;) {
      const available = pending.length - offset;
      if (available < 2) break;
      const opcode = pending[offset]! & 0x0f;
      const code = pending[offset + 1]! & 0x7f;
      const headerSize = code < 126 ? 2 : code === 126 ? 4 : 10;
      if (available < headerSize) break;
      const length = code < 126 ? code : code === 126 ? pending.readUInt16BE(offset + 2) : Number(pending.readBigUInt64BE(offset + 2));
      state.frames++;
      if (length > 125) {
        // A large data frame: skip its payload without holding it.
        const inBuffer = Math.min(length, available - headerSize);
        skip = length - inBuffer;
        offset += headerSize + inBuffer;
        continue;
      }
      if (available < headerSize + length) {
        state.frames--;
        break;
      }
      const payload = pending.subarray(offset + headerSize, offset + headerSize + length);
      if (opcode === OP.close) state.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      state.last = Buffer.from(payload);
      offset += headerSize + length;
    }
    pending = Buffer.from(pending.subarray(offset));
  });
  return state;
}

function pings(count: number, size: number, last?: string): Buffer {
  const list = Array.from({ length: count }, () => frame({ opcode: OP.ping, payload: Buffer.alloc(size, 7) }));
  if (last !== undefined) list.push(frame({ opcode: OP.ping, payload: last }));
  return Buffer.concat(list);
}

describe("a peer that never reads (SECURITY.md row 17)", () => {
  it("flooding 125-byte pings is held by TCP: reading stops near highWaterMark, nothing fails", async () => {
    const { client, conn, errors } = await setup();
    client.socket.pause();
    const held = await writeUntilHeld(client, pings(1000, 125), 300);
    expect(held).toBe(true);
    expect(conn.readyState).toBe(1);
    expect(errors).toEqual([]);
    // Pongs stop queuing at the high-water mark: the latest ping waits for an answer.
    expect(conn.bufferedAmount).toBeLessThanOrEqual(HWM + 127 + 8 * WRITE_OVERHEAD);
    // Once it reads, everything is answered and the connection is alive.
    client.socket.write(pings(0, 0, "last"));
    const frames = countFrames(client);
    client.socket.resume();
    await until(() => frames.last.toString() === "last", 10_000);
    expect(conn.readyState).toBe(1);
  });

  it("empty pings behind output that cannot leave are not read until it drains", async () => {
    const { client, conn, errors } = await setup();
    const seen: number[] = [];
    conn.on("ping", () => seen.push(conn.bufferedAmount));
    client.socket.pause();
    conn.send(Buffer.alloc(8 * 1024 * 1024)); // more than the kernel takes from a peer that does not read
    await until(() => conn.bufferedAmount > HWM);
    client.socket.write(pings(100_000, 0, "last"));
    // Reading stopped: at most one read's worth of pings was taken in meanwhile.
    expect(await settled(() => seen.length)).toBeLessThan(20_000);
    const frames = countFrames(client);
    client.socket.resume();
    await until(() => seen.length === 100_001, 10_000);
    await until(() => frames.last.toString() === "last", 5000);
    expect(Math.max(...seen)).toBeLessThanOrEqual(8 * 1024 * 1024 + 10 + 16 * WRITE_OVERHEAD);
    expect(errors).toEqual([]);
  });

  it("echoes of empty messages to a peer that does not read stop the reading; nothing is lost", async () => {
    const { server, client } = await setup();
    void server;
    const conn = server.clients.values().next().value as Connection;
    let received = 0;
    conn.on("message", (data, isBinary) => {
      received++;
      conn.send(data, { binary: isBinary }); // ignores backpressure
    });
    client.socket.pause();
    conn.send(Buffer.alloc(8 * 1024 * 1024));
    await until(() => conn.bufferedAmount > HWM);
    const count = 100_000;
    client.socket.write(Buffer.concat(Array.from({ length: count }, () => frame({ opcode: OP.binary, payload: "" }))));
    expect(await settled(() => received)).toBeLessThan(20_000);
    client.socket.resume();
    await until(() => received === count, 10_000);
    expect(conn.readyState).toBe(1);
  });
});

/** A compressed frame as a peer with client_no_context_takeover sends it. */
function compressedFrame(text: string): Buffer {
  const deflated = deflateRawSync(Buffer.from(text), { flush: constants.Z_SYNC_FLUSH });
  const payload = text.length === 0 ? Buffer.of(0) : deflated.subarray(0, deflated.length - 4);
  return frame({ opcode: OP.text, rsv1: true, payload });
}

const DEFLATE = "permessage-deflate; client_no_context_takeover";

describe("messages queued behind compression (SECURITY.md row 18)", () => {
  // CPU-bound (30,000 inflates and deflates): the generous limits only catch a hang on a busy machine.
  it("tiny compressed messages from a peer that reads: reading stops while compression lags", { timeout: 90_000 }, async () => {
    const { server, client, errors } = await setup({ perMessageDeflate: { threshold: 0 } }, DEFLATE);
    const conn = server.clients.values().next().value as Connection;
    const frames = countFrames(client);
    let received = 0;
    let ahead = 0;
    conn.on("message", (data, isBinary) => {
      received++;
      ahead = Math.max(ahead, received - frames.frames);
      conn.send(data, { binary: isBinary }); // ignores backpressure
    });
    const count = 30_000;
    client.socket.write(Buffer.concat(Array.from({ length: count }, () => compressedFrame(""))));
    await until(() => frames.frames >= count, 80_000);
    // Before: every message read at once, 30,000 zero-byte entries queued behind the deflate.
    // After: reading stops at the high-water mark; what one read (64 KiB, about 9,400 of these)
    // already holds is still delivered.
    expect(ahead).toBeLessThan(12_000);
    expect(errors).toEqual([]);
  });

  it("a fast sender of compressible 1 KiB messages that reads every echo is never cut off", async () => {
    const { server, client, errors } = await setup(
      // One read (64 KiB) of these inflates to about 2 MiB of echoes: reading stops between reads.
      { perMessageDeflate: { threshold: 0 }, maxBufferedAmount: 8 * 1024 * 1024 },
      DEFLATE,
    );
    const conn = server.clients.values().next().value as Connection;
    conn.on("message", (data, isBinary) => conn.send(data, { binary: isBinary }));
    const frames = countFrames(client);
    const count = 20_000;
    const one = compressedFrame("abcdefghij".repeat(103).slice(0, 1024));
    client.socket.write(Buffer.concat(Array.from({ length: count }, () => one)));
    await until(() => frames.frames >= count || frames.closeCode !== null, 20_000);
    expect(frames.closeCode).toBeNull();
    expect(frames.frames).toBe(count);
    expect(errors).toEqual([]);
    expect(conn.readyState).toBe(1);
  });

  it("closing on overflow writes the 1008 close frame before the close timer can cut it", async () => {
    const { server, client, errors } = await setup(
      { perMessageDeflate: { threshold: 0 }, maxBufferedAmount: 4 * 1024 * 1024, closeTimeout: 20 },
      DEFLATE,
    );
    const conn = server.clients.values().next().value as Connection;
    const message = "abcdefghij".repeat(103).slice(0, 1024);
    let sent = 0;
    for (; sent < 20_000 && conn.readyState === 1; sent++) conn.send(message);
    expect(errors).toEqual(["WS_ERR_BUFFER_OVERFLOW"]);
    const close = await client.readClose(5000);
    expect(close.code).toBe(1008);
    await client.waitClosed(5000);
  });
});
