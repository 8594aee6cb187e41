// The Bun server kind (src/servers/bun.js under the bun binary of the npm package `bun`, a
// devDependency): it starts pinned like the others, echoes, and fans out to /sub from /pub.
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { bunBinary, buildNative, runFanout, startServer, type RunningServer } from "../src/processes.js";

const hasCc = spawnSync("cc", ["--version"]).error === undefined;
let server: RunningServer;

beforeAll(async () => {
  server = await startServer("bun");
}, 20_000);
afterAll(async () => {
  await server?.stop();
});

describe("the bun server kind", () => {
  it("runs the bun binary of the npm package", () => {
    const bun = bunBinary();
    expect(bun).toEqual({ binary: expect.stringMatching(/node_modules\/bun\/bin\/bun\.exe$/), version: expect.stringMatching(/^1\.\d+\.\d+/) });
    expect(server.info).toMatchObject({ ready: true, impl: "bun", version: (bun as { version: string }).version });
  });

  it("echoes text and binary on other paths", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
    await once(ws, "open");
    const got: Array<[string, boolean]> = [];
    ws.on("message", (data, isBinary) => got.push([String(data), isBinary]));
    ws.send("text");
    ws.send(Buffer.from("bytes"));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no echo in 5 s")), 5000);
      ws.on("message", () => got.length === 2 && (clearTimeout(timer), resolve()));
    });
    expect(got).toEqual([
      ["text", false],
      ["bytes", true],
    ]);
    ws.close();
  });

  // The C load generator needs a compiler (its own test says so when there is none).
  it.runIf(hasCc)("publishes what /pub sends to every /sub subscriber", async () => {
    const build = buildNative("fanout-loadgen");
    if ("unavailable" in build) throw new Error(build.unavailable);
    const result = await runFanout(build.binary, { subscribers: 20, size: 32, window: 4, seconds: 0.3, warmup: 0.1, pids: [server.pid] }, [server.port]);
    expect(result.errors).toBe(0);
    expect(result.msgsPerSec).toBeGreaterThan(0);
  }, 30_000);
});
