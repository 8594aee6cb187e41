import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorCode, WebSocketError } from "../errors.js";
import { createLimiter } from "./limiter.js";
import type { DeflateParams } from "./options.js";
import { PerMessageDeflate, deflateStandalone } from "./per-message-deflate.js";
import { compress, concat, decompress, jsonMessage } from "./test-helpers.js";

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

function params(overrides: Partial<DeflateParams> = {}): DeflateParams {
  return {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    ...overrides,
  };
}

function pair(overrides: Partial<DeflateParams> = {}) {
  const p = params(overrides);
  return { server: new PerMessageDeflate(p, "server"), client: new PerMessageDeflate(p, "client") };
}

/** Byte equality without vitest's slow element-by-element diff of large buffers. */
function same(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.compare(actual, expected)).toBe(0);
}

function endsWithTail(data: Buffer): boolean {
  return data.length >= 4 && data.subarray(-4).equals(TAIL);
}

describe("PerMessageDeflate round trips", () => {
  it("context takeover: the second identical message compresses smaller", async () => {
    const { server, client } = pair();
    const message = jsonMessage(1);
    const first = await compress(server, message);
    const second = await compress(server, message);
    expect(second.length).toBeLessThan(first.length / 2);
    same(await decompress(client, first), message);
    same(await decompress(client, second), message);
    server.close();
    client.close();
  });

  it("no context takeover: the same message compresses to the same bytes", async () => {
    for (const side of ["server", "client"] as const) {
      const { server, client } = pair({ serverNoContextTakeover: true, clientNoContextTakeover: true });
      const [sender, receiver] = side === "server" ? [server, client] : [client, server];
      const message = jsonMessage(2);
      const first = await compress(sender, message);
      const second = await compress(sender, message);
      same(second, first);
      same(await decompress(receiver, first), message);
      same(await decompress(receiver, second), message);
      // Large messages take the stream path: same property.
      const big = Buffer.concat([jsonMessage(3, 40_000), jsonMessage(4, 40_000)]);
      const a = await compress(sender, big);
      const b = await compress(sender, big);
      same(b, a);
      same(await decompress(receiver, a), big);
      same(await decompress(receiver, b), big);
      server.close();
      client.close();
    }
  });

  it("context takeover only on one side: each direction follows its own parameter", async () => {
    const { server, client } = pair({ serverNoContextTakeover: true });
    const message = jsonMessage(5);
    const s1 = await compress(server, message);
    const s2 = await compress(server, message);
    same(s2, s1);
    const c1 = await compress(client, message);
    const c2 = await compress(client, message);
    expect(c2.length).toBeLessThan(c1.length / 2);
    same(await decompress(server, c1), message);
    same(await decompress(server, c2), message);
    same(await decompress(client, s1), message);
    same(await decompress(client, s2), message);
  });

  it("fragmented compressed messages, with context takeover and without", async () => {
    for (const noContext of [false, true]) {
      const { server, client } = pair({ serverNoContextTakeover: noContext });
      for (let round = 0; round < 3; round++) {
        const parts = [jsonMessage(round, 700), Buffer.alloc(0), jsonMessage(round + 10, 3000), jsonMessage(round + 20, 10)];
        const frames: Buffer[] = [];
        for (let i = 0; i < parts.length; i++) frames.push(await compress(server, parts[i] as Buffer, i === parts.length - 1));
        // Only the final fragment drops the tail; the others end with their sync flush.
        for (const frame of frames.slice(0, -1)) if (frame.length > 0) expect(endsWithTail(frame)).toBe(true);
        expect(endsWithTail(frames.at(-1) as Buffer)).toBe(false);
        const out: Buffer[] = [];
        for (let i = 0; i < frames.length; i++) out.push(await decompress(client, frames[i] as Buffer, i === frames.length - 1));
        same(Buffer.concat(out), Buffer.concat(parts));
      }
    }
  });

  it("a message whose final fragment is empty, and empty messages after a message", async () => {
    const { server, client } = pair();
    const a = await compress(server, jsonMessage(7), false);
    const b = await compress(server, new Uint8Array(0), true);
    expect(b).toEqual(Buffer.from([0x00]));
    same(Buffer.concat([await decompress(client, a, false), await decompress(client, b, true)]), jsonMessage(7));
    const empty = await compress(server, new Uint8Array(0), true);
    expect(empty.length).toBeGreaterThan(0);
    expect(await decompress(client, empty)).toEqual(Buffer.alloc(0));
    const after = await compress(server, jsonMessage(8));
    same(await decompress(client, after), jsonMessage(8));
  });

  it("RFC 7692 §7.2.3 examples decompress", async () => {
    const { client } = pair();
    const hello = Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    expect((await decompress(client, hello)).toString()).toBe("Hello");
    // §7.2.3.2: the second "Hello" refers back into the first message.
    expect((await decompress(client, Buffer.from([0xf2, 0x00, 0x11, 0x00, 0x00]))).toString()).toBe("Hello");
    // §7.2.3.1 fragmented: the compressed data split over two frames.
    expect(
      Buffer.concat([
        await decompress(client, Buffer.from([0xf2, 0x48, 0xcd]), false),
        await decompress(client, Buffer.from([0xc9, 0xc9, 0x07, 0x00]), true),
      ]).toString(),
    ).toBe("Hello");
  });

  it("window bits 8..15 round trip, compressing with one side's parameters and inflating with the peer's", async () => {
    const message = Buffer.concat(Array.from({ length: 6 }, (_, i) => jsonMessage(i, 2000)));
    for (let bits = 8; bits <= 15; bits++) {
      const { server, client } = pair({ serverMaxWindowBits: bits, clientMaxWindowBits: bits });
      for (let round = 0; round < 2; round++) {
        const toClient = await compress(server, message);
        same(await decompress(client, toClient), message);
        if (round === 0) {
          // An independent inflater with exactly the agreed window accepts what we send.
          const inflated = inflateRawSync(Buffer.concat([toClient, TAIL]), { windowBits: bits, finishFlush: constants.Z_SYNC_FLUSH });
          same(inflated, message);
        }
        const toServer = await compress(client, message);
        same(await decompress(server, toServer), message);
      }
    }
  });

  it("a 256-byte window (bits 8): output inflates with a real 8-bit zlib window", async () => {
    const { server } = pair({ serverMaxWindowBits: 8, serverNoContextTakeover: true });
    // Repeats at distances between 250 and 600 would break an 8-bit inflater if we used them.
    const chunk = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131) % 251));
    const message = Buffer.concat([chunk, chunk, chunk, Buffer.from(jsonMessage(1, 500)), chunk]);
    const wire = await compress(server, message);
    same(inflateRawSync(Buffer.concat([wire, TAIL]), { windowBits: 8, finishFlush: constants.Z_SYNC_FLUSH }), message);
  });

  it("compressed output never ends with 00 00 ff ff (property)", async () => {
    const { server, client } = pair();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.boolean(), async (data, repeat) => {
        const input = repeat ? Buffer.concat([data, data]) : Buffer.from(data);
        const wire = await compress(server, input);
        expect(endsWithTail(wire)).toBe(false);
        same(await decompress(client, wire), input);
      }),
      { numRuns: 150 },
    );
  });

  it("interop: zlib.deflateRawSync output with the tail stripped decompresses", async () => {
    const { client } = pair({ serverNoContextTakeover: true });
    for (const message of [jsonMessage(1), jsonMessage(2, 100_000), Buffer.from("x")]) {
      const full = deflateRawSync(message, { finishFlush: constants.Z_SYNC_FLUSH });
      expect(endsWithTail(full)).toBe(true);
      same(await decompress(client, full.subarray(0, -4)), message);
    }
  });

  it("interop: our output inflates with zlib.inflateRawSync after restoring the tail", async () => {
    const { server } = pair();
    const m1 = jsonMessage(9);
    const w1 = await compress(server, m1);
    same(inflateRawSync(Buffer.concat([w1, TAIL]), { finishFlush: constants.Z_SYNC_FLUSH }), m1);
  });

  it("keeps order under concurrent calls and a limit of 1", async () => {
    const limiter = createLimiter(1);
    const p = params();
    const server = new PerMessageDeflate(p, "server", { limiter });
    const client = new PerMessageDeflate(p, "client", { limiter });
    const messages = Array.from({ length: 30 }, (_, i) => jsonMessage(i, 100 + i * 50));
    const wires = await Promise.all(messages.map((m) => compress(server, m)));
    const outs = await Promise.all(wires.map((w) => decompress(client, w)));
    expect(outs).toEqual(messages);
  });

  it("never runs more zlib jobs than the limit across connections", async () => {
    const limiter = createLimiter(2);
    let peak = 0;
    const watched = {
      concurrency: 2,
      get active() {
        return limiter.active;
      },
      get pending() {
        return limiter.pending;
      },
      run(job: (done: () => void) => void) {
        limiter.run((done) => {
          peak = Math.max(peak, limiter.active);
          job(done);
        });
      },
    };
    const conns = Array.from({ length: 8 }, () => new PerMessageDeflate(params(), "server", { limiter: watched }));
    await Promise.all(conns.flatMap((c) => [1, 2, 3].map((i) => compress(c, jsonMessage(i)))));
    expect(peak).toBe(2);
    expect(limiter.active).toBe(0);
  });

  it("callbacks are asynchronous on every path", () => {
    const p = params({ serverNoContextTakeover: true, clientNoContextTakeover: true });
    const server = new PerMessageDeflate(p, "server");
    let called = 0;
    server.compress(Buffer.from("hi"), true, () => called++);
    server.decompress(Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), true, 100, () => called++);
    server.decompress(Buffer.from([0xff, 0xff]), true, 100, () => called++);
    server.close();
    server.compress(Buffer.from("hi"), true, () => called++);
    expect(called).toBe(0);
  });
});

describe("PerMessageDeflate failures", () => {
  it("corrupt input fails with InflateFailed 1007, then the object is unusable", async () => {
    for (const noContext of [false, true]) {
      const { client } = pair({ serverNoContextTakeover: noContext });
      const error = await decompress(client, Buffer.from([0xff, 0xff, 0xff, 0x00, 0x01])).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WebSocketError);
      expect(error).toMatchObject({ code: ErrorCode.InflateFailed, closeCode: 1007 });
      await expect(decompress(client, Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]))).rejects.toBe(error);
      await expect(compress(client, Buffer.from("x"))).rejects.toBe(error);
    }
  });

  it("a message inflating past maxPayload fails with MessageTooBig 1009, counting across fragments", async () => {
    const { server, client } = pair();
    const parts = [Buffer.alloc(600, 1), Buffer.alloc(600, 2)];
    const f1 = await compress(server, parts[0] as Buffer, false);
    const f2 = await compress(server, parts[1] as Buffer, true);
    expect((await decompress(client, f1, false, 1000)).length).toBe(600);
    const error = await decompress(client, f2, true, 1000).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.MessageTooBig, closeCode: 1009 });
  });

  it("the count resets between messages", async () => {
    const { server, client } = pair();
    for (let i = 0; i < 5; i++) {
      const wire = await compress(server, Buffer.alloc(900, i));
      expect((await decompress(client, wire, true, 1000)).length).toBe(900);
    }
  });

  it("maxPayload is exact on the one-shot path too", async () => {
    const { server, client } = pair({ serverNoContextTakeover: true });
    const wire = await compress(server, Buffer.alloc(1000, 7));
    expect((await decompress(client, wire, true, 1000)).length).toBe(1000);
    await expect(decompress(client, wire, true, 999)).rejects.toMatchObject({ code: ErrorCode.MessageTooBig });
    const { client: other } = pair({ serverNoContextTakeover: true });
    await expect(decompress(other, await compress(server, Buffer.from("x")), true, 0)).rejects.toMatchObject({
      code: ErrorCode.MessageTooBig,
    });
  });

  it("a no-context message larger than the one-shot output limit falls back to the stream", async () => {
    const { server, client } = pair({ serverNoContextTakeover: true });
    const message = Buffer.alloc(2 * 1024 * 1024, 3);
    const wire = await compress(server, message);
    expect(wire.length).toBeLessThan(16 * 1024);
    same(await decompress(client, wire, true, 4 * 1024 * 1024), message);
    await expect(decompress(client, wire, true, 1024 * 1024)).rejects.toMatchObject({ code: ErrorCode.MessageTooBig });
  });

  it("close() fails pending work and later calls", async () => {
    const { server } = pair();
    const results = Array.from({ length: 5 }, (_, i) => compress(server, jsonMessage(i, 50_000)).catch((e: unknown) => e));
    const inflating = decompress(server, Buffer.from([0xf2, 0x48]), false).catch((e: unknown) => e);
    server.close();
    server.close();
    for (const result of [...(await Promise.all(results)), await inflating]) {
      expect(result).toBeInstanceOf(Error);
      expect((result as Error).message).toMatch(/closed/);
    }
    await expect(compress(server, Buffer.from("x"))).rejects.toThrow(/closed/);
  });

  it("rejects invalid params", () => {
    expect(() => new PerMessageDeflate(params({ serverMaxWindowBits: 16 }), "server")).toThrow(RangeError);
    expect(() => new PerMessageDeflate(params({ clientMaxWindowBits: 7 }), "client")).toThrow(RangeError);
    expect(new PerMessageDeflate(params(), "server").threshold).toBe(1024);
    expect(new PerMessageDeflate(params(), "server", { threshold: 0 }).threshold).toBe(0);
  });

  it("chunks are Uint8Arrays", async () => {
    const { server } = pair();
    await new Promise<void>((resolve) => {
      server.compress(jsonMessage(1), true, (error, chunks) => {
        expect(error).toBeNull();
        for (const chunk of chunks) expect(chunk).toBeInstanceOf(Uint8Array);
        expect(concat(chunks).length).toBeGreaterThan(0);
        resolve();
      });
    });
  });
});

describe("deflateStandalone: one compressed message shared by many connections", () => {
  const params = {
    serverNoContextTakeover: true,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 10,
    clientMaxWindowBits: 15,
  };
  const run = (fn: (callback: (error: Error | null, chunks: Uint8Array[]) => void) => void) =>
    new Promise<Buffer>((resolve, reject) =>
      fn((error, chunks) => (error ? reject(error) : resolve(Buffer.concat(chunks)))),
    );

  it("is only offered when our side compresses without context takeover", () => {
    expect(new PerMessageDeflate(params, "server").standaloneSettings).toEqual({
      windowBits: 10,
      level: undefined,
      memLevel: undefined,
    });
    expect(new PerMessageDeflate({ ...params, serverNoContextTakeover: false }, "server").standaloneSettings).toBeNull();
  });

  it("interleaves with the connection's own messages without breaking the peer's window", async () => {
    const server = new PerMessageDeflate(params, "server", { threshold: 0 });
    const client = new PerMessageDeflate(params, "client");
    const messages = ["a first message, a first message", "shared by a broadcast, shared", "", "after it, a first message"];
    for (const [i, message] of messages.entries()) {
      const bytes = Buffer.from(message.repeat(20));
      const compressed =
        i === 1 || i === 2
          ? deflateStandalone(bytes, server.standaloneSettings!)
          : await run((callback) => server.compress(bytes, true, callback));
      expect(compressed.subarray(-4)).not.toEqual(Buffer.from([0, 0, 0xff, 0xff]));
      const inflated = await run((callback) => client.decompress(compressed, true, 1 << 20, callback));
      expect(inflated.toString()).toBe(message.repeat(20));
    }
    server.close();
    client.close();
  });
});
