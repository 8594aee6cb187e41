import { afterEach, describe, expect, it } from "vitest";
import { backoffDelay, reconnecting, type ReconnectEvent } from "../src/index.js";
import { closeFrame, scriptedServer, type ScriptedServer } from "./helpers.js";

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("backoffDelay", () => {
  it("grows exponentially up to maxDelay", () => {
    const none = () => 0;
    const options = { minDelay: 100, maxDelay: 1000, factor: 2 };
    expect([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, options, none))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it("jitters each delay down by at most the jitter fraction", () => {
    const options = { minDelay: 1000, maxDelay: 1000, jitter: 0.5 };
    expect(backoffDelay(0, options, () => 0)).toBe(1000);
    expect(backoffDelay(0, options, () => 0.999_999)).toBe(500);
    expect(backoffDelay(0, { ...options, jitter: 0 }, () => 0.7)).toBe(1000);
  });
});

describe("reconnecting()", () => {
  it("reconnects after the server drops the connection and gets new messages", async () => {
    let connections = 0;
    server = await scriptedServer(async (peer) => {
      connections++;
      await peer.accept();
      const n = connections;
      peer.write(Buffer.concat([Buffer.from([0x81, 1]), Buffer.from(String(n))]));
      if (n < 3) peer.socket.destroy();
    });
    const client = reconnecting(server.url, { reconnect: { minDelay: 10, maxDelay: 50 } });
    const messages: unknown[] = [];
    const attempts: ReconnectEvent[] = [];
    client.on("reconnecting", (event) => attempts.push(event));
    await new Promise<void>((resolve) => {
      client.on("message", (data) => {
        messages.push(data);
        if (messages.length === 3) resolve();
      });
    });
    expect(messages).toEqual(["1", "2", "3"]);
    expect(attempts).toHaveLength(2);
    expect(attempts.every((event) => event.attempt === 1)).toBe(true);
    expect(client.connection).not.toBeNull();
    const ended = new Promise<void>((resolve) => client.once("end", resolve));
    const closing = client.close(1000);
    const peer = server.peers[2]!;
    await peer.readFrame();
    peer.write(closeFrame(1000));
    peer.socket.end();
    await closing;
    await ended;
    expect(client.send("x")).toBe(false);
  });

  it("gives up after `retries` failed attempts with growing delays", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.readRequest();
      peer.socket.end("HTTP/1.1 503 Service Unavailable\r\n\r\n");
    });
    const client = reconnecting(server.url, { reconnect: { retries: 3, minDelay: 5, maxDelay: 100, jitter: 0 } });
    const errors: Error[] = [];
    client.on("error", (error) => errors.push(error));
    const attempts: ReconnectEvent[] = [];
    client.on("reconnecting", (event) => attempts.push(event));
    await new Promise<void>((resolve) => client.once("end", resolve));
    expect(attempts.map((event) => [event.attempt, event.delay])).toEqual([
      [1, 5],
      [2, 10],
      [3, 20],
    ]);
    expect(server.peers).toHaveLength(4);
    expect(errors.at(-1)?.message).toMatch(/gave up/);
    expect(errors[0]).toMatchObject({ code: "WS_ERR_UNEXPECTED_STATUS", statusCode: 503 });
  });

  it("does not reconnect when shouldReconnect says no", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      peer.write(closeFrame(4000, "banned"));
      await peer.readFrame();
      peer.socket.end();
    });
    const client = reconnecting(server.url, {
      reconnect: { minDelay: 5, shouldReconnect: (info) => info.code !== 4000 },
    });
    const closes: number[] = [];
    client.on("close", (info) => closes.push(info.code));
    await new Promise<void>((resolve) => client.once("end", resolve));
    expect(closes).toEqual([4000]);
    expect(server.peers).toHaveLength(1);
  });
});
