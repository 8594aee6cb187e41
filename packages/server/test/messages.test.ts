import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import type { Connection } from "../src/index.js";
import { OP, RawClient, closePayload, once, startServer, until } from "./helpers.js";

let server: Awaited<ReturnType<typeof startServer>>;
let next: Promise<Connection>;
const closers: Array<() => void> = [];

function expectConnection(): void {
  next = once<[Connection]>(server, "connection").then(([conn]) => conn);
}

async function pair(): Promise<{ client: RawClient; conn: Connection }> {
  expectConnection();
  const client = await RawClient.connect(server.port);
  closers.push(() => client.destroy());
  return { client, conn: await next };
}

beforeAll(async () => {
  server = await startServer({ maxPayload: 32 * 1024 * 1024 });
});
afterEach(() => {
  for (const close of closers.splice(0)) close();
});
afterAll(() => server.close({ timeout: 1000 }));

describe("send and receive", () => {
  it.each([0, 1, 125, 65_535, 65_536, 1024 * 1024, 16 * 1024 * 1024])("round-trips %i bytes of text and binary with a ws client", async (size) => {
    server.removeAllListeners("connection");
    server.on("connection", (conn) => conn.on("message", (data, isBinary) => conn.send(data, { binary: isBinary })));
    const ws = new WebSocket(server.url!, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    closers.push(() => ws.terminate());
    await once(ws, "open");
    const binary = randomBytes(size);
    const text = "é".repeat(size >> 1) + (size & 1 ? "a" : "");
    ws.send(text);
    ws.send(binary);
    const received: Array<[Buffer, boolean]> = [];
    await new Promise<void>((resolve) => {
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        received.push([data, isBinary]);
        if (received.length === 2) resolve();
      });
    });
    expect(received[0]![1]).toBe(false);
    expect(received[0]![0].toString()).toBe(text);
    expect(received[1]![1]).toBe(true);
    expect(received[1]![0].equals(binary)).toBe(true);
    server.removeAllListeners("connection");
  }, 30_000);

  it("sends strings, Buffers, ArrayBuffers and other views", async () => {
    const { client, conn } = await pair();
    expect(conn.readyState).toBe(1);
    conn.send("text");
    conn.send(Uint8Array.of(1, 2));
    conn.send(Uint8Array.of(9, 3, 4, 9).subarray(1, 3).buffer.slice(1, 3));
    conn.send(new Uint16Array([0x0201]));
    conn.send(new DataView(Uint8Array.of(7, 8).buffer));
    conn.send(Buffer.from("as text"), { binary: false });
    const expected: Array<[number, number[] | string]> = [
      [OP.text, "text"],
      [OP.binary, [1, 2]],
      [OP.binary, [3, 4]],
      [OP.binary, [1, 2]],
      [OP.binary, [7, 8]],
      [OP.text, "as text"],
    ];
    for (const [opcode, value] of expected) {
      const message = await client.readMessage();
      expect(message.opcode).toBe(opcode);
      expect(message.data).toEqual(typeof value === "string" ? Buffer.from(value) : Buffer.from(value));
    }
    expect(() => conn.send(42 as unknown as string)).toThrow(/send\(\) takes/);
  });

  it("delivers message events with isBinary, and async iteration with strings and Buffers", async () => {
    const { client, conn } = await pair();
    const iterated: Array<string | Buffer> = [];
    const events: Array<[string, boolean]> = [];
    conn.on("message", (data, isBinary) => events.push([data.toString("hex"), isBinary]));
    const done = (async () => {
      for await (const message of conn) iterated.push(message);
    })();
    client.sendFrame({ opcode: OP.text, payload: "héllo" });
    client.sendFrame({ opcode: OP.binary, payload: Uint8Array.of(0xff) });
    client.sendFrame({ opcode: OP.close, payload: closePayload(1000) });
    await done;
    expect(iterated).toEqual(["héllo", Buffer.from([0xff])]);
    expect(events).toEqual([[Buffer.from("héllo").toString("hex"), false], ["ff", true]]);
    expect(conn.closeCode).toBe(1000);
  });

  it("streams a large message as fragments with stream(), holding other sends until it ends", async () => {
    const { client, conn } = await pair();
    const out = conn.stream({ binary: false });
    out.write("part one, ");
    conn.send("after the stream");
    expect(conn.ping("ping mid-stream")).toBe(true);
    out.write(Buffer.from("part two"));
    out.end();
    const first = await client.readMessage();
    expect(first.opcode).toBe(OP.text);
    expect(first.data.toString()).toBe("part one, part two");
    expect(first.frames.map((f) => f.opcode)).toContain(OP.ping);
    expect(first.frames.filter((f) => f.opcode !== OP.ping).length).toBeGreaterThanOrEqual(3);
    expect((await client.readMessage()).data.toString()).toBe("after the stream");
  });

  it("closes with 1011 when a stream is destroyed before it ends", async () => {
    const { client, conn } = await pair();
    const out = conn.stream();
    out.write(Buffer.from("partial"));
    out.destroy();
    const close = await client.readClose();
    expect(close.code).toBe(1011);
    expect(conn.readyState).toBe(2);
  });
});

describe("ping and pong", () => {
  it("sends pings and pongs and reports the peer's", async () => {
    const { client, conn } = await pair();
    const pings: string[] = [];
    const pongs: string[] = [];
    conn.on("ping", (payload) => pings.push(payload.toString()));
    conn.on("pong", (payload) => pongs.push(payload.toString()));
    conn.ping("are you there");
    const ping = await client.readFrame();
    expect(ping).toMatchObject({ opcode: OP.ping });
    expect(ping.payload.toString()).toBe("are you there");
    client.sendFrame({ opcode: OP.pong, payload: ping.payload });
    client.sendFrame({ opcode: OP.ping, payload: "from client" });
    await until(() => pongs.length === 1 && pings.length === 1);
    expect(pongs).toEqual(["are you there"]);
    expect((await client.readFrame()).opcode).toBe(OP.pong);
    conn.pong("unsolicited");
    expect((await client.readFrame()).payload.toString()).toBe("unsolicited");
    expect(() => conn.ping(Buffer.alloc(126))).toThrow(RangeError);
  });
});

describe("closing", () => {
  it("server-initiated close: close frame, peer echo, TCP closed, close event with the peer's code", async () => {
    const { client, conn } = await pair();
    conn.send("last words");
    conn.close(4001, "done");
    expect(conn.readyState).toBe(2);
    expect(conn.send("too late")).toBe(false);
    expect((await client.readMessage()).data.toString()).toBe("last words");
    const close = await client.readClose();
    expect(close).toMatchObject({ code: 4001, reason: "done" });
    const closed = once<[number, string]>(conn, "close");
    client.sendFrame({ opcode: OP.close, payload: closePayload(4001) });
    expect(await closed).toEqual([4001, ""]);
    expect(conn.readyState).toBe(3);
    await client.waitEnded();
    expect(server.clients.has(conn)).toBe(false);
  });

  it("client-initiated close reports its code and reason", async () => {
    const { client, conn } = await pair();
    const closed = once<[number, string]>(conn, "close");
    client.sendFrame({ opcode: OP.close, payload: closePayload(3001, "bye") });
    expect(await closed).toEqual([3001, "bye"]);
  });

  it("a close frame written on its own (nothing else sent that tick) is whole, echoes the code, and TCP ends after it", async () => {
    const { client, conn } = await pair();
    conn.send("earlier");
    expect((await client.readMessage()).data.toString()).toBe("earlier");
    // The peer's close arrives on a later tick, with nothing else to send: the echo is written alone.
    const closed = once<[number, string]>(conn, "close");
    client.sendFrame({ opcode: OP.close, payload: closePayload(3002, "alone") });
    const close = await client.readClose();
    expect(close).toMatchObject({ code: 3002, skipped: [] });
    await client.waitEnded();
    expect(client.buffered).toBe(0);
    client.tcp.end();
    expect(await closed).toEqual([3002, "alone"]);
  });

  it("a server close on a tick of its own sends one close frame, then ends TCP after the peer's echo", async () => {
    const { client, conn } = await pair();
    await new Promise((resolve) => setImmediate(resolve));
    conn.close(4002, "on its own");
    const close = await client.readClose();
    expect(close).toMatchObject({ code: 4002, reason: "on its own", skipped: [] });
    const closed = once<[number, string]>(conn, "close");
    client.sendFrame({ opcode: OP.close, payload: closePayload(4002) });
    expect((await closed)[0]).toBe(4002);
    await client.waitEnded();
    expect(client.buffered).toBe(0);
  });

  it("reports 1006 when TCP drops without a close frame, and 1005 for an empty close", async () => {
    const a = await pair();
    const closedA = once<[number, string]>(a.conn, "close");
    a.client.destroy();
    expect((await closedA)[0]).toBe(1006);
    const b = await pair();
    const closedB = once<[number, string]>(b.conn, "close");
    b.client.sendFrame({ opcode: OP.close });
    expect((await closedB)[0]).toBe(1005);
  });

  it("rejects close codes and reasons that may not be sent", async () => {
    const { conn } = await pair();
    expect(() => conn.close(1005)).toThrow();
    expect(() => conn.close(999)).toThrow();
    expect(() => conn.close(1000, "x".repeat(124))).toThrow();
    expect(conn.readyState).toBe(1);
  });

  it("terminate destroys the socket at once", async () => {
    const { client, conn } = await pair();
    const closed = once<[number, string]>(conn, "close");
    conn.terminate();
    expect((await closed)[0]).toBe(1006);
    await client.waitClosed();
  });

  it("reports protocol errors through the error event with a stable code", async () => {
    const { client, conn } = await pair();
    const errors: Array<Error & { code?: string; closeCode?: number }> = [];
    conn.on("error", (error) => errors.push(error));
    client.sendFrame({ opcode: OP.text, payload: Uint8Array.of(0xff) });
    expect((await client.readClose()).code).toBe(1007);
    await once(conn, "close");
    expect(errors[0]?.code).toBe("WS_ERR_INVALID_UTF8");
    expect(errors[0]?.closeCode).toBe(1007);
    expect(conn.closeError).toBe(errors[0]);
  });
});
