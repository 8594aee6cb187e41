// Pure arithmetic over measured figures: medians, ratios and the targets. No I/O here, so
// all of it is unit-tested.

/** The median of the finite numbers in `values`, or NaN when there are none. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `ours / theirs`, or NaN when either is missing or `theirs` is zero. */
export function ratio(ours: number, theirs: number): number {
  if (!Number.isFinite(ours) || !Number.isFinite(theirs) || theirs === 0) return Number.NaN;
  return ours / theirs;
}

/** Relative change from `before` to `after` (0.1 = +10 %), NaN when it cannot be computed. */
export function change(before: number, after: number): number {
  if (!Number.isFinite(before) || !Number.isFinite(after) || before === 0) return Number.NaN;
  return (after - before) / Math.abs(before);
}

/**
 * A target from the issue, as a bound on ours / theirs. `higher`: more is better and the ratio must
 * reach `bound` (≥); `lower`: less is better and the ratio must stay at or under `bound` (≤).
 */
export interface Target {
  direction: "higher" | "lower";
  bound: number;
}

export type Verdict = "met" | "missed" | "n/a";

export function verdict(value: number, target: Target | undefined): Verdict {
  if (!target || !Number.isFinite(value)) return "n/a";
  return target.direction === "higher" ? (value >= target.bound ? "met" : "missed") : value <= target.bound ? "met" : "missed";
}

export function describeTarget(target: Target | undefined): string {
  if (!target) return "";
  return `${target.direction === "higher" ? "≥" : "≤"} ${formatRatio(target.bound)}`;
}

/** A ratio as `1.23×`, or `–` when unknown. */
export function formatRatio(value: number): string {
  if (!Number.isFinite(value)) return "–";
  return `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}×`;
}

/** A measured figure with a thousands separator and sensible precision, or `–` when unknown. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A relative change as `+12.3 %` / `-4.0 %`, or an empty string when unknown. */
export function formatChange(value: number): string {
  if (!Number.isFinite(value)) return "";
  const pct = value * 100;
  return `${pct >= 0 ? "+" : ""}${pct.toFixed(1)} %`;
}
