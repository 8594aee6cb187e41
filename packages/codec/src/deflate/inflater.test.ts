import { randomBytes } from "node:crypto";
import { constants, deflateRawSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorCode, WebSocketError } from "../errors.js";
import { InflateWindow } from "./inflate-window.js";
import type { DeflateParams } from "./options.js";
import { PerMessageDeflate } from "./per-message-deflate.js";
import { decompress, jsonMessage } from "./test-helpers.js";

function params(overrides: Partial<DeflateParams> = {}): DeflateParams {
  return { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15, ...overrides };
}

/** A peer that sync-flushes (RFC 7692 §7.2.1), from a preset window when it keeps context. */
function syncFlushed(data: Uint8Array, dictionary?: Uint8Array): Buffer {
  const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH, ...(dictionary?.length ? { dictionary } : {}) });
  return out.subarray(0, out.length - 4);
}

/** A peer that ends every message with a BFINAL block (RFC 7692 §7.2.3.4). */
function finalBlock(data: Uint8Array, dictionary?: Uint8Array): Buffer {
  return deflateRawSync(data, dictionary?.length ? { dictionary } : {});
}

async function failure(promise: Promise<unknown>): Promise<WebSocketError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(WebSocketError);
  return error as WebSocketError;
}

describe("InflateWindow", () => {
  it("holds the last `size` bytes of everything appended (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 4 })), (size, batches) => {
        const window = new InflateWindow(size);
        let all = Buffer.alloc(0);
        for (const batch of batches) {
          window.append(batch);
          all = Buffer.concat([all, ...batch]);
          const expected = all.subarray(Math.max(0, all.length - size));
          expect(Buffer.from(window.contents ?? [])).toEqual(Buffer.from(expected));
        }
      }),
    );
  });
});

describe("Inflater: where the peer's DEFLATE data ends", () => {
  for (const role of ["server", "client"] as const) {
    it(`${role}: messages ended by a BFINAL block keep the window; later ones are not lost`, async () => {
      const pmd = new PerMessageDeflate(params(), role);
      let window = Buffer.alloc(0);
      // Small messages take the one-shot path, a large one a stream; both ways of ending alternate.
      const messages = [jsonMessage(1), jsonMessage(1), Buffer.from(randomBytes(30_000).toString("hex")), jsonMessage(2), Buffer.alloc(0)];
      for (let i = 0; i < messages.length; i++) {
        const message = messages[i]!;
        const dictionary = window.subarray(-32768);
        const wire = i % 2 === 0 ? finalBlock(message, dictionary) : syncFlushed(message, dictionary);
        expect((await decompress(pmd, wire)).equals(message)).toBe(true);
        window = Buffer.concat([window, message]);
      }
      // In fragments, the BFINAL block in the last one.
      const message = jsonMessage(3, 5000);
      const wire = finalBlock(message, window.subarray(-32768));
      const first = await decompress(pmd, wire.subarray(0, 100), false);
      const rest = await decompress(pmd, wire.subarray(100), true);
      expect(Buffer.concat([first, rest]).equals(message)).toBe(true);
      pmd.close();
    });
  }

  it("no context takeover: a BFINAL message and the next one both arrive", async () => {
    const pmd = new PerMessageDeflate(params({ clientNoContextTakeover: true }), "server");
    expect((await decompress(pmd, finalBlock(Buffer.from("one")))).toString()).toBe("one");
    expect((await decompress(pmd, syncFlushed(Buffer.from("two")))).toString()).toBe("two");
    pmd.close();
  });

  it("a message cut inside a block fails with 1007 on every path, never arriving truncated", async () => {
    const message = Buffer.from(JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ id: i, name: `item ${i * 7}` }))));
    const wire = syncFlushed(message);
    for (const path of ["one-shot", "fragmented", "large"] as const) {
      for (const cut of [1, 0.3, 0.6, 0.95]) {
        const pmd = new PerMessageDeflate(params(), "server");
        const data = path === "large" ? syncFlushed(randomBytes(40_000)) : wire;
        const prefix = data.subarray(0, Math.max(1, Math.floor(data.length * cut)) - (cut === 1 ? 1 : 0));
        const promise =
          path === "fragmented"
            ? decompress(pmd, prefix.subarray(0, 1), false).then(() => decompress(pmd, prefix.subarray(1), true))
            : decompress(pmd, prefix);
        const error = await failure(promise);
        expect([error.code, error.closeCode]).toEqual([ErrorCode.InflateFailed, 1007]);
        pmd.close();
      }
    }
  });

  it("compressed bytes after a final block fail with 1007", async () => {
    for (const size of [10, 40_000]) {
      const pmd = new PerMessageDeflate(params(), "server");
      const data = Buffer.concat([finalBlock(randomBytes(size)), syncFlushed(Buffer.from("more"))]);
      const error = await failure(decompress(pmd, data));
      expect(error.closeCode).toBe(1007);
      pmd.close();
    }
  });

  it("holds no zlib stream between messages", async () => {
    const pmd = new PerMessageDeflate(params(), "client");
    await decompress(pmd, syncFlushed(randomBytes(40_000)));
    await decompress(pmd, syncFlushed(Buffer.from("a")), false);
    expect((pmd as unknown as { inflater: { stream: unknown } }).inflater.stream).not.toBeNull();
    await decompress(pmd, Buffer.alloc(0), true);
    expect((pmd as unknown as { inflater: { stream: unknown } }).inflater.stream).toBeNull();
    pmd.close();
  });
});

describe("One-shot zlib calls: what a message's bytes hold on to", () => {
  function inflatedChunks(pmd: PerMessageDeflate, data: Uint8Array): Promise<Uint8Array[]> {
    return new Promise((resolve, reject) => {
      pmd.decompress(data, true, 1 << 30, (error, chunks) => (error ? reject(error) : resolve(chunks)));
    });
  }

  it("a small message's bytes do not pin a 16 KiB buffer each", async () => {
    const pmd = new PerMessageDeflate(params(), "server");
    let window = Buffer.alloc(0);
    for (let seed = 0; seed < 20; seed++) {
      const message = jsonMessage(seed);
      const chunks = await inflatedChunks(pmd, syncFlushed(message, window));
      expect(Buffer.concat(chunks)).toEqual(message);
      // Slices of Node's shared 8 KiB pool, or buffers sized to the message: never zlib's 16 KiB default.
      for (const chunk of chunks) expect(chunk.buffer.byteLength).toBeLessThanOrEqual(Buffer.poolSize);
      window = Buffer.concat([window, message]).subarray(-32768);
    }
  });

  it("a small message compressed in one shot does not pin a 16 KiB buffer either", async () => {
    const pmd = new PerMessageDeflate(params({ serverNoContextTakeover: true }), "server");
    const chunks = await new Promise<Uint8Array[]>((resolve, reject) => {
      pmd.compress(jsonMessage(3), true, (error, out) => (error ? reject(error) : resolve(out)));
    });
    for (const chunk of chunks) expect(chunk.buffer.byteLength).toBeLessThanOrEqual(Buffer.poolSize);
    const receiver = new PerMessageDeflate(params({ serverNoContextTakeover: true }), "client");
    expect(Buffer.concat(await inflatedChunks(receiver, Buffer.concat(chunks)))).toEqual(jsonMessage(3));
  });

  it("a message far larger than its compressed size guessed arrives whole", async () => {
    const pmd = new PerMessageDeflate(params(), "client");
    const message = Buffer.alloc(200_000, "a");
    const compressed = syncFlushed(message);
    expect(compressed.length).toBeLessThan(1024);
    expect(Buffer.concat(await inflatedChunks(pmd, compressed))).toEqual(message);
  });
});
