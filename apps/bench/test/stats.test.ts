import { describe, expect, it } from "vitest";
import { change, describeTarget, formatChange, formatNumber, formatRatio, median, ratio, verdict } from "../src/stats.js";
import { percentile } from "../src/closed-loop.js";

describe("median", () => {
  it("takes the middle of an odd count and the mean of the two middles of an even count", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
  it("ignores missing figures and is NaN with none", () => {
    expect(median([Number.NaN, 5, Number.POSITIVE_INFINITY, 7])).toBe(6);
    expect(median([])).toBeNaN();
  });
  it("does not reorder its input", () => {
    const input = [3, 1, 2];
    median(input);
    expect(input).toEqual([3, 1, 2]);
  });
});

describe("ratio, change and verdict", () => {
  it("divides ours by theirs, NaN when undefined", () => {
    expect(ratio(200, 100)).toBe(2);
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(Number.NaN, 3)).toBeNaN();
  });
  it("computes relative change", () => {
    expect(change(100, 110)).toBeCloseTo(0.1);
    expect(change(100, 90)).toBeCloseTo(-0.1);
    expect(change(0, 5)).toBeNaN();
  });
  it("meets higher-is-better targets at or above the bound, lower-is-better at or below", () => {
    expect(verdict(2, { direction: "higher", bound: 2 })).toBe("met");
    expect(verdict(1.99, { direction: "higher", bound: 2 })).toBe("missed");
    expect(verdict(0.6, { direction: "lower", bound: 0.6 })).toBe("met");
    expect(verdict(0.61, { direction: "lower", bound: 0.6 })).toBe("missed");
    expect(verdict(Number.NaN, { direction: "lower", bound: 0.6 })).toBe("n/a");
    expect(verdict(1, undefined)).toBe("n/a");
  });
});

describe("formatting", () => {
  it("formats ratios, numbers and changes", () => {
    expect(formatRatio(2)).toBe("2.00×");
    expect(formatRatio(15.44)).toBe("15.4×");
    expect(formatRatio(Number.NaN)).toBe("–");
    expect(formatNumber(1234567.8)).toBe("1,234,568");
    expect(formatNumber(27.04)).toBe("27.0");
    expect(formatNumber(1.234)).toBe("1.23");
    expect(formatNumber(Number.NaN)).toBe("–");
    expect(formatChange(0.123)).toBe("+12.3 %");
    expect(formatChange(-0.04)).toBe("-4.0 %");
    expect(formatChange(Number.NaN)).toBe("");
    expect(describeTarget({ direction: "lower", bound: 0.5 })).toBe("≤ 0.50×");
  });
});

describe("percentile", () => {
  it("uses the nearest rank", () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 0.5)).toBe(50);
    expect(percentile(sorted, 0.99)).toBe(99);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBeNaN();
  });
});
