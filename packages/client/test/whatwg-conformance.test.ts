// Conformance of the WHATWG `WebSocket` and `CloseEvent`, written from the WHATWG WebSockets
// standard (the WebSocket interface, §3; the CloseEvent interface, §4) and the WebIDL rules for
// interfaces, constants, attributes, operations, dictionaries and event handlers. Each test names
// the rule it checks. Servers: `ws`'s (a dev dependency) for echoing, and the scripted raw server of
// helpers.ts where the server's answer must be exact.
import { Blob } from "node:buffer";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer, type WebSocket as WsSocket } from "ws";
import { CloseEvent, ErrorEvent, MessageEvent, WebSocket } from "../src/index.js";
import { closeCodeOf, closeFrame, once, recordEvents, scriptedServer, type ScriptedServer } from "./helpers.js";

interface EchoServer {
  url: string;
  /** Request headers of each connection, in order. */
  requests: Array<Record<string, string | string[] | undefined>>;
  close(): Promise<void>;
}

/** `ws`'s server on 127.0.0.1:0, echoing every message; `select` chooses the subprotocol. */
function echoServer(select: (offered: Set<string>) => string | false = () => false): Promise<EchoServer> {
  return new Promise((resolve) => {
    const requests: EchoServer["requests"] = [];
    const wss: WebSocketServer = new WebSocketServer(
      { host: "127.0.0.1", port: 0, perMessageDeflate: true, handleProtocols: select },
      () => {
        const { port } = wss.address() as AddressInfo;
        resolve({
          url: `ws://127.0.0.1:${port}`,
          requests,
          close: () =>
            new Promise((done) => {
              for (const client of wss.clients) client.terminate();
              wss.close(() => done());
            }),
        });
      },
    );
    wss.on("connection", (socket: WsSocket, request) => {
      requests.push(request.headers);
      socket.on("message", (data: Buffer, isBinary: boolean) => socket.send(data, { binary: isBinary }));
    });
  });
}

let echo: EchoServer | undefined;
let scripted: ScriptedServer | undefined;
afterEach(async () => {
  await echo?.close();
  await scripted?.close();
  echo = undefined;
  scripted = undefined;
});

/** A WebSocket that fails at once (nothing listens on port 1); for argument checks. */
function unconnected(protocols?: string | string[]): WebSocket {
  const ws = new WebSocket("ws://127.0.0.1:1/", protocols);
  ws.onerror = () => {};
  return ws;
}

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectDomException(action: () => unknown, name: string): void {
  const error = thrown(action);
  expect(error).toBeInstanceOf(DOMException);
  expect((error as DOMException).name).toBe(name);
}

function nextMessage(ws: WebSocket): Promise<MessageEvent> {
  return once<MessageEvent>(ws, "message");
}

describe("WebIDL: the WebSocket interface object and prototype", () => {
  it("the constructor takes one required argument (length 1) and extends EventTarget", () => {
    expect(WebSocket.length).toBe(1);
    expect(WebSocket.name).toBe("WebSocket");
    expect(Object.getPrototypeOf(WebSocket.prototype)).toBe(EventTarget.prototype);
    expect(WebSocket.prototype.constructor).toBe(WebSocket);
  });

  it("the constants are enumerable, read-only and permanent, on the class and the prototype", () => {
    const expected = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };
    for (const target of [WebSocket, WebSocket.prototype]) {
      for (const [name, value] of Object.entries(expected)) {
        expect(Object.getOwnPropertyDescriptor(target, name)).toEqual({
          value,
          writable: false,
          enumerable: true,
          configurable: false,
        });
        // Strict-mode code: assigning or deleting a read-only, permanent property throws.
        expect(() => {
          (target as unknown as Record<string, number>)[name] = 9;
        }).toThrow(TypeError);
        expect(() => delete (target as unknown as Record<string, number>)[name]).toThrow(TypeError);
        expect((target as unknown as Record<string, number>)[name]).toBe(value);
      }
    }
  });

  it("attributes are enumerable, configurable accessors on the prototype; read-only ones have no setter", () => {
    const readOnly = ["url", "readyState", "bufferedAmount", "extensions", "protocol"];
    const writable = ["onopen", "onerror", "onclose", "onmessage", "binaryType"];
    for (const name of [...readOnly, ...writable]) {
      const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, name)!;
      expect(descriptor, name).toBeDefined();
      expect(typeof descriptor.get, name).toBe("function");
      expect(descriptor.enumerable, name).toBe(true);
      expect(descriptor.configurable, name).toBe(true);
      expect(typeof descriptor.set, name).toBe(readOnly.includes(name) ? "undefined" : "function");
    }
  });

  it("operations are enumerable, writable, configurable methods with WebIDL lengths", () => {
    for (const [name, length] of [
      ["send", 1],
      ["close", 0],
    ] as const) {
      const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, name)!;
      expect(typeof descriptor.value).toBe("function");
      expect(descriptor.enumerable).toBe(true);
      expect(descriptor.writable).toBe(true);
      expect(descriptor.configurable).toBe(true);
      expect((descriptor.value as () => void).length).toBe(length);
    }
  });

  it("the class string is [object WebSocket]", () => {
    const ws = unconnected();
    expect(Object.prototype.toString.call(ws)).toBe("[object WebSocket]");
    expect(Object.prototype.toString.call(WebSocket.prototype)).toBe("[object WebSocket]");
    ws.close();
  });

  it("attribute getters and operations throw a TypeError on an object that is not a WebSocket", () => {
    const fake = Object.create(WebSocket.prototype) as WebSocket;
    for (const name of ["url", "readyState", "bufferedAmount", "protocol", "binaryType"]) {
      const getter = Object.getOwnPropertyDescriptor(WebSocket.prototype, name)!.get!;
      expect(() => getter.call(fake), name).toThrow(TypeError);
    }
    for (const name of ["binaryType", "onopen", "onmessage", "onerror", "onclose"]) {
      const setter = Object.getOwnPropertyDescriptor(WebSocket.prototype, name)!.set!;
      expect(() => setter.call(fake, undefined), name).toThrow(TypeError);
    }
    expect(() => WebSocket.prototype.send.call(fake, "x")).toThrow(TypeError);
    expect(() => WebSocket.prototype.close.call(fake)).toThrow(TypeError);
    // The object is checked before the arguments: not InvalidAccessError for code 7.
    expect(() => WebSocket.prototype.close.call(fake, 7)).toThrow(TypeError);
    expect(() => (WebSocket.prototype.send as (this: unknown) => void).call(null)).toThrow(TypeError);
  });
});

describe("new WebSocket(url, protocols): the constructor steps", () => {
  it("without arguments throws a TypeError (a required argument is missing)", () => {
    const Constructor = WebSocket as unknown as new () => WebSocket;
    expect(() => new Constructor()).toThrow(TypeError);
  });

  it.each([
    ["an unparsable URL", "ws://"],
    ["a relative URL without a base", "/path"],
    ["another scheme", "ftp://127.0.0.1/"],
    ["a fragment", "ws://127.0.0.1/#x"],
    ["an empty fragment", "ws://127.0.0.1/#"],
    ["a javascript: URL", "javascript:alert(1)"],
  ])("throws a SyntaxError DOMException for %s", (_name, url) => {
    expectDomException(() => new WebSocket(url), "SyntaxError");
  });

  it("converts the url to a USVString: undefined is the URL 'undefined', a SyntaxError; a Symbol a TypeError", () => {
    expectDomException(() => new WebSocket(undefined as unknown as string), "SyntaxError");
    expect(() => new WebSocket(Symbol("url") as unknown as string)).toThrow(TypeError);
    expect(() => new WebSocket("ws://127.0.0.1:1/", [Symbol("p") as unknown as string])).toThrow(TypeError);
  });

  it("maps http: to ws: and https: to wss:, and serializes the URL", () => {
    const ws = new WebSocket("HTTP://127.0.0.1:1/a b?c");
    ws.onerror = () => {};
    expect(ws.url).toBe("ws://127.0.0.1:1/a%20b?c");
    ws.close();
    const wss = new WebSocket(new URL("https://127.0.0.1:1"));
    wss.onerror = () => {};
    expect(wss.url).toBe("wss://127.0.0.1:1/");
    wss.close();
  });

  it("resolves a relative URL against the baseURL option, as against a page's URL", async () => {
    echo = await echoServer();
    const page = `${echo.url.replace("ws:", "http:")}/dir/page.html`;
    const ws = new WebSocket("../socket?x=1", undefined, { baseURL: page });
    expect(ws.url).toBe(`${echo.url}/socket?x=1`);
    await once(ws, "open");
    ws.close();
  });

  it.each([
    ["a repeated protocol", ["chat", "chat"]],
    ["a protocol repeated in another case", ["echo", "eCho"]],
    ["an empty protocol", [""]],
    ["a protocol with a space", ["a b"]],
    ["a protocol with a separator", ["a,b"]],
    ["a non-ASCII protocol", ["é"]],
    ["a string with a comma", "x,y"],
  ])("throws a SyntaxError DOMException for %s", (_name, protocols) => {
    expectDomException(() => new WebSocket("ws://127.0.0.1:1/", protocols), "SyntaxError");
  });

  it("the URL is checked before the protocols", () => {
    const error = thrown(() => new WebSocket("ftp://x/", ["a", "a"]));
    expect((error as DOMException).message).toMatch(/scheme/);
  });

  it("offers a string, an array or any iterable of protocols, in order", async () => {
    echo = await echoServer((offered) => [...offered][0] ?? false);
    const cases: Array<[string | Iterable<string>, string]> = [
      ["one", "one"],
      [["a", "b"], "a, b"],
      [new Set(["x", "y"]), "x, y"],
    ];
    for (const [protocols, header] of cases) {
      const ws = new WebSocket(echo.url, protocols);
      await once(ws, "open");
      expect(echo.requests.at(-1)!["sec-websocket-protocol"]).toBe(header);
      ws.close();
    }
  });

  it("sends the origin option as the Origin header, and offers no protocol when none are given", async () => {
    echo = await echoServer();
    const ws = new WebSocket(echo.url, undefined, { origin: "https://page.example" });
    await once(ws, "open");
    expect(echo.requests[0]!.origin).toBe("https://page.example");
    expect(echo.requests[0]!["sec-websocket-protocol"]).toBeUndefined();
    ws.close();
  });

  it("the initial state: CONNECTING, no protocol or extensions, nothing buffered, binaryType blob", () => {
    const ws = new WebSocket("ws://127.0.0.1:1/");
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    expect(ws.protocol).toBe("");
    expect(ws.extensions).toBe("");
    expect(ws.bufferedAmount).toBe(0);
    expect(ws.binaryType).toBe("blob");
    expect([ws.onopen, ws.onmessage, ws.onerror, ws.onclose]).toEqual([null, null, null, null]);
    ws.onerror = () => {};
    ws.close();
  });
});

describe("the subprotocol and extensions the server selects", () => {
  it("protocol is the one the server selected; extensions what it accepted", async () => {
    echo = await echoServer((offered) => (offered.has("v2") ? "v2" : false));
    const ws = new WebSocket(echo.url, ["v1", "v2"]);
    await once(ws, "open");
    expect(ws.protocol).toBe("v2");
    expect(ws.extensions).toMatch(/^permessage-deflate/);
    ws.close();
  });

  it("fails the connection when protocols were offered and the server selected none", async () => {
    echo = await echoServer(() => false);
    const ws = new WebSocket(echo.url, ["x.unknown"]);
    const log = recordEvents(ws);
    const event = await once<CloseEvent>(ws, "close");
    expect(log).toEqual(["error", "close"]);
    expect(event.code).toBe(1006);
    expect(event.wasClean).toBe(false);
    expect(ws.protocol).toBe("");
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  it("fails the connection when the server selects a protocol that was not offered", async () => {
    scripted = await scriptedServer((peer) => void peer.accept(["Sec-WebSocket-Protocol: other"]));
    const ws = new WebSocket(scripted.url, ["mine"]);
    const log = recordEvents(ws);
    await once(ws, "close");
    expect(log).toEqual(["error", "close"]);
  });
});

describe("send(data)", () => {
  it("without an argument throws a TypeError, even while CONNECTING", () => {
    const ws = unconnected();
    const send = ws.send as unknown as () => void;
    expect(() => send.call(ws)).toThrow(TypeError);
    ws.close();
  });

  it("while CONNECTING throws an InvalidStateError DOMException", () => {
    const ws = unconnected();
    expectDomException(() => ws.send("x"), "InvalidStateError");
    ws.close();
  });

  it("sends strings as text and ArrayBuffers, views and Blobs as binary, in order; undefined is the text 'undefined'", async () => {
    echo = await echoServer();
    const ws = new WebSocket(echo.url);
    ws.binaryType = "arraybuffer";
    await once(ws, "open");
    const received: unknown[] = [];
    const all = new Promise<void>((resolve) => {
      ws.onmessage = (event) => {
        received.push(event.data);
        if (received.length === 5) resolve();
      };
    });
    ws.send("text");
    ws.send(new Blob([Uint8Array.of(1, 2)]));
    ws.send(Uint8Array.of(3, 4).buffer);
    ws.send(new DataView(Uint8Array.of(5, 6, 7).buffer, 1, 2));
    ws.send(undefined as unknown as string);
    await all;
    expect(received[0]).toBe("text");
    expect([...new Uint8Array(received[1] as ArrayBuffer)]).toEqual([1, 2]);
    expect([...new Uint8Array(received[2] as ArrayBuffer)]).toEqual([3, 4]);
    expect([...new Uint8Array(received[3] as ArrayBuffer)]).toEqual([6, 7]);
    expect(received[4]).toBe("undefined");
    ws.close();
  });

  it("sends a string with a lone surrogate as U+FFFD (USVString)", async () => {
    echo = await echoServer();
    const ws = new WebSocket(echo.url);
    await once(ws, "open");
    ws.send("a\uD800b");
    expect((await nextMessage(ws)).data).toBe("a\uFFFDb");
    ws.close();
  });
});

describe("bufferedAmount: application data not yet transmitted", () => {
  it("counts the UTF-8 bytes of a string and the bytes of binary data, not frame headers or masks", async () => {
    echo = await echoServer();
    const ws = new WebSocket(echo.url);
    await once(ws, "open");
    ws.send("x");
    expect(ws.bufferedAmount).toBe(1);
    ws.send("€");
    expect(ws.bufferedAmount).toBe(4);
    ws.send(new Uint8Array(4 * 1024 * 1024));
    expect(ws.bufferedAmount).toBe(4 * 1024 * 1024 + 4);
    ws.close();
  });

  it("returns to 0 once the data has been transmitted", async () => {
    echo = await echoServer();
    const ws = new WebSocket(echo.url);
    await once(ws, "open");
    ws.send("hello");
    expect(ws.bufferedAmount).toBe(5);
    await nextMessage(ws); // the echo: our message was transmitted
    expect(ws.bufferedAmount).toBe(0);
    ws.close();
  });

  it("counts a Blob's size while it is read", async () => {
    echo = await echoServer();
    const ws = new WebSocket(echo.url);
    await once(ws, "open");
    ws.send(new Blob([new Uint8Array(1000)]));
    expect(ws.bufferedAmount).toBe(1000);
    await nextMessage(ws);
    expect(ws.bufferedAmount).toBe(0);
    ws.close();
  });

  it("after close(), keeps increasing by what is sent, which is discarded", async () => {
    scripted = await scriptedServer((peer) => void peer.accept());
    const ws = new WebSocket(scripted.url);
    await once(ws, "open");
    const peer = await scripted.nextPeer();
    const closed = once(ws, "close");
    ws.close(1000);
    const before = ws.bufferedAmount;
    ws.send("abcd");
    ws.send(new Uint8Array(6));
    ws.send(new Blob([new Uint8Array(3)]));
    expect(ws.bufferedAmount - before).toBe(13);
    const first = await peer.readFrame();
    expect(first!.opcode).toBe(8);
    peer.write(closeFrame(1000));
    peer.socket.end();
    expect(await peer.readAll()).toEqual([]); // nothing sent after close() reached the server
    await closed;
    ws.send("xy");
    expect(ws.bufferedAmount).toBe(15);
  });
});

describe("binaryType", () => {
  it("is 'blob' or 'arraybuffer' (and Node's 'nodebuffer'); other values are ignored", () => {
    const ws = unconnected();
    ws.binaryType = "arraybuffer";
    expect(ws.binaryType).toBe("arraybuffer");
    ws.binaryType = "Blob" as never;
    expect(ws.binaryType).toBe("arraybuffer");
    ws.binaryType = { toString: () => "blob" } as never; // WebIDL: converted to a string first
    expect(ws.binaryType).toBe("blob");
    ws.close();
  });

  it("decides the type of each binary message when it arrives", async () => {
    echo = await echoServer();
    const ws = new WebSocket(echo.url);
    await once(ws, "open");
    ws.send(Uint8Array.of(1, 2, 3));
    const blob = (await nextMessage(ws)).data;
    expect(blob).toBeInstanceOf(Blob);
    expect([...new Uint8Array(await (blob as Blob).arrayBuffer())]).toEqual([1, 2, 3]);
    ws.binaryType = "arraybuffer";
    ws.send(Uint8Array.of(4));
    const buffer = (await nextMessage(ws)).data;
    expect(buffer).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(buffer as ArrayBuffer)]).toEqual([4]);
    ws.close();
  });
});

describe("close(code, reason)", () => {
  it.each([0, 999, 1001, 1005, 1006, 2999, 5000, 65535])("close(%i) throws an InvalidAccessError", (code) => {
    const ws = unconnected();
    expectDomException(() => ws.close(code), "InvalidAccessError");
    ws.close();
  });

  it("the code is [Clamp] unsigned short: clamped, then rounded half to even", () => {
    const ws = unconnected();
    expectDomException(() => ws.close(4999.5), "InvalidAccessError"); // rounds to 5000
    expectDomException(() => ws.close(-1), "InvalidAccessError"); // clamps to 0
    expectDomException(() => ws.close(NaN), "InvalidAccessError"); // NaN is 0
    expectDomException(() => ws.close(1e9), "InvalidAccessError"); // clamps to 65535
    ws.close();
  });

  it("a reason over 123 UTF-8 bytes throws a SyntaxError; the code is checked first", () => {
    const ws = unconnected();
    expectDomException(() => ws.close(1000, "é".repeat(62)), "SyntaxError");
    expectDomException(() => ws.close(1001, "é".repeat(62)), "InvalidAccessError");
    expect(() => ws.close(1000, "a".repeat(123))).not.toThrow();
  });

  it("sends the clamped code and the USVString reason; a reason alone means 1000", async () => {
    scripted = await scriptedServer((peer) => void peer.accept());
    const sent: Array<[number | undefined, string]> = [];
    for (const args of [[2999.5, "\uD800"], [undefined, "why"], []] as Array<[number?, string?]>) {
      const ws = new WebSocket(scripted.url);
      await once(ws, "open");
      const peer = await scripted.nextPeer();
      ws.close(...args);
      expect(ws.readyState).toBe(WebSocket.CLOSING);
      const frame = (await peer.readFrame())!;
      sent.push([closeCodeOf(frame), frame.payload.subarray(2).toString("utf8")]);
      peer.write(closeFrame(1000));
      peer.socket.end();
      await once(ws, "close");
    }
    expect(sent).toEqual([
      [3000, "\uFFFD"],
      [1000, "why"],
      [undefined, ""],
    ]);
  });

  it("while CONNECTING fails the connection: CLOSING at once, then error and close 1006", async () => {
    scripted = await scriptedServer(async (peer) => {
      await peer.readRequest(); // never answers
    });
    const ws = new WebSocket(scripted.url);
    const log = recordEvents(ws);
    ws.close();
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    const event = await once<CloseEvent>(ws, "close");
    expect(log).toEqual(["error", "close"]);
    expect([event.code, event.wasClean]).toEqual([1006, false]);
  });

  it("does nothing when CLOSING or CLOSED", async () => {
    echo = await echoServer();
    const ws = new WebSocket(echo.url);
    await once(ws, "open");
    ws.close(3001, "first");
    expect(() => ws.close(3002, "second")).not.toThrow();
    const event = await once<CloseEvent>(ws, "close");
    expect([event.code, event.reason, event.wasClean]).toEqual([3001, "first", true]);
    ws.close();
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });
});

describe("events", () => {
  it("open is an Event; message a MessageEvent with data and the origin; close a CloseEvent", async () => {
    echo = await echoServer();
    const ws = new WebSocket(echo.url);
    const open = await once<Event>(ws, "open");
    expect(Object.prototype.toString.call(open)).toBe("[object Event]");
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.send("ping");
    const message = await nextMessage(ws);
    expect(message).toBeInstanceOf(MessageEvent);
    expect(message).toBeInstanceOf(globalThis.MessageEvent);
    expect(Object.prototype.toString.call(message)).toBe("[object MessageEvent]");
    expect([message.type, message.data, message.origin, message.lastEventId]).toEqual(["message", "ping", echo.url, ""]);
    expect(message.isTrusted).toBe(false); // Node cannot make trusted events
    ws.close(1000, "bye");
    const close = await once<CloseEvent>(ws, "close");
    expect(close).toBeInstanceOf(CloseEvent);
    expect(Object.prototype.toString.call(close)).toBe("[object CloseEvent]");
    expect([close.code, close.reason, close.wasClean]).toEqual([1000, "bye", true]);
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  it("a failed connection fires error (an Event) then close with 1006, and never open", async () => {
    scripted = await scriptedServer(async (peer) => {
      await peer.readRequest();
      peer.write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    });
    const ws = new WebSocket(scripted.url);
    const log = recordEvents(ws);
    let error: Event | undefined;
    ws.onerror = (event) => (error = event);
    const close = await once<CloseEvent>(ws, "close");
    expect(log).toEqual(["error", "close"]);
    expect(error).toBeInstanceOf(Event);
    expect(error).toBeInstanceOf(ErrorEvent);
    expect([close.code, close.wasClean]).toEqual([1006, false]);
  });
});

describe("event handler attributes (onopen, onmessage, onerror, onclose)", () => {
  it("a function is called with the WebSocket as this; replacing it keeps its place among listeners", async () => {
    echo = await echoServer();
    const ws = new WebSocket(echo.url);
    const order: string[] = [];
    const selves: unknown[] = [];
    ws.onopen = () => order.push("first handler");
    ws.addEventListener("open", () => order.push("listener"));
    ws.onopen = function (this: WebSocket) {
      selves.push(this);
      order.push("replaced handler");
    };
    await once(ws, "open");
    expect(order).toEqual(["replaced handler", "listener"]);
    expect(selves).toEqual([ws]);
    ws.close();
  });

  it("null removes the handler; set again, it runs after the listeners added meanwhile", async () => {
    echo = await echoServer();
    const ws = new WebSocket(echo.url);
    const order: string[] = [];
    ws.onopen = () => order.push("removed");
    ws.onopen = null;
    ws.addEventListener("open", () => order.push("listener"));
    ws.onopen = () => order.push("handler");
    await once(ws, "open");
    expect(order).toEqual(["listener", "handler"]);
    ws.close();
  });

  it("[LegacyTreatNonObjectAsNull]: a non-callable object is kept (and not called); a primitive is null", async () => {
    echo = await echoServer();
    const ws = new WebSocket(echo.url);
    const object = { handleEvent: () => order.push("handleEvent") };
    const order: string[] = [];
    ws.onopen = object as never;
    expect(ws.onopen).toBe(object);
    ws.onmessage = 5 as never;
    expect(ws.onmessage).toBeNull();
    ws.onclose = "code" as never;
    expect(ws.onclose).toBeNull();
    await once(ws, "open");
    expect(order).toEqual([]);
    ws.close();
  });
});

describe("the CloseEvent interface", () => {
  it("has the WebIDL shape: length 1, enumerable getters, [object CloseEvent], extends Event", () => {
    expect(CloseEvent.name).toBe("CloseEvent");
    expect(CloseEvent.length).toBe(1);
    expect(Object.getPrototypeOf(CloseEvent.prototype)).toBe(Event.prototype);
    for (const name of ["wasClean", "code", "reason"]) {
      const descriptor = Object.getOwnPropertyDescriptor(CloseEvent.prototype, name)!;
      expect(typeof descriptor.get, name).toBe("function");
      expect(descriptor.set, name).toBeUndefined();
      expect(descriptor.enumerable, name).toBe(true);
      expect(descriptor.configurable, name).toBe(true);
    }
    expect(Object.prototype.toString.call(new CloseEvent("close"))).toBe("[object CloseEvent]");
    const getter = Object.getOwnPropertyDescriptor(CloseEvent.prototype, "code")!.get!;
    expect(() => getter.call(new Event("close"))).toThrow(TypeError);
  });

  it("without a type throws a TypeError", () => {
    const Constructor = CloseEvent as unknown as new () => CloseEvent;
    expect(() => new Constructor()).toThrow(TypeError);
  });

  it("defaults: wasClean false, code 0, reason empty, not bubbling or cancelable", () => {
    const event = new CloseEvent("close");
    expect([event.type, event.wasClean, event.code, event.reason, event.bubbles, event.cancelable]).toEqual([
      "close",
      false,
      0,
      "",
      false,
      false,
    ]);
  });

  it("converts the CloseEventInit members: boolean, unsigned short (modulo 2^16), USVString", () => {
    const event = new CloseEvent("x", {
      wasClean: "yes" as unknown as boolean,
      code: 65536 + 1000.9,
      reason: "\uDC00!",
      bubbles: true,
    });
    expect([event.wasClean, event.code, event.reason, event.bubbles]).toEqual([true, 1000, "\uFFFD!", true]);
    expect(new CloseEvent("x", { code: -1 }).code).toBe(65535);
    expect(new CloseEvent("x", { code: NaN }).code).toBe(0);
  });
});
