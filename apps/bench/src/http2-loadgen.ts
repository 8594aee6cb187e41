// The load generator of the HTTP/2 rows: our client, every WebSocket on one HTTP/2 session
// (`http2: agent`) or each on its own TLS connection (HTTP/1.1), against ours-tls. wsbench speaks
// no HTTP/2, so this Node process is the generator for both, and it reports its own CPU (and the
// server's) so that a saturated generator shows. Prints one JSON line with wsbench's field names.
//
//   node http2-loadgen.mjs '{"mode":"echo","transport":"h2","url":"wss://127.0.0.1:1/","ca":"/tmp/…/cert.pem",
//                           "connections":100,"inflight":16,"size":32,"durationMs":4000,"warmupMs":1000,"pid":123}'
import { readFileSync } from "node:fs";
import { Http2Agent, connect, type Connection } from "@ws/client";
import { cpuWindow, rss } from "./proc.js";
import { ClosedLoopStats } from "./closed-loop.js";

export interface Http2LoadSpec {
  mode: "echo" | "connect" | "idle";
  /** "h2": extended CONNECT streams on one session; "h1": an HTTP/1.1 upgrade per TLS connection. */
  transport: "h2" | "h1";
  connections: number;
  inflight: number;
  size: number;
  durationMs: number;
  warmupMs: number;
  pid?: number;
}

export interface Http2LoadOptions extends Http2LoadSpec {
  url: string;
  /** The server's self-signed certificate. */
  ca: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));




class Generator {
  readonly #options: Http2LoadOptions;
  readonly #ca: string;
  /** One agent: every WebSocket of the run shares its one session. */
  readonly #agent = new Http2Agent();

  constructor(options: Http2LoadOptions) {
    this.#options = options;
    this.#ca = readFileSync(options.ca, "utf8");
  }

  open(): Promise<Connection> {
    const http2 = this.#options.transport === "h2" ? { http2: this.#agent } : {};
    return connect(this.#options.url, { ...http2, ca: this.#ca, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  }

  /** Opens `count` WebSockets, at most `parallel` handshakes at a time. */
  async openMany(count: number, parallel: number): Promise<Connection[]> {
    const conns = new Array<Connection>(count);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        conns[i] = await this.open();
        conns[i].on("error", () => {});
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
    return conns;
  }

  get sessions(): number {
    return this.#agent.sessionCount;
  }
}

async function echo(options: Http2LoadOptions, generator: Generator): Promise<Record<string, unknown>> {
  const payload = Buffer.alloc(options.size, 0x61);
  const conns = await generator.openMany(options.connections, 32);
  const sessions = generator.sessions;
  const stats = new ClosedLoopStats(performance.now(), options.warmupMs, options.durationMs);
  let mismatches = 0;
  let running = true;
  conns.forEach((conn) => {
    const queue: number[] = [];
    conn.on("message", (data) => {
      if ((data as Buffer).length !== options.size) mismatches++;
      const now = performance.now();
      stats.record(queue.shift() ?? Number.NaN, now, options.size);
      if (running) {
        queue.push(now);
        conn.send(payload);
      }
    });
    for (let k = 0; k < options.inflight; k++) {
      queue.push(performance.now());
      conn.send(payload);
    }
  });
  const cpu = cpuWindow(options.pid, options.warmupMs);
  await sleep(options.warmupMs + options.durationMs);
  const cpuUse = cpu.read(options.durationMs);
  running = false;
  await Promise.race([Promise.all(conns.map((conn) => conn.close(1000))), sleep(3000)]);
  return {
    ...stats.summary(options.durationMs),
    mismatches,
    sessions,
    ...cpuUse,
  };
}

/**
 * Open-and-close cycles, `connections` at a time. Over HTTP/2 one more WebSocket stays open the
 * whole time, so every cycle is a stream on the open session: no TCP or TLS handshake.
 */
async function connectCycles(options: Http2LoadOptions, generator: Generator): Promise<Record<string, unknown>> {
  const anchor = options.transport === "h2" ? await generator.open() : null;
  const start = performance.now();
  const windowStart = start + options.warmupMs;
  const windowEnd = windowStart + options.durationMs;
  let cycles = 0;
  let errors = 0;
  const cpu = cpuWindow(options.pid, options.warmupMs);
  const loop = async (): Promise<void> => {
    while (performance.now() < windowEnd) {
      try {
        const conn = await generator.open();
        await conn.close(1000);
        const now = performance.now();
        if (now >= windowStart && now <= windowEnd) cycles++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, loop));
  const cpuUse = cpu.read(options.durationMs);
  await anchor?.close(1000);
  return {
    conn_per_s: cycles / (options.durationMs / 1000),
    connect_errors: errors,
    ...cpuUse,
  };
}

async function idle(options: Http2LoadOptions, generator: Generator): Promise<Record<string, unknown>> {
  const before = rss(options.pid);
  const conns = await generator.openMany(options.connections, 64);
  await sleep(options.durationMs);
  const after = rss(options.pid);
  const sessions = generator.sessions;
  await Promise.race([Promise.all(conns.map((conn) => conn.close(1000))), sleep(5000)]);
  return { bytes_per_conn: (after - before) / options.connections, sessions };
}

const options = JSON.parse(process.argv[2] ?? "{}") as Http2LoadOptions;
const generator = new Generator(options);
const run = options.mode === "connect" ? connectCycles : options.mode === "idle" ? idle : echo;
run(options, generator).then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  },
  (error: Error) => {
    process.stderr.write(`http2-loadgen: ${error.message}\n`);
    process.exit(2);
  },
);
