// The broker interface and its wire format, with an in-memory broker shared by servers in this process.
import { afterEach, describe, expect, it } from "vitest";
import {
  BROKER_WIRE_VERSION,
  decodeBrokerMessage,
  encodeBrokerMessage,
  type Broker,
  type WebSocketServerError,
} from "../src/index.js";
import { startServerWithPeers, until } from "./helpers.js";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Channels shared by every broker made from one hub, as servers share one Redis. */
class MemoryHub {
  readonly channels = new Map<string, Set<(message: Uint8Array) => void>>();
  broker(log: string[] = [], fail = false): Broker {
    const mine = new Map<string, (message: Uint8Array) => void>();
    return {
      publish: async (channel, message) => {
        if (fail) throw new Error("publish refused");
        for (const listener of this.channels.get(channel) ?? []) listener(message);
      },
      subscribe: async (channel, onMessage) => {
        log.push(`+${channel}`);
        mine.set(channel, onMessage);
        let set = this.channels.get(channel);
        if (set === undefined) this.channels.set(channel, (set = new Set()));
        set.add(onMessage);
      },
      unsubscribe: async (channel) => {
        log.push(`-${channel}`);
        const listener = mine.get(channel);
        mine.delete(channel);
        if (listener !== undefined) this.channels.get(channel)?.delete(listener);
      },
      close: async () => {
        log.push("close");
      },
    };
  }
}

function serverWith(broker: Broker) {
  return startServerWithPeers(cleanup, { broker });
}

describe("broker wire format", () => {
  it("round-trips text, binary and the compress option, binary-safe", () => {
    const payload = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (const compress of [undefined, true, false]) {
      for (const isBinary of [true, false]) {
        const bytes = encodeBrokerMessage({ origin: "server-ä", isBinary, compress, payload });
        expect(bytes[0]).toBe(BROKER_WIRE_VERSION);
        const decoded = decodeBrokerMessage(bytes)!;
        expect(decoded.origin).toBe("server-ä");
        expect(decoded.isBinary).toBe(isBinary);
        expect(decoded.compress).toBe(compress);
        expect(Buffer.from(decoded.payload)).toEqual(Buffer.from(payload));
      }
    }
  });

  it("refuses unknown versions and truncated messages", () => {
    const good = encodeBrokerMessage({ origin: "a", isBinary: false, compress: undefined, payload: Buffer.from("x") });
    expect(decodeBrokerMessage(Uint8Array.of(2, ...good.subarray(1)))).toBeNull();
    expect(decodeBrokerMessage(good.subarray(0, 3))).toBeNull();
    expect(decodeBrokerMessage(Buffer.from("hello"))).toBeNull();
    expect(() => encodeBrokerMessage({ origin: "", isBinary: false, compress: undefined, payload: good })).toThrow(RangeError);
  });
});

describe("servers sharing a broker", () => {
  it("subscribes on the broker only while a topic has a local subscriber, and closes it", async () => {
    const log: string[] = [];
    const { server, connect } = await serverWith(new MemoryHub().broker(log));
    const a = await connect();
    const b = await connect();
    a.conn.subscribe("t");
    b.conn.subscribe("t");
    a.conn.unsubscribe("t");
    expect(log).toEqual(["+t"]);
    b.conn.unsubscribe("t");
    b.conn.subscribe("t");
    expect(log).toEqual(["+t", "-t", "+t"]);
    b.client.destroy();
    await until(() => log.length === 4);
    expect(log[3]).toBe("-t");
    await server.close({ timeout: 500 });
    expect(log).toEqual(["+t", "-t", "+t", "-t", "close"]);
  });

  it("delivers across servers exactly once, never its own message twice, keeping except local", async () => {
    const hub = new MemoryHub();
    const one = await serverWith(hub.broker());
    const two = await serverWith(hub.broker());
    const a = await one.connect();
    const b = await one.connect();
    const c = await two.connect();
    for (const peer of [a, b, c]) peer.conn.subscribe("room");
    expect(one.server.publish("room", "from one", { except: a.conn })).toBe(1);
    expect(two.server.publish("room", Buffer.from([0, 255]))).toBe(1);
    expect((await b.client.readMessage()).data.toString()).toBe("from one");
    expect((await c.client.readMessage()).data.toString()).toBe("from one");
    for (const peer of [a, b, c]) expect((await peer.client.readMessage()).data).toEqual(Buffer.from([0, 255]));
    // Nothing else is on the way: each peer's next message is this one.
    for (const peer of [a, b, c]) peer.conn.send("end");
    for (const peer of [a, b, c]) expect((await peer.client.readMessage()).data.toString()).toBe("end");
  });

  it("reports broker failures and foreign messages as brokerError, and local delivery goes on", async () => {
    const hub = new MemoryHub();
    const { server, connect } = await serverWith(hub.broker([], true));
    const errors: WebSocketServerError[] = [];
    server.on("brokerError", (error) => errors.push(error));
    const a = await connect();
    a.conn.subscribe("t");
    expect(server.publish("t", "local")).toBe(1);
    expect((await a.client.readMessage()).data.toString()).toBe("local");
    await until(() => errors.length === 1);
    expect(errors[0]!.code).toBe("WS_ERR_BROKER");
    expect((errors[0]!.cause as Error).message).toBe("publish refused");
    for (const listener of hub.channels.get("t")!) listener(Buffer.from("not ours"));
    expect(errors.length).toBe(2);
    expect(errors[1]!.code).toBe("WS_ERR_BROKER");
  });
});
