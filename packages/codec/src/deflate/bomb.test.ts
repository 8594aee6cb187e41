/**
 * Decompression bombs (SECURITY.md row 6): zlib's own output is counted through a wrapped
 * `createInflateRaw`, so the test sees how much was really inflated, not just what we returned.
 */
import type * as Zlib from "node:zlib";
import { constants, deflateRawSync } from "node:zlib";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ErrorCode, WebSocketError } from "../errors.js";
import { PerMessageDeflate } from "./per-message-deflate.js";
import { decompress } from "./test-helpers.js";

const observed = vi.hoisted(() => ({ inflatedByStreams: 0, syncLimits: [] as number[] }));

vi.mock("node:zlib", async (importOriginal) => {
  const zlib = await importOriginal<typeof Zlib>();
  return {
    ...zlib,
    createInflateRaw(options?: Zlib.ZlibOptions) {
      const stream = zlib.createInflateRaw(options);
      stream.on("data", (chunk: Buffer) => (observed.inflatedByStreams += chunk.length));
      return stream;
    },
    inflateRawSync(buffer: Zlib.InputType, options?: Zlib.ZlibOptions) {
      observed.syncLimits.push(options?.maxOutputLength ?? Infinity);
      return zlib.inflateRawSync(buffer, options);
    },
  };
});

const MiB = 1024 * 1024;
const params = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

function bomb(size: number): Buffer {
  return deflateRawSync(Buffer.alloc(size), { level: 9, finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4);
}

/** The error's code and close code, or "resolved" — never a large buffer for vitest to diff. */
function outcome(result: unknown): string {
  return result instanceof WebSocketError ? `${result.code} ${result.closeCode}` : "resolved";
}

async function settle(promise: Promise<unknown>): Promise<string> {
  return outcome(await promise.catch((e: unknown) => e));
}

const TOO_BIG = `${ErrorCode.MessageTooBig} 1009`;

beforeEach(() => {
  observed.inflatedByStreams = 0;
  observed.syncLimits = [];
});

describe("decompression bombs", () => {
  it("50 MiB of zeros with maxPayload 1 MiB: MessageTooBig 1009, inflating stops near the limit", async () => {
    const payload = bomb(50 * MiB);
    expect(payload.length).toBeLessThan(60 * 1024);
    const client = new PerMessageDeflate(params, "client");
    const before = process.memoryUsage().arrayBuffers;
    expect(await settle(decompress(client, payload, true, MiB))).toBe(TOO_BIG);
    // zlib hands out at most 16 KiB per chunk; it must have stopped right after the limit.
    expect(observed.inflatedByStreams).toBeGreaterThan(MiB);
    expect(observed.inflatedByStreams).toBeLessThanOrEqual(MiB + 64 * 1024);
    // Nothing keeps inflating in the background.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(observed.inflatedByStreams).toBeLessThanOrEqual(MiB + 64 * 1024);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * MiB);
  });

  it("a bomb spread over fragments is counted across the whole message", async () => {
    const payload = bomb(20 * MiB);
    const client = new PerMessageDeflate(params, "client");
    let error: unknown;
    let delivered = 0;
    for (let offset = 0; offset < payload.length && error === undefined; offset += 1024) {
      const fin = offset + 1024 >= payload.length;
      await decompress(client, payload.subarray(offset, offset + 1024), fin, MiB).then(
        (out) => (delivered += out.length),
        (e: unknown) => (error = e),
      );
    }
    expect(outcome(error)).toBe(TOO_BIG);
    expect(delivered).toBeLessThanOrEqual(MiB);
    expect(observed.inflatedByStreams).toBeLessThanOrEqual(MiB + 64 * 1024);
  });

  it("no context takeover, small frame: the one-shot inflate is capped at maxPayload", async () => {
    const payload = bomb(10 * MiB);
    expect(payload.length).toBeLessThanOrEqual(16 * 1024);
    const client = new PerMessageDeflate({ ...params, serverNoContextTakeover: true }, "client");
    expect(await settle(decompress(client, payload, true, 64 * 1024))).toBe(TOO_BIG);
    expect(observed.syncLimits).toEqual([64 * 1024]);
  });

  it("no context takeover, large maxPayload: the one-shot inflate gives up at 256 KiB and the stream enforces the limit", async () => {
    const payload = bomb(10 * MiB);
    const client = new PerMessageDeflate({ ...params, serverNoContextTakeover: true }, "client");
    expect(await settle(decompress(client, payload, true, 2 * MiB))).toBe(TOO_BIG);
    expect(observed.syncLimits).toEqual([256 * 1024]);
    expect(observed.inflatedByStreams).toBeLessThanOrEqual(2 * MiB + 64 * 1024);
  });
});
