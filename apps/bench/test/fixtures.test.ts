import { isUtf8 } from "node:buffer";
import { describe, expect, it } from "vitest";
import { ClosedLoopStats, jsonLikeText } from "../src/closed-loop.js";
import { maskedFrames, split, utf8Text } from "../src/codec.js";

describe("benchmark inputs", () => {
  it("builds masked client frames with the right header for each length encoding", () => {
    const small = maskedFrames(3, 32);
    expect(small.length).toBe(3 * (2 + 4 + 32));
    expect([small[0], small[1]]).toEqual([0x82, 0x80 | 32]);
    const medium = maskedFrames(1, 1000);
    expect([medium[1], medium.readUInt16BE(2)]).toEqual([0x80 | 126, 1000]);
    const large = maskedFrames(2, 65536);
    expect([large[1], Number(large.readBigUInt64BE(2))]).toEqual([0x80 | 127, 65536]);
    expect(large.length).toBe(2 * (10 + 4 + 65536));
  });
  it("splits a stream into reads without losing bytes", () => {
    const stream = Buffer.from(Array.from({ length: 10 }, (_, i) => i));
    const parts = split(stream, 4);
    expect(parts.map((p) => p.length)).toEqual([4, 4, 2]);
    expect(Buffer.concat(parts)).toEqual(stream);
  });
  it("makes valid UTF-8 and JSON-like text of the exact size", () => {
    for (const size of [1024, 65536]) {
      const text = utf8Text(size);
      expect(text.length).toBe(size);
      expect(isUtf8(text)).toBe(true);
    }
    expect(jsonLikeText(1024)).toHaveLength(1024);
    expect(jsonLikeText(1024).startsWith('[{"id":1,')).toBe(true);
  });
});

describe("ClosedLoopStats", () => {
  it("counts only echoes completing inside the window", () => {
    const stats = new ClosedLoopStats(0, 1000, 2000);
    stats.record(900, 950, 32); // warmup
    stats.record(1000, 1001, 32);
    stats.record(2000, 2002, 32);
    stats.record(2997, 3000, 32); // end of window, inclusive
    stats.record(3000, 3001, 32); // after
    const s = stats.summary(2000);
    expect(s.msgs_per_s).toBe(1.5);
    expect(s.mb_per_s_recv).toBeCloseTo((3 * 32) / 1e6 / 2);
    expect(s.lat_us).toEqual({ p50: 2000, p99: 3000, n: 3 });
  });
});
