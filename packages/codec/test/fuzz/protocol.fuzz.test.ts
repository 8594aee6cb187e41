// The connection state machine in both roles on hostile input: it never throws, answers what it must
// (pongs, the close echo, a close frame with the error's code), writes only well-formed frames for
// its role, and hands back messages sent by the other role byte for byte under any chunking.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Protocol, WebSocketError } from "../../src/index.js";
import { decodeFrames, splitAt, type DecodedFrame } from "../frames.js";
import { cuts } from "./arbitraries.js";
import { TEST_TIMEOUT_MS, budget } from "./budget.js";
import { conversation, edits, encodeConversation, frameSoup, hex, mutate } from "./frame-model.js";

type Role = "server" | "client";
const role = fc.constantFrom<Role>("server", "client");

interface Recorded {
  protocol: Protocol;
  written: Uint8Array[];
  log: Array<[string, ...unknown[]]>;
  closedAt: number;
}

function open(side: Role, limits: { maxPayload?: number; maxFragments?: number } = {}): Recorded {
  const rec: Recorded = { protocol: undefined as unknown as Protocol, written: [], log: [], closedAt: -1 };
  rec.protocol = new Protocol(
    { role: side, ...limits },
    {
      write: (chunks) => {
        if (rec.closedAt !== -1) throw new Error("write after closeTransport");
        for (const chunk of chunks) rec.written.push(chunk.slice());
      },
      onMessage: (data, isBinary) => rec.log.push(["message", isBinary, hex(data)]),
      onPing: (payload) => rec.log.push(["ping", hex(payload)]),
      onPong: (payload) => rec.log.push(["pong", hex(payload)]),
      onClose: (code, reason) => rec.log.push(["close", code, reason]),
      onError: (error) => {
        if (!(error instanceof WebSocketError)) throw new Error(`foreign error ${String(error)}`);
        rec.log.push(["error", error.code, error.closeCode]);
      },
      closeTransport: () => {
        if (rec.closedAt !== -1) throw new Error("closeTransport called twice");
        rec.closedAt = rec.written.length;
      },
    },
  );
  return rec;
}

function writtenFrames(rec: Recorded): DecodedFrame[] {
  return decodeFrames(new Uint8Array(Buffer.concat(rec.written)));
}

const hostileInput = fc.oneof(
  frameSoup,
  fc.tuple(conversation, role, edits).map(([items, side, list]) =>
    mutate(encodeConversation(items, side, { maxPayload: Infinity, maxFragments: Infinity }).bytes, list),
  ),
  fc.tuple(conversation, role).map(([items, side]) => encodeConversation(items, side, { maxPayload: Infinity, maxFragments: Infinity }).bytes),
  fc.uint8Array({ maxLength: 300 }),
);

describe("Protocol on hostile input", () => {
  it("never throws; answers pings, echoes close, fails with a matching close frame", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(hostileInput, role, cuts, fc.integer({ min: 1, max: 500 }), (bytes, side, chunkCuts, maxPayload) => {
        const rec = open(side, { maxPayload, maxFragments: 4 });
        for (const chunk of splitAt(bytes.slice(), chunkCuts)) rec.protocol.receive(chunk);
        const frames = writtenFrames(rec);

        // Every frame we write is well-formed for our role (RFC 6455 §5.1, §5.5).
        for (const frame of frames) {
          expect(frame.masked).toBe(side === "client");
          expect(frame.fin).toBe(true);
          expect(frame.rsv1).toBe(false);
          expect([0x8, 0xa]).toContain(frame.opcode);
          expect(frame.payload.length).toBeLessThanOrEqual(125);
        }
        // One pong per ping received, same payload, in order (RFC 6455 §5.5.2), before our close.
        const pings = rec.log.filter((event) => event[0] === "ping").map((event) => event[1]);
        const pongs = frames.filter((frame) => frame.opcode === 0xa).map((frame) => hex(frame.payload));
        expect(pongs).toEqual(pings);
        const closes = frames.filter((frame) => frame.opcode === 0x8);
        expect(closes.length).toBeLessThanOrEqual(1);
        if (closes.length === 1) expect(frames.at(-1)!.opcode).toBe(0x8);

        const last = rec.log.at(-1);
        if (last?.[0] === "error") {
          // RFC 6455 §7.1.7: fail the connection with the error's close code, then close TCP.
          const payload = closes[0]!.payload;
          expect((payload[0]! << 8) | payload[1]!).toBe(last[2]);
          expect(rec.closedAt).toBe(rec.written.length);
          expect(rec.protocol.state).toBe("closed");
        } else if (last?.[0] === "close") {
          // RFC 6455 §5.5.1: echo the code (nothing when none came); the server closes TCP first.
          const code = last[1] as number;
          const payload = closes[0]!.payload;
          if (code === 1005) expect(payload.length).toBe(0);
          else expect((payload[0]! << 8) | payload[1]!).toBe(code);
          expect(rec.closedAt !== -1).toBe(side === "server");
          expect(rec.protocol.state).toBe("closed");
        } else {
          expect(closes).toHaveLength(0);
          expect(rec.closedAt).toBe(-1);
          expect(rec.protocol.state).toBe("open");
        }
      }),
      budget(),
    );
  });
});

describe("Protocol to Protocol", () => {
  const outgoing = fc.array(
    fc.record({
      binary: fc.boolean(),
      data: fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ unit: "binary", maxLength: 100 }).map((s) => new TextEncoder().encode(s))),
      pieces: fc.array(fc.nat({ max: 200 }), { maxLength: 3 }),
    }),
    { maxLength: 6 },
  );

  it("delivers every message, whole or fragmented, in both directions under any chunking", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(role, outgoing, cuts, (sender, messages, chunkCuts) => {
        const from = open(sender);
        const to = open(sender === "client" ? "server" : "client");
        const expected: Array<[string, ...unknown[]]> = [];
        for (const { binary, data, pieces } of messages) {
          const text = binary ? data : new TextEncoder().encode(new TextDecoder().decode(data));
          const points = [...new Set(pieces.map((p) => p % (text.length + 1)))].sort((a, b) => a - b);
          if (points.length === 0) from.protocol.send(text, binary);
          else {
            const bounds = [0, ...points, text.length];
            for (let i = 0; i + 1 < bounds.length; i++) {
              from.protocol.sendFragment(text.subarray(bounds[i], bounds[i + 1]), binary, i + 2 === bounds.length);
            }
          }
          expected.push(["message", binary, hex(text)]);
        }
        from.protocol.close(1000, "bye");
        for (const chunk of splitAt(new Uint8Array(Buffer.concat(from.written)), chunkCuts)) to.protocol.receive(chunk);
        expect(to.log).toEqual([...expected, ["close", 1000, "bye"]]);
      }),
      budget(),
    );
  });
});
