// The fan-out benchmark's load generator (native/fanout-loadgen.c), built fresh into a temporary
// directory and run against small @ws/server fan-out servers in this process: it counts what the
// subscribers really get, keeps its window, and reports wrong frames and lost connections.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type WebSocketServer } from "@ws/server";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { lastJsonObject } from "../src/loadgen-output.js";
import { buildNative, type NativeBuild } from "../src/processes.js";

const hasCc = spawnSync("cc", ["--version"]).error === undefined;
const tempDir = mkdtempSync(join(tmpdir(), "bench-fanout-loadgen-"));
let build: NativeBuild;
const servers: WebSocketServer[] = [];

beforeAll(() => {
  build = buildNative("fanout-loadgen", { outDir: tempDir });
});
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close({ timeout: 500 });
});
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

/** A fan-out server: /sub subscribes, each /pub message is published (through `transform`). */
async function fanoutServer(transform: (data: Buffer) => Buffer = (data) => data): Promise<WebSocketServer> {
  const server = await createServer({ port: 0, host: "127.0.0.1" });
  servers.push(server);
  server.on("connection", (conn, req) => {
    if (req.url === "/sub") conn.subscribe("fanout");
    if (req.url === "/pub") conn.on("message", (data) => server.publish("fanout", transform(data), { binary: true }));
  });
  return server;
}

function port(server: WebSocketServer): number {
  return Number(new URL(server.url!).port);
}

/** Runs the load generator (at most 30 s) and returns its JSON line and exit code. */
function run(args: string[]): Promise<{ json: Record<string, unknown>; code: number | null }> {
  if (!("binary" in build)) throw new Error(`not built: ${build.unavailable}`);
  const child = spawn(build.binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ json: lastJsonObject(stdout) ?? {}, code });
    }),
  );
}

describe.runIf(hasCc)("fanout-loadgen", () => {
  it("builds without warnings", () => {
    expect(build).toEqual({ binary: join(tempDir, "fanout-loadgen"), warnings: "" });
  });

  it("counts every delivery to every subscriber, with at most the window in flight", async () => {
    const server = await fanoutServer();
    const { json, code } = await run(["--port", String(port(server)), "-c", "50", "-s", "32", "-W", "4", "-d", "0.5", "-w", "0.2", "--pids", String(process.pid)]);
    expect(code).toBe(0);
    expect(json).toMatchObject({ subscribers: 50, size: 32, window: 4, mismatches: 0, protocol_errors: 0, unexpected_closes: 0 });
    const published = json.published as number;
    const delivered = json.delivered as number;
    expect(published).toBeGreaterThan(10);
    // Flow control: what is not delivered yet is at most the window's worth of messages.
    expect(published * 50 - delivered).toBeGreaterThanOrEqual(0);
    expect(published * 50 - delivered).toBeLessThanOrEqual(4 * 50);
    expect(json.msgs_per_s as number).toBeGreaterThan(0);
    const lat = json.lat_us as { p50: number; p99: number; n: number };
    expect(lat.n).toBeGreaterThan(0);
    expect(lat.p50).toBeLessThanOrEqual(lat.p99);
    // This process is the server: its CPU was seen.
    expect(json.server_cpu_pct as number).toBeGreaterThan(0);
  });

  it("spreads subscribers over two servers with --port2", async () => {
    // The first server's publisher messages reach the second one's subscribers too (as Redis would carry them).
    const second = await fanoutServer();
    const first = await fanoutServer();
    const subscribersOn = new Map<WebSocketServer, number>();
    for (const server of [first, second]) {
      server.on("connection", (_conn, req) => {
        if (req.url === "/sub") subscribersOn.set(server, (subscribersOn.get(server) ?? 0) + 1);
      });
    }
    first.on("connection", (conn, req) => {
      if (req.url === "/pub") conn.on("message", (data) => second.publish("fanout", data, { binary: true }));
    });
    const { json, code } = await run(["--port", String(port(first)), "--port2", String(port(second)), "-c", "20", "-s", "64", "-W", "1", "-d", "0.3", "-w", "0.1"]);
    expect(code).toBe(0);
    expect(json).toMatchObject({ subscribers: 20, window: 1, mismatches: 0, unexpected_closes: 0 });
    expect([subscribersOn.get(first), subscribersOn.get(second)]).toEqual([10, 10]);
    // Window 1: the next message leaves once all 20 deliveries of the previous one arrived.
    expect((json.published as number) * 20 - (json.delivered as number)).toBeLessThanOrEqual(20);
  });

  it("reports frames of the wrong size as mismatches", async () => {
    const server = await fanoutServer((data) => data.subarray(0, 20));
    const { json } = await run(["--port", String(port(server)), "-c", "5", "-s", "32", "-d", "0.2", "-w", "0"]);
    // Every delivery is 20 bytes: each one is counted (and the bench drops such a run).
    expect(json.mismatches as number).toBeGreaterThan(0);
    expect(json.mismatches as number).toBeGreaterThanOrEqual(json.delivered as number);
  });

  it("fails with an error count when a subscriber is closed during the run", async () => {
    const server = await fanoutServer();
    let closed = false;
    server.on("connection", (conn, req) => {
      if (req.url === "/sub" && !closed) {
        closed = true;
        setTimeout(() => conn.close(1001), 600);
      }
    });
    const { json, code } = await run(["--port", String(port(server)), "-c", "10", "-s", "32", "-d", "3", "-w", "0"]);
    expect(code).toBe(1);
    expect((json.unexpected_closes as number) + (json.protocol_errors as number)).toBeGreaterThan(0);
  });
});
