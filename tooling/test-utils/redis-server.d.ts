/** A real `redis-server` process on 127.0.0.1 and a free port, with no persistence. */
export declare class RedisServer {
  private constructor(port: number);
  readonly port: number;
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  /** Starts one on a free port; rejects with an install hint when `redis-server` is missing. */
  static start(): Promise<RedisServer>;
  /** Starts it (again) on its port; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open and commands sent meanwhile go unanswered. */
  freeze(): void;
  /** SIGKILL, then waits for the process to be gone. */
  kill(): Promise<void>;
}
