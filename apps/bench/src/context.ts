/** What every benchmark section gets from main.ts: the run's shape, the row filter, and where to report. */
export interface BenchContext {
  rounds: number;
  seconds: number;
  warmup: number;
  /** Whether a row name was asked for (BENCH_ONLY). */
  selected: (name: string) => boolean;
  log: (line: string) => void;
  /** Lines for the report's notes. */
  notes: string[];
}
