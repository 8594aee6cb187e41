// Topics: subscribe/unsubscribe on connections, server.publish fan-out, compression and backpressure.
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { constants, inflateRawSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { DiagnosticsChannel, type BackpressureDiagnostic, type Connection } from "../src/index.js";
import { OP, delay, once, startServerWithPeers, until, type RawClient, type startServer } from "./helpers.js";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
function inflate(data: Buffer): Buffer {
  return inflateRawSync(Buffer.concat([data, TAIL]), { finishFlush: constants.Z_SYNC_FLUSH });
}

function setup(options: Parameters<typeof startServer>[0] = {}) {
  return startServerWithPeers(cleanup, options);
}

/** One connected peer per entry, subscribed to that entry's topics. */
async function peersIn(connect: Awaited<ReturnType<typeof setup>>["connect"], topics: string[][]) {
  const peers = [];
  for (const list of topics) {
    const peer = await connect();
    for (const topic of list) peer.conn.subscribe(topic);
    peers.push(peer);
  }
  return peers as [(typeof peers)[number], (typeof peers)[number]];
}

describe("topics", () => {
  it("tracks subscriptions on the connection and the server", async () => {
    const { server, connect } = await setup();
    const { conn } = await connect();
    expect(conn.subscribe("news")).toBe(true);
    expect(conn.subscribe("news")).toBe(false);
    expect(conn.subscribe("sport")).toBe(true);
    expect(conn.isSubscribed("news")).toBe(true);
    expect([...conn.topics].sort()).toEqual(["news", "sport"]);
    expect(server.subscriberCount("news")).toBe(1);
    expect(server.topics().sort()).toEqual(["news", "sport"]);
    expect(conn.unsubscribe("news")).toBe(true);
    expect(conn.unsubscribe("news")).toBe(false);
    expect(conn.isSubscribed("news")).toBe(false);
    expect(server.subscriberCount("news")).toBe(0);
    expect(server.topics()).toEqual(["sport"]);
    expect(() => conn.subscribe(42 as unknown as string)).toThrow(TypeError);
  });

  it("publishes to the topic's subscribers only, minus except, and says how many", async () => {
    const { server, connect } = await setup();
    const a = await connect();
    const b = await connect();
    const c = await connect();
    a.conn.subscribe("room");
    b.conn.subscribe("room");
    c.conn.subscribe("other");
    expect(server.publish("room", "hello")).toBe(2);
    expect(server.publish("room", Buffer.from([1, 2, 3]), { except: a.conn })).toBe(1);
    expect(server.publish("nobody", "lost")).toBe(0);
    expect(server.publish("other", Buffer.from("as text"), { binary: false })).toBe(1);
    expect((await a.client.readMessage()).data.toString()).toBe("hello");
    const first = await b.client.readMessage();
    expect([first.opcode, first.data.toString()]).toEqual([OP.text, "hello"]);
    const second = await b.client.readMessage();
    expect(second.opcode).toBe(OP.binary);
    expect(second.data).toEqual(Buffer.from([1, 2, 3]));
    const third = await c.client.readMessage();
    expect([third.opcode, third.data.toString()]).toEqual([OP.text, "as text"]);
    // a got nothing after "hello": the next thing it reads is what we send now.
    a.conn.send("direct");
    expect((await a.client.readMessage()).data.toString()).toBe("direct");
  });

  it("delivers each subscriber its own stream when batches share a copy and one also gets direct sends", async () => {
    const { server, connect } = await setup();
    const peers = [];
    for (let i = 0; i < 6; i++) {
      const peer = await connect();
      peer.conn.subscribe("feed");
      peers.push(peer);
    }
    // One tick: the subscribers' batches hold the same frames, except the third one's, which has
    // direct sends among them; the sixth leaves halfway.
    for (let n = 0; n < 40; n++) {
      server.publish("feed", `m${n}`);
      if (n % 10 === 3) peers[2]!.conn.send(`direct${n}`);
      if (n === 19) peers[5]!.conn.unsubscribe("feed");
    }
    const expected = Array.from({ length: 40 }, (_, n) => `m${n}`);
    for (const [index, peer] of peers.entries()) {
      const want = index === 2 ? expected.flatMap((m, n) => (n % 10 === 3 ? [m, `direct${n}`] : [m])) : index === 5 ? expected.slice(0, 20) : expected;
      const got = [];
      for (let i = 0; i < want.length; i++) got.push((await peer.client.readMessage()).data.toString());
      expect(got).toEqual(want);
    }
    // Nothing more was queued for the one that left: the next thing it reads is what we send now.
    peers[5]!.conn.send("after");
    expect((await peers[5]!.client.readMessage()).data.toString()).toBe("after");
  });

  it("takes a prepared message", async () => {
    const { server, connect } = await setup();
    const a = await connect();
    a.conn.subscribe("t");
    expect(server.publish("t", server.prepare("prepared"))).toBe(1);
    expect((await a.client.readMessage()).data.toString()).toBe("prepared");
  });

  it("leaves every topic when a connection closes, and still lists them in its close handler", async () => {
    const { server, connect } = await setup();
    const [a, b] = await peersIn(connect, [["x", "y"], ["y"]]);
    let seen: string[] = [];
    let countInHandler = -1;
    a.conn.on("close", () => {
      seen = [...a.conn.topics].sort();
      countInHandler = server.subscriberCount("y");
    });
    a.client.destroy();
    await until(() => a.conn.readyState === 3);
    expect(seen).toEqual(["x", "y"]);
    expect(countInHandler).toBe(1);
    expect(server.topics()).toEqual(["y"]);
    expect(a.conn.subscribe("z")).toBe(false);
    expect(server.subscriberCount("z")).toBe(0);
    expect(server.publish("y", "still")).toBe(1);
    expect((await b.client.readMessage()).data.toString()).toBe("still");
  });

  it("compresses once for subscribers without context takeover, and never with compress: false", async () => {
    const { server, connect } = await setup({ perMessageDeflate: { threshold: 1024, serverNoContextTakeover: true } });
    const peers = [await connect({ extensions: "permessage-deflate" }), await connect({ extensions: "permessage-deflate" })];
    const plain = await connect();
    for (const peer of [...peers, plain]) peer.conn.subscribe("t");
    const small = "small but compressed on request";
    expect(server.publish("t", small, { compress: true })).toBe(3);
    const big = "repeated news, ".repeat(200);
    expect(server.publish("t", big, { compress: false })).toBe(3);
    const payloads: Buffer[] = [];
    for (const { client } of peers) {
      const frame = await client.readFrame();
      expect(frame.rsv1).toBe(true);
      expect(inflate(frame.payload).toString()).toBe(small);
      payloads.push(frame.payload);
      const uncompressed = await client.readFrame();
      expect(uncompressed.rsv1).toBe(false);
      expect(uncompressed.payload.toString()).toBe(big);
    }
    expect(payloads[1]).toEqual(payloads[0]);
    expect((await plain.client.readMessage()).data.toString()).toBe(small);
    expect((await plain.client.readMessage()).data.toString()).toBe(big);
  });

  it('skips a slow subscriber under backpressure "reject" and the others still get every message', async () => {
    const { server, connect } = await setup({ backpressure: "reject", maxBufferedAmount: 64 * 1024, highWaterMark: 16 * 1024 });
    const slow = await connect();
    const fast = await connect();
    slow.conn.subscribe("t");
    fast.conn.subscribe("t");
    slow.client.socket.pause();
    const chunk = Buffer.alloc(16 * 1024, 7);
    let read = 0;
    let reading = true;
    const reader = (async () => {
      while (reading) {
        await fast.client.readMessage(10_000);
        read++;
      }
    })();
    // Until the slow peer's kernel buffers are full and "reject" refuses it (bounded: 64 MiB).
    let published = 0;
    let skipped = 0;
    for (; published < 4000 && skipped < 20; published++) {
      if (server.publish("t", chunk) === 1) skipped++;
      // The fast peer reads everything before the next one, so only the slow one can be refused.
      await until(() => fast.conn.bufferedAmount === 0, 10_000, 1);
    }
    await until(() => read === published, 20_000);
    reading = false;
    fast.conn.send("stop");
    await reader;
    expect(skipped).toBe(20);
    expect(slow.conn.readyState).toBe(1);
    expect(slow.conn.bufferedAmount).toBeLessThanOrEqual(64 * 1024);
  });

  it('closes a slow subscriber with 1008 under backpressure "close", without holding back the others', async () => {
    const { server, connect } = await setup({ backpressure: "close", maxBufferedAmount: 64 * 1024 });
    const slow = await connect();
    const fast = await connect();
    slow.conn.subscribe("t");
    fast.conn.subscribe("t");
    slow.client.socket.pause();
    const closed = once<[number, string]>(slow.conn, "close", 10_000);
    const chunk = Buffer.alloc(8 * 1024, 7);
    const total = 100;
    const received = (async () => {
      for (let i = 0; i < total; i++) await fast.client.readMessage(10_000);
    })();
    for (let i = 0; i < total; i++) {
      server.publish("t", chunk);
      if (i % 4 === 3) await delay(1);
    }
    await received;
    slow.client.socket.resume();
    slow.client.socket.destroy();
    await closed;
    expect(server.subscriberCount("t")).toBe(1);
  });
});

describe("publish while subscribers come and go", () => {
  /** The text messages `client` receives up to (not including) "end". */
  async function textsUntilEnd(client: RawClient): Promise<string[]> {
    const texts: string[] = [];
    for (;;) {
      const { data } = await client.readMessage();
      const text = data.toString("utf8");
      if (text === "end") return texts;
      texts.push(text);
    }
  }

  it("reaches each subscriber once when a handler it runs makes the others leave and someone join", async () => {
    // highWaterMark 1: every queued message reaches it, so the backpressure diagnostic (user code)
    // runs inside the publish, once per subscriber, while the publish walks the topic.
    const { server, connect } = await setup({ highWaterMark: 1 });
    const peers = [];
    for (let i = 0; i < 6; i++) {
      const peer = await connect();
      peer.conn.subscribe("room");
      peers.push(peer);
    }
    const late = await connect();
    let first: Connection | undefined;
    const onBackpressure = (message: unknown): void => {
      const { connection } = message as BackpressureDiagnostic;
      if (first !== undefined) return;
      first = connection;
      for (const peer of peers) if (peer.conn !== connection) peer.conn.unsubscribe("room");
      late.conn.subscribe("room");
    };
    subscribe(DiagnosticsChannel.Backpressure, onBackpressure);
    cleanup.push(() => unsubscribe(DiagnosticsChannel.Backpressure, onBackpressure));
    expect(server.publish("room", "once")).toBe(1);
    expect(server.subscriberCount("room")).toBe(2);
    expect(server.publish("room", "next")).toBe(2);
    for (const { conn } of [...peers, late]) conn.send("end");
    const received = await Promise.all([...peers, late].map(({ client }) => textsUntilEnd(client)));
    const firstIndex = peers.findIndex((peer) => peer.conn === first);
    expect(firstIndex).toBeGreaterThanOrEqual(0);
    received.forEach((texts, i) => {
      if (i === firstIndex) expect(texts).toEqual(["once", "next"]);
      else if (i === peers.length) expect(texts).toEqual(["next"]);
      else expect(texts).toEqual([]);
    });
  });

  it("keeps publishing right while connections join and leave a long-lived topic", async () => {
    const { server, connect } = await setup();
    const stayer = await connect();
    stayer.conn.subscribe("lobby");
    for (let round = 0; round < 20; round++) {
      const visitor = await connect();
      visitor.conn.subscribe("lobby");
      expect(server.subscriberCount("lobby")).toBe(2);
      expect(server.publish("lobby", `round ${round}`, { except: stayer.conn })).toBe(1);
      expect((await visitor.client.readMessage()).data.toString()).toBe(`round ${round}`);
      visitor.client.destroy();
      await until(() => server.subscriberCount("lobby") === 1);
    }
    expect(server.publish("lobby", "last")).toBe(1);
    expect((await stayer.client.readMessage()).data.toString()).toBe("last");
  });
});

describe("server.stats()", () => {
  it("counts connections, subscriptions, traffic and publishes", async () => {
    const { server, connect } = await setup();
    const [a, b] = await peersIn(connect, [["x", "y"], ["y"]]);
    const received = new Promise((resolve) => a.conn.once("message", resolve));
    a.client.sendFrame({ opcode: OP.text, payload: "hello" });
    await received;
    expect(server.publish("y", "to both")).toBe(2);
    a.conn.send("direct");
    const stats = server.stats();
    expect(stats).toMatchObject({ connections: 2, topics: 2, subscriptions: 3, messagesIn: 1, messagesOut: 3, published: 1, fromBroker: 0 });
    // "hello" masked: 2 header + 4 mask + 5 payload bytes; out: two 9-byte frames and one 8-byte one.
    expect(stats.bytesIn).toBe(11);
    expect(stats.bytesOut).toBe(9 + 9 + 8);
    expect(stats.bufferedAmount).toBeGreaterThanOrEqual(0);
    b.client.destroy();
    await until(() => server.stats().connections === 1);
    expect(server.stats().subscriptions).toBe(2);
  });
});
