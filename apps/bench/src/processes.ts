// Child processes: echo servers pinned to CPU 1, load generators pinned to CPU 0.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseLoadOutput, type LoadResult } from "./loadgen-output.js";

const here = dirname(fileURLToPath(import.meta.url));
export const hasTaskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0;

/** `argv` run pinned to `cpu` when taskset exists. */
function pinned(cpu: number, argv: string[]): [string, string[]] {
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

/** Bun's echo server is run from the source tree: Bun runs JavaScript as it is. */
const bunScript = join(here, "..", "src", "servers", "bun-echo.js");

/**
 * The Bun binary of the `bun` devDependency: its install script puts the platform binary at
 * bin/bun.exe; without that script (pnpm runs it only when allowed) the binary is still in the
 * platform package it depends on. Undefined when neither is there.
 */
export function bunBinary(): string | undefined {
  const require = createRequire(import.meta.url);
  let manifest: string;
  try {
    manifest = require.resolve("bun/package.json");
  } catch {
    return undefined;
  }
  const installed = join(dirname(manifest), "bin", "bun.exe");
  // The placeholder the package ships before its install script runs is a few bytes.
  if (existsSync(installed) && statSync(installed).size > 1_000_000) return installed;
  try {
    const platform = createRequire(manifest).resolve(`@oven/bun-${process.platform}-${process.arch}/package.json`);
    const binary = join(dirname(platform), "bin", "bun");
    return existsSync(binary) ? binary : undefined;
  } catch {
    return undefined;
  }
}

export interface RunningServer {
  /** "c": the C echo server of the client benchmark. */
  kind: ServerKind | "c";
  port: number;
  pid: number;
  info: Record<string, unknown>;
  stop(): Promise<void>;
}

export async function startServer(kind: ServerKind, deflate = false): Promise<RunningServer> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (kind === "ws") env.WS_NO_BUFFER_UTIL = "1";
  else delete env.WS_NO_BUFFER_UTIL;
  let argv: string[];
  if (kind === "bun") {
    const bun = bunBinary();
    if (bun === undefined) throw new Error("the bun package's binary is missing (pnpm install with bun in onlyBuiltDependencies)");
    argv = [bun, bunScript];
  } else {
    argv = [process.execPath, join(here, "servers", SCRIPTS[kind])];
  }
  const [cmd, args] = pinned(1, [...argv, ...(deflate ? ["--deflate"] : [])]);
  const server = await spawnServer(kind, cmd, args, env);
  if (kind === "ws" && server.info.bufferutil) throw new Error("ws pure-JS server loaded bufferutil");
  if (kind === "ws+bufferutil" && !server.info.bufferutil) throw new Error("ws server did not load bufferutil");
  return server;
}

/** Spawns a server and waits for the JSON line it prints once listening ({"ready":true,"port":N,"pid":P,…}). */
async function spawnServer(kind: RunningServer["kind"], cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunningServer> {
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

// The C echo server for the client benchmark (native/echo-server.c): a Node server saturates its core
// before one client connection does, which would cap the client figures.
const nativeDir = join(here, "..", "native");
export const echoServerSource = join(nativeDir, "echo-server.c");

export type EchoServerBuild = { binary: string; warnings: string } | { unavailable: string };

/**
 * Compiles the C echo server into `outDir` (native/build/ by default) when the binary is missing or
 * older than the source; an up-to-date binary is used as is, even without a compiler. `warnings` is
 * the compiler's stderr ("" when it did not run or had nothing to say).
 */
export function buildEchoServer(options: { cc?: string; outDir?: string } = {}): EchoServerBuild {
  const cc = options.cc ?? "cc";
  const outDir = options.outDir ?? join(nativeDir, "build");
  const binary = join(outDir, "echo-server");
  if (!existsSync(echoServerSource)) return { unavailable: `${echoServerSource} is missing` };
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(echoServerSource).mtimeMs) return { binary, warnings: "" };
  mkdirSync(outDir, { recursive: true });
  // Compile to a temporary name and rename, so a concurrent run never starts a half-written binary.
  const temp = `${binary}.${process.pid}.tmp`;
  const result = spawnSync(cc, ["-O2", "-Wall", "-Wextra", "-o", temp, echoServerSource], { encoding: "utf8" });
  if (result.error) return { unavailable: `${cc} could not run (${result.error.message})` };
  if (result.status !== 0) {
    rmSync(temp, { force: true });
    return { unavailable: `${cc} failed: ${result.stderr.trim().slice(-300)}` };
  }
  renameSync(temp, binary);
  return { binary, warnings: result.stderr.trim() };
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
function run(cmd: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string; code: number | null }> {
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
  const { stdout, stderr, code } = await run(cmd, argv, (seconds + 60) * 1000);
  const result = parseLoadOutput(stdout);
  if (!result) throw new Error(`wsbench ${args.join(" ")} gave no JSON (exit ${code}): ${stderr.trim().slice(-300)}`);
  if (code !== 0 || result.errors > 0) result.errors = Math.max(1, result.errors);
  return result;
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
  const { stdout, stderr, code } = await run(cmd, argv, spec.warmupMs + spec.durationMs + 90_000, env);
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
