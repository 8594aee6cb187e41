/** What the liveness timers need from a connection. */
export interface LivenessTarget {
  sendPing(): void;
  /** True while we stopped reading on purpose (slow consumer): silence then proves nothing. */
  isReadPaused(): boolean;
  /** No byte arrived within `pongTimeout` of a ping. */
  onPongTimeout(): void;
  /** No message arrived for `idleTimeout`. */
  onIdle(): void;
}

/**
 * Automatic pings with a deadline, and an idle timer. Unref'd, so that they never keep the process
 * alive on their own. The cycle is: `pingInterval` of quiet, a ping, `pongTimeout` to hear back.
 *
 * Any byte received after a ping counts as an answer, not only the pong: a peer busy sending one
 * large frame cannot slip its pong in until that frame ends (RFC 6455 §5.4 lets control frames in
 * only between frames), and its bytes prove it is alive just as well.
 */
export class Liveness {
  private readonly target: LivenessTarget;
  private readonly pingInterval: number;
  private readonly pongTimeout: number;
  private readonly idleTimeout: number;
  private pingTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private heardFrom = false;

  constructor(target: LivenessTarget, pingInterval: number, pongTimeout: number, idleTimeout: number) {
    this.target = target;
    this.pingInterval = pingInterval;
    this.pongTimeout = pongTimeout;
    this.idleTimeout = idleTimeout;
  }

  start(): void {
    if (this.pingInterval > 0) {
      this.schedule(this.pingInterval, this.onPingDue);
    }
    if (this.idleTimeout > 0) {
      this.idleTimer = setTimeout(this.onIdleTimer, this.idleTimeout);
      this.idleTimer.unref();
    }
  }

  /** Some bytes arrived. */
  received(): void {
    this.heardFrom = true;
  }

  /** A whole message arrived: the peer is not idle. */
  message(): void {
    this.idleTimer?.refresh();
  }

  stop(): void {
    if (this.pingTimer !== null) clearTimeout(this.pingTimer);
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.pingTimer = this.idleTimer = null;
  }

  private schedule(ms: number, callback: () => void): void {
    this.pingTimer = setTimeout(callback, ms);
    this.pingTimer.unref();
  }

  private readonly onPingDue = (): void => {
    this.heardFrom = false;
    this.target.sendPing();
    if (this.pingTimer !== null) this.schedule(this.pongTimeout, this.onPongDue);
  };

  private readonly onPongDue = (): void => {
    // Timers run before the poll phase: after an event-loop stall the pong may be sitting unread
    // in the socket. Decide in the check phase, once the I/O that already arrived has been read.
    if (this.pingTimer === null) return;
    setImmediate(this.decidePong);
  };

  private readonly decidePong = (): void => {
    if (this.pingTimer === null) return;
    if (!this.heardFrom && !this.target.isReadPaused()) {
      this.stop();
      this.target.onPongTimeout();
      return;
    }
    this.schedule(this.pingInterval, this.onPingDue);
  };

  private readonly onIdleTimer = (): void => {
    if (this.idleTimer === null) return;
    this.idleTimer = null;
    this.target.onIdle();
  };
}
