// Three server processes sharing topics through a real Redis: exactly-once, per-publisher order,
// and an outage (Redis killed and restarted) in the middle.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { RedisServer } from "./redis-server.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/node.mjs", import.meta.url));
const TOPICS = ["a", "b", "c"];
const PROCESSES = 3;
const SUBSCRIBERS_PER_PROCESS = 100;

class Node {
  private nextId = 0;
  private readonly waiting = new Map<number, (value: Record<string, number>) => void>();
  readonly port: Promise<number>;

  constructor(readonly name: string, readonly child: ChildProcess) {
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
      const timer = setTimeout(() => reject(new Error(`${this.name}: no answer to ${JSON.stringify(command)}`)), timeout);
      this.waiting.set(id, (value) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(value);
      });
      this.child.stdin!.write(`${JSON.stringify({ ...command, id })}\n`);
    });
  }
}

interface Subscriber {
  node: number;
  topics: string[];
  /** phase → "origin|topic" → sequence numbers in arrival order */
  received: Map<string, Map<string, number[]>>;
  ws: WebSocket;
}

let redis: RedisServer;
const nodes: Node[] = [];
const subscribers: Subscriber[] = [];

async function until(check: () => boolean | Promise<boolean>, timeout: number, step = 50): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, step));
  }
}

function seqs(sub: Subscriber, phase: string, origin: string, topic: string): number[] {
  return sub.received.get(phase)?.get(`${origin}|${topic}`) ?? [];
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Every process publishes `count` messages to every topic, all at once. */
async function publishEverywhere(phase: string, count: number): Promise<void> {
  await Promise.all(nodes.flatMap((node) => TOPICS.map((topic) => node.call({ op: "publish", phase, topic, count }))));
}

/** Probes until every subscriber hears every process on each of its topics: all channels are subscribed. */
async function converge(phase: string, timeout: number): Promise<void> {
  let round = 0;
  await until(async () => {
    await publishEverywhere(`${phase}${round++}`, 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    return subscribers.every((sub) =>
      sub.topics.every((topic) => nodes.every((node) => [...sub.received.keys()].some((p) => p.startsWith(phase) && seqs(sub, p, node.name, topic).length > 0))),
    );
  }, timeout, 0);
}

function expectExactlyOnceInOrder(phase: string, count: number): void {
  for (const sub of subscribers) {
    for (const node of nodes) {
      for (const topic of TOPICS) {
        const expected = sub.topics.includes(topic) ? range(count) : [];
        expect(seqs(sub, phase, node.name, topic), `${phase} ${node.name}→${topic} at a subscriber of ${nodes[sub.node]!.name}`).toEqual(expected);
      }
    }
  }
}

async function received(phase: string, total: (sub: Subscriber) => number, timeout: number): Promise<void> {
  const count = (sub: Subscriber): number => [...(sub.received.get(phase)?.values() ?? [])].reduce((n, list) => n + list.length, 0);
  await until(() => subscribers.every((sub) => count(sub) >= total(sub)), timeout);
}

beforeAll(async () => {
  redis = await RedisServer.start();
  for (let i = 0; i < PROCESSES; i++) {
    const child = spawn(process.execPath, [FIXTURE, redis.url, `node${i}`], { stdio: ["pipe", "pipe", "inherit"] });
    nodes.push(new Node(`node${i}`, child));
  }
  const ports = await Promise.all(nodes.map((node) => node.port));
  await Promise.all(
    ports.flatMap((port, n) =>
      range(SUBSCRIBERS_PER_PROCESS).map(async (k) => {
        // One or two topics each, spread so that every topic has subscribers on every process.
        const topics = k % 4 === 0 ? [TOPICS[k % 3]!, TOPICS[(k + 1) % 3]!] : [TOPICS[k % 3]!];
        const ws = new WebSocket(`ws://127.0.0.1:${port}/?${topics.map((t) => `topic=${t}`).join("&")}`);
        const sub: Subscriber = { node: n, topics, received: new Map(), ws };
        ws.on("message", (data) => {
          const [phase, origin, topic, seq] = (data as Buffer).toString().split("|") as [string, string, string, string];
          let byPhase = sub.received.get(phase);
          if (byPhase === undefined) sub.received.set(phase, (byPhase = new Map()));
          const key = `${origin}|${topic}`;
          let list = byPhase.get(key);
          if (list === undefined) byPhase.set(key, (list = []));
          list.push(Number(seq));
        });
        await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
        subscribers.push(sub);
      }),
    ),
  );
}, 30_000);

afterAll(async () => {
  for (const sub of subscribers) sub.ws.terminate();
  await Promise.all(
    nodes.map(async (node) => {
      const exited = new Promise((resolve) => node.child.once("exit", resolve));
      if (node.child.exitCode !== null) return;
      await node.call({ op: "close" }, 5000).catch(() => node.child.kill("SIGKILL"));
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (node.child.exitCode === null) node.child.kill("SIGKILL");
    }),
  );
  await redis?.kill();
}, 30_000);

describe("three server processes on one Redis", () => {
  it("delivers every message exactly once in per-publisher order, survives an outage and resumes", async () => {
    await converge("warmup", 15_000);

    // Mixed publishers: all three processes publish to every topic at the same time.
    const PER_TOPIC = 200;
    await publishEverywhere("one", PER_TOPIC);
    await received("one", (sub) => sub.topics.length * PROCESSES * PER_TOPIC, 30_000);
    expectExactlyOnceInOrder("one", PER_TOPIC);

    // Redis goes away: the processes stay up, see it, and keep delivering locally.
    await redis.kill();
    await until(async () => (await Promise.all(nodes.map((node) => node.call({ op: "stats" })))).every((s) => s.brokerErrors! > 0), 10_000);
    const OUTAGE = 50;
    await publishEverywhere("outage", OUTAGE);
    await received("outage", (sub) => sub.topics.length * OUTAGE, 10_000);
    for (const sub of subscribers) {
      for (const node of nodes) {
        for (const topic of sub.topics) {
          const got = seqs(sub, "outage", node.name, topic);
          // Local: all of them, in order. Across processes: at most once, in order (here none: Redis is down).
          if (node === nodes[sub.node]) expect(got).toEqual(range(OUTAGE));
          else expect(got).toEqual([]);
        }
      }
    }
    const stats = await Promise.all(nodes.map((node) => node.call({ op: "stats" })));
    for (const s of stats) {
      expect(s.clients).toBe(SUBSCRIBERS_PER_PROCESS);
      expect(s.dropped).toBeGreaterThanOrEqual(OUTAGE * TOPICS.length);
    }

    // Redis is back: cross-process delivery resumes by itself (README: within maxDelay plus a reconnect).
    await redis.restart();
    const restarted = Date.now();
    await converge("resume", 15_000);
    expect(Date.now() - restarted).toBeLessThan(15_000);

    await publishEverywhere("two", 100);
    await received("two", (sub) => sub.topics.length * PROCESSES * 100, 30_000);
    expectExactlyOnceInOrder("two", 100);
    for (const node of nodes) expect(node.child.exitCode).toBeNull();
  }, 90_000);
});
