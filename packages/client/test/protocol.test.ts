// Autobahn-style cases, one describe per case group: a scripted raw TCP server sends hand-made
// frames, and the test checks what the client answers (its masked frames, decoded independently)
// and what it reports. Like Autobahn's test client, the client echoes every message it receives.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { connect, type ClientOptions, type CloseInfo, type Message } from "../src/index.js";
import {
  binary,
  closeCodeOf,
  closeFrame,
  deflateMessage,
  frame,
  inflateMessage,
  open,
  scriptedServer,
  serverClosingFirst,
  TRANSPORTS,
  type TestTransport,
  text,
  type DecodedFrame,
  type ScriptedServer,
} from "./helpers.js";

let server: ScriptedServer | undefined;
/** The transport of the group running now (see the describe.each below). */
let transport: TestTransport = "HTTP/1.1";
const serve = (script?: Parameters<typeof scriptedServer>[0]): Promise<ScriptedServer> => scriptedServer(script, transport);
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface CaseResult {
  /** Every frame the client sent, until its close frame (or EOF). */
  frames: DecodedFrame[];
  messages: Message[];
  info: CloseInfo;
}

/**
 * Runs one case: the server answers 101 (with `accept` header lines), writes `script` frames, then
 * reads the client's frames until the client's close frame, which it answers (unless it sent one
 * already) before closing TCP.
 */
async function runCase(
  script: Array<Buffer | (() => Buffer)>,
  options: ClientOptions = { perMessageDeflate: false },
  accept: string[] = [],
): Promise<CaseResult> {
  const frames: DecodedFrame[] = [];
  server = await serve(async (peer) => {
    await peer.accept(accept);
    let sentClose = false;
    for (const item of script) {
      const bytes = typeof item === "function" ? item() : item;
      if ((bytes[0]! & 0x0f) === 8) sentClose = true;
      peer.write(bytes);
    }
    for (let f = await peer.readFrame(); f !== null; f = await peer.readFrame()) {
      frames.push(f);
      if (f.opcode === 8) {
        if (!sentClose) peer.write(closeFrame(closeCodeOf(f) ?? 1000));
        break;
      }
    }
    peer.socket.end();
  });
  const conn = await open(server, options);
  const messages: Message[] = [];
  conn.on("message", (data, isBinary) => {
    messages.push(data);
    conn.send(data, { binary: isBinary });
  });
  const info = await conn.closed;
  return { frames, messages, info };
}

const lastClose = (result: CaseResult): number | undefined => {
  const last = result.frames.at(-1);
  expect(last?.opcode).toBe(8);
  return closeCodeOf(last!);
};

// Every group runs against a scripted server reached over HTTP/1.1 and over HTTP/2 (RFC 8441).
describe.each(TRANSPORTS)("over %s", (current) => {
  beforeAll(() => {
    transport = current;
  });

  describe("1. framing", () => {
    it.each([0, 1, 125, 126, 127, 128, 65535, 65536, 100_000])("echoes a %i-byte text and binary message", async (size) => {
      const textPayload = "*".repeat(size);
      const binaryPayload = Buffer.alloc(size, 0xfe);
      const result = await runCase([text(textPayload), binary(binaryPayload), closeFrame(1000)]);
      expect(result.messages).toEqual([textPayload, binaryPayload]);
      expect(result.frames.map((f) => f.opcode)).toEqual([1, 2, 8]);
      expect(result.frames.every((f) => f.masked && f.fin && !f.rsv1)).toBe(true);
      expect(result.frames[0]!.payload.toString()).toBe(textPayload);
      expect(result.frames[1]!.payload.equals(binaryPayload)).toBe(true);
      expect(result.info).toMatchObject({ code: 1000, wasClean: true });
    });

    it("accepts a length in a longer form than needed", async () => {
      const result = await runCase([text("abc", { lengthForm: 64 }), text("de", { lengthForm: 16 }), closeFrame(1000)]);
      expect(result.messages).toEqual(["abc", "de"]);
    });

    it("handles frames split into single bytes", async () => {
      const bytes = Buffer.concat([text("split me"), closeFrame(1000)]);
      const result = await runCase([...bytes].map((byte) => Buffer.of(byte)));
      expect(result.messages).toEqual(["split me"]);
    });

    it("uses a fresh mask key for each frame", async () => {
      const script = Array.from({ length: 20 }, (_, i) => text(`m${i}`));
      const result = await runCase([...script, closeFrame(1000)]);
      const keys = new Set(result.frames.map((f) => f.maskKey.toString("hex")));
      expect(keys.size).toBeGreaterThan(15);
    });
  });

  describe("2. ping and pong", () => {
    it.each([0, 10, 125])("answers a ping with %i bytes with a pong carrying the same payload", async (size) => {
      const payload = Buffer.alloc(size, 0x41);
      const result = await runCase([frame({ opcode: 9, payload }), closeFrame(1000)]);
      expect(result.frames[0]!.opcode).toBe(10);
      expect(result.frames[0]!.payload.equals(payload)).toBe(true);
      expect(lastClose(result)).toBe(1000);
    });

    it("fails with 1002 on a ping over 125 bytes", async () => {
      const result = await runCase([frame({ opcode: 9, payload: Buffer.alloc(126) })]);
      expect(result.frames.map((f) => f.opcode)).toEqual([8]);
      expect(lastClose(result)).toBe(1002);
      expect(result.info.code).toBe(1006);
      expect(result.info.error).toMatchObject({ code: "WS_ERR_CONTROL_FRAME_TOO_LONG" });
    });

    it("ignores an unsolicited pong", async () => {
      const result = await runCase([frame({ opcode: 10, payload: "x" }), text("after"), closeFrame(1000)]);
      expect(result.frames.map((f) => f.opcode)).toEqual([1, 8]);
    });

    it("answers ten pings with ten pongs in order", async () => {
      const pings = Array.from({ length: 10 }, (_, i) => frame({ opcode: 9, payload: `p${i}` }));
      const result = await runCase([...pings, closeFrame(1000)]);
      expect(result.frames.slice(0, 10).map((f) => f.payload.toString())).toEqual(pings.map((_, i) => `p${i}`));
    });

    it("fails with 1002 on a fragmented ping", async () => {
      const result = await runCase([frame({ opcode: 9, fin: false, payload: "a" })]);
      expect(lastClose(result)).toBe(1002);
    });

    it("emits ping and pong events and sends pings", async () => {
      server = await serve(async (peer) => {
        await peer.accept();
        const ping = await peer.readFrame();
        peer.write(frame({ opcode: 10, payload: ping!.payload }));
        peer.write(frame({ opcode: 9, payload: "srv" }));
      });
      const conn = await open(server);
      const pong = new Promise<Buffer>((resolve) => conn.once("pong", resolve));
      const ping = new Promise<Buffer>((resolve) => conn.once("ping", resolve));
      expect(conn.ping("hi")).toBe(true);
      expect((await pong).toString()).toBe("hi");
      expect((await ping).toString()).toBe("srv");
      expect(() => conn.ping(Buffer.alloc(126))).toThrow(RangeError);
      conn.terminate();
    });
  });

  describe("3. reserved bits", () => {
    it.each([
      ["rsv1 on text", frame({ opcode: 1, rsv1: true, payload: "x" })],
      ["rsv2 on text", frame({ opcode: 1, rsv2: true, payload: "x" })],
      ["rsv3 on binary", frame({ opcode: 2, rsv3: true, payload: "x" })],
      ["rsv1+rsv3 on ping", frame({ opcode: 9, rsv1: true, rsv3: true })],
      ["rsv2 on close", frame({ opcode: 8, rsv2: true })],
    ])("fails with 1002 on %s, after echoing the message before it", async (_name, bad) => {
      const result = await runCase([text("ok"), bad]);
      expect(result.messages).toEqual(["ok"]);
      expect(result.frames[0]!.payload.toString()).toBe("ok");
      expect(lastClose(result)).toBe(1002);
      expect(result.info.error).toMatchObject({ code: "WS_ERR_UNEXPECTED_RSV" });
    });
  });

  describe("4. opcodes", () => {
    it.each([3, 4, 5, 6, 7, 11, 12, 13, 14, 15])("fails with 1002 on reserved opcode %i", async (opcode) => {
      const result = await runCase([text("ok"), frame({ opcode, payload: "x" }), text("never")]);
      expect(result.messages).toEqual(["ok"]);
      expect(lastClose(result)).toBe(1002);
      expect(result.info.error).toMatchObject({ code: "WS_ERR_INVALID_OPCODE" });
    });
  });

  describe("5. fragmentation", () => {
    it("reassembles a fragmented text message with a ping in the middle (pong first)", async () => {
      const result = await runCase([
        frame({ opcode: 1, fin: false, payload: "frag" }),
        frame({ opcode: 9, payload: "p" }),
        frame({ opcode: 0, fin: false, payload: "men" }),
        frame({ opcode: 0, payload: "ted" }),
        closeFrame(1000),
      ]);
      expect(result.messages).toEqual(["fragmented"]);
      expect(result.frames.map((f) => f.opcode)).toEqual([10, 1, 8]);
    });

    it("accepts empty fragments", async () => {
      const result = await runCase([
        frame({ opcode: 2, fin: false }),
        frame({ opcode: 0, fin: false }),
        frame({ opcode: 0, payload: Buffer.of(1) }),
        closeFrame(1000),
      ]);
      expect(result.messages).toEqual([Buffer.of(1)]);
    });

    it("fails with 1002 on a continuation without a message", async () => {
      const result = await runCase([frame({ opcode: 0, payload: "x" })]);
      expect(lastClose(result)).toBe(1002);
    });

    it("fails with 1002 on a new message inside a fragmented one", async () => {
      const result = await runCase([frame({ opcode: 1, fin: false, payload: "a" }), text("b")]);
      expect(lastClose(result)).toBe(1002);
    });

    it("streams a message as fragments with sendStream", async () => {
      server = await serve((peer) => void peer.accept());
      const conn = await open(server, { perMessageDeflate: false });
      const peer = await server.nextPeer();
      async function* chunks(): AsyncGenerator<string> {
        yield "one ";
        yield "two ";
        yield "three";
      }
      await conn.sendStream(chunks(), { binary: false });
      const frames = [await peer.readFrame(), await peer.readFrame(), await peer.readFrame()];
      expect(frames.map((f) => [f!.opcode, f!.fin])).toEqual([
        [1, false],
        [0, false],
        [0, true],
      ]);
      expect(frames.map((f) => f!.payload.toString()).join("")).toBe("one two three");
      conn.terminate();
    });
  });

  describe("6. UTF-8", () => {
    it("accepts valid multi-byte text split across fragments at any byte", async () => {
      const bytes = Buffer.from("κόσμε 🌍");
      const result = await runCase([
        frame({ opcode: 1, fin: false, payload: bytes.subarray(0, 1) }),
        frame({ opcode: 0, fin: false, payload: bytes.subarray(1, 10) }),
        frame({ opcode: 0, payload: bytes.subarray(10) }),
        closeFrame(1000),
      ]);
      expect(result.messages).toEqual(["κόσμε 🌍"]);
    });

    it.each([
      ["a lone continuation byte", Buffer.of(0x80)],
      ["an overlong encoding", Buffer.of(0xc0, 0xaf)],
      ["a surrogate", Buffer.of(0xed, 0xa0, 0x80)],
      ["a code point past U+10FFFF", Buffer.of(0xf4, 0x90, 0x80, 0x80)],
      ["0xff", Buffer.of(0x61, 0xff)],
    ])("fails with 1007 on %s", async (_name, payload) => {
      const result = await runCase([frame({ opcode: 1, payload })]);
      expect(lastClose(result)).toBe(1007);
      expect(result.info.error).toMatchObject({ code: "WS_ERR_INVALID_UTF8" });
    });

    it("fails fast: 1007 on the first bad fragment, before the message ends", async () => {
      // Only the first fragment is ever sent: a client that checks at the end would hang.
      const result = await runCase([frame({ opcode: 1, fin: false, payload: Buffer.of(0x61, 0xf8) })]);
      expect(lastClose(result)).toBe(1007);
    });
  });

  describe("7. close handling", () => {
    it("echoes a close frame without a payload with an empty close frame (code 1005)", async () => {
      const result = await runCase([closeFrame()]);
      expect(result.frames.map((f) => [f.opcode, f.payload.length])).toEqual([[8, 0]]);
      expect(result.info).toMatchObject({ code: 1005, reason: "", wasClean: true });
    });

    it("echoes the close code and reports the reason", async () => {
      const result = await runCase([closeFrame(3001, "going away now")]);
      expect(lastClose(result)).toBe(3001);
      expect(result.info).toMatchObject({ code: 3001, reason: "going away now", wasClean: true });
    });

    it("ignores frames after the close frame", async () => {
      const result = await runCase([closeFrame(1000), text("late")]);
      expect(result.messages).toEqual([]);
      expect(result.frames.map((f) => f.opcode)).toEqual([8]);
    });

    it("fails with 1002 on a one-byte close payload", async () => {
      const result = await runCase([frame({ opcode: 8, payload: Buffer.of(3) })]);
      expect(lastClose(result)).toBe(1002);
    });

    it.each([0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])("fails with 1002 on close code %i", async (code) => {
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(code);
      const result = await runCase([frame({ opcode: 8, payload })]);
      expect(lastClose(result)).toBe(1002);
      expect(result.info.code).toBe(1006);
    });

    it("fails with 1007 on a close reason that is not UTF-8", async () => {
      const result = await runCase([frame({ opcode: 8, payload: Buffer.of(0x03, 0xe8, 0xff) })]);
      expect(lastClose(result)).toBe(1007);
    });

    it("closes cleanly when the client starts the closing handshake", async () => {
      server = await serve(async (peer) => {
        await peer.accept();
        const f = await peer.readFrame();
        peer.write(closeFrame(closeCodeOf(f!)!, "ok"));
        peer.socket.end();
      });
      const conn = await open(server);
      const info = await conn.close(4001, "bye");
      expect(info).toEqual({ code: 4001, reason: "ok", wasClean: true });
      expect(conn.readyState).toBe(3);
      expect(conn.send("x")).toBe(false);
    });

    it("rejects invalid close arguments on the Node API", async () => {
      server = await serve((peer) => void peer.accept());
      const conn = await open(server);
      expect(() => conn.close(1005)).toThrow();
      expect(() => conn.close(1000, "x".repeat(124))).toThrow();
      conn.terminate();
      expect((await conn.closed).code).toBe(1006);
    });
  });

  describe("9. large messages", () => {
    it("receives a 4 MiB binary message sent in one frame and in 1 KiB fragments", async () => {
      const payload = Buffer.alloc(4 * 1024 * 1024);
      for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
      const fragments: Buffer[] = [];
      for (let offset = 0; offset < payload.length; offset += 1024) {
        const last = offset + 1024 >= payload.length;
        fragments.push(frame({ opcode: offset === 0 ? 2 : 0, fin: last, payload: payload.subarray(offset, offset + 1024) }));
      }
      const result = await runCase([binary(payload), ...fragments, closeFrame(1000)]);
      expect(result.messages).toHaveLength(2);
      expect((result.messages[0] as Buffer).equals(payload)).toBe(true);
      expect((result.messages[1] as Buffer).equals(payload)).toBe(true);
    });
  });

  describe("limits", () => {
    it("fails with 1009 on a declared length above maxPayload, before the payload arrives", async () => {
      const header = Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 0x10, 0, 1]); // 1 MiB + 1, no payload sent
      const result = await runCase([header], { maxPayload: 1024 * 1024, perMessageDeflate: false });
      expect(lastClose(result)).toBe(1009);
      expect(result.info.error).toMatchObject({ code: "WS_ERR_MESSAGE_TOO_BIG" });
    });

    it("fails with 1009 when fragments add up past maxPayload", async () => {
      const chunk = Buffer.alloc(600);
      const result = await runCase([frame({ opcode: 2, fin: false, payload: chunk }), frame({ opcode: 0, payload: chunk })], {
        maxPayload: 1000,
        perMessageDeflate: false,
      });
      expect(lastClose(result)).toBe(1009);
    });

    it("fails with 1002 on a 64-bit length with the top bit set", async () => {
      const result = await runCase([frame({ opcode: 2, declaredLength: 1n << 63n })]);
      expect(lastClose(result)).toBe(1002);
    });

    it("fails when a message has more than maxFragments fragments (empty ones count)", async () => {
      const script = [frame({ opcode: 2, fin: false })];
      for (let i = 0; i < 20; i++) script.push(frame({ opcode: 0, fin: false }));
      const result = await runCase(script, { maxFragments: 10, perMessageDeflate: false });
      expect([1008, 1009]).toContain(lastClose(result));
      expect(result.info.error).toMatchObject({ code: "WS_ERR_TOO_MANY_FRAGMENTS" });
    });
  });

  describe("12-13. compression", () => {
    const deflate = ["Sec-WebSocket-Extensions: permessage-deflate"];

    it("offers permessage-deflate by default and inflates compressed messages", async () => {
      const big = "compress me ".repeat(500);
      let offered = "";
      const frames: DecodedFrame[] = [];
      server = await serve(async (peer) => {
        const request = await peer.accept(deflate);
        offered = request.headers["sec-websocket-extensions"] ?? "";
        peer.write(frame({ opcode: 1, rsv1: true, payload: deflateMessage(Buffer.from(big)) }));
        peer.write(frame({ opcode: 1, payload: "plain" }));
        for (let f = await peer.readFrame(); f !== null; f = await peer.readFrame()) {
          frames.push(f);
          if (f.opcode === 8) break;
        }
        peer.write(closeFrame(1000));
        peer.socket.end();
      });
      const conn = await open(server);
      expect(conn.extensions).toBe("permessage-deflate");
      const received: Message[] = [];
      conn.on("message", (data) => {
        received.push(data);
        conn.send(data);
        if (received.length === 2) void conn.close(1000);
      });
      await conn.closed;
      expect(offered).toBe("permessage-deflate; client_max_window_bits");
      expect(received).toEqual([big, "plain"]);
      // The long echo goes compressed (RSV1), the short one under the threshold does not.
      expect(frames.map((f) => [f.opcode, f.rsv1])).toEqual([
        [1, true],
        [1, false],
        [8, false],
      ]);
      expect(inflateMessage(frames[0]!.payload).toString()).toBe(big);
      expect(frames[1]!.payload.toString()).toBe("plain");
    });

    it("inflates a compressed message split across fragments", async () => {
      const message = Buffer.from("fragmented and compressed ".repeat(100));
      const compressed = deflateMessage(message);
      const half = compressed.length >> 1;
      const result = await runCase(
        [
          frame({ opcode: 2, rsv1: true, fin: false, payload: compressed.subarray(0, half) }),
          frame({ opcode: 0, payload: compressed.subarray(half) }),
          closeFrame(1000),
        ],
        {},
        deflate,
      );
      expect(result.messages).toEqual([message]);
    });

    it("fails with 1002 on RSV1 on a continuation frame (SECURITY row 13)", async () => {
      const result = await runCase(
        [frame({ opcode: 1, fin: false, payload: "a" }), frame({ opcode: 0, rsv1: true, payload: "b" })],
        {},
        deflate,
      );
      expect(lastClose(result)).toBe(1002);
    });

    it("fails with 1002 on RSV1 on a control frame (SECURITY row 13)", async () => {
      const result = await runCase([frame({ opcode: 9, rsv1: true })], {}, deflate);
      expect(lastClose(result)).toBe(1002);
    });

    it("stops a decompression bomb at maxPayload with 1009 (SECURITY row 6)", async () => {
      const bomb = deflateMessage(Buffer.alloc(64 * 1024 * 1024));
      expect(bomb.length).toBeLessThan(100 * 1024);
      const result = await runCase([frame({ opcode: 2, rsv1: true, payload: bomb })], { maxPayload: 1024 * 1024 }, deflate);
      expect(lastClose(result)).toBe(1009);
      expect(result.info.error).toMatchObject({ code: "WS_ERR_MESSAGE_TOO_BIG" });
    });

    it("fails with 1007 on compressed data that does not inflate", async () => {
      const result = await runCase([frame({ opcode: 2, rsv1: true, payload: Buffer.from([0xff, 0xff, 0xff, 0xff]) })], {}, deflate);
      expect(lastClose(result)).toBe(1007);
    });

    it("sends no extension offer with perMessageDeflate: false, and offers every parameter", async () => {
      const headers: string[] = [];
      server = await serve(async (peer) => {
        const request = await peer.readRequest();
        headers.push(request.headers["sec-websocket-extensions"] ?? "(none)");
        peer.refuse(400);
      });
      await expect(open(server, { perMessageDeflate: false })).rejects.toThrow();
      await expect(
        open(server, {
          perMessageDeflate: {
            serverNoContextTakeover: true,
            clientNoContextTakeover: true,
            serverMaxWindowBits: 10,
            clientMaxWindowBits: 11,
          },
        }),
      ).rejects.toThrow();
      expect(headers).toEqual([
        "(none)",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11",
      ]);
    });
  });
});

// Over HTTP/1.1 only: the scripted server holds back reading on its TCP socket.
describe("7. close handling: the server's close over unsent data", () => {
  it("is not clean when the server's close arrives while sent data still waits for the network", async () => {
    const peer = await serverClosingFirst(4567, "server first");
    server = peer.server;
    const conn = await connect(server.url);
    conn.send(new Uint8Array(32 * 1024 * 1024));
    peer.sendClose();
    expect(await conn.closed).toEqual({ code: 4567, reason: "server first", wasClean: false });
    // Everything was still written before our close frame.
    expect(peer.bytesReceived()).toBe(32 * 1024 * 1024);
  });

  it("is not clean either when the close came with the 101 and was read after a large send", async () => {
    const peer = await serverClosingFirst(4567, "at once", { withHandshake: true });
    server = peer.server;
    const conn = await connect(server.url);
    conn.send(new Uint8Array(32 * 1024 * 1024));
    peer.sendClose(); // lets the server read
    expect(await conn.closed).toEqual({ code: 4567, reason: "at once", wasClean: false });
  });
});
