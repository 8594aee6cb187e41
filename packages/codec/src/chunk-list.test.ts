import { describe, expect, it } from "vitest";
import { buildFrame } from "../test/frames.js";
import { ChunkList } from "./chunk-list.js";
import { Opcode } from "./opcode.js";
import { Receiver } from "./receiver.js";

const MiB = 1024 * 1024;
const bytesOf = (length: number, seed = 0) => new Uint8Array(length).map((_, i) => (i * 31 + seed) & 0xff);

describe("ChunkList: staging sized from bytes that arrived (SECURITY.md row 19)", () => {
  it("reserves a few hundred bytes, not 64 KiB, for 1 byte of a frame declared as 1 MiB", () => {
    const list = new ChunkList();
    list.push(Uint8Array.of(7), MiB - 1);
    expect(list.byteLength).toBe(1);
    expect(list.stagingCapacity).toBeLessThanOrEqual(256);
  });

  it("gives a small frame no more than its own length", () => {
    const list = new ChunkList();
    list.push(bytesOf(6), 4);
    expect(list.stagingCapacity).toBe(10);
  });

  it("grows geometrically: never more than twice what arrived plus 256 bytes", () => {
    const list = new ChunkList();
    const sizes = new Set<number>();
    let worst = 0;
    for (let held = 1; held <= 200_000; held++) {
      list.push(Uint8Array.of(held & 0xff), MiB - held);
      sizes.add(list.stagingCapacity);
      // Reserved: the full pieces plus the whole staging buffer.
      const reserved = held - (held % 65536 || 65536) + list.stagingCapacity;
      worst = Math.max(worst, reserved - 2 * held);
    }
    expect(worst).toBeLessThanOrEqual(256);
    // 256, 512, …, 64 KiB: one buffer per doubling, not one per byte.
    expect([...sizes].sort((a, b) => a - b)).toEqual([256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]);
    // Full 64 KiB buffers are kept as pieces: 200,000 bytes are 4 pieces.
    expect(list.pieceCount).toBe(4);
    const all = list.take();
    expect(all.length).toBe(200_000);
    expect(all.every((byte, i) => byte === ((i + 1) & 0xff))).toBe(true);
  });

  it("delivers a message that arrived in small pieces as one buffer, bytes in order", () => {
    const list = new ChunkList();
    const payload = bytesOf(10_000, 3);
    for (let offset = 0; offset < payload.length; offset += 100) {
      list.push(payload.subarray(offset, offset + 100), payload.length - offset - 100);
    }
    expect(list.pieceCount).toBe(1);
    expect(Buffer.from(list.take()).equals(Buffer.from(payload))).toBe(true);
  });

  it("keeps large pieces as views and small ones around them in order", () => {
    const list = new ChunkList();
    const large = bytesOf(4096, 1);
    const small = [bytesOf(10, 2), bytesOf(300, 3), bytesOf(700, 4)];
    list.push(small[0]!, 0);
    list.push(large, 0);
    list.push(small[1]!, 0);
    list.push(small[2]!, 0);
    expect(list.pieceCount).toBe(3);
    const expected = Buffer.concat([small[0]!, large, small[1]!, small[2]!]);
    expect(Buffer.from(list.take()).equals(expected)).toBe(true);
  });

  it("never writes into a buffer that backs a view it handed out", () => {
    const list = new ChunkList();
    list.push(bytesOf(100, 5), 0);
    const first = list.take();
    const copy = Buffer.from(first);
    for (let i = 0; i < 50; i++) list.push(bytesOf(100, i), 0);
    list.take();
    expect(Buffer.from(first).equals(copy)).toBe(true);
  });
});

describe("Receiver: one byte of a large frame", () => {
  it("holds a small staging buffer after 1 byte of a declared 1 MiB frame", () => {
    const receiver = new Receiver(
      { role: "server", maxPayload: 16 * MiB },
      { onMessage() {}, onPing() {}, onPong() {}, onClose() {}, onError() {} },
    );
    const frame = buildFrame({ opcode: Opcode.Binary, payload: new Uint8Array(MiB), mask: true });
    const header = frame.subarray(0, 14);
    receiver.push(header);
    receiver.push(frame.subarray(14, 15));
    expect(receiver["message"].byteLength).toBe(1);
    expect(receiver["message"].stagingCapacity).toBeLessThanOrEqual(256);
    expect(receiver.stopped).toBe(false);
  });
});
