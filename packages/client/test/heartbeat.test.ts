// Client heartbeat: pingInterval/pongTimeout on connect() and reconnecting(). A "dead" server here
// accepts the upgrade, then pauses its socket and never writes again, without closing: the client
// hears nothing, as when packets are dropped, and must find out by itself.
import { afterEach, describe, expect, it } from "vitest";
import { ClientErrorCode, connect, reconnecting, type CloseInfo } from "../src/index.js";
import { scriptedServer, text, type ScriptedServer } from "./helpers.js";

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const PING = 100;
const PONG = 100;

describe("client heartbeat", () => {
  it("detects a silent server within pingInterval + pongTimeout and closes with 1006", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      peer.socket.pause();
    });
    const conn = await connect(server.url, { pingInterval: PING, pongTimeout: PONG, perMessageDeflate: false, closeTimeout: 100 });
    const started = performance.now();
    const info: CloseInfo = await conn.closed;
    const elapsed = performance.now() - started;
    expect(info.code).toBe(1006);
    expect(info.wasClean).toBe(false);
    expect((info.error as { code?: string }).code).toBe(ClientErrorCode.PongTimeout);
    expect(info.error!.message).toMatch(/pongTimeout/);
    expect(elapsed).toBeLessThan(PING + PONG + 1000);
  });

  it("keeps a connection whose server answers (any byte counts)", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      // Answers each ping with a text message, not a pong: bytes are bytes.
      for (let f = await peer.readFrame(); f !== null; f = await peer.readFrame()) {
        if (f.opcode === 9) peer.write(text("alive"));
      }
    });
    const conn = await connect(server.url, { pingInterval: 50, pongTimeout: 5000, perMessageDeflate: false, closeTimeout: 100 });
    let messages = 0;
    conn.on("message", () => messages++);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(conn.readyState).toBe(1);
    // Generous on a loaded machine: at least one full ping-answer cycle happened, the connection lived.
    expect(messages).toBeGreaterThan(0);
    await conn.close();
  });

  it("is off by default", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      peer.socket.pause();
    });
    const conn = await connect(server.url, { perMessageDeflate: false, closeTimeout: 100 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(conn.readyState).toBe(1);
    conn.terminate();
  });

  it("the reconnecting wrapper reconnects after a dead server is detected", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      peer.socket.pause();
    });
    const client = reconnecting(server.url, {
      pingInterval: PING,
      pongTimeout: PONG,
      perMessageDeflate: false, closeTimeout: 100,
      reconnect: { minDelay: 10, maxDelay: 10 },
    });
    const closes: CloseInfo[] = [];
    client.on("close", (info) => closes.push(info));
    let opens = 0;
    const started = performance.now();
    await new Promise<void>((resolve) => {
      client.on("open", () => {
        if (++opens === 2) resolve();
      });
    });
    expect(performance.now() - started).toBeLessThan(PING + PONG + 2000);
    expect(closes[0]!.code).toBe(1006);
    expect((closes[0]!.error as { code?: string }).code).toBe(ClientErrorCode.PongTimeout);
    await client.close();
  });

  it("send() on a disconnected reconnecting wrapper returns false and drops the message", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.accept();
    });
    const client = reconnecting(server.url, { perMessageDeflate: false, closeTimeout: 100, reconnect: { retries: 0 } });
    expect(client.send("early")).toBe(false);
    await new Promise((resolve) => client.once("open", resolve));
    expect(client.send("now")).toBe(true);
    await client.close();
    expect(client.send("late")).toBe(false);
  });

  it("rejects negative heartbeat options", async () => {
    await expect(connect("ws://127.0.0.1:1/", { pingInterval: -1 })).rejects.toThrow(/pingInterval/);
  });
});
