import { performance } from "node:perf_hooks";

/** What the heartbeat needs from a connection. */
export interface LivenessChecked {
  /** Sends a ping when one is due, judges the answer, closes an idle connection. */
  checkLiveness(now: number): void;
}

export interface LivenessSettings {
  pingInterval: number;
  pongTimeout: number;
  idleTimeout: number;
}

/** How often the heartbeat sweeps: an eighth of the shortest liveness setting, 5 ms to 1 s. */
export function sweepInterval(settings: LivenessSettings): number {
  const periods = [settings.pingInterval, settings.pongTimeout, settings.idleTimeout].filter(
    (ms) => ms > 0,
  );
  if (periods.length === 0) return 0;
  return Math.min(1000, Math.max(5, Math.floor(Math.min(...periods) / 8)));
}

/**
 * One timer for all of a server's connections instead of one (or two) per connection: a timer per
 * connection is the largest part of an idle connection's memory after its socket, and 10,000
 * timers cost more to keep sorted than one sweep costs to run. Deadlines are met within one sweep
 * interval. Unref'd, so that it never keeps the process alive on its own.
 */
export class Heartbeat {
  /** The server's open connections, kept up to date by the server (the array, not a copy). */
  private readonly connections: readonly LivenessChecked[];
  private readonly interval: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(connections: readonly LivenessChecked[], settings: LivenessSettings) {
    this.connections = connections;
    this.interval = sweepInterval(settings);
  }

  /** The clock the deadlines are measured on. */
  now(): number {
    return performance.now();
  }

  /** Called for every new connection: a no-op while the timer runs. */
  start(): void {
    if (this.timer !== null || this.interval === 0) return;
    this.timer = setInterval(this.onTick, this.interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  // Timers run before the poll phase: after an event-loop stall the pongs may be sitting unread
  // in the sockets. Sweep in the check phase, once the I/O that already arrived has been read.
  private readonly onTick = (): void => {
    setImmediate(this.sweep);
  };

  private readonly sweep = (): void => {
    if (this.timer === null) return;
    const connections = this.connections;
    // The timer stops on the first sweep with nobody to check, not when the last connection
    // closes: a server whose connections come and go one at a time would otherwise create and
    // cancel a timer per connection.
    if (connections.length === 0) {
      this.stop();
      return;
    }
    const now = performance.now();
    // From the end: a connection that closes during its check is replaced by the last one, which
    // was checked already.
    for (let i = connections.length - 1; i >= 0; i--) connections[i]?.checkLiveness(now);
  };
}
