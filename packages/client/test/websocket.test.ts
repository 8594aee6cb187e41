import { Blob } from "node:buffer";
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { CloseEvent, WebSocket } from "../src/index.js";
import { binary, closeCodeOf, closeFrame, once, recordEvents, scriptedServer, serverClosingFirst, text, type ScriptedServer } from "./helpers.js";

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe("WebSocket constants and attributes", () => {
  it("has the readyState constants on the class and on instances", async () => {
    expect([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED]).toEqual([0, 1, 2, 3]);
    server = await scriptedServer((peer) => void peer.accept());
    const ws = new WebSocket(server.url);
    expect([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED]).toEqual([0, 1, 2, 3]);
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    expect(ws.url).toBe(`${server.url}/`);
    expect(ws.protocol).toBe("");
    expect(ws.extensions).toBe("");
    expect(ws.bufferedAmount).toBe(0);
    expect(ws.binaryType).toBe("blob");
    expect(ws).toBeInstanceOf(EventTarget);
    await once(ws, "open");
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
    expect(ws.readyState).toBe(WebSocket.CLOSING);
  });

  it("maps http and https to ws and wss", () => {
    const ws = new WebSocket("http://127.0.0.1:1/a?b");
    expect(ws.url).toBe("ws://127.0.0.1:1/a?b");
    ws.onerror = () => {};
    ws.close();
    const wss = new WebSocket("https://127.0.0.1:1/");
    expect(wss.url).toBe("wss://127.0.0.1:1/");
    wss.onerror = () => {};
    wss.close();
  });

  it.each([
    ["not a url"],
    ["ftp://127.0.0.1/"],
    ["file:///tmp/x"],
    ["ws://127.0.0.1/#frag"],
    ["ws://127.0.0.1/#"],
  ])("throws a SyntaxError DOMException for %s", (url) => {
    let caught: unknown;
    try {
      new WebSocket(url);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DOMException);
    expect((caught as DOMException).name).toBe("SyntaxError");
  });

  it.each([[["chat", "chat"]], [["a b"]], [[""]], [["chat", "é"]], ["x,y"]])(
    "throws a SyntaxError for the protocols %j",
    (protocols) => {
      expect(() => new WebSocket("ws://127.0.0.1:1/", protocols)).toThrow(
        expect.objectContaining({ name: "SyntaxError" }) as Error,
      );
    },
  );

  it("ignores an unknown binaryType and accepts the three known ones", () => {
    const ws = new WebSocket("ws://127.0.0.1:1/");
    ws.onerror = () => {};
    ws.binaryType = "arraybuffer";
    expect(ws.binaryType).toBe("arraybuffer");
    ws.binaryType = "nonsense" as never;
    expect(ws.binaryType).toBe("arraybuffer");
    ws.binaryType = "nodebuffer";
    expect(ws.binaryType).toBe("nodebuffer");
    ws.binaryType = "blob";
    expect(ws.binaryType).toBe("blob");
    ws.close();
  });
});

describe("WebSocket send and close checks", () => {
  it("throws InvalidStateError when sending while CONNECTING", () => {
    const ws = new WebSocket("ws://127.0.0.1:1/");
    ws.onerror = () => {};
    expect(() => ws.send("x")).toThrow(expect.objectContaining({ name: "InvalidStateError" }) as Error);
    ws.close();
  });

  it.each([0, 999, 1001, 1005, 2999, 5000, 65535])("close(%i) throws InvalidAccessError", (code) => {
    const ws = new WebSocket("ws://127.0.0.1:1/");
    ws.onerror = () => {};
    expect(() => ws.close(code)).toThrow(expect.objectContaining({ name: "InvalidAccessError" }) as Error);
    ws.close();
  });

  it("close() with a reason over 123 UTF-8 bytes throws SyntaxError", () => {
    const ws = new WebSocket("ws://127.0.0.1:1/");
    ws.onerror = () => {};
    expect(() => ws.close(1000, "é".repeat(62))).toThrow(expect.objectContaining({ name: "SyntaxError" }) as Error);
    expect(() => ws.close(1000, "a".repeat(123))).not.toThrow();
  });

  it("close() while CONNECTING fires error then close with 1006", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.readRequest(); // never answers
    });
    const ws = new WebSocket(server.url);
    const log = recordEvents(ws);
    const closed = once<CloseEvent>(ws, "close");
    ws.close();
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    const event = await closed;
    expect(log).toEqual(["error", "close"]);
    expect(event.code).toBe(1006);
    expect(event.wasClean).toBe(false);
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  it("counts data sent after close in bufferedAmount and discards it", async () => {
    server = await scriptedServer((peer) => void peer.accept());
    const ws = new WebSocket(server.url);
    await once(ws, "open");
    const peer = await server.nextPeer();
    ws.close(1000, "bye");
    ws.send("abcd");
    ws.send(new Uint8Array(6));
    expect(ws.bufferedAmount).toBeGreaterThanOrEqual(10);
    const first = await peer.readFrame();
    expect(first!.opcode).toBe(8);
    expect(closeCodeOf(first!)).toBe(1000);
    expect(first!.payload.subarray(2).toString()).toBe("bye");
    peer.write(closeFrame(1000));
    peer.socket.end();
    expect(await peer.readAll()).toEqual([]);
  });
});

describe("WebSocket events", () => {
  it("fires open, message and a clean close in order, with onX handlers and listeners", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      peer.write(text("hello"));
      peer.write(closeFrame(1000, "done"));
      const echo = await peer.readFrame();
      expect(echo!.opcode).toBe(8);
      peer.socket.end();
    });
    const ws = new WebSocket(server.url);
    const log: string[] = [];
    ws.onopen = () => log.push("onopen");
    ws.addEventListener("open", () => log.push("open listener"));
    ws.onmessage = (event) => log.push(`onmessage ${String((event as MessageEvent).data)}`);
    ws.onclose = () => log.push("onclose");
    ws.onerror = () => log.push("onerror");
    const event = await once<CloseEvent>(ws, "close");
    expect(log).toEqual(["onopen", "open listener", "onmessage hello", "onclose"]);
    expect(event).toBeInstanceOf(CloseEvent);
    expect(event.code).toBe(1000);
    expect(event.reason).toBe("done");
    expect(event.wasClean).toBe(true);
  });

  it("the server's close arriving while sent data still waits for the network is not clean, and fires no error", async () => {
    const peer = await serverClosingFirst(4567, "server first");
    server = peer.server;
    const ws = new WebSocket(server.url);
    const log = recordEvents(ws);
    await once(ws, "open");
    ws.send(new Uint8Array(32 * 1024 * 1024));
    peer.sendClose();
    const event = await once<CloseEvent>(ws, "close");
    expect([event.code, event.reason, event.wasClean]).toEqual([4567, "server first", false]);
    expect(log).toEqual(["open", "close"]);
  });

  it("a close frame that came with the 101 is handled after the microtasks the open handlers queued", async () => {
    let frames: number[] = [];
    server = await scriptedServer(async (peer) => {
      await peer.acceptWithClose(4000, "with the 101");
      frames = (await peer.readAll()).map((f) => f.opcode);
    });
    const ws = new WebSocket(server.url);
    ws.onopen = () => queueMicrotask(() => ws.send("from a microtask"));
    const event = await once<CloseEvent>(ws, "close");
    expect([event.code, event.wasClean]).toEqual([4000, true]);
    await server.peers[0]!.closed;
    expect(frames).toEqual([1, 8]);
  });

  it("MessageEvent carries the origin", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      peer.write(text("x"));
    });
    const ws = new WebSocket(server.url);
    const event = await once<MessageEvent>(ws, "message");
    expect(event.origin).toBe(server.url);
    expect(event.data).toBe("x");
    ws.close();
  });

  it("delivers binary data per binaryType", async () => {
    const payload = Uint8Array.of(1, 2, 3, 250);
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      for (let i = 0; i < 3; i++) peer.write(binary(payload));
    });
    const ws = new WebSocket(server.url);
    const received: unknown[] = [];
    ws.onmessage = (event) => {
      received.push((event as MessageEvent).data);
      if (received.length === 1) ws.binaryType = "arraybuffer";
      if (received.length === 2) ws.binaryType = "nodebuffer";
    };
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (received.length === 3) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    expect(received[0]).toBeInstanceOf(Blob);
    expect(new Uint8Array(await (received[0] as Blob).arrayBuffer())).toEqual(payload);
    expect(received[1]).toBeInstanceOf(ArrayBuffer);
    expect(new Uint8Array(received[1] as ArrayBuffer)).toEqual(payload);
    expect(Buffer.isBuffer(received[2])).toBe(true);
    expect(new Uint8Array(received[2] as Buffer)).toEqual(payload);
    ws.close();
  });

  it("sends strings, ArrayBuffers, views and Blobs in order", async () => {
    server = await scriptedServer((peer) => void peer.accept());
    const ws = new WebSocket(server.url);
    await once(ws, "open");
    const peer = await server.nextPeer();
    ws.send("text");
    ws.send(new Blob([Uint8Array.of(9, 9)]));
    ws.send(Uint8Array.of(1, 2, 3).buffer);
    ws.send(new Uint16Array([0x0102]).subarray(0, 1));
    ws.send(new DataView(Uint8Array.of(7, 8, 9).buffer, 1, 2));
    const frames = [];
    for (let i = 0; i < 5; i++) frames.push((await peer.readFrame())!);
    expect(frames.map((f) => f.opcode)).toEqual([1, 2, 2, 2, 2]);
    expect(frames.every((f) => f.masked)).toBe(true);
    expect(frames[0]!.payload.toString()).toBe("text");
    expect([...frames[1]!.payload]).toEqual([9, 9]);
    expect([...frames[2]!.payload]).toEqual([1, 2, 3]);
    expect(frames[3]!.payload.length).toBe(2);
    expect([...frames[4]!.payload]).toEqual([8, 9]);
    ws.close();
  });

  it("fires error then close with 1006 when the connection cannot be made", async () => {
    const port = await closedPort();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const log = recordEvents(ws);
    const event = await once<CloseEvent>(ws, "close");
    expect(log).toEqual(["error", "close"]);
    expect(event.code).toBe(1006);
    expect(event.wasClean).toBe(false);
  });

  it("fires close with 1006 (and no error) when the server drops TCP without a close frame", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      peer.socket.end();
    });
    const ws = new WebSocket(server.url);
    const log = recordEvents(ws);
    const event = await once<CloseEvent>(ws, "close");
    expect(log).toEqual(["open", "close"]);
    expect(event.code).toBe(1006);
    expect(event.wasClean).toBe(false);
  });

  it("fires error then close on a protocol error, after sending close 1002", async () => {
    let answered: number | undefined;
    server = await scriptedServer(async (peer) => {
      await peer.accept();
      peer.write(Buffer.from([0x83, 0x00])); // reserved opcode 3
      const reply = await peer.readFrame();
      answered = closeCodeOf(reply!);
      peer.socket.end();
    });
    const ws = new WebSocket(server.url);
    const log = recordEvents(ws);
    const event = await once<CloseEvent>(ws, "close");
    expect(log).toEqual(["open", "error", "close"]);
    expect(event.code).toBe(1006);
    expect(answered).toBe(1002);
  });

  it("reports the negotiated subprotocol; the options object may replace the protocols argument", async () => {
    server = await scriptedServer((peer) => void peer.accept(["Sec-WebSocket-Protocol: b"]));
    const ws = new WebSocket(server.url, { protocols: ["a", "b"], headers: { "X-Test": "1" } });
    await once(ws, "open");
    expect(ws.protocol).toBe("b");
    const peer = await server.nextPeer();
    ws.close(4000, "done");
    const f = await peer.readFrame();
    expect(closeCodeOf(f!)).toBe(4000);
  });
});
