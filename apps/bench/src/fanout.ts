// The fan-out benchmarks: 1,000 subscribers on one topic, delivered messages per second at the
// subscribers, ours (`server.publish`) against ws (a loop over the subscribers) and Bun
// (`Bun.serve` + `server.publish`); then ours on two processes sharing the topic through a real
// redis-server, against ours on one, for throughput and for latency. The subscribers and the one
// publishing connection are native/fanout-loadgen.c on CPU 0; servers (and Redis) are on CPU 1.
import type { LoadResult } from "./loadgen-output.js";
import { bunBinary, buildNative, runFanout, startRedis, startServer, type FanoutSpec, type RunningServer, type ServerKind } from "./processes.js";
import type { Comparison, Peer, Row } from "./report.js";
import { median } from "./stats.js";
import type { BenchContext } from "./context.js";

export type FanoutContext = BenchContext;

const SUBSCRIBERS = 1000;
/**
 * Messages in flight at most in the throughput runs, topped up in bursts of half of it. Deep enough
 * that a server is not left waiting for the next burst (at 64, ours and Bun were idle half the time
 * on the 2-core machine), bounded so that queues stay small: 256 frames per subscriber at most
 * (256 MB in all at 1 KiB).
 */
const WINDOW = 256;
const SIZES = [
  { label: "32 B", bytes: 32 },
  { label: "1 KiB", bytes: 1024 },
];

const higher = (bound: number): Comparison["target"] => ({ direction: "higher", bound });

type Samples = Partial<Record<"ours" | Peer, number[]>>;

function push(samples: Samples, key: "ours" | Peer, value: number | undefined): void {
  (samples[key] ??= []).push(value ?? Number.NaN);
}

function medians(samples: Samples): Partial<Record<Peer, number>> {
  const out: Partial<Record<Peer, number>> = {};
  for (const [key, values] of Object.entries(samples)) if (key !== "ours") out[key as Peer] = median(values);
  return out;
}

/** Per server kind: the load generator's and the server's CPU over the rounds. */
type CpuByKind = Map<ServerKind, { client: number[]; server: number[] }>;

function span(values: number[]): string {
  const finite = values.filter(Number.isFinite).map((v) => Math.round(v));
  if (finite.length === 0) return "–";
  const low = Math.min(...finite);
  const high = Math.max(...finite);
  return low === high ? `${low} %` : `${low}–${high} %`;
}

function cpuNote(name: string, cpu: CpuByKind): string {
  const parts = [...cpu].map(([kind, c]) => `${kind === "bun" ? "Bun" : kind} ${span(c.client)} (server ${span(c.server)})`);
  const saturated = [...cpu].filter(([, c]) => Math.max(...c.client.filter(Number.isFinite)) >= 90).map(([kind]) => kind);
  return (
    `${name}: CPU of the C load generator's core, per server: ${parts.join(", ")}.` +
    (saturated.length > 0 ? ` Against ${saturated.join(", ")} it reached 90 % or more, so it may have been the limit there: those figures are lower bounds.` : " It was never the limit.")
  );
}

async function measure(binary: string, spec: FanoutSpec, servers: RunningServer[], extraPids: number[] = []): Promise<LoadResult> {
  return runFanout(binary, { ...spec, pids: [...servers.map((s) => s.pid), ...extraPids] }, servers.map((s) => s.port));
}

export async function fanoutBenchmarks(ctx: FanoutContext): Promise<Row[]> {
  const names = SIZES.map((size) => fanoutName(size.label));
  const scaleNames = [...SIZES.map((size) => scaleName(size.label)), latencyName(), hopName()];
  if (![...names, ...scaleNames].some(ctx.selected)) return [];
  const build = buildNative("fanout-loadgen");
  if ("unavailable" in build) {
    ctx.notes.push(`Fan-out rows skipped: the C load generator native/fanout-loadgen.c is unavailable (${build.unavailable}).`);
    return [];
  }
  const kinds: ServerKind[] = ["ours", "ws"];
  const bun = bunBinary();
  if ("unavailable" in bun) ctx.notes.push(`Fan-out: no Bun column: ${bun.unavailable}.`);
  else kinds.push("bun");
  const spec = (bytes: number, window = WINDOW): FanoutSpec => ({ subscribers: SUBSCRIBERS, size: bytes, window, seconds: ctx.seconds, warmup: ctx.warmup, pids: [] });
  const rows: Row[] = [];

  for (const size of SIZES) {
    const name = fanoutName(size.label);
    if (!ctx.selected(name)) continue;
    const samples: Samples = {};
    const perCpu: Samples = {};
    const cpu: CpuByKind = new Map();
    for (let round = 0; round < ctx.rounds; round++) {
      for (const kind of kinds) {
        const server = await startServer(kind);
        try {
          const result = await measure(build.binary, spec(size.bytes), [server]);
          ctx.log(`  [${round + 1}/${ctx.rounds}] ${name} · ${kind}: ${Math.round(result.msgsPerSec ?? Number.NaN)} msg/s, client CPU ${Math.round(result.clientCpuPct ?? Number.NaN)} %, server CPU ${Math.round(result.serverCpuPct ?? Number.NaN)} %${result.errors ? ` ERRORS ${result.errors}` : ""}`);
          if (result.errors > 0) {
            ctx.notes.push(`${name} · ${kind}, round ${round + 1}: the load generator reported errors; that sample was dropped.`);
            continue;
          }
          let usage = cpu.get(kind);
          if (usage === undefined) cpu.set(kind, (usage = { client: [], server: [] }));
          usage.client.push(result.clientCpuPct ?? Number.NaN);
          usage.server.push(result.serverCpuPct ?? Number.NaN);
          const key = kind === "ours" ? "ours" : (kind as Peer);
          push(samples, key, result.msgsPerSec);
          push(perCpu, key, (result.msgsPerSec ?? Number.NaN) / ((result.serverCpuPct ?? Number.NaN) / 100));
        } catch (error) {
          ctx.notes.push(`${name} · ${kind}, round ${round + 1}: ${(error as Error).message}`);
          ctx.log(`  ${name} · ${kind}: FAILED ${(error as Error).message}`);
        } finally {
          await server.stop();
        }
      }
    }
    if (cpu.size > 0) ctx.notes.push(cpuNote(name, cpu));
    const comparisons: Comparison[] = [{ peer: "ws", target: higher(3) }];
    if (kinds.includes("bun")) comparisons.push({ peer: "bun", target: higher(0.5) });
    rows.push({ section: FANOUT_SECTION, name, unit: "msg/s", ours: median(samples.ours ?? []), peers: medians(samples), samples, comparisons });
    // The same deliveries per CPU-second the server used: what each server costs, whatever share of
    // its core it got on a busy machine.
    rows.push({
      section: FANOUT_SECTION,
      name: `${name}, per server CPU-second`,
      unit: "msg/CPU-s",
      ours: median(perCpu.ours ?? []),
      peers: medians(perCpu),
      samples: perCpu,
      comparisons: comparisons.map((c) => ({ peer: c.peer })),
    });
  }

  rows.push(...(await scaleOut(ctx, build.binary, spec)));
  if (rows.length > 0) {
    ctx.notes.push(
      `Fan-out rows: ${SUBSCRIBERS.toLocaleString("en-US")} subscriber connections and one publishing connection from native/fanout-loadgen.c (C, epoll; it parses frames and counts them, pinned to CPU 0); ` +
        `each message the publisher sends, the server publishes to all subscribers (ours: server.publish; ws: a loop of send over the subscribers; Bun: Bun.serve's server.publish${"unavailable" in bun ? "" : `, Bun ${bun.version}`}); ` +
        `at most ${WINDOW} messages in flight. msg/s counts deliveries at the subscribers.`,
    );
  }
  return rows;
}

const FANOUT_SECTION = `Fan-out (${SUBSCRIBERS.toLocaleString("en-US")} subscribers on one topic)`;
const SCALE_SECTION = `Scale-out through Redis (ours, ${SUBSCRIBERS.toLocaleString("en-US")} subscribers on one topic)`;

function signed(value: number): string {
  return Number.isFinite(value) ? `${value >= 0 ? "+" : "−"}${Math.abs(Math.round(value)).toLocaleString("en-US")}` : "–";
}

function fanoutName(label: string): string {
  return `fan-out ${label}`;
}

function scaleName(label: string): string {
  return `fan-out ${label}, 2 processes × ${(SUBSCRIBERS / 2).toLocaleString("en-US")} subscribers`;
}

function hopName(): string {
  return "fan-out latency 32 B, 1 message in flight, 1 subscriber on each of 2 processes";
}

function latencyName(): string {
  return "fan-out latency 32 B, 1 message in flight, 2 processes";
}

/** Ours on two processes sharing the topic through Redis (subscribers split evenly) against ours on one. */
async function scaleOut(ctx: FanoutContext, binary: string, spec: (bytes: number, window?: number) => FanoutSpec): Promise<Row[]> {
  const runs = [
    ...SIZES.map((size) => ({ name: scaleName(size.label), spec: spec(size.bytes) })),
    { name: latencyName(), spec: spec(32, 1) },
    // With 1,000 subscribers the time to write to all of them hides the Redis hop; with one
    // subscriber on each process it is most of what is measured.
    { name: hopName(), spec: { ...spec(32, 1), subscribers: 2 } },
  ].filter((run) => ctx.selected(run.name));
  if (runs.length === 0) return [];
  let redis;
  try {
    redis = await startRedis();
  } catch (error) {
    ctx.notes.push(`Scale-out rows skipped: ${(error as Error).message.split("\n")[0]}`);
    return [];
  }
  const rows: Row[] = [];
  try {
    for (const run of runs) {
      const samples: Record<"one" | "two", LoadResult[]> = { one: [], two: [] };
      for (let round = 0; round < ctx.rounds; round++) {
        for (const layout of ["one", "two"] as const) {
          const servers: RunningServer[] = [];
          try {
            if (layout === "one") servers.push(await startServer("ours"));
            else for (let i = 0; i < 2; i++) servers.push(await startServer("ours", { redis: redis.url }));
            const result = await measure(binary, run.spec, servers, layout === "two" ? [redis.pid] : []);
            const figure = run.spec.window === 1 ? `p50 ${Math.round(result.latP50Us ?? Number.NaN)} µs, p99 ${Math.round(result.latP99Us ?? Number.NaN)} µs` : `${Math.round(result.msgsPerSec ?? Number.NaN)} msg/s`;
            ctx.log(`  [${round + 1}/${ctx.rounds}] ${run.name} · ${layout === "one" ? "one process" : "two processes"}: ${figure}, client CPU ${Math.round(result.clientCpuPct ?? Number.NaN)} %, server CPU ${Math.round(result.serverCpuPct ?? Number.NaN)} %${result.errors ? ` ERRORS ${result.errors}` : ""}`);
            if (result.errors > 0) ctx.notes.push(`${run.name} · ${layout}, round ${round + 1}: the load generator reported errors; that sample was dropped.`);
            else samples[layout].push(result);
          } catch (error) {
            ctx.notes.push(`${run.name} · ${layout}, round ${round + 1}: ${(error as Error).message}`);
            ctx.log(`  ${run.name} · ${layout}: FAILED ${(error as Error).message}`);
          } finally {
            await Promise.all(servers.map((server) => server.stop()));
          }
        }
      }
      const pick = (layout: "one" | "two", figure: (r: LoadResult) => number | undefined): number[] => samples[layout].map((r) => figure(r) ?? Number.NaN);
      const row = (name: string, unit: string, figure: (r: LoadResult) => number | undefined, lowerIsBetter: boolean): Row => {
        const two = pick("two", figure);
        const one = pick("one", figure);
        const result: Row = {
          section: SCALE_SECTION,
          name,
          unit,
          ours: median(two),
          peers: { "one-process": median(one) },
          samples: { ours: two, "one-process": one },
          comparisons: [{ peer: "one-process" }],
        };
        if (lowerIsBetter) result.lowerIsBetter = true;
        return result;
      };
      if (run.spec.window === 1) {
        const p50 = row(`${run.name} p50`, "µs", (r) => r.latP50Us, true);
        const p99 = row(`${run.name} p99`, "µs", (r) => r.latP99Us, true);
        rows.push(p50, p99);
        ctx.notes.push(
          `${run.name}: one message at a time, each timed from the publisher's send to each of the ${run.spec.subscribers.toLocaleString("en-US")} deliveries; ` +
            `two processes through Redis against one: ${signed(p50.ours - p50.peers["one-process"]!)} µs at p50, ${signed(p99.ours - p99.peers["one-process"]!)} µs at p99 ` +
            "(a negative figure means the machine's other load varied more than Redis adds).",
        );
      } else {
        rows.push(row(run.name, "msg/s", (r) => r.msgsPerSec, false));
      }
    }
    ctx.notes.push(
      "Scale-out rows: ours on two processes with @ws/redis, the publisher on the first, the subscribers split evenly, and a real redis-server, all on CPU 1 (this machine has two cores, the load generator has the other): " +
        "the second process's deliveries go through Redis. The rows measure what sharing a topic costs, not a gain from more cores; the server CPU in the bench log counts both servers and Redis.",
    );
  } finally {
    await redis.stop();
  }
  return rows;
}
