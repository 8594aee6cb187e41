// The HTTP/2 rows of `pnpm bench`: 100 WebSockets over one HTTP/2 session (RFC 8441) against 100
// over HTTP/1.1, each on its own TLS connection; TLS both ways, the same server process (ours-tls:
// one port, both protocols) and our client in the Node load generator (wsbench has no HTTP/2).
// Rows: msg/s at 32 B and 64 KiB, handshakes/s, server memory per idle WebSocket. Each run also
// records the generator's CPU, so a saturated generator is called out in the notes.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Http2LoadSpec } from "./http2-loadgen.js";
import { parseLoadOutput, type LoadResult } from "./loadgen-output.js";
import { pinned, runCommand, spawnServer, type RunningServer } from "./processes.js";
import type { Row } from "./report.js";
import { median } from "./stats.js";
import type { BenchContext } from "./context.js";

const here = dirname(fileURLToPath(import.meta.url));

export interface Http2BenchContext extends BenchContext {
  quick: boolean;
}

const TRANSPORTS = [
  { key: "h2", label: "HTTP/2, one session" },
  { key: "h1", label: "HTTP/1.1, a TLS connection each" },
] as const;

interface Http2Workload {
  name: string;
  unit: string;
  lowerIsBetter?: boolean;
  spec: Omit<Http2LoadSpec, "transport" | "pid">;
  pick: (result: LoadResult) => number | undefined;
}

function workloads(context: Http2BenchContext): Http2Workload[] {
  const window = { durationMs: context.seconds * 1000, warmupMs: context.warmup * 1000 };
  const idle = context.quick ? 200 : 1000;
  return [
    {
      name: "32 B echo, 100 WebSockets × 16 in flight",
      unit: "msg/s",
      spec: { mode: "echo", connections: 100, inflight: 16, size: 32, ...window },
      pick: (r) => r.msgsPerSec,
    },
    {
      name: "64 KiB echo, 100 WebSockets × 1 in flight",
      unit: "msg/s",
      spec: { mode: "echo", connections: 100, inflight: 1, size: 65536, ...window },
      pick: (r) => r.msgsPerSec,
    },
    {
      name: "handshakes (open + close), 16 concurrent",
      unit: "conn/s",
      spec: { mode: "connect", connections: 16, inflight: 0, size: 0, ...window },
      pick: (r) => r.connPerSec,
    },
    {
      name: `idle memory, ${idle.toLocaleString("en-US")} WebSockets`,
      unit: "bytes/WebSocket",
      lowerIsBetter: true,
      spec: { mode: "idle", connections: idle, inflight: 0, size: 0, durationMs: context.quick ? 2000 : 4000, warmupMs: 0 },
      pick: (r) => r.bytesPerConn,
    },
  ];
}

async function startTlsServer(): Promise<RunningServer & { ca: string }> {
  const [cmd, args] = pinned(1, [process.execPath, join(here, "servers", "ours-tls.mjs")]);
  const server = await spawnServer("ours-tls", cmd, args, process.env);
  return Object.assign(server, { ca: String(server.info.ca) });
}

async function runHttp2Loadgen(spec: Http2LoadSpec, server: RunningServer & { ca: string }): Promise<LoadResult> {
  const options = { ...spec, url: `wss://127.0.0.1:${server.port}/`, ca: server.ca };
  const [cmd, argv] = pinned(0, [process.execPath, join(here, "http2-loadgen.mjs"), JSON.stringify(options)]);
  const { stdout, stderr, code } = await runCommand(cmd, argv, spec.warmupMs + spec.durationMs + 90_000);
  const result = parseLoadOutput(stdout);
  if (!result) throw new Error(`http2-loadgen gave no JSON (exit ${code}): ${stderr.trim().slice(-300)}`);
  if (code !== 0) result.errors = Math.max(1, result.errors);
  return result;
}

/** The HTTP/2 and HTTP/1.1 rows, interleaved per round: a fresh server for every run. */
export async function http2Benchmarks(context: Http2BenchContext): Promise<Row[]> {
  const rows: Row[] = [];
  for (const workload of workloads(context).filter((w) => context.selected(`HTTP/2 ${w.name}`))) {
    const samples: Record<string, number[]> = {};
    const clientCpu: Record<string, number[]> = {};
    const serverCpu: Record<string, number[]> = {};
    for (let round = 0; round < context.rounds; round++) {
      for (const transport of TRANSPORTS) {
        const server = await startTlsServer();
        try {
          const result = await runHttp2Loadgen({ ...workload.spec, transport: transport.key, pid: server.pid }, server);
          const figure = workload.pick(result) ?? Number.NaN;
          const cpu = ` (client CPU ${Math.round(result.clientCpuPct ?? Number.NaN)} %, server CPU ${Math.round(result.serverCpuPct ?? Number.NaN)} %)`;
          context.log(`  [${round + 1}/${context.rounds}] HTTP/2 rows: ${workload.name} · ${transport.label}: ${Math.round(figure)} ${workload.unit}${cpu}${result.errors ? ` ERRORS ${result.errors}` : ""}`);
          if (result.errors > 0) {
            context.notes.push(`${workload.name} · ${transport.label}, round ${round + 1}: the load generator reported errors; that sample was dropped.`);
            continue;
          }
          (samples[transport.key] ??= []).push(figure);
          if (result.clientCpuPct !== undefined) (clientCpu[transport.key] ??= []).push(result.clientCpuPct);
          if (result.serverCpuPct !== undefined) (serverCpu[transport.key] ??= []).push(result.serverCpuPct);
        } catch (error) {
          context.notes.push(`${workload.name} · ${transport.label}, round ${round + 1}: ${(error as Error).message}`);
        } finally {
          await server.stop();
        }
      }
    }
    const h2 = median(samples.h2 ?? []);
    const h1 = median(samples.h1 ?? []);
    for (const transport of TRANSPORTS) {
      const cpu = median(clientCpu[transport.key] ?? []);
      const server = median(serverCpu[transport.key] ?? []);
      const cpuNote = Number.isFinite(cpu)
        ? `; load generator CPU ${Math.round(cpu)} %${Number.isFinite(server) ? `, server CPU ${Math.round(server)} %` : ""}`
        : "";
      const ratio = transport.key === "h2" && Number.isFinite(h2 / h1) ? `; ${(h2 / h1).toFixed(2)}× HTTP/1.1` : "";
      const row: Row = {
        section: "HTTP/2 (RFC 8441) against HTTP/1.1, TLS both, our server and client",
        name: `${workload.name}, ${transport.label}`,
        unit: workload.unit,
        ours: transport.key === "h2" ? h2 : h1,
        peers: {},
        samples: { ours: samples[transport.key] ?? [] },
        comparisons: [],
        note: `Node load generator with our client${ratio}${cpuNote}`,
      };
      if (workload.lowerIsBetter) row.lowerIsBetter = true;
      rows.push(row);
      if (Number.isFinite(cpu) && cpu >= 90) {
        context.notes.push(
          `${row.name}: the load generator reached ${Math.round(cpu)} % of its core, so it, not the server, may be the limit of that figure.`,
        );
      }
    }
  }
  return rows;
}
