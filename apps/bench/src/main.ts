// `pnpm bench`: codec micro-benchmarks, end-to-end server benchmarks (ours vs ws vs ws+bufferutil,
// each server in its own process on CPU 1, the load generator on CPU 0, interleaved rounds), what
// diagnostics_channel subscribers cost our server (diagnostics.ts), the fan-out and scale-out
// benchmarks (fanout.ts: ours vs ws vs Bun, and ours through Redis), the HTTP/2 rows
// (http2-bench.ts), and the client benchmark (three clients against the C echo server in native/,
// or our Node server when it does not build). Prints a Markdown table, writes results/latest.{md,json} and the README's
// Performance section. BENCH_QUICK=1: short smoke run.
import { cpus } from "node:os";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCodec } from "./codec.js";
import { diagnosticsBenchmarks } from "./diagnostics.js";
import { http2Benchmarks } from "./http2-bench.js";
import { fanoutBenchmarks } from "./fanout.js";
import type { LoadResult } from "./loadgen-output.js";
import {
  bunBinary,
  buildEchoServer,
  fdLimit,
  hasTaskset,
  nodeWebSocket,
  runLoadgen,
  runWsbench,
  startEchoServer,
  startServer,
  wsbenchPath,
  type LoadgenSpec,
  type ServerKind,
} from "./processes.js";
import { describeChanges, isResults, renderMarkdown, replaceReadmeSection, type Comparison, type Peer, type Results, type Row } from "./report.js";
import { median } from "./stats.js";

const here = dirname(fileURLToPath(import.meta.url));
const appDir = join(here, "..");
const repoRoot = join(appDir, "..", "..");
const quick = process.env.BENCH_QUICK === "1";
/** BENCH_ONLY=<text>: only the server and client rows whose name contains it, no codec rows. */
const only = process.env.BENCH_ONLY?.trim().toLowerCase() || undefined;
const selected = (name: string): boolean => only === undefined || name.toLowerCase().includes(only);
const rounds = quick ? 1 : 3;
const seconds = quick ? 1 : 4;
const warmup = quick ? 0.5 : 1;
const clientSeconds = quick ? 1 : 3;
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

interface Workload {
  name: string;
  unit: string;
  lowerIsBetter?: boolean;
  /** wsbench arguments (mode first), or undefined to use the Node load generator. */
  wsbench?: (pid: number) => string[];
  loadgen: (pid: number) => LoadgenSpec;
  deflate?: boolean;
  forceLoadgen?: boolean;
  /** Servers measured besides ours, ws and ws + bufferutil (Bun, the bare floors). */
  extraServers?: ServerKind[];
  /** Figures taken from one run (several rows can come from one run, e.g. latency p50/p99). */
  metrics: { suffix: string; unit?: string; lowerIsBetter?: boolean; pick: (r: LoadResult) => number | undefined; comparisons: Comparison[] }[];
  note?: string;
}

const higher = (bound: number) => ({ direction: "higher" as const, bound });
const lower = (bound: number) => ({ direction: "lower" as const, bound });
const both = (target: Comparison["target"]): Comparison[] => [
  { peer: "ws", target },
  { peer: "ws+bufferutil", target },
];
const WITH_BUN: ServerKind[] = ["bun"];
const WITH_FLOORS: ServerKind[] = ["bun", "node:http bare", "net bare"];
/** The floors are shown for what they are, with no target: ours can only approach them. */
const floors: Comparison[] = [{ peer: "node:http bare" }, { peer: "net bare" }];

function echoSpec(connections: number, inflight: number, size: number, extra: Partial<LoadgenSpec> = {}): LoadgenSpec {
  return { mode: "echo", connections, inflight, size, durationMs: seconds * 1000, warmupMs: warmup * 1000, client: "ws", deflate: false, text: false, ...extra };
}

function workloads(idleConnections: number): Workload[] {
  const d = ["-d", String(seconds), "-w", String(warmup)];
  return [
    {
      name: "32 B echo, 100 conns × 16 in flight",
      unit: "msg/s",
      wsbench: (pid) => ["echo", "-c", "100", "-s", "32", "-p", "16", ...d, "--pid", String(pid)],
      loadgen: () => echoSpec(100, 16, 32),
      extraServers: WITH_BUN,
      metrics: [{ suffix: "", pick: (r) => r.msgsPerSec, comparisons: [...both(higher(5)), { peer: "bun", target: higher(0.4) }] }],
    },
    {
      name: "64 KiB echo, 10 conns × 4 in flight",
      unit: "MB/s",
      wsbench: (pid) => ["echo", "-c", "10", "-s", "64k", "-p", "4", ...d, "--pid", String(pid)],
      loadgen: () => echoSpec(10, 4, 65536),
      extraServers: WITH_BUN,
      metrics: [
        {
          suffix: "",
          pick: (r) => r.mbPerSecRecv,
          comparisons: [
            { peer: "ws", target: higher(3) },
            { peer: "ws+bufferutil", target: higher(1) },
            { peer: "bun", target: higher(1) },
          ],
        },
      ],
    },
    {
      name: "16 MiB text echo, 1 conn",
      unit: "MB/s",
      wsbench: (pid) => ["echo", "-c", "1", "-s", "16m", "-p", "1", "-m", "text", ...d, "--pid", String(pid)],
      loadgen: () => echoSpec(1, 1, 16 * 1024 * 1024, { text: true }),
      extraServers: WITH_BUN,
      metrics: [
        {
          suffix: "",
          pick: (r) => r.mbPerSecRecv,
          comparisons: [{ peer: "ws" }, { peer: "ws+bufferutil", target: higher(1) }, { peer: "bun", target: higher(1) }],
        },
      ],
    },
    {
      name: "handshakes (connect + close), 16 concurrent",
      unit: "conn/s",
      wsbench: (pid) => ["connect", "-c", "16", "-d", String(Math.max(1, seconds - 1)), "-w", String(warmup), "--pid", String(pid)],
      loadgen: () => ({ ...echoSpec(16, 0, 0), mode: "connect" }),
      extraServers: WITH_FLOORS,
      metrics: [{ suffix: "", pick: (r) => r.connPerSec, comparisons: [...both(higher(1.6)), { peer: "bun" }, ...floors] }],
    },
    {
      name: `idle memory, ${idleConnections.toLocaleString("en-US")} conns`,
      unit: "bytes/conn",
      lowerIsBetter: true,
      wsbench: (pid) => ["idle", "-c", String(idleConnections), "-d", quick ? "2" : "4", "-i", "5", "--pid", String(pid)],
      loadgen: (pid) => ({ ...echoSpec(idleConnections, 0, 0), mode: "idle", durationMs: quick ? 2000 : 4000, pid }),
      extraServers: WITH_FLOORS,
      metrics: [{ suffix: "", pick: (r) => r.bytesPerConn, comparisons: [...both(lower(0.8)), { peer: "bun" }, ...floors] }],
    },
    {
      // Without --spin, as the issue measures it: wsbench sleeps in epoll like most clients do.
      name: "latency 32 B, 1 conn × 1 in flight",
      unit: "µs",
      lowerIsBetter: true,
      wsbench: (pid) => ["echo", "-c", "1", "-s", "32", "-p", "1", ...d, "--pid", String(pid)],
      loadgen: () => echoSpec(1, 1, 32),
      metrics: [
        { suffix: " p50", pick: (r) => r.latP50Us, comparisons: both(lower(1)) },
        { suffix: " p99", pick: (r) => r.latP99Us, comparisons: both(lower(1)) },
      ],
    },
    {
      name: "permessage-deflate 1 KiB JSON text, 100 conns × 4 in flight",
      unit: "msg/s",
      deflate: true,
      forceLoadgen: true,
      // The ws client saturates its core before either server does (both servers then idle part of
      // the time and the ratio says little); our client does the same work with less CPU.
      note: "Node load generator with our client (the ws client saturates its core first): wsbench has no permessage-deflate",
      loadgen: (pid) => echoSpec(100, 4, 1024, { deflate: true, text: true, pid, client: "ours" }),
      metrics: [{ suffix: "", pick: (r) => r.msgsPerSec, comparisons: both(higher(1.2)) }],
    },
    {
      // With 100 connections the process's growth under load (the young generation, buffers in
      // flight) outweighs what a connection holds; 1,000 connections show the per-connection part.
      name: "permessage-deflate memory, 1,000 conns × 1 in flight",
      unit: "bytes/conn",
      lowerIsBetter: true,
      deflate: true,
      forceLoadgen: true,
      note: "Node load generator with the ws client: wsbench has no permessage-deflate. Server RSS growth under load ÷ connections",
      loadgen: (pid) => echoSpec(quick ? 200 : 1000, 1, 1024, { deflate: true, text: true, pid }),
      metrics: [{ suffix: "", pick: (r) => r.bytesPerConn, comparisons: both(lower(0.5)) }],
    },
  ];
}

const SERVERS: ServerKind[] = ["ours", "ws", "ws+bufferutil"];
const bunMissing = "unavailable" in bunBinary();

async function serverBenchmarks(binary: string | undefined, idleConnections: number, notes: string[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const workload of workloads(idleConnections).filter((w) => selected(w.name))) {
    const samples: Record<string, Record<string, number[]>> = {};
    const clientCpu: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const kinds = [...SERVERS, ...(workload.extraServers ?? []).filter((k) => k !== "bun" || !bunMissing)];
      for (const kind of kinds) {
        const server = await startServer(kind, { deflate: workload.deflate ?? false });
        try {
          const useWsbench = binary !== undefined && workload.wsbench !== undefined && !workload.forceLoadgen;
          const result = useWsbench
            ? await runWsbench(binary, workload.wsbench!(server.pid), server.port, seconds + warmup)
            : await runLoadgen(workload.loadgen(server.pid), server.port);
          const figures = workload.metrics.map((m) => `${m.suffix.trim() || workload.unit}=${Math.round(m.pick(result) ?? Number.NaN)}`);
          const cpu = result.clientCpuPct !== undefined ? ` client CPU ${Math.round(result.clientCpuPct)}%` : "";
          log(`  [${round + 1}/${rounds}] ${workload.name} · ${kind}: ${figures.join(" ")}${cpu}${result.errors ? ` ERRORS ${result.errors}` : ""}`);
          if (result.clientCpuPct !== undefined) clientCpu.push(result.clientCpuPct);
          if (result.errors > 0) {
            notes.push(`${workload.name} · ${kind}, round ${round + 1}: the load generator reported errors; that sample was dropped.`);
            continue;
          }
          for (const metric of workload.metrics) {
            ((samples[metric.suffix] ??= {})[kind] ??= []).push(metric.pick(result) ?? Number.NaN);
          }
        } catch (error) {
          notes.push(`${workload.name} · ${kind}, round ${round + 1}: ${(error as Error).message}`);
          log(`  ${workload.name} · ${kind}: FAILED ${(error as Error).message}`);
        } finally {
          await server.stop();
        }
      }
    }
    const busiest = Math.max(...clientCpu);
    if (busiest >= 90) {
      notes.push(
        `${workload.name}: the load generator reached ${Math.round(busiest)} % of its core, so it, not the server, may be the limit: ` +
          "throughput figures are lower bounds and ratios are compressed towards 1×.",
      );
    }
    for (const metric of workload.metrics) {
      const s = samples[metric.suffix] ?? {};
      const peers: Partial<Record<Peer, number>> = {};
      for (const kind of SERVERS.slice(1).concat(workload.extraServers ?? [])) peers[kind as Peer] = median(s[kind] ?? []);
      const row: Row = {
        section: "Server, end to end",
        name: workload.name + metric.suffix,
        unit: metric.unit ?? workload.unit,
        ours: median(s.ours ?? []),
        peers,
        samples: s,
        comparisons: metric.comparisons,
      };
      if (metric.lowerIsBetter ?? workload.lowerIsBetter) row.lowerIsBetter = true;
      if (workload.note) row.note = workload.note;
      rows.push(row);
    }
  }
  return rows;
}

async function clientBenchmarks(notes: string[]): Promise<Row[]> {
  const native = nodeWebSocket();
  const clients: ("ours" | "ws" | "node")[] = native === "none" ? ["ours", "ws"] : ["ours", "ws", "node"];
  if (native === "flag") notes.push("Node's built-in WebSocket (undici) needs --experimental-websocket on Node 20: the client benchmark runs it with that flag.");
  if (native === "none") notes.push("Node's built-in WebSocket is unavailable in this Node: no Node column in the client benchmark.");
  // The echo server runs on the other core. Our Node server saturates that core before one client
  // connection does (about 100k msg/s of 32 B), which would cap every client at the same figure, so
  // the C echo server (native/echo-server.c) is used whenever it builds.
  const build = buildEchoServer();
  const echo = "binary" in build ? build.binary : undefined;
  const serverName = echo ? "the C echo server" : "our Node echo server";
  if ("unavailable" in build) notes.push(`Client benchmark: the C echo server is unavailable (${build.unavailable}), so the clients ran against our Node echo server, which may cap them.`);
  else notes.push("Client rows: the echo server is apps/bench/native/echo-server.c (C, one thread, epoll), which echoes frame by frame.");
  const rows: Row[] = [];
  for (const [name, unit, spec, pick] of [
    ["32 B, 1 conn × 16 in flight", "msg/s", echoSpec(1, 16, 32, { durationMs: clientSeconds * 1000 }), (r: LoadResult) => r.msgsPerSec],
    ["64 KiB, 1 conn × 4 in flight", "MB/s", echoSpec(1, 4, 65536, { durationMs: clientSeconds * 1000 }), (r: LoadResult) => r.mbPerSecRecv],
  ] as const) {
    if (!selected(`client ${name}`)) continue;
    const samples: Record<string, number[]> = {};
    const serverCpu: number[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const client of clients) {
        const server = echo ? await startEchoServer(echo) : await startServer("ours");
        try {
          const result = await runLoadgen({ ...spec, client, pid: server.pid }, server.port);
          const cpu = ` (client CPU ${Math.round(result.clientCpuPct ?? Number.NaN)} %, server CPU ${Math.round(result.serverCpuPct ?? Number.NaN)} %)`;
          log(`  [${round + 1}/${rounds}] client ${name} · ${client}: ${Math.round(pick(result) ?? Number.NaN)} ${unit}${cpu}${result.errors ? " ERRORS" : ""}`);
          if (result.serverCpuPct !== undefined) serverCpu.push(result.serverCpuPct);
          if (result.errors === 0) (samples[client] ??= []).push(pick(result) ?? Number.NaN);
        } catch (error) {
          notes.push(`client ${name} · ${client}: ${(error as Error).message}`);
        } finally {
          await server.stop();
        }
      }
    }
    const busiest = Math.max(...serverCpu.filter((v) => Number.isFinite(v)));
    if (busiest >= 90) notes.push(`client ${name}: ${serverName} reached ${Math.round(busiest)} % of its core, so client figures may be capped by it.`);
    const comparisons: Comparison[] = [{ peer: "ws", target: higher(1.5) }];
    if (clients.includes("node")) comparisons.push({ peer: "node", target: higher(1.5) });
    rows.push({
      // The server is in the title: figures against the C and the Node server are not comparable,
      // and the row key (section / name) keeps a fallback run from being compared with a C run.
      section: `Client (one connection, against ${serverName} on the other core)`,
      name,
      unit,
      ours: median(samples.ours ?? []),
      peers: { ws: median(samples.ws ?? []), node: median(samples.node ?? []) },
      samples,
      comparisons,
    });
  }
  return rows;
}

function readPrevious(path: string): Results | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const value: unknown = JSON.parse(readFileSync(path, "utf8"));
    return isResults(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const binary = wsbenchPath();
  const notes: string[] = [];
  if (process.env.WSBENCH && !binary) notes.push(`WSBENCH=${process.env.WSBENCH} does not exist: the Node load generator was used.`);
  if (bunMissing) notes.push("The bun package's binary is missing (its install script did not run): no Bun column.");
  if (!hasTaskset) notes.push("taskset is missing: servers and load generators were not pinned to separate cores.");
  const limit = fdLimit();
  const wanted = quick ? 2000 : 10_000;
  const idleConnections = Math.max(100, Math.min(wanted, limit - 512));
  if (idleConnections < wanted) notes.push(`fd limit ${limit}: idle memory measured with ${idleConnections} connections instead of ${wanted}.`);

  log(`bench: ${quick ? "QUICK" : "full"} run, ${rounds} round(s), ${seconds}s windows, load generator ${binary ?? "Node (ws client)"}`);
  if (only !== undefined) log(`bench: BENCH_ONLY=${only}: the matching rows only; nothing is written`);
  const codec = only === undefined ? (log("codec micro-benchmarks…"), await runCodec({ quick, log })) : { rows: [], notes: [] };
  notes.push(...codec.notes);
  log("server benchmarks…");
  const server = await serverBenchmarks(binary, idleConnections, notes);
  log("diagnostics_channel benchmarks…");
  const diagnostics = await diagnosticsBenchmarks({ binary, rounds, seconds, warmup, selected, log, notes });
  log("fan-out benchmarks…");
  const fanout = await fanoutBenchmarks({ rounds, seconds, warmup, selected, log, notes });
  log("client benchmarks…");
  const client = await clientBenchmarks(notes);
  log("HTTP/2 benchmarks…");
  const http2 = await http2Benchmarks({ quick, rounds, seconds, warmup, selected, log, notes });

  const cpuList = cpus();
  const results: Results = {
    machine: {
      cpu: cpuList[0]?.model.trim() ?? "unknown CPU",
      cores: cpuList.length,
      node: process.version,
      date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
      loadGenerator: binary ? "wsbench (C), pinned to CPU 0; servers pinned to CPU 1" : "Node (ws client), pinned to CPU 0; servers pinned to CPU 1",
      quick,
      rounds,
    },
    rows: [...codec.rows, ...server, ...diagnostics, ...fanout, ...client, ...http2],
    notes: [
      "Codec rows: ours = @ws/codec; ws = ws 8.23's JavaScript path (WS_NO_BUFFER_UTIL); ws + bufferutil = bufferutil's native unmask called directly, and ws's Receiver with bufferutil for parsing. UTF-8 rows compare against buffer.isUtf8, which ws uses on Node 20 from 24 bytes up.",
      "Servers: echo servers with no compression (except the deflate row, threshold 0 on both), maxPayload 64 MiB; ours with its defaults otherwise (heartbeat on), ws with its defaults, Bun.serve (uWebSockets inside, from the bun package) with its defaults (idle timeout, pings).",
      "Bare floors: a node:http server and a net.Server that answer the upgrade with a valid 101 and hold the socket (answering only pings and the close frame): the least a Node server can spend per handshake and per idle connection on each path.",
      ...notes,
    ],
  };

  const resultsDir = join(appDir, "results");
  mkdirSync(resultsDir, { recursive: true });
  const jsonPath = join(resultsDir, "latest.json");
  // A quick run is compared only with a quick run, a full run with a full run.
  const earlier = readPrevious(jsonPath);
  const previous = earlier && earlier.machine.quick === quick ? earlier : undefined;
  if (earlier && !previous) log(`bench: the previous run was ${earlier.machine.quick ? "quick" : "full"}: not compared`);
  const markdown = renderMarkdown(results, previous);
  process.stdout.write(`\n${markdown}\n`);
  // A partial run is no baseline: it would hide the rows it skipped from the next comparison.
  if (only !== undefined) return;
  const changes = describeChanges(results, previous);
  if (changes.length > 0) process.stdout.write(`Change since the previous run (${previous!.machine.date}):\n${changes.map((l) => `  ${l}`).join("\n")}\n`);
  writeFileSync(join(resultsDir, "latest.md"), markdown);
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  const readmePath = join(repoRoot, "README.md");
  if (existsSync(readmePath)) {
    const body = `Figures from \`pnpm bench\` (apps/bench), ${quick ? "a quick run" : "a full run"} on ${results.machine.date}.\n\n${markdown}`;
    writeFileSync(readmePath, replaceReadmeSection(readFileSync(readmePath, "utf8"), body));
  }
  log(`bench: done in ${Math.round((Date.now() - started) / 1000)} s; wrote apps/bench/results/latest.{md,json} and the README's Performance section`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
