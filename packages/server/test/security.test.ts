// One test per SECURITY.md row that applies to a server: the attack through a real socket, the clear
// answer (HTTP status or close code), the process still serving, memory bounded.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer, safeEqual, type Connection } from "../src/index.js";
import { OP, RawClient, SERVER_PATHS, TRANSPORTS, frame, rawExchange, startEchoServer, startServer, until } from "./helpers.js";

const LIMITS = { maxPayload: 1024 * 1024, maxFragments: 1000, maxBufferedChunks: 1000 };
/** The echo server of the describe block running now (each block starts its own). */
let server: Awaited<ReturnType<typeof startEchoServer>>;

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
function request(headers: string): string {
  return `GET / HTTP/1.1\r\nHost: x\r\n${headers}\r\n`;
}
const GOOD = `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n`;

/** The server still completes a normal handshake and echo. */
async function stillServing(): Promise<void> {
  const client = await RawClient.connect(server.port);
  client.sendFrame({ opcode: OP.text, payload: "alive" });
  expect((await client.readMessage()).data.toString()).toBe("alive");
  client.destroy();
}

function rssGrowth(before: number): number {
  return process.memoryUsage().rss - before;
}

// The handshake rows run on both paths a request head can take (see helpers.ts).
describe.each(SERVER_PATHS)("SECURITY.md, handshake rows (%s path)", (serverPath) => {
  beforeAll(async () => {
    server = await startEchoServer(LIMITS, serverPath);
  });
  afterAll(() => server.close({ timeout: 1000 }));

  it("row 1: missing, repeated and excess handshake headers get 400/431, never a crash", async () => {
    const cases = [
      request(`Connection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n`), // no Upgrade
      request(`Upgrade: websocket\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n`), // no key
      request(`${GOOD}Sec-WebSocket-Key: ${KEY}\r\n`), // repeated key
      request(`${GOOD}${Array.from({ length: 150 }, (_, i) => `X-Filler-${i}: y\r\n`).join("")}`),
      request(`${Array.from({ length: 150 }, (_, i) => `X-Filler-${i}: y\r\n`).join("")}${GOOD}`),
    ];
    const before = process.memoryUsage().rss;
    for (let round = 0; round < 20; round++) {
      for (const text of cases) {
        const response = await rawExchange(server.port, text);
        expect(response).toMatch(/^HTTP\/1\.1 4(00|26|31) /);
      }
    }
    expect(rssGrowth(before)).toBeLessThan(64 * 1024 * 1024);
    await stillServing();
  });

  it("row 2: a pathological Sec-WebSocket-Protocol is parsed in linear time", async () => {
    const hostile = `${"a,".repeat(4000)}${" ".repeat(3000)}!`;
    const before = process.memoryUsage().rss;
    const started = Date.now();
    for (let round = 0; round < 20; round++) {
      const response = await rawExchange(server.port, request(`${GOOD}Sec-WebSocket-Protocol: ${hostile}\r\n`));
      expect(response).toMatch(/^HTTP\/1\.1 400 /);
    }
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(rssGrowth(before)).toBeLessThan(64 * 1024 * 1024);
    await stillServing();
  });

  it("row 3: extension parameters named __proto__ or constructor do not crash", async () => {
    const deflating = await startEchoServer({ perMessageDeflate: true }, serverPath);
    const before = process.memoryUsage().rss;
    try {
      for (let round = 0; round < 10; round++) {
        for (const ext of ["permessage-deflate; __proto__=1", "permessage-deflate; constructor", "x; __proto__; toString=1, permessage-deflate"]) {
          const client = await RawClient.open(deflating.port);
          const response = await client.handshake({ extensions: ext });
          expect([101, 400]).toContain(response.status);
          client.destroy();
        }
      }
    } finally {
      await deflating.close({ timeout: 500 });
    }
    expect(({} as Record<string, unknown>)["1"]).toBeUndefined();
    expect(rssGrowth(before)).toBeLessThan(64 * 1024 * 1024);
    await stillServing();
  });

  it("row 9: an oversized request head gets 431 and the connection is closed", async () => {
    const before = process.memoryUsage().rss;
    for (let round = 0; round < 20; round++) {
      const response = await rawExchange(server.port, request(`${GOOD}X-Big: ${"a".repeat(20_000)}\r\n`));
      expect(response).toMatch(/^HTTP\/1\.1 431 /);
    }
    expect(rssGrowth(before)).toBeLessThan(64 * 1024 * 1024);
    await stillServing();
  });

  it("row 10: non-ASCII and control bytes in Sec-WebSocket-Protocol get 400", async () => {
    const before = process.memoryUsage().rss;
    for (let round = 0; round < 10; round++) {
      for (const value of ["chat\u00e9", "a b", "chat,,", "\u00ff"]) {
        const response = await rawExchange(server.port, Buffer.from(request(`${GOOD}Sec-WebSocket-Protocol: ${value}\r\n`), "latin1"));
        expect(response).toMatch(/^HTTP\/1\.1 400 /);
      }
    }
    expect(rssGrowth(before)).toBeLessThan(64 * 1024 * 1024);
    await stillServing();
  });

  it("row 14: slowloris handshakes are cut at handshakeTimeout", async () => {
    const slow = await startServer({ handshakeTimeout: 200 }, serverPath);
    try {
      const before = process.memoryUsage().rss;
      const clients = await Promise.all(Array.from({ length: 50 }, () => RawClient.open(slow.port)));
      for (const client of clients) client.send("GET / HTTP/1.1\r\nHo");
      await Promise.all(clients.map((client) => client.waitClosed(5000)));
      expect(rssGrowth(before)).toBeLessThan(64 * 1024 * 1024);
    } finally {
      await slow.close({ timeout: 500 });
    }
  });

});

describe("SECURITY.md", () => {
  beforeAll(async () => {
    server = await startEchoServer(LIMITS);
  });
  afterAll(() => server.close({ timeout: 1000 }));

  it("row 4: close() refuses a typed-array reason and a reason over 123 bytes", async () => {
    const connected = new Promise<Connection>((resolve) => server.once("connection", resolve));
    const client = await RawClient.connect(server.port);
    const conn = await connected;
    expect(() => conn.close(1000, new Uint8Array(10) as unknown as string)).toThrow();
    expect(() => conn.close(1000, "é".repeat(62))).toThrow(); // 124 bytes
    conn.close(1000, "é".repeat(61) + "a"); // 123 bytes
    const close = await client.readClose();
    expect(close.reason).toBe("é".repeat(61) + "a");
    client.destroy();
  });

  it("row 11: safeEqual compares credentials in constant time and exactly", () => {
    expect(safeEqual("token", "token")).toBe(true);
    expect(safeEqual("token", "tokeN")).toBe(false);
    expect(safeEqual("token", "token-longer")).toBe(false);
    expect(safeEqual(Buffer.from("abc"), "abc")).toBe(true);
  });

  it("a ping-rate policy on the ping event (the README's) closes a ping flood with 1008", async () => {
    const policed = await startServer();
    policed.on("connection", (conn) => {
      let pings = 0;
      let windowStart = Date.now();
      conn.on("ping", () => {
        const now = Date.now();
        if (now - windowStart >= 1000) [pings, windowStart] = [0, now];
        if (++pings > 50) conn.close(1008, "too many pings");
      });
    });
    try {
      const client = await RawClient.connect(policed.port);
      client.send(Buffer.concat(Array.from({ length: 200 }, () => frame({ opcode: OP.ping, payload: "?" }))));
      const close = await client.readClose();
      expect(close.code).toBe(1008);
      // The pings within the budget were answered first.
      expect(close.skipped.filter((f) => f.opcode === OP.pong)).toHaveLength(51);
      client.destroy();
    } finally {
      await policed.close({ timeout: 500 });
    }
  });

  it("WebSocketServer options are validated up front", () => {
    expect(() => new WebSocketServer({ noServer: true, closeTimeout: -1 })).toThrow(RangeError);
  });
});

// The rows about frames and buffers, per WebSocket: over a TCP socket and over an HTTP/2 stream,
// where the stream's flow-control window is what pushes back (RFC 8441 §5).
describe.each(TRANSPORTS)("SECURITY.md per connection over %s", (transport) => {
  let server: Awaited<ReturnType<typeof startEchoServer>>;
  beforeAll(async () => {
    server = await startEchoServer({ maxPayload: 1024 * 1024, maxFragments: 1000, maxBufferedChunks: 1000 }, transport);
  });
  afterAll(() => server.close({ timeout: 1000 }));

  async function stillServing(): Promise<void> {
    const client = await RawClient.connectTo(server);
    client.sendFrame({ opcode: OP.text, payload: "alive" });
    expect((await client.readMessage()).data.toString()).toBe("alive");
    client.destroy();
  }

    it("row 5: floods of empty fragments and of tiny TCP chunks are capped with 1008", async () => {
      const before = process.memoryUsage().rss;
      const flood = await RawClient.connectTo(server);
      const frames = [frame({ opcode: OP.binary, fin: false })];
      for (let i = 0; i < 2000; i++) frames.push(frame({ opcode: OP.cont, fin: false }));
      flood.send(Buffer.concat(frames));
      expect((await flood.readClose()).code).toBe(1008);
      flood.destroy();

      // One byte per TCP segment for a big frame: coalesced, so it is bytes, not objects, that grow.
      const trickle = await RawClient.connectTo(server);
      const big = frame({ opcode: OP.binary, payload: Buffer.alloc(3000, 1) });
      for (let i = 0; i < big.length; i++) {
        trickle.send(big.subarray(i, i + 1));
        if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      expect((await trickle.readMessage()).data.length).toBe(3000);
      trickle.destroy();
      expect(rssGrowth(before)).toBeLessThan(64 * 1024 * 1024);
      await stillServing();
    });

    it("rows 7 and 8: huge declared lengths are refused before buffering (1002 top bit, 1009 over the limit)", async () => {
      const before = process.memoryUsage().rss;
      const top = await RawClient.connectTo(server);
      const bad = Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
      top.send(bad);
      expect((await top.readClose()).code).toBe(1002);
      top.destroy();
      const huge = await RawClient.connectTo(server);
      huge.send(frame({ opcode: OP.binary, declaredLength: 2 ** 53 - 1 }));
      expect((await huge.readClose()).code).toBe(1009);
      huge.destroy();
      const wrap = await RawClient.connectTo(server);
      // 2^32 + 5: a 32-bit truncation would read 5.
      wrap.send(Buffer.concat([frame({ opcode: OP.binary, declaredLength: 2 ** 32 + 5 }), Buffer.from("hello")]));
      expect((await wrap.readClose()).code).toBe(1009);
      wrap.destroy();
      expect(rssGrowth(before)).toBeLessThan(32 * 1024 * 1024);
      await stillServing();
    });

    it("row 13: RSV1 on a continuation or control frame fails with 1002, even with compression", async () => {
      const deflating = await startEchoServer({ perMessageDeflate: true }, transport);
      try {
        for (const frames of [
          [frame({ opcode: OP.text, payload: "a", fin: false }), frame({ opcode: OP.cont, payload: "b", rsv1: true })],
          [frame({ opcode: OP.ping, payload: "p", rsv1: true })],
        ]) {
          const client = await RawClient.connectTo(deflating, { extensions: "permessage-deflate" });
          for (const f of frames) client.send(f);
          expect((await client.readClose()).code).toBe(1002);
          client.destroy();
        }
      } finally {
        await deflating.close({ timeout: 500 });
      }
      await stillServing();
    });

    it("row 15: a peer that never reads cannot grow our memory past maxBufferedAmount", async () => {
      const bounded = await startServer({ maxBufferedAmount: 2 * 1024 * 1024 }, transport);
      try {
        const connected = new Promise<Connection>((resolve) => bounded.once("connection", resolve));
        const client = await RawClient.connectTo(bounded);
        client.socket.pause();
        const conn = await connected;
        const chunk = Buffer.alloc(256 * 1024);
        let peak = 0;
        for (let i = 0; i < 1000 && conn.readyState === 1; i++) {
          conn.send(chunk);
          peak = Math.max(peak, conn.bufferedAmount);
        }
        expect(conn.readyState).toBe(2);
        expect(peak).toBeLessThanOrEqual(2 * 1024 * 1024 + 64);
        client.socket.resume();
        expect((await client.readClose(10_000)).code).toBe(1008);
        client.destroy();
      } finally {
        await bounded.close({ timeout: 500 });
      }
    });

    it("rows 15 and 17: a peer that pings and never reads the pongs is held by TCP within maxBufferedAmount", async () => {
      for (const backpressure of ["close", "reject"] as const) {
        const bounded = await startServer({ maxBufferedAmount: 64 * 1024, highWaterMark: 16 * 1024, backpressure }, transport);
        try {
          const connected = new Promise<Connection>((resolve) => bounded.once("connection", resolve));
          const client = await RawClient.connectTo(bounded);
          const conn = await connected;
          const errors: string[] = [];
          conn.on("error", (error) => errors.push(error.code));
          client.socket.pause();
          // 1,000 pings of 125 bytes a batch, until the server stops reading them (our writes pile up).
          const batch = Buffer.concat(Array.from({ length: 1000 }, () => frame({ opcode: OP.ping, payload: Buffer.alloc(125, 7) })));
          let peak = 0;
          for (let i = 0; i < 300 && client.socket.writableLength < 2 * 1024 * 1024; i++) {
            client.socket.write(batch);
            await new Promise((resolve) => setImmediate(resolve));
            peak = Math.max(peak, conn.bufferedAmount);
          }
          expect(client.socket.writableLength).toBeGreaterThanOrEqual(2 * 1024 * 1024);
          // Reading stopped at the high-water mark, far under the limit: nothing to close or withhold.
          expect(peak).toBeLessThanOrEqual(64 * 1024);
          expect(errors).toEqual([]);
          expect(conn.readyState).toBe(1);
          client.destroy();
        } finally {
          await bounded.close({ timeout: 500 });
        }
      }
    });

    it("row 16: a peer that never answers our close frame is destroyed after closeTimeout", async () => {
      const stubborn = await startServer({ closeTimeout: 100 }, transport);
      try {
        const connected = new Promise<Connection>((resolve) => stubborn.once("connection", resolve));
        const client = await RawClient.connectTo(stubborn);
        const conn = await connected;
        conn.close(1000);
        expect((await client.readClose()).code).toBe(1000);
        await client.waitClosed(5000);
        await until(() => conn.readyState === 3);
        expect(stubborn.clients.size).toBe(0);
      } finally {
        await stubborn.close({ timeout: 500 });
      }
      await stillServing();
    });
});
