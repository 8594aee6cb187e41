// The shared handshake-deadline queue on its own, with real timers and plain emitters standing in
// for sockets (the server-level behaviour is covered in flow, modes, security and http2 tests).
import { EventEmitter, once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { HandshakeDeadlines } from "../src/handshake-deadlines.js";

class FakeTransport extends EventEmitter {
  constructor(readonly name: string) {
    super();
  }
}

function queue(timeout: number): { deadlines: HandshakeDeadlines<FakeTransport>; expired: FakeTransport[]; next: () => Promise<FakeTransport> } {
  const expired: FakeTransport[] = [];
  const signal = new EventEmitter();
  const deadlines = new HandshakeDeadlines<FakeTransport>(timeout, (transport) => {
    expired.push(transport);
    signal.emit("expired", transport);
  });
  return { deadlines, expired, next: async () => ((await once(signal, "expired")) as [FakeTransport])[0] };
}

describe("HandshakeDeadlines", () => {
  it("expires transports in the order they started, each once, not before its timeout", async () => {
    const { deadlines, expired, next } = queue(30);
    const a = new FakeTransport("a");
    const b = new FakeTransport("b");
    const started = performance.now();
    deadlines.start(a, false);
    await sleep(10);
    deadlines.start(b, false);
    deadlines.start(b, false); // a second start keeps the first deadline
    expect(await next()).toBe(a);
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
    expect(await next()).toBe(b);
    await sleep(50);
    expect(expired.map((t) => t.name)).toEqual(["a", "b"]);
  });

  it("a cleared transport never expires, and the ones after it still do", async () => {
    const { deadlines, expired, next } = queue(20);
    const transports = Array.from({ length: 5 }, (_, i) => new FakeTransport(String(i)));
    for (const transport of transports) deadlines.start(transport, false);
    deadlines.clear(transports[0]!);
    deadlines.clear(transports[2]!);
    deadlines.clear(transports[2]!); // clearing twice is harmless
    await next();
    await sleep(30);
    expect(expired.map((t) => t.name)).toEqual(["1", "3", "4"]);
  });

  it("with watchClose, a transport that closes leaves the queue and its listener is removed", async () => {
    const { deadlines, expired, next } = queue(20);
    const closing = new FakeTransport("closing");
    const staying = new FakeTransport("staying");
    deadlines.start(closing, true);
    deadlines.start(staying, false);
    deadlines.watchClose(staying);
    deadlines.watchClose(staying); // once only
    expect(closing.listenerCount("close")).toBe(1);
    expect(staying.listenerCount("close")).toBe(1);
    closing.emit("close");
    expect(closing.listenerCount("close")).toBe(0);
    expect(await next()).toBe(staying);
    expect(staying.listenerCount("close")).toBe(0);
    expect(expired).toEqual([staying]);
  });

  it("keeps working across many handshakes, finished and expired, as its lists are compacted", async () => {
    const { deadlines, expired } = queue(5);
    const live: FakeTransport[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 3000; i++) {
        const transport = new FakeTransport(`${round}:${i}`);
        deadlines.start(transport, false);
        // Most handshakes finish; one in a hundred is left to expire.
        if (i % 100 === 0) live.push(transport);
        else deadlines.clear(transport);
      }
      await sleep(15);
    }
    await sleep(20);
    expect(expired).toEqual(live);
    // A transport started after all that still gets its deadline, and a cleared one still clears.
    const late = new FakeTransport("late");
    const cleared = new FakeTransport("cleared");
    deadlines.start(late, false);
    deadlines.start(cleared, false);
    deadlines.clear(cleared);
    await sleep(30);
    expect(expired.slice(live.length)).toEqual([late]);
  });

  it("a listener that throws does not stop the queue", async () => {
    const failures: unknown[] = [];
    const expired: string[] = [];
    const deadlines = new HandshakeDeadlines<FakeTransport>(10, (transport) => {
      expired.push(transport.name);
      if (transport.name === "first") throw new Error("listener failed");
    });
    const onUncaught = (error: unknown): void => {
      failures.push(error);
    };
    // The throw surfaces from the timer callback, as a throwing timer callback does.
    const listeners = process.listeners("uncaughtException");
    process.removeAllListeners("uncaughtException");
    process.on("uncaughtException", onUncaught);
    try {
      deadlines.start(new FakeTransport("first"), false);
      await sleep(3);
      deadlines.start(new FakeTransport("second"), false);
      await sleep(40);
    } finally {
      process.off("uncaughtException", onUncaught);
      for (const listener of listeners) process.on("uncaughtException", listener);
    }
    expect(failures).toHaveLength(1);
    expect(expired).toEqual(["first", "second"]);
  });
});
