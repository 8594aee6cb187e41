// Issue 12, "What done means": the memory matrix for the client. Each cell runs the built client
// (connected to a hostile raw-socket server, echoing what it receives) in a child process, so that
// its RSS is its own; see @ws/test-utils memory-matrix.js for the cells, the bound and how a cell
// ends.
import { MATRIX_BOUND, cellName, matrixCells, matrixTable, runMatrixCell, type MatrixResult } from "@ws/test-utils";
import { afterAll, describe, expect, it } from "vitest";

// WS_MEMORY_MATRIX_ENTRY runs the matrix against another build (e.g. one from before a fix).
const entry = process.env.WS_MEMORY_MATRIX_ENTRY ?? new URL("../dist/index.mjs", import.meta.url).href;
const results: MatrixResult[] = [];

describe(`client memory matrix (RSS growth within ${(MATRIX_BOUND / 1024 / 1024).toFixed(2)} MiB)`, () => {
  afterAll(() => {
    if (results.length > 0) console.log(matrixTable(results));
  });

  for (const cell of matrixCells()) {
    it(cellName(cell), { timeout: 45_000 }, async () => {
      const result = await runMatrixCell("client", entry, cell);
      results.push(result);
      expect(result.failures).toEqual([]);
    });
  }
});
