import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildFrame, concatBytes, splitAt, text, type TestFrame } from "../test/frames.js";
import { ErrorCode, type WebSocketError } from "./errors.js";
import type { CompressionCallback, MessageCompression } from "./extension.js";
import { Opcode } from "./opcode.js";
import { INFLATE_BACKLOG_LIMIT, Receiver, type ReceiverOptions } from "./receiver.js";

type Event =
  | { type: "message"; isBinary: boolean; data: string }
  | { type: "ping" | "pong"; data: string }
  | { type: "close"; code: number; reason: string }
  | { type: "error"; code: string; closeCode: number };

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function record(options: Partial<ReceiverOptions> = {}) {
  const events: Event[] = [];
  const receiver = new Receiver(
    { role: "server", ...options },
    {
      onMessage: (data, isBinary) =>
        events.push({ type: "message", isBinary, data: isBinary ? hex(data) : new TextDecoder().decode(data) }),
      onPing: (data) => events.push({ type: "ping", data: hex(data) }),
      onPong: (data) => events.push({ type: "pong", data: hex(data) }),
      onClose: (code, reason) => events.push({ type: "close", code, reason }),
      onError: (error: WebSocketError) => events.push({ type: "error", code: error.code, closeCode: error.closeCode }),
    },
  );
  return { receiver, events };
}

function feed(frames: TestFrame[], options: Partial<ReceiverOptions> = {}, cuts?: number[]) {
  const { receiver, events } = record(options);
  const masked = (options.role ?? "server") === "server";
  const bytes = concatBytes(...frames.map((frame) => buildFrame({ mask: masked, ...frame })));
  for (const chunk of cuts ? splitAt(bytes, cuts) : [bytes]) receiver.push(chunk);
  return events;
}

const errorOf = (events: Event[]) => events.find((event) => event.type === "error");

describe("Receiver: RFC 6455 §5.7 examples", () => {
  it("parses a single-frame unmasked text message (client side)", () => {
    const { receiver, events } = record({ role: "client" });
    receiver.push(Uint8Array.of(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f));
    expect(events).toEqual([{ type: "message", isBinary: false, data: "Hello" }]);
  });

  it("parses a single-frame masked text message (server side)", () => {
    const { receiver, events } = record({ role: "server" });
    receiver.push(Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58));
    expect(events).toEqual([{ type: "message", isBinary: false, data: "Hello" }]);
  });

  it("reassembles a fragmented unmasked text message", () => {
    const { receiver, events } = record({ role: "client" });
    receiver.push(Uint8Array.of(0x01, 0x03, 0x48, 0x65, 0x6c));
    expect(events).toEqual([]);
    receiver.push(Uint8Array.of(0x80, 0x02, 0x6c, 0x6f));
    expect(events).toEqual([{ type: "message", isBinary: false, data: "Hello" }]);
  });

  it("parses unmasked ping and masked pong", () => {
    const client = record({ role: "client" });
    client.receiver.push(Uint8Array.of(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f));
    expect(client.events).toEqual([{ type: "ping", data: hex(text("Hello")) }]);
    const server = record({ role: "server" });
    server.receiver.push(Uint8Array.of(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58));
    expect(server.events).toEqual([{ type: "pong", data: hex(text("Hello")) }]);
  });

  it("parses 256-byte and 64 KiB binary messages with 16- and 64-bit lengths", () => {
    const small = new Uint8Array(256).map((_, i) => i);
    const large = new Uint8Array(65536).map((_, i) => i * 7);
    const { receiver, events } = record({ role: "client" });
    receiver.push(concatBytes(Uint8Array.of(0x82, 0x7e, 0x01, 0x00), small));
    receiver.push(concatBytes(Uint8Array.of(0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0), large));
    expect(events).toEqual([
      { type: "message", isBinary: true, data: hex(small) },
      { type: "message", isBinary: true, data: hex(large) },
    ]);
  });
});

// A conversation exercising every path: fragments with control frames between them, every
// length form, empty frames, and a close at the end.
const conversation: TestFrame[] = [
  { opcode: Opcode.Text, payload: "héllo wörld ✓ 𝄞" },
  { opcode: Opcode.Binary, payload: new Uint8Array(300).map((_, i) => i), lengthForm: 64 },
  { opcode: Opcode.Text, fin: false, payload: "frag" },
  { opcode: Opcode.Ping, payload: "p1" },
  { opcode: Opcode.Continuation, fin: false, payload: "" },
  { opcode: Opcode.Pong, payload: "" },
  { opcode: Opcode.Continuation, payload: "mented €" },
  { opcode: Opcode.Binary, payload: new Uint8Array(0) },
  { opcode: Opcode.Text, payload: "x".repeat(70000) },
  { opcode: Opcode.Close, payload: concatBytes(Uint8Array.of(0x03, 0xe8), text("bye")) },
];
const conversationEvents: Event[] = [
  { type: "message", isBinary: false, data: "héllo wörld ✓ 𝄞" },
  { type: "message", isBinary: true, data: hex(new Uint8Array(300).map((_, i) => i)) },
  { type: "ping", data: hex(text("p1")) },
  { type: "pong", data: "" },
  { type: "message", isBinary: false, data: "fragmented €" },
  { type: "message", isBinary: true, data: "" },
  { type: "message", isBinary: false, data: "x".repeat(70000) },
  { type: "close", code: 1000, reason: "bye" },
];

describe("Receiver: incremental parsing", () => {
  it("gives the same events when fed whole", () => {
    expect(feed(conversation)).toEqual(conversationEvents);
  });

  it("gives the same events when fed one byte at a time", () => {
    const bytes = concatBytes(...conversation.map((frame) => buildFrame({ mask: true, ...frame })));
    const { receiver, events } = record();
    for (let i = 0; i < bytes.length; i++) receiver.push(bytes.subarray(i, i + 1));
    expect(events).toEqual(conversationEvents);
  });

  it("gives the same events for random splits (client and server side)", () => {
    const total = concatBytes(...conversation.map((frame) => buildFrame({ mask: true, ...frame }))).length;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: total - 1 }), { maxLength: 40 }), fc.boolean(), (cuts, server) => {
        expect(feed(conversation, { role: server ? "server" : "client" }, cuts)).toEqual(conversationEvents);
      }),
      { numRuns: 150 },
    );
  });

  it("round-trips every length boundary in every length form it fits", () => {
    const lengths = [0, 1, 124, 125, 126, 127, 65535, 65536, 65537, 200_000];
    for (const length of lengths) {
      const payload = new Uint8Array(length).map((_, i) => (i * 31) & 0xff);
      const forms: Array<7 | 16 | 64> = length < 126 ? [7, 16, 64] : length < 65536 ? [16, 64] : [64];
      for (const lengthForm of forms) {
        // RFC 6455 §5.2 asks for the minimal form, but a longer one is still a valid length.
        const events = feed([{ opcode: Opcode.Binary, payload, lengthForm }]);
        expect(events).toEqual([{ type: "message", isBinary: true, data: hex(payload) }]);
      }
    }
  });

  it("delivers random payloads split at random points intact", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.array(fc.nat(3020), { maxLength: 10 }),
        (payload, cuts) => {
          const events = feed([{ opcode: Opcode.Binary, payload }], {}, cuts);
          expect(events).toEqual([{ type: "message", isBinary: true, data: hex(payload) }]);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("Receiver: the last piece of a message that spans reads", () => {
  // From 1 KiB on, that piece is unmasked straight into the message's buffer (deliverLastPiece).
  // The receiver unmasks the pieces before it in place: every read gets bytes of its own.
  const payload = new Uint8Array(5000).map((_, i) => (i * 7 + 3) & 0xff);
  const masked = () => buildFrame({ opcode: Opcode.Binary, payload, mask: true });

  it("delivers the message intact wherever the split falls in the mask's cycle", () => {
    for (let cut = 1; cut < payload.length + 8 - 1024; cut += 37) {
      const frame = masked();
      const { receiver, events } = record();
      receiver.push(frame.subarray(0, cut));
      receiver.push(frame.slice(cut));
      expect(events, `cut at ${cut}`).toEqual([{ type: "message", isBinary: true, data: hex(payload) }]);
    }
  });

  it("goes on with the frames after it in the same read", () => {
    const ping = buildFrame({ opcode: Opcode.Ping, payload: text("after"), mask: true });
    const frame = masked();
    const { receiver, events } = record();
    receiver.push(frame.subarray(0, 1500));
    receiver.push(concatBytes(frame.subarray(1500), ping));
    expect(events).toEqual([
      { type: "message", isBinary: true, data: hex(payload) },
      { type: "ping", data: hex(text("after")) },
    ]);
  });

  it("checks UTF-8 across the split, and in the last piece itself", () => {
    const message = "é€😀 ".repeat(400);
    for (const cut of [13, 14, 15, 16, 501, 502, 503]) {
      const bytes = buildFrame({ opcode: Opcode.Text, payload: text(message), mask: true });
      const { receiver, events } = record();
      receiver.push(bytes.subarray(0, cut));
      receiver.push(bytes.slice(cut));
      expect(events, `cut at ${cut}`).toEqual([{ type: "message", isBinary: false, data: message }]);
    }
    const invalid = text("a".repeat(3000));
    invalid[2500] = 0xff;
    const bad = buildFrame({ opcode: Opcode.Text, payload: invalid, mask: true });
    const { receiver, events } = record();
    receiver.push(bad.subarray(0, 100));
    receiver.push(bad.slice(100));
    expect(events).toEqual([{ type: "error", code: ErrorCode.InvalidUtf8, closeCode: 1007 }]);
    // A message that ends inside a sequence fails too.
    const truncated = concatBytes(text("b".repeat(2000)), Uint8Array.of(0xe2, 0x82));
    const cut = buildFrame({ opcode: Opcode.Text, payload: truncated, mask: true });
    const second = record();
    second.receiver.push(cut.subarray(0, 50));
    second.receiver.push(cut.slice(50));
    expect(second.events).toEqual([{ type: "error", code: ErrorCode.InvalidUtf8, closeCode: 1007 }]);
  });

  it("joins a final fragment that came whole to the fragments held before it", () => {
    const first = text("x".repeat(700));
    const last = text("y".repeat(3000));
    const { receiver, events } = record();
    receiver.push(buildFrame({ opcode: Opcode.Text, payload: first, fin: false, mask: true }));
    receiver.push(buildFrame({ opcode: Opcode.Continuation, payload: last, mask: true }));
    expect(events).toEqual([{ type: "message", isBinary: false, data: "x".repeat(700) + "y".repeat(3000) }]);
  });
});

describe("Receiver: protocol violations", () => {
  const violation = (frames: TestFrame[], options: Partial<ReceiverOptions> = {}) => errorOf(feed(frames, options));

  it("rejects a 64-bit length with the top bit set (1002)", () => {
    const { receiver, events } = record({ role: "client" });
    receiver.push(Uint8Array.of(0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1));
    expect(events).toEqual([{ type: "error", code: ErrorCode.InvalidPayloadLength, closeCode: 1002 }]);
  });

  it("rejects RSV bits no extension claims (1002)", () => {
    for (const bits of [{ rsv1: true }, { rsv2: true }, { rsv3: true }]) {
      expect(violation([{ opcode: Opcode.Text, payload: "a", ...bits }])).toEqual({
        type: "error",
        code: ErrorCode.UnexpectedRsv,
        closeCode: 1002,
      });
    }
  });

  it("rejects RSV1 on continuation and control frames even with compression (1002)", () => {
    const compression = fakeCompression("sync");
    expect(
      violation(
        [
          { opcode: Opcode.Text, fin: false, payload: "a", rsv1: true },
          { opcode: Opcode.Continuation, payload: "b", rsv1: true },
        ],
        { compression },
      ),
    ).toMatchObject({ code: ErrorCode.UnexpectedRsv, closeCode: 1002 });
    expect(violation([{ opcode: Opcode.Ping, rsv1: true }], { compression })).toMatchObject({
      code: ErrorCode.UnexpectedRsv,
    });
  });

  it("rejects every reserved opcode (1002)", () => {
    for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
      expect(violation([{ opcode, payload: "x" }])).toEqual({
        type: "error",
        code: ErrorCode.InvalidOpcode,
        closeCode: 1002,
      });
    }
  });

  it("rejects fragmented and oversized control frames (1002)", () => {
    expect(violation([{ opcode: Opcode.Ping, fin: false }])).toMatchObject({
      code: ErrorCode.FragmentedControlFrame,
      closeCode: 1002,
    });
    expect(violation([{ opcode: Opcode.Pong, payload: new Uint8Array(126) }])).toMatchObject({
      code: ErrorCode.ControlFrameTooLong,
      closeCode: 1002,
    });
    expect(feed([{ opcode: Opcode.Ping, payload: new Uint8Array(125) }])).toEqual([
      { type: "ping", data: "00".repeat(125) },
    ]);
  });

  it("requires masked frames on the server and unmasked ones on the client (1002)", () => {
    const server = record({ role: "server" });
    server.receiver.push(buildFrame({ opcode: Opcode.Text, payload: "a" }));
    expect(server.events).toEqual([{ type: "error", code: ErrorCode.ExpectedMask, closeCode: 1002 }]);
    const client = record({ role: "client" });
    client.receiver.push(buildFrame({ opcode: Opcode.Text, payload: "a", mask: true }));
    expect(client.events).toEqual([{ type: "error", code: ErrorCode.UnexpectedMask, closeCode: 1002 }]);
  });

  it("rejects a continuation with nothing to continue, and a new message mid-message (1002)", () => {
    expect(violation([{ opcode: Opcode.Continuation, payload: "a" }])).toMatchObject({
      code: ErrorCode.UnexpectedContinuation,
      closeCode: 1002,
    });
    expect(
      violation([
        { opcode: Opcode.Text, fin: false, payload: "a" },
        { opcode: Opcode.Binary, payload: "b" },
      ]),
    ).toMatchObject({ code: ErrorCode.ExpectedContinuation, closeCode: 1002 });
  });

  it("parses nothing after an error", () => {
    const events = feed([{ opcode: 3 }, { opcode: Opcode.Text, payload: "after" }]);
    expect(events).toEqual([{ type: "error", code: ErrorCode.InvalidOpcode, closeCode: 1002 }]);
  });

  it("parses nothing after a close frame", () => {
    const events = feed([{ opcode: Opcode.Close }, { opcode: Opcode.Text, payload: "after" }]);
    expect(events).toEqual([{ type: "close", code: 1005, reason: "" }]);
  });

  it("rejects bad close payloads with 1002 or 1007", () => {
    expect(violation([{ opcode: Opcode.Close, payload: Uint8Array.of(0x03) }])).toMatchObject({
      code: ErrorCode.InvalidClosePayload,
      closeCode: 1002,
    });
    expect(violation([{ opcode: Opcode.Close, payload: Uint8Array.of(0x03, 0xed) }])).toMatchObject({
      code: ErrorCode.InvalidCloseCode,
      closeCode: 1002,
    });
    expect(violation([{ opcode: Opcode.Close, payload: Uint8Array.of(0x03, 0xe8, 0xff) }])).toMatchObject({
      code: ErrorCode.InvalidUtf8,
      closeCode: 1007,
    });
  });
});

describe("Receiver: UTF-8 fails fast", () => {
  it("reports invalid UTF-8 in the middle of a frame as soon as the bad bytes arrive", () => {
    // "κόσμε" then an invalid byte, then more valid text that has not arrived yet.
    const payload = concatBytes(text("κόσμε"), Uint8Array.of(0xf4, 0x90), text("edited"));
    const bytes = buildFrame({ opcode: Opcode.Text, payload, mask: true });
    const headerSize = 6;
    const { receiver, events } = record();
    receiver.push(bytes.subarray(0, headerSize + 10));
    expect(events).toEqual([]);
    receiver.push(bytes.subarray(headerSize + 10, headerSize + 12));
    expect(events).toEqual([{ type: "error", code: ErrorCode.InvalidUtf8, closeCode: 1007 }]);
  });

  it("reports invalid UTF-8 in a non-final fragment before the message ends", () => {
    const { receiver, events } = record();
    receiver.push(buildFrame({ opcode: Opcode.Text, fin: false, payload: "valid", mask: true }));
    expect(events).toEqual([]);
    receiver.push(buildFrame({ opcode: Opcode.Continuation, fin: false, payload: Uint8Array.of(0xed, 0xa0, 0x80), mask: true }));
    expect(events).toEqual([{ type: "error", code: ErrorCode.InvalidUtf8, closeCode: 1007 }]);
  });

  it("accepts a code point split across fragments and rejects a message that ends inside one", () => {
    const euro = text("€");
    expect(
      feed([
        { opcode: Opcode.Text, fin: false, payload: euro.subarray(0, 1) },
        { opcode: Opcode.Continuation, fin: false, payload: euro.subarray(1, 2) },
        { opcode: Opcode.Continuation, payload: euro.subarray(2) },
      ]),
    ).toEqual([{ type: "message", isBinary: false, data: "€" }]);
    expect(errorOf(feed([{ opcode: Opcode.Text, payload: euro.subarray(0, 2) }]))).toMatchObject({
      code: ErrorCode.InvalidUtf8,
      closeCode: 1007,
    });
  });

  it("does not check binary messages", () => {
    expect(feed([{ opcode: Opcode.Binary, payload: Uint8Array.of(0xff, 0xfe) }])).toEqual([
      { type: "message", isBinary: true, data: "fffe" },
    ]);
  });
});

describe("Receiver: limits", () => {
  it("rejects a declared length over maxPayload before any payload arrives (1009)", () => {
    const { receiver, events } = record({ role: "client", maxPayload: 1000 });
    receiver.push(Uint8Array.of(0x82, 0x7f, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff));
    expect(events).toEqual([{ type: "error", code: ErrorCode.MessageTooBig, closeCode: 1009 }]);
  });

  it("counts every fragment of a message against maxPayload", () => {
    const frames: TestFrame[] = [
      { opcode: Opcode.Binary, fin: false, payload: new Uint8Array(600) },
      { opcode: Opcode.Continuation, payload: new Uint8Array(600) },
    ];
    expect(errorOf(feed(frames, { maxPayload: 1000 }))).toMatchObject({ code: ErrorCode.MessageTooBig });
    expect(feed(frames, { maxPayload: 1200 })).toHaveLength(1);
  });

  it("closes a flood of empty fragments with 1008 (SECURITY.md row 5)", () => {
    const { receiver, events } = record({ maxFragments: 100 });
    receiver.push(buildFrame({ opcode: Opcode.Text, fin: false, mask: true }));
    const empty = buildFrame({ opcode: Opcode.Continuation, fin: false, mask: true });
    for (let i = 0; i < 1000 && events.length === 0; i++) receiver.push(empty);
    expect(events).toEqual([{ type: "error", code: ErrorCode.TooManyFragments, closeCode: 1008 }]);
  });

  it("coalesces tiny TCP chunks so that a message sent a byte at a time stays a few pieces", () => {
    const payload = new Uint8Array(200_000).map((_, i) => i);
    const bytes = buildFrame({ opcode: Opcode.Binary, payload, mask: true });
    const { receiver, events } = record({ maxBufferedChunks: 8 });
    for (let i = 0; i < bytes.length; i++) receiver.push(bytes.subarray(i, i + 1));
    expect(events).toEqual([{ type: "message", isBinary: true, data: hex(payload) }]);
  });

  it("closes with 1008 when a message is held in more pieces than maxBufferedChunks", () => {
    const frames: TestFrame[] = [{ opcode: Opcode.Binary, fin: false, payload: new Uint8Array(2048) }];
    for (let i = 0; i < 20; i++) frames.push({ opcode: Opcode.Continuation, fin: false, payload: new Uint8Array(2048) });
    expect(errorOf(feed(frames, { maxBufferedChunks: 10 }))).toEqual({
      type: "error",
      code: ErrorCode.TooManyBufferedChunks,
      closeCode: 1008,
    });
  });

  it("rejects limits that are not positive integers", () => {
    expect(() => record({ maxPayload: 0 })).toThrow(RangeError);
    expect(() => record({ maxFragments: 1.5 })).toThrow(RangeError);
  });
});

/** A stand-in compression that "inflates" by reversing the bytes, synchronously or later. */
function fakeCompression(mode: "sync" | "async", failWith?: Error): MessageCompression & { calls: number } {
  return {
    calls: 0,
    threshold: 0,
    compress(data: Uint8Array, _fin: boolean, callback: CompressionCallback) {
      callback(null, [data.slice().reverse()]);
    },
    decompress(data: Uint8Array, _fin: boolean, _max: number, callback: CompressionCallback) {
      this.calls++;
      const run = () => (failWith ? callback(failWith, []) : callback(null, [data.slice().reverse()]));
      if (mode === "sync") run();
      else setTimeout(run, 1);
    },
    close() {},
  };
}

describe("Receiver: compressed messages", () => {
  for (const mode of ["sync", "async"] as const) {
    it(`inflates RSV1 messages (${mode}) and keeps control frames in order behind them`, async () => {
      const compression = fakeCompression(mode);
      const { receiver, events } = record({ compression });
      const frames: TestFrame[] = [
        { opcode: Opcode.Text, rsv1: true, fin: false, payload: "cba" },
        { opcode: Opcode.Continuation, payload: "fed" },
        { opcode: Opcode.Ping, payload: "after" },
        { opcode: Opcode.Text, payload: "plain" },
        { opcode: Opcode.Binary, rsv1: true, payload: Uint8Array.of(2, 1) },
        { opcode: Opcode.Close },
      ];
      const bytes = concatBytes(...frames.map((frame) => buildFrame({ mask: true, ...frame })));
      for (let i = 0; i < bytes.length; i += 5) receiver.push(bytes.subarray(i, i + 5));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(events).toEqual([
        { type: "message", isBinary: false, data: "abcdef" },
        { type: "ping", data: hex(text("after")) },
        { type: "message", isBinary: false, data: "plain" },
        { type: "message", isBinary: true, data: "0102" },
        { type: "close", code: 1005, reason: "" },
      ]);
      expect(compression.calls).toBe(3);
    });
  }

  it("fails with the inflater's error, and with 1007 for invalid UTF-8 after inflating", () => {
    const broken = feed([{ opcode: Opcode.Text, rsv1: true, payload: "x" }], {
      compression: fakeCompression("sync", new Error("bad stream")),
    });
    expect(broken).toEqual([{ type: "error", code: ErrorCode.InflateFailed, closeCode: 1007 }]);
    const badText = feed([{ opcode: Opcode.Text, rsv1: true, payload: Uint8Array.of(0xff) }], {
      compression: fakeCompression("sync"),
    });
    expect(badText).toEqual([{ type: "error", code: ErrorCode.InvalidUtf8, closeCode: 1007 }]);
  });
});

describe("Receiver: input held behind an inflate", () => {
  /** A compression whose inflates finish only when the test says so. */
  function steppedCompression() {
    const waiting: Array<() => void> = [];
    const compression: MessageCompression = {
      threshold: 0,
      compress: (data, _fin, callback) => callback(null, [data]),
      decompress: (data, _fin, _max, callback) => void waiting.push(() => callback(null, [data.slice()])),
      close() {},
    };
    return { compression, step: () => waiting.shift()?.(), get waiting() { return waiting.length; } };
  }

  it("asks to stop reading past INFLATE_BACKLOG_LIMIT held bytes, and to read again at half of it", () => {
    const { compression, step } = steppedCompression();
    const backlog: boolean[] = [];
    const messages: string[] = [];
    const receiver = new Receiver(
      { role: "server", compression },
      {
        onMessage: (data) => messages.push(new TextDecoder().decode(data)),
        onPing: () => undefined,
        onPong: () => undefined,
        onClose: () => undefined,
        onError: (error) => messages.push(`error ${error.code}`),
        onReceiveBacklog: (backlogged) => backlog.push(backlogged),
      },
    );
    const wire = (i: number) => buildFrame({ mask: true, opcode: Opcode.Text, rsv1: true, payload: `m${String(i).padStart(5, "0")}` });
    const frameSize = wire(0).length; // 6 header + 6 payload bytes
    const count = Math.ceil((2 * INFLATE_BACKLOG_LIMIT) / frameSize);
    // Arrives in 1 KiB reads while the first message inflates.
    const bytes = concatBytes(...Array.from({ length: count }, (_, i) => wire(i)));
    for (let at = 0; at < bytes.length; at += 1024) receiver.push(bytes.subarray(at, at + 1024));
    expect(backlog).toEqual([true]);

    // Held input drains one inflate at a time; reading resumes once half the limit is left.
    let delivered = 0;
    while (backlog.length === 1) {
      step();
      delivered++;
    }
    expect(backlog).toEqual([true, false]);
    const left = count - delivered;
    expect(left * frameSize).toBeLessThanOrEqual(INFLATE_BACKLOG_LIMIT / 2 + frameSize);
    expect(left * frameSize).toBeGreaterThan(INFLATE_BACKLOG_LIMIT / 2 - 2 * frameSize);
    while (messages.length < count) step();
    expect(messages).toEqual(Array.from({ length: count }, (_, i) => `m${String(i).padStart(5, "0")}`));
    expect(backlog).toEqual([true, false]);
  });

  it("asks to read again when a close frame or an error ends parsing with input held", () => {
    for (const last of [{ opcode: Opcode.Close }, { opcode: 0x3 }] as TestFrame[]) {
      const stepped = steppedCompression();
      const { compression } = stepped;
      const backlog: boolean[] = [];
      const receiver = new Receiver(
        { role: "server", compression },
        {
          onMessage: () => undefined,
          onPing: () => undefined,
          onPong: () => undefined,
          onClose: () => undefined,
          onError: () => undefined,
          onReceiveBacklog: (backlogged) => backlog.push(backlogged),
        },
      );
      receiver.push(buildFrame({ mask: true, opcode: Opcode.Binary, rsv1: true, payload: "first" }));
      receiver.push(buildFrame({ mask: true, opcode: Opcode.Binary, payload: new Uint8Array(INFLATE_BACKLOG_LIMIT) }));
      receiver.push(buildFrame({ mask: true, ...last }));
      expect(backlog).toEqual([true]);
      stepped.step();
      expect(stepped.waiting).toBe(0);
      expect(receiver.stopped).toBe(true);
      expect(backlog).toEqual([true, false]);
    }
  });
});

describe("Receiver: fuzz", () => {
  it("never throws on random or mutated input, and reports at most one error", () => {
    const valid = concatBytes(...conversation.slice(0, 8).map((frame) => buildFrame({ mask: true, ...frame })));
    const mutated = fc
      .array(fc.record({ at: fc.nat(valid.length - 1), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 8 })
      .map((edits) => {
        const copy = valid.slice();
        for (const edit of edits) copy[edit.at] = edit.value;
        return copy;
      });
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 4096 }), mutated),
        fc.array(fc.nat(5000), { maxLength: 12 }),
        fc.constantFrom<"server" | "client">("server", "client"),
        (bytes, cuts, role) => {
          const { receiver, events } = record({ role, maxPayload: 1 << 20 });
          for (const chunk of splitAt(bytes, cuts)) receiver.push(chunk);
          const errors = events.filter((event) => event.type === "error");
          expect(errors.length).toBeLessThanOrEqual(1);
          if (errors.length === 1) expect(events[events.length - 1]!.type).toBe("error");
        },
      ),
      { numRuns: 2000 },
    );
  });
});
