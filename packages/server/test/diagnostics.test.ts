import type { Socket } from "node:net";
// The diagnostics_channel events (issue 15, observability): every channel, its message and its
// order, for real connections over sockets; and nothing published, so nothing built, while a
// channel has no subscriber.
import { channel, subscribe, unsubscribe } from "node:diagnostics_channel";
import { afterEach, describe, expect, it } from "vitest";
import {
  DiagnosticsChannel,
  type BackpressureDiagnostic,
  type CloseDiagnostic,
  type ControlFrameDiagnostic,
  type DiagnosticMessages,
  type ErrorDiagnostic,
  type HandshakeErrorDiagnostic,
  type OpenDiagnostic,
  type WebSocketServer,
} from "../src/index.js";
import { OP, RawClient, closePayload, frame, once, rawExchange, startServerWithPeers, until } from "./helpers.js";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

type Name = keyof DiagnosticMessages;
const NAMES = Object.values(DiagnosticsChannel);
interface Seen {
  name: Name | "close event";
  message: DiagnosticMessages[Name];
}

/** Subscribes to every channel (until the test ends) and records what `server` publishes, in order. */
function record(server: WebSocketServer) {
  const seen: Seen[] = [];
  for (const name of NAMES) {
    const onMessage = (message: unknown): void => {
      if ((message as { server: unknown }).server === server) seen.push({ name, message: message as DiagnosticMessages[Name] });
    };
    subscribe(name, onMessage);
    cleanup.push(() => unsubscribe(name, onMessage));
  }
  const names = (): string[] => seen.map((event) => event.name);
  const of = <N extends Name>(name: N): DiagnosticMessages[N][] =>
    seen.filter((event) => event.name === name).map((event) => event.message as DiagnosticMessages[N]);
  const wait = (name: Name, count = 1): Promise<void> => until(() => of(name).length >= count);
  return { seen, names, of, wait };
}

const utf8 = (text: string): Buffer => Buffer.from(text, "utf8");

describe("diagnostics_channel: names", () => {
  it("are ws:server:<event>, one per channel, and exported with their message types", () => {
    expect(DiagnosticsChannel).toEqual({
      Open: "ws:server:open",
      Close: "ws:server:close",
      Error: "ws:server:error",
      Ping: "ws:server:ping",
      Pong: "ws:server:pong",
      Backpressure: "ws:server:backpressure",
      HandshakeError: "ws:server:handshake_error",
    });
  });
});

describe("diagnostics_channel: open and close", () => {
  it("a clean close: open with the handshake time, then close with code, reason, wasClean, duration and traffic", async () => {
    const { server, connect } = await startServerWithPeers(cleanup);
    const events = record(server);
    server.on("connection", (conn) => {
      conn.on("message", (data, isBinary) => conn.send(data, { binary: isBinary }));
      conn.on("close", () => events.seen.push({ name: "close event", message: undefined as never }));
    });
    const { client, conn } = await connect({ path: "/chat?room=1" });
    const hello = frame({ opcode: OP.text, payload: "hello" });
    const close = frame({ opcode: OP.close, payload: closePayload(1000, "bye") });
    client.send(hello);
    expect((await client.readMessage()).data.toString()).toBe("hello");
    client.send(close);
    expect((await client.readClose()).code).toBe(1000);
    await client.waitClosed();
    await events.wait("ws:server:close");

    // Published before the connection's own close event.
    expect(events.names()).toEqual(["ws:server:open", "ws:server:close", "close event"]);
    const [open] = events.of("ws:server:open") as [OpenDiagnostic];
    expect(open.connection).toBe(conn);
    expect(open.request.url).toBe("/chat?room=1");
    expect(open.handshakeDuration).toBeGreaterThanOrEqual(0);
    expect(open.handshakeDuration).toBeLessThan(5000);
    const [closed] = events.of("ws:server:close") as [CloseDiagnostic];
    expect(closed).toMatchObject({
      connection: conn,
      code: 1000,
      reason: "bye",
      wasClean: true,
      error: null,
      bytesIn: hello.length + close.length,
      // The echoed text frame (2 + 5) and the close frame echoing the code (2 + 2).
      bytesOut: 7 + 4,
      messagesIn: 1,
      messagesOut: 1,
    });
    expect(closed.duration).toBeGreaterThanOrEqual(0);
    expect(closed.duration).toBeLessThan(5000);
    // The same counts stay in the server's totals once the connection is gone.
    await until(() => server.stats().connections === 0);
    expect(server.stats()).toMatchObject({ bytesIn: closed.bytesIn, bytesOut: closed.bytesOut, messagesIn: 1, messagesOut: 1 });
  });

  it("an abnormal close (the peer's FIN, no close frame): 1006, not clean, no error", async () => {
    const { server, connect } = await startServerWithPeers(cleanup);
    const events = record(server);
    const { client } = await connect();
    client.socket.end();
    await events.wait("ws:server:close");
    expect(events.names()).toEqual(["ws:server:open", "ws:server:close"]);
    expect(events.of("ws:server:close")[0]).toMatchObject({ code: 1006, reason: "", wasClean: false, error: null, bytesIn: 0, messagesIn: 0 });
  });

  it("a reset connection: the socket error, then the close (1006) carrying it", async () => {
    const { server, connect } = await startServerWithPeers(cleanup);
    const events = record(server);
    const { client, conn } = await connect();
    (client.socket as Socket).resetAndDestroy();
    await events.wait("ws:server:close");
    expect(events.names()).toEqual(["ws:server:open", "ws:server:error", "ws:server:close"]);
    const [failed] = events.of("ws:server:error") as [ErrorDiagnostic];
    expect(failed.connection).toBe(conn);
    expect(failed.error.code).toBe("WS_ERR_SOCKET");
    expect(events.of("ws:server:close")[0]).toMatchObject({ code: 1006, wasClean: false, error: failed.error });
  });

  it("a protocol error: the error with its code and close code, then the close", async () => {
    const { server, connect } = await startServerWithPeers(cleanup);
    const events = record(server);
    const { client, conn } = await connect();
    // RFC 6455 §5.1: a client frame must be masked.
    client.sendFrame({ opcode: OP.text, payload: "unmasked", mask: false });
    expect((await client.readClose()).code).toBe(1002);
    await events.wait("ws:server:close");
    expect(events.names()).toEqual(["ws:server:open", "ws:server:error", "ws:server:close"]);
    const [failed] = events.of("ws:server:error") as [ErrorDiagnostic];
    expect(failed.connection).toBe(conn);
    expect(failed.error).toMatchObject({ code: "WS_ERR_EXPECTED_MASK", closeCode: 1002 });
    // We failed the connection and closed TCP (RFC 6455 §7.1.7): no close frame came back.
    expect(events.of("ws:server:close")[0]).toMatchObject({ code: 1006, wasClean: false, error: failed.error, messagesIn: 0 });
  });
});

describe("diagnostics_channel: ping and pong", () => {
  it("reports both directions in the order of the frames, with copies of their payloads", async () => {
    const { server, connect } = await startServerWithPeers(cleanup);
    const events = record(server);
    const { client, conn } = await connect();
    const control = (name: "ws:server:ping" | "ws:server:pong") =>
      (events.of(name) as ControlFrameDiagnostic[]).map((m) => `${m.direction}:${m.payload.toString()}`);

    // The peer pings: received, then our automatic pong sent.
    client.sendFrame({ opcode: OP.ping, payload: "abc" });
    expect((await client.readFrame()).opcode).toBe(OP.pong);
    await events.wait("ws:server:pong");
    expect(events.names()).toEqual(["ws:server:open", "ws:server:ping", "ws:server:pong"]);

    // We ping: sent, then the peer's pong received. And an unsolicited pong of ours.
    conn.ping("xyz");
    const ping = await client.readFrame();
    expect(ping).toMatchObject({ opcode: OP.ping, payload: utf8("xyz") });
    client.sendFrame({ opcode: OP.pong, payload: "xyz" });
    await events.wait("ws:server:pong", 2);
    conn.pong("beat");
    expect(await client.readFrame()).toMatchObject({ opcode: OP.pong, payload: utf8("beat") });

    expect(events.names()).toEqual(["ws:server:open", "ws:server:ping", "ws:server:pong", "ws:server:ping", "ws:server:pong", "ws:server:pong"]);
    expect(control("ws:server:ping")).toEqual(["received:abc", "sent:xyz"]);
    expect(control("ws:server:pong")).toEqual(["sent:abc", "received:xyz", "sent:beat"]);
    for (const m of [...events.of("ws:server:ping"), ...events.of("ws:server:pong")]) {
      expect(m.connection).toBe(conn);
      expect(Buffer.isBuffer(m.payload)).toBe(true);
    }
  });

  it("reports the heartbeat's pings", async () => {
    const { server, connect } = await startServerWithPeers(cleanup, { pingInterval: 30, pongTimeout: 2000 });
    const events = record(server);
    const { client } = await connect();
    expect(await client.readFrame()).toMatchObject({ opcode: OP.ping, payload: Buffer.alloc(0) });
    await events.wait("ws:server:ping");
    expect(events.of("ws:server:ping")[0]).toMatchObject({ direction: "sent", payload: Buffer.alloc(0) });
  });
});

describe("diagnostics_channel: backpressure", () => {
  const KiB = 1024;

  it("highWaterMark reached with a slow reader (wait), then maxBufferedAmount (close, 1008)", async () => {
    const options = { highWaterMark: 64 * KiB, maxBufferedAmount: 512 * KiB, closeTimeout: 200 };
    const { server, connect } = await startServerWithPeers(cleanup, options);
    const events = record(server);
    const { client, conn } = await connect();
    client.socket.pause();
    const chunk = Buffer.alloc(16 * KiB, 1);
    // One send per turn of the loop: the kernel's buffers fill first, then ours reach highWaterMark.
    let accepted = true;
    for (let i = 0; i < 5000 && accepted; i++) {
      accepted = conn.send(chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(accepted).toBe(false);
    const waits = events.of("ws:server:backpressure") as BackpressureDiagnostic[];
    expect(waits.length).toBeGreaterThanOrEqual(1);
    for (const wait of waits) {
      expect(wait).toMatchObject({ connection: conn, limit: "highWaterMark", policy: "wait" });
      expect(wait.bufferedAmount).toBeGreaterThanOrEqual(options.highWaterMark);
    }
    expect(conn.readyState).toBe(1);

    // Past maxBufferedAmount the "close" policy applies.
    for (let i = 0; i < 100 && conn.readyState === 1; i++) conn.send(chunk);
    await events.wait("ws:server:close");
    const names = events.names();
    expect(names.slice(0, 1)).toEqual(["ws:server:open"]);
    expect(names.slice(-3)).toEqual(["ws:server:backpressure", "ws:server:error", "ws:server:close"]);
    expect(new Set(names.slice(1, -2))).toEqual(new Set(["ws:server:backpressure"]));
    const overflow = events.of("ws:server:backpressure").at(-1)!;
    expect(overflow).toMatchObject({ limit: "maxBufferedAmount", policy: "close" });
    expect(overflow.bufferedAmount).toBeGreaterThan(options.maxBufferedAmount - chunk.length);
    expect(overflow.bufferedAmount).toBeLessThanOrEqual(options.maxBufferedAmount);
    expect(events.of("ws:server:error")[0]!.error).toMatchObject({ code: "WS_ERR_BUFFER_OVERFLOW", closeCode: 1008 });
    // The peer never read our close frame: the close timer destroyed the socket.
    expect(events.of("ws:server:close")[0]).toMatchObject({ code: 1006, wasClean: false });
  });

  it('maxBufferedAmount under backpressure: "reject": the send throws and the event says so', async () => {
    const options = { highWaterMark: 64 * KiB, maxBufferedAmount: 256 * KiB, backpressure: "reject" as const };
    const { server, connect } = await startServerWithPeers(cleanup, options);
    const events = record(server);
    const { client, conn } = await connect();
    client.socket.pause();
    const chunk = Buffer.alloc(160 * KiB, 2);
    expect(conn.send(chunk)).toBe(false);
    expect(() => conn.send(chunk)).toThrow(expect.objectContaining({ code: "WS_ERR_SEND_REJECTED" }));
    expect(events.names()).toEqual(["ws:server:open", "ws:server:backpressure", "ws:server:backpressure"]);
    const [wait, reject] = events.of("ws:server:backpressure") as [BackpressureDiagnostic, BackpressureDiagnostic];
    expect(wait).toMatchObject({ limit: "highWaterMark", policy: "wait" });
    expect(wait.bufferedAmount).toBeGreaterThanOrEqual(chunk.length);
    expect(reject).toMatchObject({ connection: conn, limit: "maxBufferedAmount", policy: "reject" });
    // Without the refused message: the first one, its header and the write it is in.
    expect(reject.bufferedAmount).toBeGreaterThan(chunk.length);
    expect(reject.bufferedAmount).toBeLessThan(2 * chunk.length);
    expect(conn.readyState).toBe(1);
  });
});

describe("diagnostics_channel: handshake errors", () => {
  it("refusals with their status and reason, and a timeout with neither", async () => {
    const { server } = await startServerWithPeers(cleanup, {
      handshakeTimeout: 100,
      upgrade: (req) => (req.url === "/private" ? { status: 401, reason: "Unauthorized" } : undefined),
    });
    const events = record(server);

    const refused = await RawClient.open(server.port);
    cleanup.push(() => refused.destroy());
    expect((await refused.handshake({ path: "/private" })).status).toBe(401);
    expect(await rawExchange(server.port, "GET /page HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")).toMatch(/^HTTP\/1\.1 426/);
    const silent = await RawClient.open(server.port);
    cleanup.push(() => silent.destroy());
    await silent.waitClosed();
    await events.wait("ws:server:handshake_error", 3);

    const [unauthorized, plain, timedOut] = events.of("ws:server:handshake_error") as HandshakeErrorDiagnostic[];
    expect(unauthorized).toMatchObject({ status: 401, reason: "Unauthorized", error: { code: "WS_ERR_HANDSHAKE_REFUSED", status: 401 } });
    expect(unauthorized!.request!.url).toBe("/private");
    expect(plain).toMatchObject({ status: 426, reason: "Upgrade Required", error: { code: "WS_ERR_HANDSHAKE_REFUSED" } });
    expect(plain!.request!.url).toBe("/page");
    expect(timedOut).toMatchObject({ status: undefined, reason: "", request: undefined, error: { code: "WS_ERR_HANDSHAKE_TIMEOUT" } });
    expect(events.names()).toEqual(["ws:server:handshake_error", "ws:server:handshake_error", "ws:server:handshake_error"]);
  });
});

describe("diagnostics_channel: nothing while no one subscribes", () => {
  /** Counts calls to each channel's `publish`: a publish site reached without a subscriber shows here. */
  function countPublishes(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const name of NAMES) {
      const target = channel(name);
      counts.set(name, 0);
      Object.defineProperty(target, "publish", {
        configurable: true,
        writable: true,
        value(this: typeof target, message: unknown) {
          counts.set(name, counts.get(name)! + 1);
          // Node swaps a channel's prototype when it gains or loses subscribers: call the current one.
          (Object.getPrototypeOf(this) as typeof target).publish.call(this, message);
        },
      });
      cleanup.push(() => delete (target as { publish?: unknown }).publish);
    }
    return counts;
  }

  /** One run that causes an event on every channel. */
  async function everyEvent(): Promise<void> {
    const { server, connect } = await startServerWithPeers(cleanup, {
      pingInterval: 30,
      pongTimeout: 2000,
      highWaterMark: 64 * 1024,
      maxBufferedAmount: 256 * 1024,
      closeTimeout: 200,
    });
    await rawExchange(server.port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    const { client, conn } = await connect();
    client.sendFrame({ opcode: OP.ping, payload: "p" });
    let heartbeat = false;
    for (let i = 0; i < 10 && !heartbeat; i++) {
      const received = await client.readFrame();
      heartbeat = received.opcode === OP.ping;
    }
    expect(heartbeat).toBe(true);
    client.sendFrame({ opcode: OP.pong });
    await until(() => server.stats().bytesIn > 0 && conn.bytesIn >= 2 * 6);
    client.socket.pause();
    const closed = once(conn, "close");
    for (let i = 0; i < 10 && conn.readyState === 1; i++) conn.send(Buffer.alloc(100 * 1024));
    await closed;
  }

  it("publishes nothing without subscribers, on every path that publishes with them", async () => {
    const counts = countPublishes();
    await everyEvent();
    expect(Object.fromEntries(counts)).toEqual(Object.fromEntries(NAMES.map((name) => [name, 0])));

    const received = new Map<string, number>();
    for (const name of NAMES) {
      const onMessage = (): void => void received.set(name, (received.get(name) ?? 0) + 1);
      subscribe(name, onMessage);
      cleanup.push(() => unsubscribe(name, onMessage));
    }
    await everyEvent();
    for (const name of NAMES) {
      expect(counts.get(name), name).toBeGreaterThan(0);
      expect(received.get(name), name).toBe(counts.get(name));
    }
  });

  it("a subscriber sees only what happens after it subscribed", async () => {
    const { server, connect } = await startServerWithPeers(cleanup);
    const before = [await connect(), await connect(), await connect()];
    const events = record(server);
    const after = await connect();
    for (const { client } of [...before, after]) client.socket.end();
    await events.wait("ws:server:close", 4);
    expect(events.of("ws:server:open").map((m) => m.connection)).toEqual([after.conn]);
    expect(new Set(events.of("ws:server:close").map((m) => m.connection))).toEqual(new Set([...before, after].map((peer) => peer.conn)));
    expect(events.names().filter((name) => name !== "ws:server:close")).toEqual(["ws:server:open"]);
  });
});
