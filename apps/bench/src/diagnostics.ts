// What diagnostics_channel subscribers cost (issue 15): our echo server with no subscriber, and with
// one on every `ws:server:*` channel (servers/ours.ts --diagnostics), side by side in interleaved
// rounds. Nothing is published on the per-message path, so the echo rows should match; a handshake
// publishes an open and a close.
import type { LoadResult } from "./loadgen-output.js";
import { runLoadgen, runWsbench, startServer, type LoadgenSpec } from "./processes.js";
import type { Row } from "./report.js";
import { formatRatio, median, ratio } from "./stats.js";
import type { BenchContext } from "./context.js";

export interface DiagnosticsBenchOptions extends BenchContext {
  /** wsbench, or undefined for the Node load generator. */
  binary: string | undefined;
}

interface Workload {
  name: string;
  unit: string;
  wsbench: (pid: number) => string[];
  loadgen: LoadgenSpec;
  pick: (result: LoadResult) => number | undefined;
}

const VARIANTS = [
  { key: "none", label: "no subscriber", args: [] as string[] },
  { key: "all", label: "a subscriber on every channel", args: ["--diagnostics"] },
] as const;

function workloads(seconds: number, warmup: number): Workload[] {
  const d = ["-d", String(seconds), "-w", String(warmup)];
  const spec = { durationMs: seconds * 1000, warmupMs: warmup * 1000, client: "ws", deflate: false, text: false } as const;
  return [
    {
      name: "32 B echo, 100 conns × 16 in flight",
      unit: "msg/s",
      wsbench: (pid) => ["echo", "-c", "100", "-s", "32", "-p", "16", ...d, "--pid", String(pid)],
      loadgen: { ...spec, mode: "echo", connections: 100, inflight: 16, size: 32 },
      pick: (r) => r.msgsPerSec,
    },
    {
      name: "handshakes (connect + close), 16 concurrent",
      unit: "conn/s",
      wsbench: (pid) => ["connect", "-c", "16", "-d", String(Math.max(1, seconds - 1)), "-w", String(warmup), "--pid", String(pid)],
      loadgen: { ...spec, mode: "connect", connections: 16, inflight: 0, size: 0 },
      pick: (r) => r.connPerSec,
    },
  ];
}

/** Two rows per workload: no subscriber, and every channel subscribed (with its ratio to the first). */
export async function diagnosticsBenchmarks(options: DiagnosticsBenchOptions): Promise<Row[]> {
  const { binary, rounds, seconds, warmup, log, notes } = options;
  const rows: Row[] = [];
  for (const workload of workloads(seconds, warmup)) {
    const names = VARIANTS.map((variant) => `${workload.name} · ${variant.label}`);
    if (!names.some((name) => options.selected(name))) continue;
    const samples: Record<string, number[]> = { none: [], all: [] };
    for (let round = 0; round < rounds; round++) {
      for (const variant of VARIANTS) {
        const server = await startServer("ours", { extraArgs: [...variant.args] });
        try {
          const result =
            binary !== undefined
              ? await runWsbench(binary, workload.wsbench(server.pid), server.port, seconds + warmup)
              : await runLoadgen(workload.loadgen, server.port);
          const figure = workload.pick(result) ?? Number.NaN;
          log(`  [${round + 1}/${rounds}] diagnostics · ${workload.name} · ${variant.label}: ${Math.round(figure)} ${workload.unit}${result.errors ? ` ERRORS ${result.errors}` : ""}`);
          if (result.errors > 0) notes.push(`diagnostics · ${workload.name} · ${variant.label}, round ${round + 1}: the load generator reported errors; that sample was dropped.`);
          else samples[variant.key]!.push(figure);
        } catch (error) {
          notes.push(`diagnostics · ${workload.name} · ${variant.label}, round ${round + 1}: ${(error as Error).message}`);
        } finally {
          await server.stop();
        }
      }
    }
    const none = median(samples.none!);
    const all = median(samples.all!);
    const section = "Server, diagnostics_channel subscribers (ours alone)";
    rows.push(
      { section, name: names[0]!, unit: workload.unit, ours: none, peers: {}, samples: { ours: samples.none }, comparisons: [] },
      {
        section,
        name: names[1]!,
        unit: workload.unit,
        ours: all,
        peers: {},
        samples: { ours: samples.all },
        comparisons: [],
        note: `${formatRatio(ratio(all, none))} no subscriber`,
      },
    );
  }
  return rows;
}
