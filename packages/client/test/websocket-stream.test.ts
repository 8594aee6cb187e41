// WebSocketStream, written from the WHATWG WebSocketStream explainer: opened/closed, close(),
// signal, the readable and writable sides, and receive backpressure, against ws's server on
// 127.0.0.1, port 0.
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer, type WebSocket as ServerSocket } from "ws";
import { WebSocketStream, WebSocketStreamError } from "../src/index.js";
import { closeFrame, scriptedServer, serverClosingFirst, type ScriptedServer } from "./helpers.js";

let wss: WebSocketServer | undefined;
afterEach(async () => {
  for (const client of wss?.clients ?? []) client.terminate();
  await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
  wss = undefined;
});

async function serve(onConnection: (ws: ServerSocket) => void, options: object = {}): Promise<string> {
  wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false, ...options });
  wss.on("connection", onConnection);
  await new Promise((resolve) => wss!.once("listening", resolve));
  return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
}

const echo = (ws: ServerSocket): void => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
};

describe("WebSocketStream constructor", () => {
  it("throws a SyntaxError for a bad URL, a fragment, a bad scheme, a repeated protocol", () => {
    for (const url of ["not a url", "ws://x/#frag", "ftp://x/"]) {
      expect(() => new WebSocketStream(url)).toThrow(expect.objectContaining({ name: "SyntaxError" }));
    }
    expect(() => new WebSocketStream("ws://x/", { protocols: ["a", "a"] })).toThrow(
      expect.objectContaining({ name: "SyntaxError" }),
    );
  });

  it("converts its arguments as WebIDL does: TypeError for no URL, non-object options, a string protocols", () => {
    const Ctor = WebSocketStream as unknown as new (...args: unknown[]) => WebSocketStream;
    expect(() => new Ctor()).toThrow(TypeError);
    expect(() => new Ctor("ws://x/", true)).toThrow(TypeError);
    expect(() => new Ctor("ws://x/", 1)).toThrow(TypeError);
    // A string is not a sequence<USVString> (it must not be split into one-character protocols).
    expect(() => new Ctor("ws://x/", { protocols: "hi" })).toThrow(TypeError);
    expect(() => new Ctor("ws://x/", { protocols: 1 })).toThrow(TypeError);
    expect(() => new Ctor("ws://x/", { signal: {} })).toThrow(TypeError);
    // null options are the empty dictionary; any iterable is a sequence.
    const aborted = AbortSignal.abort();
    expect(() => new Ctor("ws://x/", null)).not.toThrow();
    expect(new Ctor("ws://x/", { protocols: new Set(["a"]), signal: aborted })).toBeInstanceOf(WebSocketStream);
  });

  it("maps http: to ws: in url", () => {
    const stream = new WebSocketStream("http://127.0.0.1:1/p", { signal: AbortSignal.abort() });
    expect(stream.url).toBe("ws://127.0.0.1:1/p");
  });

  it("an already aborted signal rejects opened and closed with its reason", async () => {
    const stream = new WebSocketStream("ws://127.0.0.1:1/", { signal: AbortSignal.abort() });
    await expect(stream.opened).rejects.toMatchObject({ name: "AbortError" });
    await expect(stream.closed).rejects.toMatchObject({ name: "AbortError" });
  });

  it("aborting the signal during the handshake rejects opened and closed", async () => {
    const url = await serve(() => {}, { verifyClient: (_: unknown, cb: (ok: boolean) => void) => setTimeout(() => cb(true), 2000) });
    const controller = new AbortController();
    const stream = new WebSocketStream(url, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(stream.opened).rejects.toMatchObject({ name: "AbortError" });
    await expect(stream.closed).rejects.toMatchObject({ name: "AbortError" });
  });

  it("a failing handshake rejects opened and closed", async () => {
    const url = await serve(() => {}, { verifyClient: () => false });
    const stream = new WebSocketStream(url);
    await expect(stream.opened).rejects.toMatchObject({ name: "WebSocketError" });
    await expect(stream.closed).rejects.toMatchObject({ name: "WebSocketError", closeCode: 1006 });
  });
});

describe("WebSocketStreamError (the standard's WebSocketError)", () => {
  it("is a DOMException named WebSocketError, closeCode null and reason empty by default", () => {
    const error = new WebSocketStreamError();
    expect(error).toBeInstanceOf(DOMException);
    expect([error.name, error.message, error.code, error.closeCode, error.reason]).toEqual(["WebSocketError", "", 0, null, ""]);
    const full = new WebSocketStreamError("m", { closeCode: 4321, reason: "why" });
    expect([full.message, full.closeCode, full.reason]).toEqual(["m", 4321, "why"]);
  });

  it("a reason alone means code 1000; a bad code is an InvalidAccessError, a long reason a SyntaxError", () => {
    expect(new WebSocketStreamError("", { reason: "r" }).closeCode).toBe(1000);
    expect(new WebSocketStreamError("", { closeCode: 3000 }).reason).toBe("");
    for (const closeCode of [999, 1001, 1006, 2999, 5000]) {
      expect(() => new WebSocketStreamError("", { closeCode })).toThrow(expect.objectContaining({ name: "InvalidAccessError" }));
    }
    // 62 two-byte characters are 124 UTF-8 bytes: bytes count, not characters.
    expect(() => new WebSocketStreamError("", { reason: "é".repeat(62) })).toThrow(expect.objectContaining({ name: "SyntaxError" }));
    expect(new WebSocketStreamError("", { reason: "é".repeat(61) }).reason).toHaveLength(61);
  });

  it("what a failed handshake rejects with is one, with code 1006", async () => {
    const url = await serve(() => {}, { verifyClient: () => false });
    const stream = new WebSocketStream(url);
    const error = await stream.closed.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketStreamError);
    expect(error).toBeInstanceOf(DOMException);
    expect((error as WebSocketStreamError).closeCode).toBe(1006);
  });
});

describe("WebSocketStream opened", () => {
  it("resolves with readable, writable, protocol and extensions", async () => {
    const url = await serve(echo, { handleProtocols: (set: Set<string>) => [...set][1] });
    const stream = new WebSocketStream(url, { protocols: ["a", "b"] });
    const { readable, writable, protocol, extensions } = await stream.opened;
    expect(readable).toBeInstanceOf(ReadableStream);
    expect(writable).toBeInstanceOf(WritableStream);
    expect(protocol).toBe("b");
    expect(extensions).toBe("");
    stream.close();
    await stream.closed;
  });

  it("echoes strings as strings and BufferSources as Uint8Array", async () => {
    const url = await serve(echo);
    const stream = new WebSocketStream(url);
    const { readable, writable } = await stream.opened;
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write("héllo");
    await writer.write(new Uint8Array([1, 2, 3]));
    await writer.write(new Uint16Array([0x0102]).buffer);
    await writer.write(new DataView(new Uint8Array([9, 8]).buffer));
    expect((await reader.read()).value).toBe("héllo");
    const bin = (await reader.read()).value;
    expect(bin).toBeInstanceOf(Uint8Array);
    expect([...(bin as Uint8Array)]).toEqual([1, 2, 3]);
    expect([...((await reader.read()).value as Uint8Array)]).toEqual([2, 1]);
    expect([...((await reader.read()).value as Uint8Array)]).toEqual([9, 8]);
    await expect(writer.write(42 as unknown as string)).rejects.toThrow(TypeError);
    stream.close();
  });

  it("write() rejects resizable and shared buffers, and views on them, with a TypeError", async () => {
    const url = await serve(echo);
    const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer;
    const chunks = [
      new Resizable(4, { maxByteLength: 8 }),
      new Uint8Array(new Resizable(4, { maxByteLength: 8 })),
      new SharedArrayBuffer(4),
      new Uint8Array(new SharedArrayBuffer(4)),
      new DataView(new SharedArrayBuffer(4)),
    ];
    for (const chunk of chunks) {
      // A rejected write errors the writable: a new stream for each.
      const stream = new WebSocketStream(url);
      const { writable } = await stream.opened;
      await expect(writable.getWriter().write(chunk as ArrayBuffer)).rejects.toThrow(TypeError);
      stream.close();
      await stream.closed;
    }
  });
});

describe("WebSocketStream closing", () => {
  it("close({closeCode, reason}) sends them and closed resolves with the server's", async () => {
    let seen!: Promise<[number, string]>;
    const url = await serve((ws) => {
      seen = new Promise((resolve) => ws.on("close", (code, reason) => resolve([code, reason.toString()])));
    });
    const stream = new WebSocketStream(url);
    await stream.opened;
    stream.close({ closeCode: 3001, reason: "bye" });
    await expect(stream.closed).resolves.toEqual({ closeCode: 3001, reason: "bye" });
    expect(await seen).toEqual([3001, "bye"]);
  });

  it("close() checks the code and the reason", async () => {
    const url = await serve(echo);
    const stream = new WebSocketStream(url);
    await stream.opened;
    expect(() => stream.close({ closeCode: 1001 })).toThrow(expect.objectContaining({ name: "InvalidAccessError" }));
    expect(() => stream.close({ closeCode: 1000, reason: "x".repeat(124) })).toThrow(
      expect.objectContaining({ name: "SyntaxError" }),
    );
    const close = stream.close.bind(stream) as (info: unknown) => void;
    // WebIDL dictionary: only undefined, null and objects; [EnforceRange] closeCode.
    expect(() => close(true)).toThrow(TypeError);
    expect(() => close("x")).toThrow(TypeError);
    expect(() => close({ closeCode: NaN })).toThrow(TypeError);
    expect(() => close({ closeCode: 70000 })).toThrow(TypeError);
    stream.close({ reason: "only a reason" });
    await expect(stream.closed).resolves.toEqual({ closeCode: 1000, reason: "only a reason" });
  });

  it("the server's close closes the readable and resolves closed", async () => {
    const url = await serve((ws) => {
      ws.send("last");
      ws.close(4000, "server done");
    });
    const stream = new WebSocketStream(url);
    const { readable } = await stream.opened;
    const chunks: unknown[] = [];
    for await (const chunk of readable) chunks.push(chunk);
    expect(chunks).toEqual(["last"]);
    await expect(stream.closed).resolves.toEqual({ closeCode: 4000, reason: "server done" });
  });

  it("an unclean end errors the readable and rejects closed with code 1006", async () => {
    const url = await serve((ws) => setTimeout(() => ws.terminate(), 20));
    const stream = new WebSocketStream(url);
    const { readable } = await stream.opened;
    await expect(readable.getReader().read()).rejects.toMatchObject({ closeCode: 1006 });
    await expect(stream.closed).rejects.toMatchObject({ name: "WebSocketError", closeCode: 1006 });
  });

  it("an unclean end errors the readable and the writable with the very error closed rejects with", async () => {
    const url = await serve((ws) => setTimeout(() => ws.terminate(), 20));
    const stream = new WebSocketStream(url);
    const { readable, writable } = await stream.opened;
    const writer = writable.getWriter();
    const fromClosed = await stream.closed.then(() => null, (e: unknown) => e);
    expect(fromClosed).toBeInstanceOf(WebSocketStreamError);
    const fromRead = await readable.getReader().read().then(() => null, (e: unknown) => e);
    const fromReady = await writer.ready.then(() => null, (e: unknown) => e);
    expect(fromRead).toBe(fromClosed);
    expect(fromReady).toBe(fromClosed);
  });

  it("after the server's clean close the writable is errored with an InvalidStateError", async () => {
    const url = await serve((ws) => ws.close(4000, "bye"));
    const stream = new WebSocketStream(url);
    const { writable } = await stream.opened;
    const writer = writable.getWriter();
    await stream.closed;
    await expect(writer.ready).rejects.toMatchObject({ name: "InvalidStateError" });
    await expect(writer.write("late")).rejects.toMatchObject({ name: "InvalidStateError" });
    await expect(writer.closed).rejects.toMatchObject({ name: "InvalidStateError" });
  });

  /** A server whose connections resolve the close code and reason they see, in order. */
  async function closeRecorder(): Promise<{ url: string; seen: Array<Promise<[number, string]>> }> {
    const seen: Array<Promise<[number, string]>> = [];
    const url = await serve((ws) => {
      seen.push(new Promise((resolve) => ws.on("close", (code, reason) => resolve([code, reason.toString()]))));
    });
    return { url, seen };
  }

  it("cancelling the readable with a WebSocketError closes with its code and reason", async () => {
    const { url, seen } = await closeRecorder();
    const stream = new WebSocketStream(url);
    const { readable } = await stream.opened;
    await readable.cancel(new WebSocketStreamError("", { closeCode: 4001, reason: "cancelled" }));
    await expect(stream.closed).resolves.toEqual({ closeCode: 4001, reason: "cancelled" });
    expect(await seen[0]).toEqual([4001, "cancelled"]);
  });

  it("any other cancel or abort reason, a look-alike object included, closes without a code", async () => {
    const { url, seen } = await closeRecorder();
    const reasons = [{ closeCode: 4001, reason: "look-alike" }, new DOMException("d", "AbortError"), new Error("no code")];
    for (const [i, reason] of reasons.entries()) {
      const stream = new WebSocketStream(url);
      const { readable, writable } = await stream.opened;
      if (i % 2 === 0) await readable.cancel(reason);
      else await writable.abort(reason);
      await expect(stream.closed).resolves.toEqual({ closeCode: 1005, reason: "" });
      expect(await seen[i]).toEqual([1005, ""]);
    }
  });

  it("aborting the writable with a WebSocketError with only a reason closes with 1000", async () => {
    const { url, seen } = await closeRecorder();
    const stream = new WebSocketStream(url);
    const { writable } = await stream.opened;
    await writable.abort(new WebSocketStreamError("", { reason: "done" }));
    await expect(stream.closed).resolves.toEqual({ closeCode: 1000, reason: "done" });
    expect(await seen[0]).toEqual([1000, "done"]);
  });

  it("closing the writable closes the connection", async () => {
    const url = await serve(() => {});
    const stream = new WebSocketStream(url);
    const { writable } = await stream.opened;
    await writable.close();
    await expect(stream.closed).resolves.toMatchObject({ closeCode: 1005 });
  });

  it("close() before opened fails the handshake", async () => {
    const url = await serve(() => {}, { verifyClient: (_: unknown, cb: (ok: boolean) => void) => setTimeout(() => cb(true), 500) });
    const stream = new WebSocketStream(url);
    stream.close();
    await expect(stream.opened).rejects.toBeDefined();
    await expect(stream.closed).rejects.toBeDefined();
  });
});

describe("WebSocketStream backpressure", () => {
  it("receive: a consumer that does not read makes the server's buffer back up; reading drains it with no loss", async () => {
    const CHUNK = 256 * 1024;
    const COUNT = 64; // 16 MiB
    let server!: ServerSocket;
    const url = await serve((ws) => {
      server = ws;
      for (let i = 0; i < COUNT; i++) ws.send(Buffer.alloc(CHUNK, i));
    });
    const stream = new WebSocketStream(url);
    const { readable } = await stream.opened;
    // Give the client every chance to read ahead; it must not.
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Socket buffers on loopback hold a few MiB at most: most of the 16 MiB stays on the server.
    expect(server.bufferedAmount).toBeGreaterThan(8 * 1024 * 1024);
    const reader = readable.getReader();
    let received = 0;
    for (let i = 0; i < COUNT; i++) {
      const { value, done } = await reader.read();
      expect(done).toBe(false);
      const bytes = value as Uint8Array;
      expect(bytes.length).toBe(CHUNK);
      expect(bytes[0]).toBe(i);
      expect(bytes[CHUNK - 1]).toBe(i);
      received += bytes.length;
    }
    expect(received).toBe(CHUNK * COUNT);
    expect(server.bufferedAmount).toBe(0);
    stream.close();
    await stream.closed;
  });

  it("send: writes wait while the server does not read", async () => {
    let serverSocket: { pause(): void; resume(): void } | undefined;
    const url = await serve((ws) => {
      serverSocket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      serverSocket.pause();
    });
    const stream = new WebSocketStream(url);
    const { writable } = await stream.opened;
    const writer = writable.getWriter();
    const chunk = new Uint8Array(1024 * 1024);
    let written = 0;
    const writing = (async () => {
      for (let i = 0; i < 64; i++) {
        await writer.write(chunk);
        written++;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(written).toBeLessThan(64);
    serverSocket!.resume();
    await writing;
    expect(written).toBe(64);
    stream.close();
    await stream.closed;
  });
});

describe("WebSocketStream and the closing handshake", () => {
  let raw: ScriptedServer | undefined;
  afterEach(async () => {
    await raw?.close();
    raw = undefined;
  });

  it("a close frame that came with the 101 is handled after the code following `await opened`", async () => {
    let frames: number[] = [];
    raw = await scriptedServer(async (peer) => {
      await peer.acceptWithClose(4000, "with the 101");
      frames = (await peer.readAll()).map((f) => f.opcode);
    });
    const stream = new WebSocketStream(raw.url);
    const { writable } = await stream.opened;
    await writable.getWriter().write("still open");
    await expect(stream.closed).resolves.toEqual({ closeCode: 4000, reason: "with the 101" });
    await raw.peers[0]!.closed;
    expect(frames).toEqual([1, 8]);
  });

  it("writer.close() resolves only once the server has answered the close frame", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let closeSeen!: () => void;
    const sawClose = new Promise<void>((resolve) => (closeSeen = resolve));
    raw = await scriptedServer(async (peer) => {
      await peer.accept();
      for (let f = await peer.readFrame(); f !== null; f = await peer.readFrame()) {
        if (f.opcode !== 8) continue;
        closeSeen();
        await released;
        peer.write(closeFrame());
        peer.socket.end();
        return;
      }
    });
    const stream = new WebSocketStream(raw.url);
    const { writable } = await stream.opened;
    let settled = false;
    const closing = writable.getWriter().close().then(() => (settled = true));
    await sawClose;
    // Several turns of the event loop with the server holding its answer: still pending.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    release();
    await closing;
    await expect(stream.closed).resolves.toEqual({ closeCode: 1005, reason: "" });
  });

  it("the server's close while a write still waits for the network: the write rejects, closed rejects with the server's code", async () => {
    const SIZE = 32 * 1024 * 1024; // more than loopback's socket buffers hold
    const peer = await serverClosingFirst(4567, "server first");
    raw = peer.server;
    const stream = new WebSocketStream(raw.url);
    const { writable } = await stream.opened;
    const outcome = writable.getWriter().write(new Uint8Array(SIZE)).then(() => "resolved", (e: unknown) => e);
    peer.sendClose();
    expect(await outcome).toMatchObject({ name: "InvalidStateError" });
    const error = await stream.closed.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketStreamError);
    expect(error).toMatchObject({ closeCode: 4567, reason: "server first" });
    // The bytes were still sent; only the promise of delivery is gone.
    expect(peer.bytesReceived()).toBe(SIZE);
  });
});
