// The Node load generator: the fallback when wsbench is not available, the only one for
// permessage-deflate (wsbench has none) and the driver of the client benchmark (`--client`).
// Run in its own process; prints one JSON line with wsbench's field names.
//
//   node loadgen.mjs '{"mode":"echo","url":"ws://127.0.0.1:1/","connections":100,"inflight":16,
//                      "size":32,"durationMs":5000,"warmupMs":1000,"client":"ws","deflate":false,
//                      "text":false,"pid":123}'
import { connect } from "@ws/client";
import { WebSocket as WsWebSocket } from "ws";
import { cpuWindow, rss } from "./proc.js";
import { ClosedLoopStats, jsonLikeText } from "./closed-loop.js";
import type { LoadgenSpec } from "./processes.js";

/** A run as `runLoadgen` (processes.ts) describes it, plus the server's URL. */
export interface LoadgenOptions extends LoadgenSpec {
  url: string;
}

interface Peer {
  send(data: Buffer | string): void;
  close(): Promise<void>;
}

type OnMessage = (size: number) => void;

function byteLength(data: unknown): number {
  if (typeof data === "string") return Buffer.byteLength(data);
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  if (Array.isArray(data)) return data.reduce((n: number, part: Buffer) => n + part.length, 0);
  return 0;
}

async function open(options: LoadgenOptions, onMessage: OnMessage): Promise<Peer> {
  if (options.client === "ours") {
    const conn = await connect(options.url, { perMessageDeflate: options.deflate, maxPayload: 64 * 1024 * 1024 });
    conn.on("message", (data) => onMessage(byteLength(data)));
    conn.on("error", () => {});
    return {
      send: (data) => {
        conn.send(data);
      },
      close: () =>
        new Promise((resolve) => {
          conn.once("close", () => resolve());
          void conn.close(1000);
        }),
    };
  }
  if (options.client === "node") {
    const Native = (globalThis as { WebSocket?: typeof globalThis.WebSocket }).WebSocket;
    if (!Native) throw new Error("no global WebSocket in this Node (needs --experimental-websocket on Node 20)");
    const socket = new Native(options.url);
    socket.binaryType = "arraybuffer";
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error("Node WebSocket failed to open"));
    });
    socket.onmessage = (event: MessageEvent) => onMessage(byteLength(event.data));
    return {
      send: (data) => socket.send(data),
      close: () =>
        new Promise((resolve) => {
          socket.onclose = () => resolve();
          socket.close(1000);
        }),
    };
  }
  const socket = new WsWebSocket(options.url, { perMessageDeflate: options.deflate, maxPayload: 64 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  socket.on("message", (data) => onMessage(byteLength(data)));
  socket.on("error", () => {});
  return {
    send: (data) => socket.send(data),
    close: () =>
      new Promise((resolve) => {
        socket.once("close", () => resolve());
        socket.close(1000);
      }),
  };
}



const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens `count` connections, at most `parallel` handshakes at a time. */
async function openMany(options: LoadgenOptions, count: number, parallel: number, make: (i: number) => OnMessage): Promise<Peer[]> {
  const peers: Peer[] = new Array<Peer>(count);
  let next = 0;
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      try {
        peers[i] = await open(options, make(i));
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  if (errors > 0) throw new Error(`${errors} connections failed`);
  return peers;
}

async function echo(options: LoadgenOptions): Promise<Record<string, unknown>> {
  const payload: Buffer | string = options.text ? jsonLikeText(options.size) : Buffer.alloc(options.size, 0x61);
  const size = byteLength(payload);
  const rssBefore = rss(options.pid);
  const queues: number[][] = [];
  let stats: ClosedLoopStats | null = null;
  let mismatches = 0;
  let running = true;
  const peers = await openMany(options, options.connections, 64, (i) => {
    queues[i] = [];
    return (received) => {
      if (received !== size) mismatches++;
      const sentAt = queues[i]!.shift() ?? Number.NaN;
      const now = performance.now();
      stats?.record(sentAt, now, received);
      if (running) {
        queues[i]!.push(performance.now());
        peers[i]!.send(payload);
      }
    };
  });
  stats = new ClosedLoopStats(performance.now(), options.warmupMs, options.durationMs);
  const cpu = cpuWindow(options.pid, options.warmupMs);
  for (let i = 0; i < peers.length; i++) {
    for (let k = 0; k < options.inflight; k++) {
      queues[i]!.push(performance.now());
      peers[i]!.send(payload);
    }
  }
  await sleep(options.warmupMs + options.durationMs);
  const rssAfter = rss(options.pid);
  const cpuUse = cpu.read(options.durationMs);
  running = false;
  await Promise.race([Promise.all(peers.map((p) => p.close())), sleep(3000)]);
  return {
    ...stats.summary(options.durationMs),
    bytes_per_conn: (rssAfter - rssBefore) / options.connections,
    mismatches,
    ...cpuUse,
  };
}

async function connectCycles(options: LoadgenOptions): Promise<Record<string, unknown>> {
  const start = performance.now();
  const windowStart = start + options.warmupMs;
  const windowEnd = windowStart + options.durationMs;
  let cycles = 0;
  let errors = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < windowEnd) {
      try {
        const peer = await open(options, () => {});
        await peer.close();
        const now = performance.now();
        if (now >= windowStart && now <= windowEnd) cycles++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, loop));
  return { conn_per_s: cycles / (options.durationMs / 1000), connect_errors: errors };
}

async function idle(options: LoadgenOptions): Promise<Record<string, unknown>> {
  const before = rss(options.pid);
  const peers = await openMany(options, options.connections, 256, () => () => {});
  await sleep(options.durationMs);
  const after = rss(options.pid);
  await Promise.race([Promise.all(peers.map((p) => p.close())), sleep(5000)]);
  return { bytes_per_conn: (after - before) / options.connections };
}

const options = JSON.parse(process.argv[2] ?? "{}") as LoadgenOptions;
const run = options.mode === "connect" ? connectCycles : options.mode === "idle" ? idle : echo;
run(options).then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  },
  (error: Error) => {
    process.stderr.write(`loadgen: ${error.message}\n`);
    process.exit(2);
  },
);
