// The chat app on several processes (Node's cluster, rooms shared through a real redis-server):
// a message sent by a client of one worker reaches the clients of the others.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { connect, type Connection } from "@ws/client";
import { RedisServer } from "@ws/test-utils";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

const main = fileURLToPath(new URL("../dist/main.mjs", import.meta.url));

interface Member {
  conn: Connection;
  welcome: { room: string; name: string; worker: number; here: number };
  messages: Array<{ type: string; room: string; name: string; text: string; worker: number }>;
}

let redis: RedisServer;
let admin: Redis;
const started: ChildProcess[] = [];
const members: Member[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
  admin = new Redis(redis.url);
});
afterAll(async () => {
  admin.disconnect();
  await redis.kill();
});
afterEach(async () => {
  for (const member of members.splice(0)) member.conn.terminate();
  for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

async function until(check: () => boolean | Promise<boolean>, timeout: number, what: string): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not in ${timeout} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Starts the app; resolves with its URL once it says it listens (every worker, with --cluster). */
async function start(...args: string[]): Promise<{ child: ChildProcess; url: URL }> {
  const child = spawn(process.execPath, [main, "--port", "0", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  started.push(child);
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`chat exited with ${code}`);
  });
  const line = once(createInterface({ input: child.stdout! }), "line").then(([text]) => text as string);
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("chat did not start")), 15_000));
  return { child, url: new URL(await Promise.race([line, exited, timeout])) };
}

async function join(url: URL, room: string, name: string): Promise<Member> {
  const conn = await connect(`ws://${url.host}/chat?room=${room}&name=${name}`);
  const messages: Member["messages"] = [];
  let welcome: Member["welcome"] | undefined;
  conn.on("message", (data) => {
    const message = JSON.parse(String(data)) as Member["messages"][number] & Member["welcome"];
    if (message.type === "welcome") welcome = message;
    else messages.push(message);
  });
  await until(() => welcome !== undefined, 5000, "welcome");
  const member = { conn, welcome: welcome!, messages };
  members.push(member);
  return member;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("chat on three processes (--cluster 3 --redis)", () => {
  it("serves its page", async () => {
    const { url } = await start("--cluster", "2", "--redis", redis.url);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await page.text();
    expect(html).toContain("<title>ws chat</title>");
    expect(html).toContain('new URL("/chat", location.href)');
    // Its script at least parses (it runs only in a browser).
    const script = /<script>([\s\S]*)<\/script>/.exec(html)?.[1] ?? "";
    expect(script.length).toBeGreaterThan(100);
    expect(() => new Function(script)).not.toThrow();
    expect((await fetch(new URL("/nothing", url))).status).toBe(404);
  });

  it("carries a message from a client of one worker to the clients of the others, in its room only", async () => {
    const { child, url } = await start("--cluster", "3", "--redis", redis.url);
    // The primary hands connections to the workers in turn: a few joins land on all three.
    const lobby: Member[] = [];
    for (let i = 0; i < 12 && new Set(lobby.map((m) => m.welcome.worker)).size < 3; i++) lobby.push(await join(url, "lobby", `user${i}`));
    const byWorker = new Map(lobby.map((m) => [m.welcome.worker, m]));
    expect(byWorker.size).toBe(3);
    const [one, two, three] = [...byWorker.values()] as [Member, Member, Member];
    const elsewhere = await join(url, "kitchen", "cook");
    // Each worker subscribes to the room's channel when its first member joins.
    await until(async () => Number((await admin.pubsub("NUMSUB", "ws:lobby"))[1]) === 3, 10_000, "every worker in ws:lobby");

    one.conn.send("hello from one");
    await until(() => lobby.every((m) => m.messages.length === 1), 10_000, "everyone in the lobby hears it");
    for (const member of lobby) {
      expect(member.messages).toEqual([{ type: "message", room: "lobby", name: one.welcome.name, text: "hello from one", worker: one.welcome.worker }]);
    }
    // Across processes: the receivers' workers are not the sender's.
    expect(two.welcome.worker).not.toBe(one.welcome.worker);
    expect(three.welcome.worker).not.toBe(one.welcome.worker);

    two.conn.send("and back from two");
    three.conn.send("and from three");
    await until(() => one.messages.length === 3, 10_000, "the first client hears the other workers");
    expect(new Set(one.messages.slice(1).map((m) => m.worker))).toEqual(new Set([two.welcome.worker, three.welcome.worker]));
    expect(elsewhere.messages).toEqual([]);

    // SIGTERM to the primary stops the workers too.
    const workers = [...byWorker.keys()];
    child.kill("SIGTERM");
    await Promise.race([once(child, "exit"), new Promise((resolve) => setTimeout(resolve, 10_000))]);
    expect(child.exitCode).toBe(0);
    await until(() => workers.every((pid) => !alive(pid)), 5000, "workers gone");
  });

  it("reads its flags after a leading -- (as `pnpm chat -- --port 0` passes them)", async () => {
    const child = spawn(process.execPath, [main, "--", "--port", "0", "--host", "127.0.0.1"], { stdio: ["ignore", "pipe", "inherit"] });
    started.push(child);
    const [line] = (await Promise.race([
      once(createInterface({ input: child.stdout! }), "line"),
      new Promise((_, reject) => setTimeout(() => reject(new Error("chat did not start")), 15_000)),
    ])) as [string];
    // Port 0 was read: the OS chose one, not the default 8080.
    expect(new URL(line).port).not.toBe("8080");
  });

  it("refuses --cluster without --redis (rooms would not be shared)", async () => {
    const child = spawn(process.execPath, [main, "--cluster", "2"], { stdio: ["ignore", "ignore", "pipe"] });
    started.push(child);
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, "exit")) as [number];
    expect(code).toBe(2);
    expect(stderr).toContain("--cluster N needs --redis URL");
  });
});
