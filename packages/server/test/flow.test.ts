// Backpressure, receive pausing, liveness timers, graceful shutdown and broadcast.
import { afterEach, describe, expect, it } from "vitest";
import type { Connection } from "../src/index.js";
import { OP, RawClient, closePayload, delay, once, startServer, startServerWithPeers, until } from "./helpers.js";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function setup(options: Parameters<typeof startServer>[0] = {}) {
  return startServerWithPeers(cleanup, options);
}

describe("send backpressure (SECURITY row 15)", () => {
  it("send returns false over highWaterMark, then drain fires once the peer reads", async () => {
    const { connect } = await setup({ highWaterMark: 64 * 1024 });
    const { client, conn } = await connect();
    client.socket.pause();
    const chunk = Buffer.alloc(16 * 1024, 1);
    let sent = 0;
    let result = true;
    for (; sent < 1000 && result; sent++) result = conn.send(chunk);
    expect(result).toBe(false);
    expect(conn.bufferedAmount).toBeGreaterThanOrEqual(64 * 1024);
    const drained = once(conn, "drain");
    client.socket.resume();
    await drained;
    expect(conn.bufferedAmount).toBeLessThan(64 * 1024);
    for (let i = 0; i < sent; i++) expect((await client.readMessage()).data.length).toBe(chunk.length);
  });

  it("closes with 1008 past maxBufferedAmount, keeping memory bounded, and delivers what was queued first", async () => {
    const { connect } = await setup({ highWaterMark: 64 * 1024, maxBufferedAmount: 1024 * 1024 });
    const { client, conn } = await connect();
    client.socket.pause();
    const errors: string[] = [];
    conn.on("error", (error) => errors.push(error.code));
    const chunk = Buffer.alloc(64 * 1024, 2);
    let accepted = 0;
    for (let i = 0; i < 100 && conn.readyState === 1; i++) {
      conn.send(chunk);
      if (conn.readyState === 1) accepted++;
    }
    expect(conn.readyState).toBe(2);
    expect(errors).toEqual(["WS_ERR_BUFFER_OVERFLOW"]);
    expect(accepted).toBeLessThanOrEqual(16);
    expect(conn.bufferedAmount).toBeLessThanOrEqual(1024 * 1024 + 64);
    expect(conn.send(chunk)).toBe(false);
    client.socket.resume();
    const close = await client.readClose();
    expect(close.skipped).toHaveLength(accepted);
    expect(close.code).toBe(1008);
  });

  it('with backpressure: "reject", throws WS_ERR_SEND_REJECTED and stays open', async () => {
    const { connect } = await setup({ maxBufferedAmount: 256 * 1024, backpressure: "reject" });
    const { client, conn } = await connect();
    client.socket.pause();
    const chunk = Buffer.alloc(64 * 1024);
    let error: (Error & { code?: string }) | undefined;
    for (let i = 0; i < 100 && error === undefined; i++) {
      try {
        conn.send(chunk);
      } catch (caught) {
        error = caught as Error;
      }
    }
    expect(error?.code).toBe("WS_ERR_SEND_REJECTED");
    expect(conn.readyState).toBe(1);
  });

  it("stream() waits for drain between fragments", async () => {
    const { connect } = await setup({ highWaterMark: 32 * 1024 });
    const { client, conn } = await connect();
    client.socket.pause();
    const out = conn.stream();
    let writes = 0;
    const chunk = Buffer.alloc(16 * 1024, 3);
    const writer = (async () => {
      for (let i = 0; i < 1024; i++) {
        if (!out.write(chunk)) await once(out, "drain");
        writes++;
      }
      out.end();
    })();
    await delay(50);
    // Loopback buffers absorb a few MiB; 16 MiB cannot all have been written.
    expect(writes).toBeLessThan(1024);
    client.socket.resume();
    await writer;
    const message = await client.readMessage(10_000);
    expect(message.data.length).toBe(1024 * chunk.length);
  });
});

describe("receive pausing", () => {
  it("pauses reading while an async iterator is behind, and resumes when it catches up", async () => {
    const { connect } = await setup({ receiveHighWaterMark: 64 * 1024 });
    const { client, conn } = await connect();
    const iterator = conn[Symbol.asyncIterator]();
    let events = 0;
    conn.on("message", () => events++);
    const total = 400;
    const payload = Buffer.alloc(8 * 1024, 5);
    for (let i = 0; i < total; i++) client.sendFrame({ opcode: OP.binary, payload });
    await delay(100);
    // Reading paused: far fewer than all messages were taken off the socket (bounded memory).
    expect(events).toBeLessThan(total / 2);
    let read = 0;
    for (; read < total; read++) {
      const result = await iterator.next();
      expect(result.done).toBe(false);
    }
    expect(read).toBe(total);
    expect(events).toBe(total);
  });

  it("pause() and resume() stop and restart reading", async () => {
    const { connect } = await setup();
    const { client, conn } = await connect();
    const received: string[] = [];
    conn.on("message", (data) => received.push(data.toString()));
    conn.pause();
    client.sendFrame({ opcode: OP.text, payload: "while paused" });
    await delay(50);
    expect(received).toEqual([]);
    conn.resume();
    await until(() => received.length === 1);
  });

  it("pause() in the connection handler holds from the first byte", async () => {
    const { server } = await setup();
    const received: string[] = [];
    let accepted: Connection | undefined;
    server.on("connection", (conn) => {
      accepted = conn;
      conn.pause();
      conn.on("message", (data) => received.push(data.toString()));
    });
    const client = await RawClient.connect(server.port);
    cleanup.push(() => client.destroy());
    client.sendFrame({ opcode: OP.text, payload: "before resume" });
    await delay(50);
    expect(received).toEqual([]);
    accepted!.resume();
    await until(() => received.length === 1);
  });
});

describe("liveness", () => {
  it("pings on an interval and keeps a peer that answers", async () => {
    const { connect } = await setup({ pingInterval: 30, pongTimeout: 200 });
    const { client, conn } = await connect();
    for (let i = 0; i < 3; i++) {
      const ping = await client.readFrame();
      expect(ping.opcode).toBe(OP.ping);
      client.sendFrame({ opcode: OP.pong, payload: ping.payload });
    }
    expect(conn.readyState).toBe(1);
  });

  it("destroys a peer that does not answer a ping within pongTimeout", async () => {
    const { connect } = await setup({ pingInterval: 20, pongTimeout: 50 });
    const { client, conn } = await connect();
    const errors: string[] = [];
    conn.on("error", (error) => errors.push(error.code));
    const [code] = await once<[number]>(conn, "close");
    expect(code).toBe(1006);
    expect(errors).toEqual(["WS_ERR_PONG_TIMEOUT"]);
    await client.waitEnded();
  });

  it("closes an idle connection with 1000 after idleTimeout", async () => {
    const { connect } = await setup({ pingInterval: 0, idleTimeout: 50 });
    const { client } = await connect();
    const close = await client.readClose();
    expect(close).toMatchObject({ code: 1000, reason: "idle timeout" });
  });

  it("destroys a slow handshake after handshakeTimeout (SECURITY row 14)", async () => {
    const { server } = await setup({ handshakeTimeout: 100 });
    const client = await RawClient.open(server.port);
    client.send("GET / HTTP/1.1\r\nHost: x\r\n");
    await client.waitClosed();
  });

  it("destroys a handshake whose upgrade hook never finishes", async () => {
    const { server } = await setup({ handshakeTimeout: 100, upgrade: () => new Promise(() => undefined) });
    const client = await RawClient.open(server.port);
    await expect(client.handshake()).rejects.toThrow(/ended/);
  });

  it("destroys the socket when the peer never answers our close (SECURITY row 16)", async () => {
    const { connect } = await setup({ closeTimeout: 100 });
    const { client, conn } = await connect();
    const errors: string[] = [];
    conn.on("error", (error) => errors.push(error.code));
    conn.close(1000);
    const [code] = await once<[number]>(conn, "close");
    expect(code).toBe(1006);
    expect(errors).toEqual(["WS_ERR_CLOSE_TIMEOUT"]);
    await client.waitClosed();
  });
});

describe("close timeouts (SECURITY row 16)", () => {
  it("gives each closing connection its full closeTimeout, in order, from one timer", async () => {
    const closeTimeout = 200;
    const { connect } = await setup({ closeTimeout });
    const peers = [];
    for (let i = 0; i < 12; i++) peers.push(await connect());
    const closedAt = new Map<Connection, number>();
    const startedAt = new Map<Connection, number>();
    const order: number[] = [];
    peers.forEach(({ conn }, i) => {
      conn.on("error", () => {});
      conn.on("close", () => {
        closedAt.set(conn, performance.now());
        order.push(i);
      });
    });
    // Timers made while the closes start: the connections' deadlines share one.
    const realSetTimeout = globalThis.setTimeout;
    let timersMade = 0;
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      timersMade++;
      return realSetTimeout(...args);
    }) as typeof setTimeout;
    try {
      for (const { conn } of peers.slice(0, 6)) {
        startedAt.set(conn, performance.now());
        conn.close(1000);
      }
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    expect(timersMade).toBeLessThanOrEqual(1);
    await delay(closeTimeout / 2);
    for (const { conn } of peers.slice(6)) {
      startedAt.set(conn, performance.now());
      conn.close(1000);
    }
    // None of the peers answers: every connection is destroyed, none before its own deadline.
    await until(() => closedAt.size === peers.length, 5000);
    for (const { conn } of peers) {
      expect(closedAt.get(conn)! - startedAt.get(conn)!).toBeGreaterThanOrEqual(closeTimeout - 2);
      expect(conn.closeCode).toBe(1006);
    }
    expect(order.slice(0, 6).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const { client } of peers) await client.waitClosed();
  });
});

describe("timers after an event-loop stall", () => {
  it("reads the peer's close that arrived during a stall before declaring a close timeout", async () => {
    const { connect } = await setup({ closeTimeout: 50 });
    const { client, conn } = await connect();
    const errors: string[] = [];
    conn.on("error", (error) => errors.push(error.code));
    const closed = once<[number, string]>(conn, "close");
    conn.close(1000, "bye");
    await client.readClose();
    // The peer answers at once, but this process then stalls well past closeTimeout, so the close
    // timer is due before the reply is read.
    client.sendFrame({ opcode: OP.close, payload: Buffer.from([0x03, 0xe8]) });
    client.socket.end();
    const until = Date.now() + 300;
    while (Date.now() < until) {
      // busy: the event loop cannot run
    }
    const [code] = await closed;
    expect(code).toBe(1000);
    expect(errors).toEqual([]);
  });
});

describe("graceful shutdown", () => {
  it("sends 1001 behind queued data, waits for the handshakes, loses nothing", async () => {
    const server = await startServer();
    const clients: RawClient[] = [];
    const conns: Connection[] = [];
    server.on("connection", (conn) => conns.push(conn));
    for (let i = 0; i < 3; i++) clients.push(await RawClient.connect(server.port));
    await until(() => conns.length === 3);
    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    for (const client of clients) client.socket.pause();
    for (const conn of conns) for (let i = 0; i < 4; i++) conn.send(big);
    const closed = server.close({ timeout: 10_000 });
    // New connections are refused meanwhile.
    const late = await RawClient.open(server.port).catch(() => null);
    if (late !== null) {
      await expect(late.handshake()).rejects.toThrow();
      late.destroy();
    }
    for (const client of clients) {
      client.socket.resume();
      const close = await client.readClose(10_000);
      expect(close.code).toBe(1001);
      expect(close.skipped.map((f) => f.payload.length)).toEqual([big.length, big.length, big.length, big.length]);
      client.sendFrame({ opcode: OP.close, payload: closePayload(1001) });
    }
    await closed;
    expect(server.clients.size).toBe(0);
    for (const client of clients) await client.waitEnded();
  });

  it("destroys connections that do not answer within the timeout", async () => {
    const server = await startServer();
    const client = await RawClient.connect(server.port);
    await until(() => server.clients.size === 1);
    const started = Date.now();
    await server.close({ timeout: 100 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(server.clients.size).toBe(0);
    await client.waitClosed();
  });
});

describe("broadcast", () => {
  it("sends to every client except the sender, or those passing a filter", async () => {
    const { server, connect } = await setup();
    const a = await connect();
    const b = await connect();
    const c = await connect();
    a.conn.data = "a";
    b.conn.data = "b";
    c.conn.data = "c";
    expect(server.broadcast("hello", { except: a.conn })).toEqual({ sent: 2, skipped: 0 });
    expect((await b.client.readMessage()).data.toString()).toBe("hello");
    expect((await c.client.readMessage()).data.toString()).toBe("hello");
    const prepared = server.prepare(Buffer.from([1, 2, 3]));
    expect(server.broadcast(prepared, { filter: (conn) => conn.data !== "b" })).toEqual({ sent: 2, skipped: 0 });
    for (const { client } of [a, c]) {
      const message = await client.readMessage();
      expect(message.opcode).toBe(OP.binary);
      expect(message.data).toEqual(Buffer.from([1, 2, 3]));
    }
    b.conn.close();
    expect(server.broadcast("after").sent).toBe(2);
    expect((await a.client.readMessage()).data.toString()).toBe("after");
  });

  it("skips a set of connections given as except, a Set or server.clients itself", async () => {
    const { server, connect } = await setup();
    const a = await connect();
    const b = await connect();
    expect(server.broadcast("not to a", { except: new Set([a.conn]) })).toEqual({ sent: 1, skipped: 0 });
    expect((await b.client.readMessage()).data.toString()).toBe("not to a");
    expect(server.broadcast("nobody", { except: server.clients })).toEqual({ sent: 0, skipped: 0 });
    b.conn.send("end");
    expect((await b.client.readMessage()).data.toString()).toBe("end");
  });
});

describe("server.clients", () => {
  it("is a read-only set of the open connections that keeps up with connections coming and going", async () => {
    const { server, connect } = await setup();
    const peers = [];
    for (let i = 0; i < 5; i++) peers.push(await connect());
    expect(server.clients.size).toBe(5);
    expect(new Set(server.clients)).toEqual(new Set(peers.map((peer) => peer.conn)));
    // Closing every connection while iterating: the iteration still visits each one once.
    const visited = [];
    for (const conn of server.clients) {
      visited.push(conn);
      conn.terminate();
    }
    expect(new Set(visited).size).toBe(5);
    await until(() => server.clients.size === 0);
    for (const peer of peers) expect(server.clients.has(peer.conn)).toBe(false);
    const next = await connect();
    expect([...server.clients]).toEqual([next.conn]);
  });
});

describe("liveness does not punish busy or slow-consuming peers", () => {
  it("keeps a connection whose messages flow within idleTimeout", async () => {
    const { connect } = await setup({ pingInterval: 0, idleTimeout: 150 });
    const { client, conn } = await connect();
    for (let i = 0; i < 6; i++) {
      client.sendFrame({ opcode: OP.text, payload: "still here" });
      await delay(50);
    }
    expect(conn.readyState).toBe(1);
  });

  it("does not time out a peer we stopped reading from", async () => {
    const { connect } = await setup({ pingInterval: 20, pongTimeout: 40 });
    const { conn } = await connect();
    conn.pause();
    // This peer never answers pings, but while we are not reading, silence proves nothing.
    await delay(200);
    expect(conn.readyState).toBe(1);
    conn.resume();
  });
});
