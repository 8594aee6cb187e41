// The server's one heartbeat timer: sweep cadence, and liveness for many connections at once.
import { afterEach, describe, expect, it, vi } from "vitest";
import { Heartbeat, sweepInterval } from "../src/heartbeat.js";
import { OP, RawClient, startServer } from "./helpers.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("sweepInterval", () => {
  it("is an eighth of the shortest liveness setting, from 5 ms to 1 s, and 0 when all are off", () => {
    expect(sweepInterval({ pingInterval: 30_000, pongTimeout: 30_000, idleTimeout: 0 })).toBe(1000);
    expect(sweepInterval({ pingInterval: 0, pongTimeout: 30_000, idleTimeout: 800 })).toBe(100);
    expect(sweepInterval({ pingInterval: 20, pongTimeout: 50, idleTimeout: 0 })).toBe(5);
    expect(sweepInterval({ pingInterval: 0, pongTimeout: 0, idleTimeout: 0 })).toBe(0);
  });
});

describe("Heartbeat", () => {
  it("checks every connection on each sweep, with a rising clock, until stopped", async () => {
    vi.useFakeTimers();
    const seen: number[][] = [[], []];
    const connections = seen.map((times) => ({ checkLiveness: (now: number) => times.push(now) }));
    const heartbeat = new Heartbeat(connections, { pingInterval: 80, pongTimeout: 80, idleTimeout: 0 });
    heartbeat.start();
    heartbeat.start(); // idempotent: still one timer
    await vi.advanceTimersByTimeAsync(35);
    expect(seen[0]!.length).toBe(3);
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[0]![2]!).toBeGreaterThan(seen[0]![0]!);
    heartbeat.stop();
    await vi.advanceTimersByTimeAsync(100);
    expect(seen[0]!.length).toBe(3);
  });

  it("stops on the first sweep that finds no connection, and runs again once started", async () => {
    vi.useFakeTimers();
    const connections: Array<{ checkLiveness(now: number): void }> = [];
    const heartbeat = new Heartbeat(connections, { pingInterval: 80, pongTimeout: 80, idleTimeout: 0 });
    heartbeat.start();
    await vi.advanceTimersByTimeAsync(25);
    expect(vi.getTimerCount()).toBe(0);
    let checks = 0;
    connections.push({ checkLiveness: () => checks++ });
    await vi.advanceTimersByTimeAsync(25);
    expect(checks).toBe(0);
    heartbeat.start();
    await vi.advanceTimersByTimeAsync(25);
    expect(checks).toBe(2);
    heartbeat.stop();
  });

  it("never starts when every liveness setting is off", async () => {
    vi.useFakeTimers();
    let checks = 0;
    const heartbeat = new Heartbeat([{ checkLiveness: () => checks++ }], { pingInterval: 0, pongTimeout: 0, idleTimeout: 0 });
    heartbeat.start();
    await vi.advanceTimersByTimeAsync(2000);
    expect(checks).toBe(0);
  });
});

describe("liveness across many connections on one timer", () => {
  it("pings all of 30 connections and times out only those that stay silent", async () => {
    const server = await startServer({ pingInterval: 40, pongTimeout: 150 });
    const clients = await Promise.all(Array.from({ length: 30 }, () => RawClient.connect(server.port)));
    try {
      const answering = clients.slice(0, 20);
      const silent = clients.slice(20);
      // Every connection gets its ping; the first 20 answer, the last 10 do not.
      await Promise.all(
        answering.map(async (client) => {
          const ping = await client.readFrame();
          expect(ping.opcode).toBe(OP.ping);
          client.sendFrame({ opcode: OP.pong, payload: ping.payload });
        }),
      );
      for (const client of silent) expect((await client.readFrame()).opcode).toBe(OP.ping);
      await Promise.all(silent.map((client) => client.waitEnded()));
      // The answering ones are still open and get the next round of pings.
      for (const client of answering) expect((await client.readFrame()).opcode).toBe(OP.ping);
      expect(server.clients.size).toBe(20);
    } finally {
      for (const client of clients) client.destroy();
      await server.close({ timeout: 500 });
    }
  });
});
