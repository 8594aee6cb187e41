// Three server processes sharing topics through a real Redis: 300 subscribers, 9 publishers (three
// WebSocket clients per process, each over all topics), 10,000 messages exactly once in per-publisher
// order; then Redis is SIGKILLed while publishers keep going, and restarted on the same port.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { RedisServer } from "@ws/test-utils";

const FIXTURE = fileURLToPath(new URL("./fixtures/node.mjs", import.meta.url));
const TOPICS = ["a", "b", "c"];
const PROCESSES = 3;
const SUBSCRIBERS_PER_PROCESS = 100;
const PUBLISHERS_PER_PROCESS = 3;
const MESSAGES = 10_000;
/** The fixture's reconnect.maxDelay: the README's bound on resuming is this plus a connection set-up. */
const MAX_DELAY_MS = 200;

class Node {
  private nextId = 0;
  private readonly waiting = new Map<number, (value: Record<string, number>) => void>();
  readonly port: Promise<number>;

  constructor(readonly index: number, readonly child: ChildProcess) {
    let gotPort: (port: number) => void;
    this.port = new Promise((resolve) => (gotPort = resolve));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const value = JSON.parse(line) as Record<string, number>;
      if (value.port !== undefined) gotPort(value.port);
      else this.waiting.get(value.id!)?.(value);
    });
  }

  call(command: Record<string, unknown>, timeout = 20_000): Promise<Record<string, number>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node${this.index}: no answer to ${JSON.stringify(command)}`)), timeout);
      this.waiting.set(id, (value) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(value);
      });
      this.child.stdin!.write(`${JSON.stringify({ ...command, id })}\n`);
    });
  }
}

/** A WebSocket client whose messages its server publishes: "phase|name|topic|seq", seq counted per phase and topic. */
class Publisher {
  private readonly sent = new Map<string, number>();
  /** Send times (ms) per "phase|topic", for the phases that measure when delivery resumed. */
  readonly sentAt = new Map<string, number[]>();

  constructor(readonly name: string, readonly node: number, readonly ws: WebSocket) {}

  send(phase: string, topic: string, timed = false): void {
    const key = `${phase}|${topic}`;
    const seq = this.sent.get(key) ?? 0;
    this.sent.set(key, seq + 1);
    if (timed) {
      let times = this.sentAt.get(key);
      if (times === undefined) this.sentAt.set(key, (times = []));
      times.push(Date.now());
    }
    this.ws.send(`${phase}|${this.name}|${topic}|${seq}`);
  }

  count(phase: string, topic: string): number {
    return this.sent.get(`${phase}|${topic}`) ?? 0;
  }
}

interface Subscriber {
  node: number;
  topics: string[];
  /** "phase|publisher|topic" → sequence numbers in arrival order */
  received: Map<string, number[]>;
  ws: WebSocket;
}

let redis: RedisServer;
const nodes: Node[] = [];
const publishers: Publisher[] = [];
const byName = new Map<string, Publisher>();
const subscribers: Subscriber[] = [];
/** While set: the first arrival (ms) of a message sent after `since`, per "receiving node<-publishing node". */
let resumeWatch: { phase: string; since: number; firstArrival: Map<string, number> } | null = null;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean | Promise<boolean>, timeout: number, what: string, step = 50): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not in ${timeout} ms: ${what}`);
    await sleep(step);
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

function got(sub: Subscriber, phase: string, pub: Publisher, topic: string): number[] {
  return sub.received.get(`${phase}|${pub.name}|${topic}`) ?? [];
}

function onMessage(sub: Subscriber, data: Buffer): void {
  const [phase, name, topic, seqText] = data.toString().split("|") as [string, string, string, string];
  const key = `${phase}|${name}|${topic}`;
  let list = sub.received.get(key);
  if (list === undefined) sub.received.set(key, (list = []));
  const seq = Number(seqText);
  list.push(seq);
  const watch = resumeWatch;
  if (watch !== null && phase === watch.phase) {
    const pub = byName.get(name)!;
    const pair = `${sub.node}<-${pub.node}`;
    if (pub.node !== sub.node && !watch.firstArrival.has(pair) && pub.sentAt.get(`${phase}|${topic}`)![seq]! >= watch.since) {
      watch.firstArrival.set(pair, Date.now());
    }
  }
}

async function openSubscriber(node: number, topics: string[]): Promise<Subscriber> {
  const port = await nodes[node]!.port;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/?${topics.map((t) => `topic=${t}`).join("&")}`);
  const sub: Subscriber = { node, topics, received: new Map(), ws };
  ws.on("message", (data) => onMessage(sub, data as Buffer));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  return sub;
}

/** Each publisher sends `perPublisher(i)` messages, cycling over `topics`, yielding now and then as a real client would. */
async function burst(phase: string, topics: string[], perPublisher: (i: number) => number): Promise<void> {
  await Promise.all(
    publishers.map(async (pub, i) => {
      const count = perPublisher(i);
      for (let k = 0; k < count; k++) {
        pub.send(phase, topics[(k + i) % topics.length]!);
        if (k % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
      }
    }),
  );
}

/** How many messages of `phase` `sub` should get: every publisher's on each of its topics (or only local ones). */
function expectedCount(sub: Subscriber, phase: string, localOnly = false): number {
  return publishers
    .filter((pub) => !localOnly || pub.node === sub.node)
    .reduce((n, pub) => n + sub.topics.reduce((m, topic) => m + pub.count(phase, topic), 0), 0);
}

function receivedCount(sub: Subscriber, phase: string, localOnly = false): number {
  let n = 0;
  for (const pub of publishers) {
    if (localOnly && pub.node !== sub.node) continue;
    for (const topic of sub.topics) n += got(sub, phase, pub, topic).length;
  }
  return n;
}

async function delivered(phase: string, subs: Subscriber[], timeout: number, localOnly = false): Promise<void> {
  await until(() => subs.every((sub) => receivedCount(sub, phase, localOnly) >= expectedCount(sub, phase, localOnly)), timeout, `${phase} delivered`);
}

function expectExactlyOnceInOrder(phase: string, subs: Subscriber[], topics: string[]): void {
  for (const sub of subs) {
    for (const pub of publishers) {
      for (const topic of topics) {
        const expected = sub.topics.includes(topic) ? range(0, pub.count(phase, topic)) : [];
        expect(got(sub, phase, pub, topic), `${phase}: ${pub.name}→${topic} at a subscriber on node${sub.node}`).toEqual(expected);
      }
    }
  }
}

/** Probes until every subscriber hears every process on each of its topics: all channels are subscribed. */
async function converge(phase: string, subs: Subscriber[], topics: string[], timeout: number): Promise<void> {
  let round = 0;
  const heard = (sub: Subscriber, topic: string, node: number): boolean =>
    range(0, round).some((r) => publishers.some((pub) => pub.node === node && got(sub, `${phase}${r}`, pub, topic).length > 0));
  await until(
    async () => {
      const probe = `${phase}${round++}`;
      for (const pub of publishers) for (const topic of topics) pub.send(probe, topic);
      await sleep(100);
      return subs.every((sub) => sub.topics.every((topic) => range(0, PROCESSES).every((node) => heard(sub, topic, node))));
    },
    timeout,
    `${phase}: every subscriber hears every process`,
    0,
  );
}

async function stats(): Promise<Record<string, number>[]> {
  return Promise.all(nodes.map((node) => node.call({ op: "stats" })));
}

beforeAll(async () => {
  redis = await RedisServer.start();
  for (let i = 0; i < PROCESSES; i++) {
    const child = spawn(process.execPath, [FIXTURE, redis.url], { stdio: ["pipe", "pipe", "inherit"] });
    nodes.push(new Node(i, child));
  }
  const ports = await Promise.all(nodes.map((node) => node.port));
  await Promise.all(
    ports.flatMap((port, n) => [
      ...range(0, SUBSCRIBERS_PER_PROCESS).map(async (k) => {
        // One or two topics each, spread so that every topic has subscribers on every process.
        const topics = k % 4 === 0 ? [TOPICS[k % 3]!, TOPICS[(k + 1) % 3]!] : [TOPICS[k % 3]!];
        subscribers.push(await openSubscriber(n, topics));
      }),
      ...range(0, PUBLISHERS_PER_PROCESS).map(async (k) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/?publish`);
        await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
        const pub = new Publisher(`p${n}${k}`, n, ws);
        publishers.push(pub);
        byName.set(pub.name, pub);
      }),
    ]),
  );
}, 30_000);

const extra: Subscriber[] = [];

afterAll(async () => {
  for (const client of [...subscribers, ...extra, ...publishers]) client.ws.terminate();
  await Promise.all(
    nodes.map(async (node) => {
      const exited = new Promise((resolve) => node.child.once("exit", resolve));
      if (node.child.exitCode !== null) return;
      await node.call({ op: "close" }, 5000).catch(() => node.child.kill("SIGKILL"));
      await Promise.race([exited, sleep(5000)]);
      if (node.child.exitCode === null) node.child.kill("SIGKILL");
    }),
  );
  await redis?.kill();
}, 30_000);

describe("three server processes on one Redis", () => {
  it("delivers 10,000 messages from 9 publishers exactly once, in per-publisher order", async () => {
    expect(subscribers).toHaveLength(PROCESSES * SUBSCRIBERS_PER_PROCESS);
    expect(publishers).toHaveLength(PROCESSES * PUBLISHERS_PER_PROCESS);
    await converge("warmup", subscribers, TOPICS, 15_000);

    // All nine publishers at once, each over every topic: 10,000 messages in all.
    const share = (i: number): number => Math.floor(MESSAGES / publishers.length) + (i < MESSAGES % publishers.length ? 1 : 0);
    await burst("main", TOPICS, share);
    expect(publishers.reduce((n, pub) => n + TOPICS.reduce((m, topic) => m + pub.count("main", topic), 0), 0)).toBe(MESSAGES);
    await delivered("main", subscribers, 40_000);
    expectExactlyOnceInOrder("main", subscribers, TOPICS);
  }, 60_000);

  it("survives Redis being killed mid-stream: local delivery never stops, cross-process delivery resumes", async () => {
    // Subscribers to a topic that is left during the outage, and (below) one that is joined during it.
    const gone = await Promise.all(range(0, PROCESSES).map((node) => openSubscriber(node, ["gone"])));
    extra.push(...gone);
    await converge("gone-warmup", gone, ["gone"], 15_000);

    // Every publisher sends one message every 20 ms, cycling over the topics, until told to stop.
    const phase = "outage";
    let streaming = true;
    const streams = publishers.map(async (pub, i) => {
      for (let k = 0; streaming; k++) {
        pub.send(phase, TOPICS[(k + i) % TOPICS.length]!, true);
        await sleep(20);
      }
    });
    const snapshot = (): Map<string, number> => new Map(publishers.flatMap((pub) => TOPICS.map((t) => [`${pub.name}|${t}`, pub.count(phase, t)] as const)));
    await sleep(500);

    const errorsBefore = (await stats()).map((s) => s.brokerErrors!);
    await redis.kill();
    // From here on nothing can cross processes until Redis is back: these are the outage's messages.
    const outageFrom = snapshot();
    await until(async () => (await stats()).every((s, i) => s.brokerErrors! > errorsBefore[i]!), 10_000, "every process reports the broker down");
    for (const sub of gone) sub.ws.close();
    const late = await Promise.all(range(0, PROCESSES).map((node) => openSubscriber(node, ["late"])));
    extra.push(...late);
    await sleep(1000);
    const outageTo = snapshot();

    // The processes are up, hold their clients (the "gone" one left, the "late" one joined) and
    // dropped what they could not send to Redis.
    const clients = SUBSCRIBERS_PER_PROCESS + PUBLISHERS_PER_PROCESS + 1;
    await until(async () => (await stats()).every((s) => s.clients === clients), 10_000, "clients after the outage's joins and leaves");
    for (const s of await stats()) expect(s.dropped).toBeGreaterThan(0);

    // Redis comes back on the same port; measure how long until each process hears each other one.
    await redis.restart();
    const restartedAt = Date.now();
    resumeWatch = { phase, since: restartedAt, firstArrival: new Map() };
    const watch = resumeWatch;
    const pairs = PROCESSES * (PROCESSES - 1);
    await until(() => watch.firstArrival.size === pairs, 15_000, "every process hears every other one after the restart");
    const resumedMs = [...watch.firstArrival.values()].map((t) => t - restartedAt);
    resumeWatch = null;
    await sleep(300);
    streaming = false;
    await Promise.all(streams);
    console.log(
      `cross-process delivery resumed ${Math.min(...resumedMs)}–${Math.max(...resumedMs)} ms after redis-server accepted connections again ` +
        `(${pairs} process pairs, reconnect.maxDelay ${MAX_DELAY_MS} ms)`,
    );

    // Local delivery never stopped: every subscriber got every message of its own process's
    // publishers, the outage's included, exactly once and in order.
    await delivered(phase, subscribers, 20_000, true);
    const tailArrived = (sub: Subscriber): boolean =>
      publishers.every((pub) => sub.topics.every((topic) => got(sub, phase, pub, topic).at(-1) === pub.count(phase, topic) - 1));
    await until(() => subscribers.every(tailArrived), 20_000, "the last message of every publisher reaches every process");
    for (const sub of subscribers) {
      for (const pub of publishers) {
        for (const topic of TOPICS) {
          const list = got(sub, phase, pub, topic);
          const key = `${pub.name}|${topic}`;
          const context = `${pub.name}→${topic} at a subscriber on node${sub.node}`;
          if (!sub.topics.includes(topic)) {
            expect(list, context).toEqual([]);
          } else if (pub.node === sub.node) {
            expect(outageTo.get(key)! - outageFrom.get(key)!, "messages were sent during the outage").toBeGreaterThan(5);
            expect(list, context).toEqual(range(0, pub.count(phase, topic)));
          } else {
            // At most once and in order; nothing sent while Redis was down arrives late.
            for (let i = 1; i < list.length; i++) expect(list[i]!, context).toBeGreaterThan(list[i - 1]!);
            expect(list.filter((seq) => seq >= outageFrom.get(key)! && seq < outageTo.get(key)!), context).toEqual([]);
            // And what was sent once delivery had resumed, arrived.
            expect(list.at(-1), context).toBe(pub.count(phase, topic) - 1);
          }
        }
      }
    }
    for (const node of nodes) expect(node.child.exitCode).toBeNull();

    // The channel set caught up: "late" (joined during the outage) is subscribed on every process,
    // "gone" (left during it) on none.
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      const numsub = async (channel: string): Promise<number> => Number((await admin.pubsub("NUMSUB", channel))[1]);
      await until(async () => (await numsub("ws:late")) === PROCESSES && (await numsub("ws:gone")) === 0, 10_000, "channels match the topics");
      for (const topic of TOPICS) expect(await numsub(`ws:${topic}`)).toBe(PROCESSES);
    } finally {
      admin.disconnect();
    }

    // Exactly once, in order, everywhere again, the topic joined during the outage included.
    const all = [...subscribers, ...late];
    const topics = [...TOPICS, "late"];
    await burst("after", topics, () => 100);
    await delivered("after", all, 30_000);
    expectExactlyOnceInOrder("after", all, topics);
  }, 80_000);
});
