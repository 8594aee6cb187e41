export interface InstallAloneResult {
  /** The temporary project the tarballs were installed into. */
  dir: string;
  /** What the script printed on standard output. */
  stdout: string;
  /** The packages found in the temporary project's node_modules/@ws. */
  installed: string[];
}

/**
 * Packs each workspace package directory with `pnpm pack`, installs only those tarballs with npm
 * into an empty temporary folder, writes `script` there as `check.mjs` (and `cjsScript`, if given,
 * as `check.cjs`) and runs them with node. Throws with the tool's output when any step fails.
 */
export function installAlone(
  packageDirs: string[],
  script: string,
  cjsScript?: string,
): InstallAloneResult;

export { encodeTestFrame, type TestFrameSpec } from "./frames.js";
export { SocketReader, readTestFrame, type TestFrameRead } from "./socket-reader.js";
export {
  MATRIX_BOUND,
  MATRIX_KINDS,
  MATRIX_LIMITS,
  MATRIX_SLACK,
  cellName,
  matrixCells,
  matrixTable,
  runMatrixCell,
  type MatrixCell,
  type MatrixResult,
} from "./memory-matrix.js";
export { selfSignedCertificate } from "./certificate.js";
export { RedisServer } from "./redis-server.js";
