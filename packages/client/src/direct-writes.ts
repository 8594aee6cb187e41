// How many frames may leave at once, each in its own write, in one turn of the event loop (see
// `Connection#leavesAtOnce`). The budget is the process's, not a connection's: one connection
// exchanging messages with its server gains from writing its first frames at once, because the
// server starts on them while we produce the next; a process with many busy connections does not,
// since its core is already full, and one system call per frame then costs it most of its
// throughput (100 connections × 16 messages of 32 B in flight: 154 K msg/s with 8 direct writes per
// connection and tick, 600-630 K with every frame of a tick batched, against a C echo server).

/**
 * Frames written at once per turn: enough for the few that a request/response exchange sends, few
 * enough that a burst is batched. With one connection and 16 messages of 32 B in flight against a C
 * echo server, 8 gave more round trips per second than 4 or 16.
 */
export const DIRECT_WRITES_PER_TURN = 8;

let used = 0;
let resetPending = false;

function resetBudget(): void {
  used = 0;
  resetPending = false;
}

/**
 * Takes one frame's direct write from this turn's budget; false once it is spent. The budget comes
 * back in the check phase (`setImmediate`), after the poll phase has run every read that was ready.
 */
export function takeDirectWrite(): boolean {
  if (used >= DIRECT_WRITES_PER_TURN) return false;
  if (!resetPending) {
    resetPending = true;
    setImmediate(resetBudget).unref();
  }
  used++;
  return true;
}
