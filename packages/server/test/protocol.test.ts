// Raw protocol tests grouped like the Autobahn testsuite's cases: hand-made handshakes and masked
// frames in, exact frames and close codes out.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OP, RawClient, TRANSPORTS, closePayload, frame, startEchoServer } from "./helpers.js";

// Every group runs over a TCP socket upgraded with HTTP/1.1 and over an HTTP/2 stream opened with
// an extended CONNECT (RFC 8441 §5: the frames are the same, masking included).
describe.each(TRANSPORTS)("over %s", (transport) => {
  let server: Awaited<ReturnType<typeof startEchoServer>>;
  beforeAll(async () => {
    server = await startEchoServer({ maxPayload: 1024 * 1024, maxFragments: 100 }, transport);
  });
  afterAll(() => server.close({ timeout: 1000 }));

  async function open() {
    return RawClient.connectTo(server);
  }

  /** Sends frames and expects the server to fail the connection with `code` and close TCP. */
  async function expectClose(frames: Buffer[], code: number) {
    const client = await open();
    for (const f of frames) client.send(f);
    const close = await client.readClose();
    expect(close.code).toBe(code);
    await client.waitEnded();
    client.destroy();
    return close;
  }

  describe("1.x framing", () => {
    it.each([0, 1, 125, 126, 127, 128, 65535, 65536, 100_000])("echoes %i-byte text and binary with minimal length encoding", async (n) => {
      const client = await open();
      const payload = Buffer.alloc(n, "*");
      client.sendFrame({ opcode: OP.text, payload });
      client.sendFrame({ opcode: OP.binary, payload });
      for (const opcode of [OP.text, OP.binary]) {
        const head = await client.read(2);
        expect(head[0]).toBe(0x80 | opcode); // FIN, no RSV
        const len7 = head[1]! & 0x7f;
        expect(head[1]! & 0x80).toBe(0); // RFC 6455 §5.1: server frames are never masked
        expect(len7).toBe(n < 126 ? n : n < 65536 ? 126 : 127);
        const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
        const ext = await client.read(extra);
        if (len7 === 126) expect(ext.readUInt16BE(0)).toBe(n);
        if (len7 === 127) expect(Number(ext.readBigUInt64BE(0))).toBe(n);
        expect((await client.read(n)).equals(payload)).toBe(true);
      }
      client.destroy();
    });

    it("accepts a frame split into 1-byte TCP writes", async () => {
      const client = await open();
      const bytes = frame({ opcode: OP.text, payload: "split me" });
      for (let i = 0; i < bytes.length; i++) {
        client.send(bytes.subarray(i, i + 1));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const message = await client.readMessage();
      expect(message.data.toString()).toBe("split me");
      client.destroy();
    });

    it("accepts a non-minimal length encoding (64-bit form for 5 bytes)", async () => {
      const client = await open();
      client.sendFrame({ opcode: OP.text, payload: "hello", lengthForm: 64 });
      expect((await client.readMessage()).data.toString()).toBe("hello");
      client.destroy();
    });

    it("fails an unmasked client frame with 1002", async () => {
      await expectClose([frame({ opcode: OP.text, payload: "x", mask: false })], 1002);
    });

    it("fails a 64-bit length with the top bit set with 1002 (SECURITY row 7)", async () => {
      const bad = frame({ opcode: OP.binary, payload: "", lengthForm: 64 });
      bad[2] = 0x80;
      await expectClose([bad], 1002);
    });
  });

  describe("2.x pings and pongs", () => {
    it("answers a ping with a pong carrying the same payload", async () => {
      const client = await open();
      client.sendFrame({ opcode: OP.ping, payload: "hello" });
      const pong = await client.readFrame();
      expect(pong).toMatchObject({ opcode: OP.pong, fin: true, masked: false });
      expect(pong.payload.toString()).toBe("hello");
      client.destroy();
    });

    it("answers a 125-byte binary ping and ten pings in order", async () => {
      const client = await open();
      const big = Buffer.alloc(125, 0xfe);
      client.sendFrame({ opcode: OP.ping, payload: big });
      for (let i = 0; i < 10; i++) client.sendFrame({ opcode: OP.ping, payload: `p${i}` });
      expect((await client.readFrame()).payload.equals(big)).toBe(true);
      for (let i = 0; i < 10; i++) expect((await client.readFrame()).payload.toString()).toBe(`p${i}`);
      client.destroy();
    });

    it("ignores an unsolicited pong", async () => {
      const client = await open();
      client.sendFrame({ opcode: OP.pong, payload: "unsolicited" });
      client.sendFrame({ opcode: OP.text, payload: "after" });
      const message = await client.readMessage();
      expect(message.data.toString()).toBe("after");
      expect(message.frames).toHaveLength(1);
      client.destroy();
    });

    it("fails a 126-byte ping with 1002", async () => {
      await expectClose([frame({ opcode: OP.ping, payload: Buffer.alloc(126) })], 1002);
    });

    it("fails a fragmented ping with 1002", async () => {
      await expectClose([frame({ opcode: OP.ping, payload: "a", fin: false })], 1002);
    });
  });

  describe("3.x reserved bits", () => {
    for (const bits of [{ rsv1: true }, { rsv2: true }, { rsv3: true }, { rsv1: true, rsv2: true, rsv3: true }]) {
      it(`fails ${JSON.stringify(bits)} without an extension with 1002, after echoing what came before`, async () => {
        const client = await open();
        client.sendFrame({ opcode: OP.text, payload: "before" });
        client.sendFrame({ opcode: OP.text, payload: "bad", ...bits });
        client.sendFrame({ opcode: OP.ping, payload: "never answered" });
        expect((await client.readMessage()).data.toString()).toBe("before");
        const close = await client.readClose();
        expect(close.code).toBe(1002);
        expect(close.skipped).toHaveLength(0);
        await client.waitEnded();
        client.destroy();
      });
    }

    it("fails RSV2 on a ping with 1002", async () => {
      await expectClose([frame({ opcode: OP.ping, payload: "x", rsv2: true })], 1002);
    });
  });

  describe("4.x opcodes", () => {
    for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
      it(`fails reserved opcode ${opcode} with 1002`, async () => {
        await expectClose([frame({ opcode, payload: "x" })], 1002);
      });
    }
  });

  describe("5.x fragmentation", () => {
    it("reassembles fragments, answering a ping sent between them first", async () => {
      const client = await open();
      client.sendFrame({ opcode: OP.text, payload: "frag", fin: false });
      client.sendFrame({ opcode: OP.ping, payload: "mid" });
      client.sendFrame({ opcode: OP.cont, payload: "ment", fin: false });
      client.sendFrame({ opcode: OP.cont, payload: "ed", fin: true });
      const message = await client.readMessage();
      expect(message.frames[0]).toMatchObject({ opcode: OP.pong });
      expect(message.opcode).toBe(OP.text);
      expect(message.data.toString()).toBe("fragmented");
      client.destroy();
    });

    it("accepts empty fragments", async () => {
      const client = await open();
      client.sendFrame({ opcode: OP.binary, payload: "", fin: false });
      client.sendFrame({ opcode: OP.cont, payload: "", fin: false });
      client.sendFrame({ opcode: OP.cont, payload: "", fin: true });
      const message = await client.readMessage();
      expect(message).toMatchObject({ opcode: OP.binary });
      expect(message.data.length).toBe(0);
      client.destroy();
    });

    it("fails a continuation with no message in progress with 1002", async () => {
      await expectClose([frame({ opcode: OP.cont, payload: "x" })], 1002);
    });

    it("fails a new data frame inside a fragmented message with 1002", async () => {
      await expectClose([frame({ opcode: OP.text, payload: "a", fin: false }), frame({ opcode: OP.text, payload: "b" })], 1002);
    });

    it("fails a fragmented close with 1002", async () => {
      await expectClose([frame({ opcode: OP.close, payload: closePayload(1000), fin: false })], 1002);
    });
  });

  describe("6.x UTF-8", () => {
    it("echoes valid UTF-8 split inside a code point across fragments", async () => {
      const client = await open();
      const text = Buffer.from("κόσμε 𝄞", "utf8");
      client.sendFrame({ opcode: OP.text, payload: text.subarray(0, 1), fin: false });
      client.sendFrame({ opcode: OP.cont, payload: text.subarray(1, 9), fin: false });
      client.sendFrame({ opcode: OP.cont, payload: text.subarray(9), fin: true });
      expect((await client.readMessage()).data.equals(text)).toBe(true);
      client.destroy();
    });

    it.each([
      ["a lone continuation byte", [0x80]],
      ["an overlong encoding", [0xc0, 0xaf]],
      ["a surrogate", [0xed, 0xa0, 0x80]],
      ["above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
      ["a truncated sequence at the end", [0x61, 0xe2, 0x82]],
    ])("fails %s with 1007", async (_name, raw) => {
      await expectClose([frame({ opcode: OP.text, payload: Uint8Array.from(raw) })], 1007);
    });

    it("fails fast in the middle of a frame, before the rest of its payload arrives", async () => {
      const client = await open();
      const whole = frame({ opcode: OP.text, payload: Buffer.concat([Buffer.from("valid "), Buffer.from([0xed, 0xa0, 0x80]), Buffer.alloc(1000, "x")]) });
      // Header (2+2+4 bytes) and the first 9 payload bytes only: the invalid sequence is complete.
      client.send(whole.subarray(0, 8 + 9));
      const close = await client.readClose();
      expect(close.code).toBe(1007);
      client.destroy();
    });

    it("fails fast in a fragment before the message is finished", async () => {
      const client = await open();
      client.sendFrame({ opcode: OP.text, payload: "fine so far", fin: false });
      client.sendFrame({ opcode: OP.cont, payload: Uint8Array.from([0xf8, 0x88]), fin: false });
      const close = await client.readClose();
      expect(close.code).toBe(1007);
      client.destroy();
    });

    it("does not check binary messages", async () => {
      const client = await open();
      client.sendFrame({ opcode: OP.binary, payload: Uint8Array.from([0xff, 0xfe, 0xed, 0xa0, 0x80]) });
      expect((await client.readMessage()).data).toEqual(Buffer.from([0xff, 0xfe, 0xed, 0xa0, 0x80]));
      client.destroy();
    });
  });

  describe("7.x close handling", () => {
    it("echoes a 1000 close and closes TCP", async () => {
      const client = await open();
      client.sendFrame({ opcode: OP.close, payload: closePayload(1000, "bye") });
      const close = await client.readClose();
      expect(close.code).toBe(1000);
      await client.waitEnded();
      client.destroy();
    });

    it("echoes an empty close with an empty close", async () => {
      const client = await open();
      client.sendFrame({ opcode: OP.close });
      const f = await client.readFrame();
      expect(f.opcode).toBe(OP.close);
      expect(f.payload.length).toBe(0);
      await client.waitEnded();
      client.destroy();
    });

    it("ignores data after the close frame", async () => {
      const client = await open();
      client.send(Buffer.concat([frame({ opcode: OP.close, payload: closePayload(1000) }), frame({ opcode: OP.text, payload: "late" }), frame({ opcode: OP.ping })]));
      const close = await client.readClose();
      expect(close.code).toBe(1000);
      await client.waitEnded();
      expect(client.buffered).toBe(0);
      client.destroy();
    });

    it("fails a 1-byte close payload with 1002", async () => {
      await expectClose([frame({ opcode: OP.close, payload: Uint8Array.of(0x03) })], 1002);
    });

    it.each([0, 999, 1004, 1005, 1006, 1012 + 4, 1100, 2000, 2999, 5000, 65535])("fails close code %i with 1002", async (code) => {
      await expectClose([frame({ opcode: OP.close, payload: closePayload(code) })], 1002);
    });

    it.each([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999])("echoes valid close code %i", async (code) => {
      await expectClose([frame({ opcode: OP.close, payload: closePayload(code) })], code);
    });

    it("accepts a 123-byte reason and fails an invalid UTF-8 reason with 1007", async () => {
      await expectClose([frame({ opcode: OP.close, payload: closePayload(1000, "r".repeat(123)) })], 1000);
      await expectClose([frame({ opcode: OP.close, payload: Buffer.concat([closePayload(1000), Buffer.from([0xed, 0xa0, 0x80])]) })], 1007);
    });
  });

  describe("9.x limits and large messages", () => {
    it("fails a declared length over maxPayload with 1009 before the payload arrives", async () => {
      const client = await open();
      client.send(frame({ opcode: OP.binary, declaredLength: 2 * 1024 * 1024, payload: "" }));
      expect((await client.readClose()).code).toBe(1009);
      client.destroy();
    });

    it("fails fragments adding up past maxPayload with 1009", async () => {
      const chunk = Buffer.alloc(600 * 1024);
      await expectClose([frame({ opcode: OP.binary, payload: chunk, fin: false }), frame({ opcode: OP.cont, payload: chunk })], 1009);
    });

    it("fails more than maxFragments fragments with 1008", async () => {
      const frames = [frame({ opcode: OP.text, payload: "", fin: false })];
      for (let i = 0; i < 120; i++) frames.push(frame({ opcode: OP.cont, payload: "", fin: false }));
      await expectClose([Buffer.concat(frames)], 1008);
    });

    it("echoes a 1 MiB message sent in 64-byte fragments", async () => {
      // The echo server above allows 100 fragments: use one with room for more.
      const roomy = await startEchoServer({ maxFragments: 20_000 }, transport);
      try {
        const client = await RawClient.connectTo(roomy);
        const payload = Buffer.alloc(1024 * 1024);
        for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
        const frames: Buffer[] = [];
        for (let offset = 0; offset < payload.length; offset += 64) {
          const last = offset + 64 >= payload.length;
          frames.push(frame({ opcode: offset === 0 ? OP.binary : OP.cont, payload: payload.subarray(offset, offset + 64), fin: last }));
        }
        client.send(Buffer.concat(frames));
        expect((await client.readMessage(10_000)).data.equals(payload)).toBe(true);
        client.destroy();
      } finally {
        await roomy.close({ timeout: 500 });
      }
    });
  });
});
