// Child processes: echo servers pinned to CPU 1, load generators pinned to CPU 0.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { createServer as createTcpServer } from "node:net";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseLoadOutput, type LoadResult } from "./loadgen-output.js";

const here = dirname(fileURLToPath(import.meta.url));
export const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0;

/** `argv` run pinned to `cpu` when taskset exists. */
export function pinned(cpu: number, argv: string[]): [string, string[]] {
  return hasTaskset ? ["taskset", ["-c", String(cpu), ...argv]] : [argv[0]!, argv.slice(1)];
}

/** "node:http bare" and "net bare": the floors that answer the 101 and hold the socket (servers/bare-*.ts). */
export type ServerKind = "ours" | "ws" | "ws+bufferutil" | "bun" | "node:http bare" | "net bare";

const SCRIPTS: Record<Exclude<ServerKind, "bun">, string> = {
  ours: "ours.mjs",
  ws: "ws.mjs",
  "ws+bufferutil": "ws.mjs",
  "node:http bare": "bare-http.mjs",
  "net bare": "bare-net.mjs",
};


export interface RunningServer {
  /** "c": the C echo server of the client benchmark; "ours-tls": the server of the HTTP/2 rows. */
  kind: ServerKind | "c" | "ours-tls";
  port: number;
  pid: number;
  info: Record<string, unknown>;
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** permessage-deflate on (threshold 0 where the server has one). */
  deflate?: boolean;
  /** ours only: share topics through the Redis at this URL (the scale-out benchmark). */
  redis?: string;
  /** More arguments for the server script (e.g. ours.ts's `--diagnostics`). */
  extraArgs?: string[];
}

/**
 * Starts one benchmark server in its own process, pinned to CPU 1. Every kind serves the same paths:
 * echo everywhere but /sub (subscribed to the topic "fanout") and /pub (each message is published
 * to it). "bun" runs src/servers/bun.js with the binary of the npm package `bun`.
 */
export async function startServer(kind: ServerKind, options: ServerOptions = {}): Promise<RunningServer> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (kind === "ws") env.WS_NO_BUFFER_UTIL = "1";
  else delete env.WS_NO_BUFFER_UTIL;
  const flags = [
    ...(options.deflate ? ["--deflate"] : []),
    ...(options.redis !== undefined ? ["--redis", options.redis] : []),
    ...(options.extraArgs ?? []),
  ];
  if (options.redis !== undefined && kind !== "ours") throw new Error(`${kind} has no Redis broker`);
  let argv: string[];
  if (kind === "bun") {
    const bun = bunBinary();
    if ("unavailable" in bun) throw new Error(`Bun is unavailable: ${bun.unavailable}`);
    argv = [bun.binary, bunServerScript, ...flags];
  } else {
    argv = [process.execPath, join(here, "servers", SCRIPTS[kind]), ...flags];
  }
  const [cmd, args] = pinned(1, argv);
  const server = await spawnServer(kind, cmd, args, env);
  if (kind === "ws" && server.info.bufferutil) throw new Error("ws pure-JS server loaded bufferutil");
  if (kind === "ws+bufferutil" && !server.info.bufferutil) throw new Error("ws server did not load bufferutil");
  return server;
}

/** Bun runs this file as it is (no build step): it is JavaScript for Bun, not for Node. */
const bunServerScript = join(here, "..", "src", "servers", "bun.js");

export type BunBinary = { binary: string; version: string } | { unavailable: string };

let bunFound: BunBinary | undefined;

/**
 * The bun binary of the npm package `bun` (a devDependency: its install script, allowed in
 * pnpm-workspace.yaml, links the binary of the platform's @oven/bun-* package into bin/), checked by
 * running `bun --version`.
 */
export function bunBinary(): BunBinary {
  if (bunFound !== undefined) return bunFound;
  let binary: string;
  try {
    binary = join(dirname(createRequire(import.meta.url).resolve("bun/package.json")), "bin", "bun.exe");
  } catch {
    return (bunFound = { unavailable: "the npm package bun is not installed" });
  }
  if (!existsSync(binary)) return (bunFound = { unavailable: `${binary} is missing (its install script did not run)` });
  const probe = spawnSync(binary, ["--version"], { encoding: "utf8", timeout: 10_000 });
  if (probe.status !== 0) {
    return (bunFound = { unavailable: `${binary} --version failed: ${(probe.error?.message ?? probe.stderr).trim().slice(-200)}` });
  }
  return (bunFound = { binary, version: probe.stdout.trim() });
}

/** Spawns a server and waits for the JSON line it prints once listening ({"ready":true,"port":N,"pid":P,…}). */
export async function spawnServer(kind: RunningServer["kind"], cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunningServer> {
  const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "inherit"] });
  const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${kind} server did not start`)), 15_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      // Only whole lines: a chunk may end in the middle of the JSON.
      const line = out.split("\n").slice(0, -1).find((l) => l.startsWith("{"));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as Record<string, unknown>);
      }
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${kind} server exited with ${code}`));
    });
  }).catch((error: unknown) => {
    child.kill("SIGKILL");
    throw error;
  });
  return { kind, port: Number(info.port), pid: Number(info.pid), info, stop: () => stopChild(child) };
}

// The C programs in native/: the echo server of the client benchmark (a Node server saturates its
// core before one client connection does, which would cap the client figures) and the fan-out
// benchmark's subscriber load generator (a Node one would saturate before the servers do).
const nativeDir = join(here, "..", "native");
export const echoServerSource = join(nativeDir, "echo-server.c");

export type NativeBuild = { binary: string; warnings: string } | { unavailable: string };
export type EchoServerBuild = NativeBuild;

/**
 * Compiles native/NAME.c into `outDir` (native/build/ by default) when the binary is missing or
 * older than the source; an up-to-date binary is used as is, even without a compiler. `warnings` is
 * the compiler's stderr ("" when it did not run or had nothing to say).
 */
export function buildNative(name: string, options: { cc?: string; outDir?: string } = {}): NativeBuild {
  const source = join(nativeDir, `${name}.c`);
  const cc = options.cc ?? "cc";
  const outDir = options.outDir ?? join(nativeDir, "build");
  const binary = join(outDir, name);
  if (!existsSync(source)) return { unavailable: `${source} is missing` };
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return { binary, warnings: "" };
  mkdirSync(outDir, { recursive: true });
  // Compile to a temporary name and rename, so a concurrent run never starts a half-written binary.
  const temp = `${binary}.${process.pid}.tmp`;
  const result = spawnSync(cc, ["-O2", "-Wall", "-Wextra", "-o", temp, source], { encoding: "utf8" });
  if (result.error) return { unavailable: `${cc} could not run (${result.error.message})` };
  if (result.status !== 0) {
    rmSync(temp, { force: true });
    return { unavailable: `${cc} failed: ${result.stderr.trim().slice(-300)}` };
  }
  renameSync(temp, binary);
  return { binary, warnings: result.stderr.trim() };
}

export function buildEchoServer(options: { cc?: string; outDir?: string } = {}): EchoServerBuild {
  return buildNative("echo-server", options);
}

/** Starts a C echo server binary (from `buildEchoServer`) on an OS-chosen port, pinned to CPU 1. */
export function startEchoServer(binary: string): Promise<RunningServer> {
  const [cmd, args] = pinned(1, [binary, "0"]);
  return spawnServer("c", cmd, args, process.env);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** Runs a command to completion, with a time limit, returning its stdout and exit status. */
export function runCommand(cmd: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
  });
}

export function wsbenchPath(): string | undefined {
  const path = process.env.WSBENCH;
  return path && existsSync(path) ? path : undefined;
}

/** One wsbench run against `port`; `args` are the mode and its options. */
export async function runWsbench(binary: string, args: string[], port: number, seconds: number): Promise<LoadResult> {
  const [cmd, argv] = pinned(0, [binary, ...args, `127.0.0.1:${port}/`]);
  const { stdout, stderr, code } = await runCommand(cmd, argv, (seconds + 60) * 1000);
  const result = parseLoadOutput(stdout);
  if (!result) throw new Error(`wsbench ${args.join(" ")} gave no JSON (exit ${code}): ${stderr.trim().slice(-300)}`);
  if (code !== 0 || result.errors > 0) result.errors = Math.max(1, result.errors);
  return result;
}

export interface FanoutSpec {
  /** Subscriber connections, spread evenly over `ports` (the publisher connects to the first). */
  subscribers: number;
  size: number;
  /** Messages in flight at most; 1 measures latency without queueing. */
  window: number;
  seconds: number;
  warmup: number;
  /** Processes whose CPU time is reported as server_cpu_pct (summed). */
  pids: number[];
}

/** One run of native/fanout-loadgen.c (pinned to CPU 0) against one or two servers. */
export async function runFanout(binary: string, spec: FanoutSpec, ports: number[]): Promise<LoadResult> {
  const args = ["--port", String(ports[0]), ...(ports[1] !== undefined ? ["--port2", String(ports[1])] : [])];
  args.push("-c", String(spec.subscribers), "-s", String(spec.size), "-W", String(spec.window));
  args.push("-d", String(spec.seconds), "-w", String(spec.warmup), "--pids", spec.pids.join(","));
  const [cmd, argv] = pinned(0, [binary, ...args]);
  const { stdout, stderr, code } = await runCommand(cmd, argv, (spec.seconds + spec.warmup + 60) * 1000);
  const result = parseLoadOutput(stdout);
  if (!result) throw new Error(`fanout-loadgen gave no JSON (exit ${code}): ${stderr.trim().slice(-300)}`);
  if (code !== 0) result.errors = Math.max(1, result.errors);
  return result;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createTcpServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

export interface RunningRedis {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts Debian's redis-server on 127.0.0.1 and a free port, no persistence, pinned to CPU 1 with the servers. */
export async function startRedis(): Promise<RunningRedis> {
  const port = await freePort();
  const [cmd, args] = pinned(1, ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => fail(new Error(`redis-server did not start:\n${output}`)), 10_000);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(error);
    };
    const onExit = (code: number | null): void => fail(new Error(`redis-server exited with ${code}:\n${output}`));
    child.once("error", (error) => fail(new Error(`cannot run redis-server (apt-get install -y redis-server): ${error.message}`)));
    child.once("exit", onExit);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer);
        // Only this listener: stop() waits for "exit" with its own.
        child.off("exit", onExit);
        child.stdout!.off("data", onData);
        child.stdout!.resume();
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  });
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid!, stop: () => stopChild(child) };
}

export interface LoadgenSpec {
  mode: "echo" | "connect" | "idle";
  connections: number;
  inflight: number;
  size: number;
  durationMs: number;
  warmupMs: number;
  client: "ws" | "ours" | "node";
  deflate: boolean;
  text: boolean;
  pid?: number;
}

/** One run of the Node load generator (dist/loadgen.mjs) against `port`. */
export async function runLoadgen(spec: LoadgenSpec, port: number): Promise<LoadResult> {
  const options = { ...spec, url: `ws://127.0.0.1:${port}/` };
  const node = [process.execPath, ...(spec.client === "node" ? ["--experimental-websocket", "--no-warnings"] : [])];
  const [cmd, argv] = pinned(0, [...node, join(here, "loadgen.mjs"), JSON.stringify(options)]);
  const env = { ...process.env };
  delete env.WS_NO_BUFFER_UTIL;
  const { stdout, stderr, code } = await runCommand(cmd, argv, spec.warmupMs + spec.durationMs + 90_000, env);
  const result = parseLoadOutput(stdout);
  if (!result) throw new Error(`loadgen gave no JSON (exit ${code}): ${stderr.trim().slice(-300)}`);
  if (code !== 0) result.errors = Math.max(1, result.errors);
  return result;
}

/** Whether Node's built-in WebSocket is usable (global, or behind --experimental-websocket). */
export function nodeWebSocket(): "global" | "flag" | "none" {
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function") return "global";
  const probe = spawnSync(process.execPath, ["--experimental-websocket", "--no-warnings", "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)"]);
  return probe.status === 0 ? "flag" : "none";
}

/** The soft fd limit this process runs under (the bench script raises it with `ulimit -n`). */
export function fdLimit(): number {
  const out = spawnSync("bash", ["-c", "ulimit -n"], { encoding: "utf8" });
  const n = Number(out.stdout.trim());
  return Number.isFinite(n) ? n : 1024;
}
