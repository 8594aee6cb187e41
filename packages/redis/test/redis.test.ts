// @ws/redis against a real redis-server: two servers in this process sharing topics.
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createServer, type WebSocketServer, type WebSocketServerError } from "@ws/server";
import { createRedisBroker, type RedisBroker } from "../src/index.js";
import { RedisServer } from "@ws/test-utils";

let redis: RedisServer;
let admin: Redis;
beforeAll(async () => {
  redis = await RedisServer.start();
  admin = new Redis(redis.url, { retryStrategy: () => 50, maxRetriesPerRequest: null });
  // Redis is killed on purpose below; the admin connection just waits for it.
  admin.on("error", () => {});
});
afterAll(async () => {
  admin.disconnect();
  await redis.kill();
});

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function until(check: () => boolean | Promise<boolean>, timeout = 10_000, step = 20): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, step));
  }
}

async function node(): Promise<{ server: WebSocketServer; broker: RedisBroker; errors: WebSocketServerError[] }> {
  const broker = await createRedisBroker({ url: redis.url, reconnect: { initialDelay: 20, maxDelay: 200 } });
  const server = await createServer({ port: 0, host: "127.0.0.1", broker });
  const errors: WebSocketServerError[] = [];
  server.on("brokerError", (error) => errors.push(error));
  server.on("connection", (conn, req) => conn.subscribe(new URL(req.url ?? "/", "http://x").searchParams.get("topic") ?? "none"));
  cleanup.push(() => server.close({ timeout: 500 }));
  return { server, broker, errors };
}

interface Subscriber {
  ws: WebSocket;
  messages: Array<{ data: Buffer; isBinary: boolean }>;
}

async function subscriber(server: WebSocketServer, topic: string): Promise<Subscriber> {
  const before = server.subscriberCount(topic);
  const ws = new WebSocket(`${server.url}?topic=${topic}`);
  const messages: Subscriber["messages"] = [];
  ws.on("message", (data, isBinary) => messages.push({ data: data as Buffer, isBinary }));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  cleanup.push(() => ws.terminate());
  await until(() => server.subscriberCount(topic) === before + 1);
  return { ws, messages };
}

async function channels(): Promise<string[]> {
  return ((await admin.pubsub("CHANNELS", "ws:*")) as string[]).sort();
}

describe("@ws/redis", () => {
  it("shares topics between servers, binary-safe, each message once, in publish order", async () => {
    const one = await node();
    const two = await node();
    const a = await subscriber(one.server, "room");
    const b = await subscriber(two.server, "room");
    const c = await subscriber(two.server, "other");
    await until(async () => (await admin.pubsub("NUMSUB", "ws:room"))[1] === 2);
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(one.server.publish("room", binary)).toBe(1);
    for (let i = 0; i < 50; i++) two.server.publish("room", `two ${i}`);
    one.server.publish("room", "text as binary", { binary: true });
    await until(() => a.messages.length === 52 && b.messages.length === 52);
    for (const peer of [a, b]) {
      const fromOne = peer.messages.filter((m) => m.isBinary);
      expect(fromOne.map((m) => m.data)).toEqual([binary, Buffer.from("text as binary")]);
      expect(peer.messages.filter((m) => !m.isBinary).map((m) => m.data.toString())).toEqual(
        Array.from({ length: 50 }, (_, i) => `two ${i}`),
      );
    }
    expect(c.messages).toEqual([]);
    expect(one.errors).toEqual([]);
  });

  it("is subscribed to a Redis channel only while a local subscriber is in the topic", async () => {
    const one = await node();
    expect(await channels()).toEqual([]);
    const a = await subscriber(one.server, "lonely");
    await until(async () => (await channels()).includes("ws:lonely"));
    a.ws.close();
    await until(() => one.server.subscriberCount("lonely") === 0);
    await until(async () => !(await channels()).includes("ws:lonely"));
  });

  it("survives Redis going away: local delivery goes on, cross-server delivery resumes after a restart", async () => {
    const one = await node();
    const two = await node();
    const local = await subscriber(one.server, "t");
    const remote = await subscriber(two.server, "t");
    await until(async () => (await admin.pubsub("NUMSUB", "ws:t"))[1] === 2);
    one.server.publish("t", "before");
    await until(() => remote.messages.length === 1);

    await redis.kill();
    await until(() => one.errors.length > 0 && two.errors.length > 0);
    expect(one.errors[0]!.code).toBe("WS_ERR_BROKER");
    for (let i = 0; i < 20; i++) expect(one.server.publish("t", `during ${i}`)).toBe(1);
    await until(() => local.messages.length === 21);
    expect(one.broker.dropped).toBeGreaterThan(0);

    await redis.restart();
    const restarted = Date.now();
    // Probes until the other server gets one: reconnected and re-subscribed.
    let probes = 0;
    await until(() => {
      one.server.publish("t", `probe ${probes++}`);
      return remote.messages.some((m) => m.data.toString().startsWith("probe"));
    }, 15_000, 50);
    // Documented bound: maxDelay (200 ms here) plus a reconnect; generous for a loaded machine.
    expect(Date.now() - restarted).toBeLessThan(10_000);
    const texts = remote.messages.map((m) => m.data.toString());
    // At most once: none of the outage messages arrive late.
    expect(texts.filter((t) => t.startsWith("during"))).toEqual([]);
    expect(local.messages.slice(1, 21).map((m) => m.data.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `during ${i}`));
  });

  it("never re-sends a publish that was in flight when Redis died (it may have run: at most once)", async () => {
    const one = await node();
    const two = await node();
    const remote = await subscriber(two.server, "inflight");
    await until(async () => (await admin.pubsub("NUMSUB", "ws:inflight"))[1] === 1);
    // Frozen, Redis reads nothing: the publish is written to its socket and stays unanswered.
    redis.freeze();
    one.server.publish("inflight", "in flight");
    await new Promise((resolve) => setTimeout(resolve, 100));
    await redis.kill();
    await redis.restart();
    await until(async () => (await admin.pubsub("NUMSUB", "ws:inflight"))[1] === 1, 15_000);
    // Counted as dropped (whether it reached Redis before the end is unknown) and never re-sent.
    await until(() => one.broker.dropped === 1);
    let probes = 0;
    await until(() => {
      one.server.publish("inflight", `probe ${probes++}`);
      return remote.messages.length > 0;
    }, 15_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(remote.messages[0]!.data.toString()).toMatch(/^probe /);
    expect(remote.messages.map((m) => m.data.toString())).not.toContain("in flight");
  });

  it("re-sends a SUBSCRIBE that was in flight when Redis died", async () => {
    const one = await node();
    const two = await node();
    await until(() => one.broker.dropped === 0 && two.broker.dropped === 0);
    redis.freeze();
    // The topic's first subscriber on `two`: its SUBSCRIBE reaches the frozen Redis and gets no answer.
    const remote = await subscriber(two.server, "fresh");
    await new Promise((resolve) => setTimeout(resolve, 100));
    await redis.kill();
    await redis.restart();
    await until(async () => (await admin.pubsub("NUMSUB", "ws:fresh"))[1] === 1, 15_000);
    let probes = 0;
    await until(() => {
      one.server.publish("fresh", `probe ${probes++}`);
      return remote.messages.length > 0;
    }, 15_000, 50);
    expect(remote.messages[0]!.data.toString()).toMatch(/^probe /);
  });

  it("reuses a given client for publishing and leaves it open on close", async () => {
    const client = new Redis(redis.url);
    cleanup.push(() => client.disconnect());
    await until(() => client.status === "ready");
    const broker = await createRedisBroker({ client, prefix: "app:" });
    const got: string[] = [];
    await broker.subscribe("x", (message) => got.push(Buffer.from(message).toString()));
    await broker.publish("x", Buffer.from("hi"));
    await until(() => got.length === 1);
    expect(got).toEqual(["hi"]);
    await broker.close();
    expect(client.status).toBe("ready");
    expect(await client.ping()).toBe("PONG");
  });

  it("rejects when Redis cannot be reached", async () => {
    const port = redis.port;
    await expect(
      createRedisBroker({ url: `redis://127.0.0.1:${port === 1 ? 2 : 1}`, redisOptions: { retryStrategy: () => null } }),
    ).rejects.toThrow();
  });
});
