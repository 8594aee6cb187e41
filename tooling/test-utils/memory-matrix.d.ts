/** The child's limits in the memory matrix. */
export const MATRIX_LIMITS: { maxBufferedAmount: number; receiveHighWaterMark: number };
/** The documented constant on top of the limits (16 MiB). */
export const MATRIX_SLACK: number;
/** maxBufferedAmount + receiveHighWaterMark + MATRIX_SLACK: the most a cell may grow RSS by. */
export const MATRIX_BOUND: number;
export const MATRIX_KINDS: readonly MatrixCell["kind"][];

export interface MatrixCell {
  kind: "empty-pings" | "empty-messages" | "pings-125" | "tiny-messages" | "trickle";
  /** Whether the hostile peer reads what it is sent. */
  reads: boolean;
  /** Whether permessage-deflate is negotiated. */
  compression: boolean;
}

export interface MatrixResult {
  side: "server" | "client";
  cell: MatrixCell;
  name: string;
  /** The child's RSS before the cell, after a GC. */
  baseline: number;
  /** Peak RSS during the cell minus the baseline. */
  growth: number;
  /** Bytes the peer offered. */
  offered: number;
  floodMs: number;
  /** "open", "held by TCP", "closed <code>" or "dropped, no close frame". */
  outcome: string;
  /** Whether a fresh connection got its echo afterwards. */
  fresh: boolean;
  ms: number;
  pass: boolean;
  failures: string[];
}

/** The 20 cells: kinds x {reads, never reads} x {compression off, on}. */
export function matrixCells(): MatrixCell[];
export function cellName(cell: MatrixCell): string;
/**
 * Runs one cell with the library side in a child process that imports `entry` (a file URL of the
 * built `@ws/server` or `@ws/client`).
 */
export function runMatrixCell(side: "server" | "client", entry: string, cell: MatrixCell): Promise<MatrixResult>;
export function matrixTable(results: MatrixResult[]): string;
