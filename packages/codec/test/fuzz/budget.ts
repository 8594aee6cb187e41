// Fuzzing budget shared by every property in test/fuzz. CI runs the suite with the defaults (a
// fraction of a second per property); `pnpm fuzz` sets FUZZ_SECONDS=60 for a long run.
//
//   FUZZ_SECONDS  wall-clock budget per property, in seconds (default 0.4)
//   FUZZ_RUNS     cap on runs per property (default 150, unbounded when FUZZ_SECONDS is set)
//   FUZZ_SEED     replay a failure that fast-check reported (with FUZZ_PATH for its shrunk case)
import fc from "fast-check";

function numberFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${raw}`);
  return value;
}

const seconds = numberFromEnv("FUZZ_SECONDS");
const runs = numberFromEnv("FUZZ_RUNS");
const seedText = process.env.FUZZ_SEED;
const seed = seedText === undefined || seedText === "" ? undefined : Number.parseInt(seedText, 10);

/** Milliseconds each property may run for. */
export const FUZZ_MS = Math.round((seconds ?? 0.4) * 1000);
const NUM_RUNS = Math.floor(runs ?? (seconds === undefined ? 150 : Number.MAX_SAFE_INTEGER));

/** Vitest timeout for one fuzz test: its budget plus room for the last run and shrinking. */
export const TEST_TIMEOUT_MS = FUZZ_MS + 30_000;

/** Longest any single async run may take before it counts as a hang. */
const RUN_TIMEOUT_MS = 5_000;

/**
 * fast-check parameters for one property: bounded in runs and in time, never failing on interrupt.
 * `minMs` raises the time budget for a property whose single run can take longer than the default
 * on a loaded machine: fast-check fails a property that was interrupted before its first run ended.
 */
export function budget<T>(overrides: fc.Parameters<T> = {}, minMs = 0): fc.Parameters<T> {
  return {
    numRuns: NUM_RUNS,
    plugins: [fc.interruptAfterTimeLimit(Math.max(FUZZ_MS, minMs)), fc.timeout(RUN_TIMEOUT_MS)] as Array<fc.Plugin<T>>,
    ...(seed === undefined || Number.isNaN(seed) ? {} : { seed }),
    ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}),
    ...overrides,
  };
}
