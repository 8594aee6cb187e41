// permessage-deflate data delivered whole and right, through real sockets (issue 12, items 1-4):
// messages ended by a BFINAL block, messages cut inside a block, a compressed message followed by
// the close frame and FIN, and a message of exactly maxPayload that deflate made larger.
import { randomBytes } from "node:crypto";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import type { Connection } from "../src/index.js";
import { OP, RawClient, closePayload, frame, startServer } from "./helpers.js";

const cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** What a sender that sync-flushes sends (RFC 7692 §7.2.1), optionally from a preset window. */
function syncFlushed(data: Buffer, dictionary?: Buffer): Buffer {
  const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH, ...(dictionary ? { dictionary } : {}) });
  return out.subarray(0, out.length - 4);
}
/** What a sender that ends each message with a BFINAL block sends (RFC 7692 §7.2.3.4). */
function finalBlock(data: Buffer, dictionary?: Buffer): Buffer {
  return deflateRawSync(data, dictionary ? { dictionary } : {});
}
function inflate(data: Buffer): Buffer {
  return inflateRawSync(Buffer.concat([data, TAIL]), { finishFlush: constants.Z_SYNC_FLUSH });
}

/** An echo server whose replies are compressed without context takeover, so `inflate` reads them. */
async function echo(options: Parameters<typeof startServer>[0] = {}) {
  const server = await startServer({ perMessageDeflate: { threshold: 0, serverNoContextTakeover: true }, ...options });
  cleanup.push(() => server.close());
  const closes: Array<[number, string]> = [];
  server.on("connection", (c: Connection) => {
    c.on("message", (data, isBinary) => c.send(data, { binary: isBinary }));
    c.on("close", (code, reason) => closes.push([code, reason]));
  });
  const client = await RawClient.connect(server.port, { extensions: "permessage-deflate" });
  cleanup.push(() => client.destroy());
  return { server, client, closes };
}

async function echoed(client: RawClient): Promise<string> {
  return inflate((await client.readMessage()).data).toString();
}

describe("compressed messages are delivered whole and right", () => {
  it("messages ended by a BFINAL block, with context takeover: every later message arrives (item 1)", async () => {
    const { client } = await echo();
    // Small ones (one-shot inflate) and a large one (a stream), each referring back to the window.
    const texts = ["Hello Hello Hello", "Hello again, Hello", randomBytes(40_000).toString("hex"), "Hello at the end"];
    let window = Buffer.alloc(0);
    for (let i = 0; i < texts.length; i++) {
      const text = Buffer.from(texts[i]!);
      const dictionary = window.length > 0 ? window.subarray(-32768) : undefined;
      // Alternate between the two ways of ending a message; the window carries across both.
      const payload = i % 2 === 0 ? finalBlock(text, dictionary) : syncFlushed(text, dictionary);
      client.sendFrame({ opcode: OP.text, payload, rsv1: true });
      expect(await echoed(client)).toBe(texts[i]);
      window = Buffer.concat([window, text]);
    }
    // The same in fragments: the final fragment ends with the BFINAL block.
    const text = Buffer.from("fragmented Hello Hello, ".repeat(50));
    const payload = finalBlock(text, window.subarray(-32768));
    client.sendFrame({ opcode: OP.text, payload: payload.subarray(0, 7), rsv1: true, fin: false });
    client.sendFrame({ opcode: OP.cont, payload: payload.subarray(7) });
    expect(await echoed(client)).toBe(text.toString());
  });

  it("a message cut inside a DEFLATE block fails with 1007 instead of arriving truncated (item 3)", async () => {
    const message = Buffer.from(JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ id: i, name: `item ${i * 7}` }))));
    expect(message.length).toBeGreaterThan(800);
    for (const fragmented of [false, true]) {
      const { client } = await echo();
      const compressed = syncFlushed(message);
      const cut = compressed.subarray(0, Math.floor(compressed.length * 0.6));
      if (fragmented) {
        client.sendFrame({ opcode: OP.text, payload: cut.subarray(0, 10), rsv1: true, fin: false });
        client.sendFrame({ opcode: OP.cont, payload: cut.subarray(10) });
      } else {
        client.sendFrame({ opcode: OP.text, payload: cut, rsv1: true });
      }
      const close = await client.readClose();
      expect(close.skipped.filter((f) => f.opcode < 8)).toEqual([]);
      expect(close.code).toBe(1007);
    }
  });

  it("compressed bytes after a final block fail with 1007", async () => {
    const { client } = await echo();
    const payload = Buffer.concat([finalBlock(Buffer.from("first")), syncFlushed(Buffer.from("second"))]);
    client.sendFrame({ opcode: OP.text, payload, rsv1: true });
    expect((await client.readClose()).code).toBe(1007);
  });

  it("a compressed message, then the close frame and FIN: the message is echoed and the close is clean (item 2)", async () => {
    for (const text of ["short and compressed", randomBytes(30_000).toString("hex")]) {
      const { client, closes } = await echo();
      const closed = new Promise<void>((resolve) => client.socket.once("close", () => resolve()));
      client.socket.end(
        Buffer.concat([
          frame({ opcode: OP.text, payload: syncFlushed(Buffer.from(text)), rsv1: true }),
          frame({ opcode: OP.close, payload: closePayload(1000, "bye") }),
        ]),
      );
      expect(await echoed(client)).toBe(text);
      expect((await client.readClose()).code).toBe(1000);
      await closed;
      for (let i = 0; i < 100 && closes.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(closes).toEqual([[1000, "bye"]]);
    }
  });

  it("an incompressible message of exactly maxPayload crosses at the default limit (item 4)", async () => {
    const server = await startServer({ perMessageDeflate: true });
    cleanup.push(() => server.close());
    server.on("connection", (c: Connection) => c.on("message", (data) => c.send(String(data.length), { compress: false })));
    const client = await RawClient.connect(server.port, { extensions: "permessage-deflate" });
    cleanup.push(() => client.destroy());
    const size = 16 * 1024 * 1024;
    const payload = syncFlushed(randomBytes(size));
    expect(payload.length).toBeGreaterThan(size);
    client.sendFrame({ opcode: OP.binary, payload, rsv1: true });
    expect((await client.readMessage(20_000)).data.toString()).toBe(String(size));
    // One byte more is still refused: the limit on what a message inflates to stays exact.
    client.sendFrame({ opcode: OP.binary, payload: syncFlushed(Buffer.alloc(size + 1)), rsv1: true });
    expect((await client.readClose(20_000)).code).toBe(1009);
  }, 60_000);
});
