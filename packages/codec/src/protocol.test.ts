import { describe, expect, it } from "vitest";
import { buildFrame, concatBytes, decodeFrames, text, type TestFrame } from "../test/frames.js";
import { ErrorCode } from "./errors.js";
import type { CompressionCallback, MessageCompression } from "./extension.js";
import { Opcode } from "./opcode.js";
import { Protocol, QUEUE_ENTRY_OVERHEAD, type ProtocolHandler, type ProtocolOptions } from "./protocol.js";
import { WriteBatch } from "./write-batch.js";

function connection(options: Partial<ProtocolOptions> = {}, extra: Partial<ProtocolHandler> = {}) {
  const written: Uint8Array[] = [];
  const log: string[] = [];
  let transportClosed = 0;
  const protocol = new Protocol(
    { role: "server", ...options },
    {
      write: (chunks) => written.push(...chunks),
      onMessage: (data, isBinary) => log.push(`${isBinary ? "binary" : "text"}:${new TextDecoder().decode(data)}`),
      onPing: (payload) => log.push(`ping:${new TextDecoder().decode(payload)}`),
      onPong: (payload) => log.push(`pong:${new TextDecoder().decode(payload)}`),
      onClose: (code, reason) => log.push(`close:${code}:${reason}`),
      onError: (error) => log.push(`error:${error.code}`),
      closeTransport: () => {
        transportClosed++;
        log.push("closeTransport");
      },
      ...extra,
    },
  );
  const peerMasks = (options.role ?? "server") === "server";
  return {
    protocol,
    log,
    get transportClosed() {
      return transportClosed;
    },
    /** Frames the protocol wrote, decoded. */
    sent: () => decodeFrames(concatBytes(...written)),
    receive: (...frames: TestFrame[]) =>
      protocol.receive(concatBytes(...frames.map((frame) => buildFrame({ mask: peerMasks, ...frame })))),
  };
}

const closePayload = (code: number, reason = "") =>
  concatBytes(Uint8Array.of(code >> 8, code & 0xff), text(reason));

/**
 * Compression that holds each compress job (and, with `holdInflate`, each decompress job) until
 * the test runs it, as zlib's thread pool would; the data passes through unchanged.
 */
function heldCompression({ holdInflate = false } = {}) {
  const jobs: Array<() => void> = [];
  const compression: MessageCompression = {
    threshold: 0,
    compress: (data, _fin, callback) => jobs.push(() => callback(null, [data])),
    decompress: (data, _fin, _max, callback) => (holdInflate ? jobs.push(() => callback(null, [data])) : callback(null, [data])),
    close() {},
  };
  return { compression, jobs };
}

describe("Protocol: messages and control frames", () => {
  it("delivers messages and answers pings with the same payload", () => {
    const c = connection();
    c.receive({ opcode: Opcode.Text, payload: "hi" }, { opcode: Opcode.Ping, payload: "are you there" });
    expect(c.log).toEqual(["text:hi", "ping:are you there"]);
    expect(c.sent()).toEqual([
      { fin: true, rsv1: false, opcode: Opcode.Pong, masked: false, payload: text("are you there") },
    ]);
  });

  it("can leave pongs to the application", () => {
    const c = connection({ autoPong: false });
    c.receive({ opcode: Opcode.Ping, payload: "x" });
    expect(c.sent()).toEqual([]);
  });

  it("asks the shell before each automatic pong and withholds the ones it refuses", () => {
    const asked: number[] = [];
    const written: Uint8Array[] = [];
    const protocol = new Protocol(
      { role: "server" },
      {
        write: (chunks) => written.push(...chunks),
        onMessage: () => undefined,
        onPing: () => undefined,
        admitPong: (size) => asked.push(size) === 1,
        onClose: () => undefined,
        onError: () => undefined,
        closeTransport: () => undefined,
      },
    );
    const ping = (payload: string) => buildFrame({ mask: true, opcode: Opcode.Ping, payload });
    protocol.receive(concatBytes(ping("first"), ping("second!")));
    expect(asked).toEqual([5, 7]);
    expect(decodeFrames(concatBytes(...written)).map((frame) => frame.payload)).toEqual([text("first")]);
  });

  it("tells the shell of every ping and pong it queues: asked for, automatic, deferred, not withheld ones", () => {
    const seen: string[] = [];
    const decode = (payload: Uint8Array) => new TextDecoder().decode(payload);
    let backlogged = false;
    const c = connection(
      {},
      {
        onPing: (payload) => seen.push(`received ping:${decode(payload)}`),
        onPingSent: (payload) => seen.push(`sent ping:${decode(payload)}`),
        onPongSent: (payload) => seen.push(`sent pong:${decode(payload)}`),
        pongBacklogged: () => backlogged,
        admitPong: (size) => size !== 7,
      },
    );
    c.protocol.ping(text("ours"));
    c.protocol.pong(text("beat"));
    c.receive({ opcode: Opcode.Ping, payload: "auto" });
    c.receive({ opcode: Opcode.Ping, payload: "refused" });
    backlogged = true;
    c.receive({ opcode: Opcode.Ping, payload: "later" });
    // An automatic pong is told after the ping it answers, in the order of the frames.
    const before = ["sent ping:ours", "sent pong:beat", "received ping:auto", "sent pong:auto", "received ping:refused", "received ping:later"];
    expect(seen).toEqual(before);
    c.protocol.flushPong();
    c.protocol.close(1000);
    expect(seen).toEqual([...before, "sent pong:later"]);
    expect(c.sent().map((frame) => frame.opcode)).toEqual([Opcode.Ping, Opcode.Pong, Opcode.Pong, Opcode.Pong, Opcode.Close]);
  });

  it("masks every frame a client sends and never masks a server's", () => {
    const client = connection({ role: "client" });
    client.protocol.send(text("abc"), false);
    client.protocol.ping(text("p"));
    client.protocol.send(new Uint8Array(70000), true);
    expect(client.sent().map((frame) => frame.masked)).toEqual([true, true, true]);
    expect(client.sent()[0]!.payload).toEqual(text("abc"));
    const server = connection();
    server.protocol.send(text("abc"), false);
    expect(server.sent()).toEqual([{ fin: true, rsv1: false, opcode: Opcode.Text, masked: false, payload: text("abc") }]);
  });

  it("sends a message in fragments with continuation opcodes", () => {
    const c = connection();
    c.protocol.sendFragment(text("a"), false, false);
    c.protocol.ping();
    c.protocol.sendFragment(text("b"), false, false);
    c.protocol.sendFragment(text("c"), false, true);
    expect(c.sent().map((frame) => [frame.opcode, frame.fin])).toEqual([
      [Opcode.Text, false],
      [Opcode.Ping, true],
      [Opcode.Continuation, false],
      [Opcode.Continuation, true],
    ]);
    expect(() => {
      c.protocol.sendFragment(text("d"), true, false);
      c.protocol.send(text("e"), false);
    }).toThrow(/fragmented message/);
  });

  it("rejects control payloads over 125 bytes", () => {
    const c = connection();
    expect(() => c.protocol.ping(new Uint8Array(126))).toThrow(RangeError);
    expect(c.protocol.ping(new Uint8Array(125))).toBe(true);
  });
});

describe("Protocol: closing handshake", () => {
  it("echoes the peer's close code, reports it, and (server) closes TCP", () => {
    const c = connection();
    c.receive({ opcode: Opcode.Close, payload: closePayload(4001, "done") });
    expect(c.log).toEqual(["close:4001:done", "closeTransport"]);
    expect(c.sent()).toEqual([
      { fin: true, rsv1: false, opcode: Opcode.Close, masked: false, payload: closePayload(4001) },
    ]);
    expect(c.protocol.state).toBe("closed");
    expect(c.protocol.send(text("late"), false)).toBe(false);
  });

  it("echoes an empty close frame with an empty one and reports 1005", () => {
    const c = connection();
    c.receive({ opcode: Opcode.Close });
    expect(c.log[0]).toBe("close:1005:");
    expect(c.sent()[0]!.payload).toEqual(new Uint8Array(0));
  });

  it("a client waits for the server to close TCP after the handshake", () => {
    const c = connection({ role: "client" });
    c.protocol.close(1000, "bye");
    expect(c.protocol.state).toBe("closing");
    c.receive({ opcode: Opcode.Close, payload: closePayload(1000) });
    expect(c.protocol.state).toBe("closed");
    expect(c.transportClosed).toBe(0);
    expect(c.sent()).toHaveLength(1);
  });

  it("a server that started closing closes TCP when the peer's close arrives", () => {
    const c = connection();
    c.protocol.close(1001, "going away");
    expect(c.sent()[0]!.payload).toEqual(closePayload(1001, "going away"));
    c.receive({ opcode: Opcode.Text, payload: "in flight" }, { opcode: Opcode.Close, payload: closePayload(1001) });
    // Messages the peer sent before its close frame are still delivered (RFC 6455 §7.1.2).
    expect(c.log).toEqual(["text:in flight", "close:1001:", "closeTransport"]);
    expect(c.sent()).toHaveLength(1);
  });

  it("sends nothing after its own close frame", () => {
    const c = connection();
    c.protocol.close();
    expect(c.protocol.send(text("x"), false)).toBe(false);
    expect(c.protocol.ping()).toBe(false);
    c.protocol.close(1000);
    expect(c.sent()).toHaveLength(1);
  });

  it("throws for a close code or reason that may not be sent, without changing state", () => {
    const c = connection();
    expect(() => c.protocol.close(1005)).toThrow(RangeError);
    expect(() => c.protocol.close(1000, "x".repeat(124))).toThrow(RangeError);
    expect(c.protocol.state).toBe("open");
    expect(c.sent()).toEqual([]);
  });

  it("fails the connection on a protocol error with the matching close code", () => {
    const c = connection();
    c.receive({ opcode: Opcode.Text, payload: Uint8Array.of(0xc0, 0x80) });
    expect(c.log).toEqual([`error:${ErrorCode.InvalidUtf8}`, "closeTransport"]);
    expect(c.sent()).toEqual([
      { fin: true, rsv1: false, opcode: Opcode.Close, masked: false, payload: closePayload(1007) },
    ]);
    expect(c.protocol.state).toBe("closed");
  });

  it("stops on EOF", () => {
    const c = connection();
    c.protocol.receiveEof();
    c.receive({ opcode: Opcode.Text, payload: "late" });
    expect(c.log).toEqual([]);
    expect(c.protocol.state).toBe("closed");
  });
});

describe("Protocol: compression", () => {
  // Compresses by reversing bytes, finishing later so that ordering is exercised.
  function slowCompression(): MessageCompression & { flush(): void } {
    const jobs: Array<() => void> = [];
    return {
      threshold: 4,
      compress(data: Uint8Array, _fin: boolean, callback: CompressionCallback) {
        jobs.push(() => callback(null, [data.slice().reverse()]));
      },
      decompress(data: Uint8Array, _fin: boolean, _max: number, callback: CompressionCallback) {
        callback(null, [data.slice().reverse()]);
      },
      close() {},
      flush() {
        while (jobs.length > 0) jobs.shift()!();
      },
    };
  }

  it("keeps sends in order behind a compression job and sets RSV1 on compressed messages only", () => {
    const compression = slowCompression();
    const c = connection({ compression });
    c.protocol.send(text("compress me"), false);
    c.protocol.send(text("abc"), false); // under the threshold: sent as is, but after the first
    c.protocol.ping(text("p"));
    c.protocol.close(1000);
    expect(c.sent()).toEqual([]);
    // The job in flight and the three actions behind it, each with its entry overhead.
    expect(c.protocol.queuedBytes).toBe(11 + 3 + 1 + 2 + 4 * QUEUE_ENTRY_OVERHEAD);
    compression.flush();
    const frames = c.sent();
    expect(frames.map((frame) => [frame.opcode, frame.rsv1])).toEqual([
      [Opcode.Text, true],
      [Opcode.Text, false],
      [Opcode.Ping, false],
      [Opcode.Close, false],
    ]);
    expect(frames[0]!.payload).toEqual(text("em sserpmoc"));
    expect(c.protocol.queuedBytes).toBe(0);
  });

  it("sets RSV1 on the first fragment of a compressed fragmented message only", () => {
    const compression = slowCompression();
    const c = connection({ compression });
    c.protocol.sendFragment(text("one"), true, false);
    c.protocol.sendFragment(text("two"), true, true);
    compression.flush();
    compression.flush();
    expect(c.sent().map((frame) => [frame.opcode, frame.rsv1, frame.fin])).toEqual([
      [Opcode.Binary, true, false],
      [Opcode.Continuation, false, true],
    ]);
  });

  it("honours compress: false per message", () => {
    const c = connection({ compression: slowCompression() });
    c.protocol.send(text("long enough"), false, { compress: false });
    expect(c.sent()[0]!.rsv1).toBe(false);
  });
});

describe("Protocol: what queued entries cost (SECURITY.md rows 17 and 18)", () => {
  it("charges every message queued behind a compression job, empty ones too", () => {
    const { compression, jobs } = heldCompression();
    const c = connection({ compression });
    for (let i = 0; i < 1000; i++) c.protocol.send(new Uint8Array(0), false);
    // One job in flight and 999 behind it: zero payload bytes, but each entry costs memory.
    expect(c.protocol.queuedBytes).toBe(1000 * QUEUE_ENTRY_OVERHEAD);
    while (jobs.length > 0) jobs.shift()!();
    expect(c.protocol.queuedBytes).toBe(0);
    expect(c.sent()).toHaveLength(1000);
  });

  it("answers only the latest ping while the shell's buffer is full, once it drains", () => {
    let backlogged = true;
    const c = connection({}, { pongBacklogged: () => backlogged });
    for (let i = 0; i < 1000; i++) c.receive({ opcode: Opcode.Ping, payload: `p${i}` });
    expect(c.sent()).toEqual([]);
    expect(c.log).toHaveLength(1000);
    backlogged = false;
    c.protocol.flushPong();
    c.protocol.flushPong();
    expect(c.sent()).toEqual([{ fin: true, rsv1: false, opcode: Opcode.Pong, masked: false, payload: text("p999") }]);
    c.receive({ opcode: Opcode.Ping, payload: "now" });
    expect(c.sent().at(-1)!.payload).toEqual(text("now"));
  });

  it("drops a deferred pong once our close frame is queued", () => {
    const c = connection({}, { pongBacklogged: () => true });
    c.receive({ opcode: Opcode.Ping, payload: "late" });
    c.protocol.close(1000);
    c.protocol.flushPong();
    expect(c.sent().map((frame) => frame.opcode)).toEqual([Opcode.Close]);
  });

  it("abort() writes the close frame right after the job in flight, dropping what waits behind it", () => {
    const { compression, jobs } = heldCompression();
    const c = connection({ compression });
    for (let i = 0; i < 100; i++) c.protocol.send(text(`m${i}`), false);
    c.protocol.abort(1008, "send buffer full");
    expect(c.protocol.closeSent).toBe(true);
    expect(c.protocol.send(text("after"), false)).toBe(false);
    expect(c.protocol.queuedBytes).toBe(2 + QUEUE_ENTRY_OVERHEAD + 2 + 16 + QUEUE_ENTRY_OVERHEAD);
    jobs.shift()!();
    expect(jobs).toHaveLength(0);
    const frames = c.sent();
    expect(frames.map((frame) => frame.opcode)).toEqual([Opcode.Text, Opcode.Close]);
    expect(frames[1]!.payload).toEqual(closePayload(1008, "send buffer full"));
    expect(c.protocol.queuedBytes).toBe(0);
  });

  it("abort() with nothing compressing writes the close frame at once", () => {
    const c = connection();
    c.protocol.send(text("queued first"), false);
    c.protocol.abort(1008);
    expect(c.sent().map((frame) => frame.opcode)).toEqual([Opcode.Text, Opcode.Close]);
  });
});

describe("Protocol: frames encoded elsewhere", () => {
  it("queues a shared frame in order behind compression, and refuses it on clients and after close", () => {
    const { compression, jobs } = heldCompression();
    const c = connection({ compression });
    c.protocol.send(text("first"), false);
    const shared = buildFrame({ opcode: Opcode.Text, payload: "shared" });
    expect(c.protocol.sendFrame([shared], 6)).toBe(true);
    expect(c.protocol.queuedBytes).toBe(5 + 6 + 2 * QUEUE_ENTRY_OVERHEAD);
    expect(c.sent()).toEqual([]);
    jobs.shift()!();
    expect(c.sent().map((frame) => new TextDecoder().decode(frame.payload))).toEqual(["first", "shared"]);
    c.protocol.close();
    expect(c.protocol.sendFrame([shared], 6)).toBe(false);
    expect(() => connection({ role: "client" }).protocol.sendFrame([shared], 6)).toThrow(/masked/);
  });

  it("reports a failing compressor as DeflateFailed and closes with 1011", () => {
    const compression: MessageCompression = {
      threshold: 0,
      compress: (_data, _fin, callback) => callback(new Error("zlib broke"), []),
      decompress: (data, _fin, _max, callback) => callback(null, [data]),
      close() {},
    };
    const c = connection({ compression });
    c.protocol.send(text("x"), false);
    expect(c.log).toEqual([`error:${ErrorCode.DeflateFailed}`, "closeTransport"]);
    expect(c.sent()[0]!.payload).toEqual(closePayload(1011));
  });
});

describe("Protocol: the peer's FIN (receiveEnd)", () => {
  it("processes a compressed message and the close frame waiting behind its inflate before ending", () => {
    const { compression, jobs } = heldCompression({ holdInflate: true });
    const c = connection({ compression });
    c.receive(
      { opcode: Opcode.Text, payload: "compressed", rsv1: true },
      { opcode: Opcode.Close, payload: closePayload(1000, "bye") },
    );
    c.protocol.receiveEnd();
    // Nothing is dropped, and our side stays open while input waits.
    expect(c.log).toEqual([]);
    expect(c.transportClosed).toBe(0);
    jobs.shift()!();
    expect(c.log).toEqual(["text:compressed", "close:1000:bye", "closeTransport"]);
    expect(c.transportClosed).toBe(1);
    expect(c.sent().map((frame) => frame.opcode)).toEqual([Opcode.Close]);
  });

  it("a client ends its side after the FIN too, once, after the echoed close", () => {
    const { compression, jobs } = heldCompression({ holdInflate: true });
    const c = connection({ compression, role: "client" });
    c.receive(
      { opcode: Opcode.Binary, payload: "x", rsv1: true },
      { opcode: Opcode.Close, payload: closePayload(1001) },
    );
    c.protocol.receiveEnd();
    jobs.shift()!();
    expect(c.log).toEqual(["binary:x", "close:1001:", "closeTransport"]);
  });

  it("ends at once when nothing waits, and closes the transport only once", () => {
    const c = connection();
    c.receive({ opcode: Opcode.Close, payload: closePayload(1000) });
    c.protocol.receiveEnd();
    expect(c.log).toEqual(["close:1000:", "closeTransport"]);
    expect(c.transportClosed).toBe(1);
    const bare = connection();
    bare.protocol.receiveEnd();
    expect(bare.log).toEqual(["closeTransport"]);
    expect(bare.protocol.state).toBe("closed");
  });

  it("ends after sends queued behind a compression job have been written", () => {
    const { compression, jobs } = heldCompression({ holdInflate: true });
    const c = connection({ compression });
    c.protocol.send(text("reply"), false);
    c.protocol.receiveEnd();
    expect(c.transportClosed).toBe(0);
    jobs.shift()!();
    expect(c.sent().map((frame) => new TextDecoder().decode(frame.payload))).toEqual(["reply"]);
    expect(c.transportClosed).toBe(1);
  });

  it("a transport that closes meanwhile stops everything (receiveEof)", () => {
    const { compression, jobs } = heldCompression({ holdInflate: true });
    const c = connection({ compression });
    c.receive({ opcode: Opcode.Text, payload: "late", rsv1: true });
    c.protocol.receiveEnd();
    c.protocol.receiveEof();
    jobs.shift()!();
    expect(c.log).toEqual([]);
  });
});

describe("Protocol: the queue behind compression", () => {
  it("does not keep a dead slot per message when it never empties", () => {
    const { compression, jobs } = heldCompression();
    const c = connection({ compression });
    // Every message is compressed, and a new one is sent before the job ahead of it finishes, so
    // the queue is never empty (a steady stream of tiny compressed messages).
    c.protocol.send(text("m"), false);
    for (let i = 0; i < 20_000; i++) {
      c.protocol.send(text("m"), false);
      c.protocol.send(text(""), false, { compress: false });
      jobs.shift()!();
    }
    const queue = (c.protocol as unknown as { side: { queue: unknown[] | null } }).side.queue;
    expect(queue!.length).toBeLessThan(4096);
    expect(c.sent().length).toBeGreaterThan(39_000);
  });
});

describe("Protocol: shells that encode small frames themselves (writeFrame)", () => {
  /** A shell with `writeFrame`: small frames go through a WriteBatch, in order with `write`. */
  function encodingShell(role: "server" | "client") {
    const out: Uint8Array[] = [];
    const routes: string[] = [];
    const keys: number[][] = [];
    const batch = new WriteBatch();
    const protocol = new Protocol(
      { role },
      {
        write: (chunks) => {
          routes.push(`write:${chunks.reduce((n, chunk) => n + chunk.length, 0)}`);
          out.push(...chunks);
        },
        writeFrame: (opcode, payload, fin, rsv1, maskKey) => {
          routes.push(`frame:${opcode}:${payload.length}`);
          if (maskKey !== undefined) keys.push(Array.from(maskKey));
          batch.addFrame(opcode, payload, fin, rsv1, maskKey);
          out.push(batch.take()!);
        },
        onMessage() {},
        onClose() {},
        onError() {},
        closeTransport() {},
      },
    );
    return { protocol, routes, keys, sent: () => decodeFrames(concatBytes(...out)) };
  }

  it("hands a server's small frames to writeFrame and larger ones, encoded, to write, in order", () => {
    const shell = encodingShell("server");
    const big = new Uint8Array(3000).fill(7);
    expect(WriteBatch.acceptsFrame(big.length)).toBe(false);
    shell.protocol.send(text("small"), false);
    shell.protocol.send(big, true);
    shell.protocol.ping(text("p"));
    shell.protocol.send(new Uint8Array(0), true);
    shell.protocol.close(1000, "bye");
    expect(shell.routes).toEqual([
      `frame:${Opcode.Text}:5`,
      `write:${big.length + 4}`,
      `frame:${Opcode.Ping}:1`,
      `frame:${Opcode.Binary}:0`,
      `frame:${Opcode.Close}:5`,
    ]);
    expect(shell.keys).toEqual([]);
    expect(shell.sent()).toEqual([
      { fin: true, rsv1: false, opcode: Opcode.Text, masked: false, payload: text("small") },
      { fin: true, rsv1: false, opcode: Opcode.Binary, masked: false, payload: big },
      { fin: true, rsv1: false, opcode: Opcode.Ping, masked: false, payload: text("p") },
      { fin: true, rsv1: false, opcode: Opcode.Binary, masked: false, payload: new Uint8Array(0) },
      { fin: true, rsv1: false, opcode: Opcode.Close, masked: false, payload: closePayload(1000, "bye") },
    ]);
  });

  it("gives a client's writeFrame a fresh mask key for every frame", () => {
    const shell = encodingShell("client");
    for (let i = 0; i < 20; i++) shell.protocol.send(text(`m${i}`), false);
    expect(shell.keys).toHaveLength(20);
    expect(new Set(shell.keys.map((key) => key.join(","))).size).toBeGreaterThan(15);
    const frames = shell.sent();
    expect(frames.map((frame) => frame.masked)).toEqual(Array(20).fill(true));
    expect(frames.map((frame) => new TextDecoder().decode(frame.payload))).toEqual(
      Array.from({ length: 20 }, (_, i) => `m${i}`),
    );
  });
});
