// permessage-deflate data delivered whole and right, from a raw server peer (issue 12, items 1-4):
// messages ended by a BFINAL block, messages cut inside a block, a compressed message followed by
// the close frame and FIN, and a message of exactly maxPayload that deflate made larger.
import { randomBytes } from "node:crypto";
import { constants, deflateRawSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { connect, type CloseInfo, type Message } from "../src/index.js";
import { closeFrame, frame, scriptedServer, type ScriptedServer } from "./helpers.js";

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const DEFLATE = ["Sec-WebSocket-Extensions: permessage-deflate"];

function syncFlushed(data: Uint8Array, dictionary?: Uint8Array): Buffer {
  const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH, ...(dictionary?.length ? { dictionary } : {}) });
  return out.subarray(0, out.length - 4);
}
function finalBlock(data: Uint8Array, dictionary?: Uint8Array): Buffer {
  return deflateRawSync(data, dictionary?.length ? { dictionary } : {});
}

/** The server writes `bytes` after the 101 and then ends TCP; returns what the client received. */
async function receive(bytes: Buffer[], options: Parameters<typeof connect>[1] = {}): Promise<{ messages: Message[]; info: CloseInfo; sentClose: boolean }> {
  let sentClose = false;
  let peerDone!: Promise<void>;
  server = await scriptedServer((peer) => {
    peerDone = (async () => {
      await peer.accept(DEFLATE);
      peer.socket.end(Buffer.concat(bytes));
      for (let f = await peer.readFrame(); f !== null; f = await peer.readFrame()) if (f.opcode === 8) sentClose = true;
    })();
  });
  const conn = await connect(server.url, options);
  const messages: Message[] = [];
  conn.on("message", (data) => messages.push(data));
  const info = await conn.closed;
  await peerDone;
  return { messages, info, sentClose };
}

describe("compressed messages are delivered whole and right", () => {
  it("messages ended by a BFINAL block, with context takeover: every later message arrives (item 1)", async () => {
    const texts = ["Hello Hello Hello", "Hello again, Hello", randomBytes(40_000).toString("hex"), "Hello at the end"];
    const frames: Buffer[] = [];
    let window = Buffer.alloc(0);
    texts.forEach((value, i) => {
      const text = Buffer.from(value);
      const dictionary = window.subarray(-32768);
      frames.push(frame({ opcode: 1, rsv1: true, payload: i % 2 === 0 ? finalBlock(text, dictionary) : syncFlushed(text, dictionary) }));
      window = Buffer.concat([window, text]);
    });
    const { messages, info } = await receive([...frames, closeFrame(1000)]);
    expect(messages).toEqual(texts);
    expect(info).toMatchObject({ code: 1000, wasClean: true });
  });

  it("a message cut inside a DEFLATE block fails with 1007 instead of arriving truncated (item 3)", async () => {
    const message = Buffer.from(JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ id: i, name: `item ${i * 7}` }))));
    const compressed = syncFlushed(message);
    const cut = compressed.subarray(0, Math.floor(compressed.length * 0.6));
    const { messages, info } = await receive([frame({ opcode: 1, rsv1: true, payload: cut })]);
    expect(messages).toEqual([]);
    expect(info.code).toBe(1006);
    expect(info.error).toMatchObject({ code: "WS_ERR_INFLATE_FAILED", closeCode: 1007 });
  });

  it("a compressed message, then the close frame and FIN: the close is clean, not 1006 (item 2)", async () => {
    for (const text of ["short and compressed", randomBytes(30_000).toString("hex")]) {
      const { messages, info, sentClose } = await receive([
        frame({ opcode: 1, rsv1: true, payload: syncFlushed(Buffer.from(text)) }),
        closeFrame(1000, "bye"),
      ]);
      expect(messages).toEqual([text]);
      expect(info).toMatchObject({ code: 1000, reason: "bye", wasClean: true });
      expect(sentClose).toBe(true);
    }
  });

  it("an incompressible message of exactly maxPayload crosses at the default limit (item 4)", async () => {
    const size = 16 * 1024 * 1024;
    const payload = syncFlushed(randomBytes(size));
    expect(payload.length).toBeGreaterThan(size);
    const { messages, info } = await receive([frame({ opcode: 2, rsv1: true, payload }), closeFrame(1000)]);
    expect(messages.map((m) => m.length)).toEqual([size]);
    expect(info.code).toBe(1000);
    // One byte more is still refused: the limit on what a message inflates to stays exact.
    const over = await receive([frame({ opcode: 2, rsv1: true, payload: syncFlushed(Buffer.alloc(size + 1)) })]);
    expect(over.messages).toEqual([]);
    expect(over.info.error).toMatchObject({ closeCode: 1009 });
  }, 60_000);
});
