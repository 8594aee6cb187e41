// The C echo server of the client benchmark (native/echo-server.c): built fresh into a temporary
// directory (so the compiler really runs and its warnings are seen), started on port 0, then driven
// by the ws client and by hand-written frames on a raw socket.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as tcpConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { buildEchoServer, startEchoServer, type EchoServerBuild, type RunningServer } from "../src/processes.js";

const hasCc = spawnSync("cc", ["--version"]).error === undefined;
const tempDir = mkdtempSync(join(tmpdir(), "bench-echo-server-"));
let build: EchoServerBuild;
let server: RunningServer | undefined;

beforeAll(async () => {
  build = buildEchoServer({ outDir: tempDir });
  if ("binary" in build) server = await startEchoServer(build.binary);
});

afterAll(async () => {
  await server?.stop();
  rmSync(tempDir, { recursive: true, force: true });
});

/** Rejects after `ms`: every wait below is bounded. */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The server when the build worked; without a compiler, checks that the build said so instead. */
function running(): RunningServer | undefined {
  if (hasCc) {
    expect(build).toHaveProperty("binary");
    expect(server).toBeDefined();
  } else {
    expect(build).toHaveProperty("unavailable");
  }
  return server;
}

async function open(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  await within(5000, once(ws, "open"), "ws open");
  return ws;
}

/** The next message on `ws`. */
function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return within(
    5000,
    new Promise((resolve) => ws.once("message", (data: Buffer, isBinary: boolean) => resolve({ data, isBinary }))),
    "echo",
  );
}

/** ASCII text of exactly `size` bytes, varied so that a masking mistake shows. */
function text(size: number): string {
  return Array.from({ length: size }, (_, i) => String.fromCharCode(32 + ((i * 7919) % 95))).join("");
}

/** A masked client frame. */
function frame(b0: number, payload: Buffer, mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d])): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([b0, 0x80 | len]) : Buffer.from([b0, 0x80 | 126, len >> 8, len & 0xff]);
  return Buffer.concat([head, mask, payload.map((byte, i) => byte ^ mask[i % 4]!)]);
}

/** Everything a raw socket receives until the server closes it. */
function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  return within(
    5000,
    once(socket, "end").then(() => Buffer.concat(chunks)),
    "server closing the raw socket",
  );
}

const UPGRADE = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";

describe("C echo server build", () => {
  it("compiles with cc -Wall -Wextra without a warning", () => {
    if (hasCc) expect(build).toEqual({ binary: join(tempDir, "echo-server"), warnings: "" });
    else expect(build).toEqual({ unavailable: expect.stringContaining("cc") });
  });

  it("reports a missing compiler instead of throwing", () => {
    const dir = mkdtempSync(join(tmpdir(), "bench-echo-server-nocc-"));
    try {
      expect(buildEchoServer({ cc: "no-such-compiler-here", outDir: dir })).toEqual({ unavailable: expect.stringContaining("no-such-compiler-here") });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("prints the same ready line as the Node servers", () => {
    const s = running();
    if (!s) return;
    expect(s.info).toEqual({ ready: true, port: s.port, pid: s.pid, impl: "c" });
    expect(s.port).toBeGreaterThan(0);
  });
});

describe("C echo server with the ws client", () => {
  it("echoes text and binary messages across the 7-, 16- and 64-bit lengths", async () => {
    const s = running();
    if (!s) return;
    const ws = await open(s.port);
    for (const size of [0, 125, 126, 65535, 65536, 1024 * 1024]) {
      const binary = randomBytes(size);
      const echoed = nextMessage(ws);
      ws.send(binary);
      const got = await echoed;
      expect(got.isBinary).toBe(true);
      // Buffer.equals: toEqual walks a megabyte byte by byte, slowly.
      expect(got.data.equals(binary), `${size} bytes`).toBe(true);

      const message = text(size);
      const echoedText = nextMessage(ws);
      ws.send(message);
      const gotText = await echoedText;
      expect(gotText.isBinary).toBe(false);
      expect(gotText.data.toString() === message, `${size} bytes of text`).toBe(true);
    }
    ws.terminate();
  });

  it("answers a ping with a pong carrying the same payload", async () => {
    const s = running();
    if (!s) return;
    const ws = await open(s.port);
    const pong = within(5000, once(ws, "pong"), "pong");
    ws.ping(Buffer.from("are you there?"));
    expect((await pong)[0]).toEqual(Buffer.from("are you there?"));
    ws.terminate();
  });

  it("echoes a fragmented message, which ws reassembles", async () => {
    const s = running();
    if (!s) return;
    const ws = await open(s.port);
    const echoed = nextMessage(ws);
    ws.send("frag", { fin: false });
    ws.send("ment", { fin: false });
    ws.send("ed", { fin: true });
    const got = await echoed;
    expect(got.isBinary).toBe(false);
    expect(got.data.toString()).toBe("fragmented");
    ws.terminate();
  });

  it("closes cleanly with the client's code and reason", async () => {
    const s = running();
    if (!s) return;
    const ws = await open(s.port);
    const closed = within(5000, once(ws, "close"), "close");
    ws.close(1000, "done");
    const [code, reason] = (await closed) as [number, Buffer];
    expect(code).toBe(1000);
    expect(reason.toString()).toBe("done");
  });
});

describe("C echo server on a raw socket", () => {
  async function raw(port: number): Promise<Socket> {
    const socket = tcpConnect(port, "127.0.0.1");
    socket.setNoDelay(true);
    await within(5000, once(socket, "connect"), "tcp connect");
    return socket;
  }
  const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

  it("accepts the RFC 6455 sample key and parses input that arrives in pieces", async () => {
    const s = running();
    if (!s) return;
    const socket = await raw(s.port);
    const received = readAll(socket);
    // RFC 6455 section 1.3's key and accept value, then a fragmented text message sent right behind
    // the request, in pieces that split the request head, a frame header and a payload.
    const head = Buffer.from(`${UPGRADE}sec-websocket-KEY:  dGhlIHNhbXBsZSBub25jZQ== \r\n\r\n`);
    const frames = Buffer.concat([frame(0x01, Buffer.from("Hel")), frame(0x80, Buffer.from("lo")), frame(0x88, Buffer.from([0x03, 0xe8]))]);
    const input = Buffer.concat([head, frames]);
    for (const [from, to] of [
      [0, 20],
      [20, head.length + 1],
      [head.length + 1, head.length + 7],
      [head.length + 7, input.length],
    ] as const) {
      socket.write(input.subarray(from, to));
      await pause();
    }
    socket.end();
    const reply = await received;
    const expectedHead =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    expect(reply.subarray(0, expectedHead.length).toString()).toBe(expectedHead);
    // Frame by frame, unmasked: the fragmentation and the close payload come back as sent.
    expect(reply.subarray(expectedHead.length)).toEqual(Buffer.from([0x01, 3, ...Buffer.from("Hel"), 0x80, 2, ...Buffer.from("lo"), 0x88, 2, 0x03, 0xe8]));
  });

  it("refuses a request without Sec-WebSocket-Key", async () => {
    const s = running();
    if (!s) return;
    const socket = await raw(s.port);
    const received = readAll(socket);
    socket.end(`${UPGRADE}\r\n`);
    expect((await received).toString()).toMatch(/^HTTP\/1\.1 400 /);
  });

  it("closes with 1002 on an unmasked frame and 1009 on a payload over 64 MiB", async () => {
    const s = running();
    if (!s) return;
    for (const [bad, code] of [
      [Buffer.from([0x82, 0x01, 0x00]), 1002],
      [Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0x04, 0, 0, 1, 1, 2, 3, 4]), 1009],
    ] as const) {
      const socket = await raw(s.port);
      const received = readAll(socket);
      socket.write(`${UPGRADE}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
      socket.write(bad);
      const reply = await received;
      socket.destroy();
      expect(reply.subarray(reply.length - 4)).toEqual(Buffer.from([0x88, 2, code >> 8, code & 0xff]));
    }
  });
});
