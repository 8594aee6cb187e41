// The frame parser under arbitrary chunking and hostile input (SECURITY.md rows 5, 7, 8 and 13):
// frames from the independent test encoder parse back to exactly the model's events; garbage and
// mutated streams only ever end in a WebSocketError through onError; nothing is reported after the
// end; and what the parser holds never exceeds the limits.
import { isUtf8 } from "node:buffer";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_BUFFERED_CHUNKS, Receiver } from "../../src/index.js";
import { splitAt } from "../frames.js";
import { cuts } from "./arbitraries.js";
import { TEST_TIMEOUT_MS, budget } from "./budget.js";
import { EventLog, conversation, edits, encodeConversation, frameSoup, hostileHeader, mutate, type Event } from "./frame-model.js";

const role = fc.constantFrom("server" as const, "client" as const);

/** What the receiver holds between pushes (private fields, read for the memory bound only). */
interface Internals {
  message: { byteLength: number; pieceCount: number };
  framePayload: { byteLength: number; pieceCount: number };
  pending: Uint8Array[];
}

function run(
  bytes: Uint8Array,
  chunkCuts: number[],
  options: ConstructorParameters<typeof Receiver>[0],
  check?: (receiver: Receiver) => void,
): Event[] {
  const log = new EventLog();
  const receiver = new Receiver(options, log.handler);
  // The receiver unmasks in place: give it a copy, cut into chunks.
  for (const chunk of splitAt(bytes.slice(), chunkCuts)) {
    receiver.push(chunk);
    check?.(receiver);
  }
  return log.events;
}

const limits = fc.record({
  maxPayload: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 100_000 }), fc.constant(16 * 1024 * 1024)),
  maxFragments: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constant(65_536)),
});

describe("Receiver against the reference encoder", () => {
  it("parses valid conversations back to the model's events under any chunking and limits", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(
        conversation,
        role,
        limits,
        cuts,
        fc.array(fc.constantFrom(undefined, 7 as const, 16 as const, 64 as const), { maxLength: 4 }),
        fc.boolean(),
        (items, side, limit, chunkCuts, forms, fast) => {
          const { bytes, events } = encodeConversation(items, side, limit, forms);
          const options = { role: side, ...limit, fastUtf8: fast ? (b: Uint8Array) => isUtf8(b) : undefined };
          expect(run(bytes, chunkCuts, options)).toEqual(events);
        },
      ),
      budget(),
    );
  });
});

describe("Receiver on hostile input", () => {
  const hostileInput = fc.oneof(
    frameSoup,
    fc.tuple(conversation, role, edits).map(([items, side, list]) =>
      mutate(encodeConversation(items, side, { maxPayload: Infinity, maxFragments: Infinity }).bytes, list),
    ),
    fc.tuple(hostileHeader, fc.uint8Array({ maxLength: 64 })).map(([header, tail]) => new Uint8Array([...header, ...tail])),
    fc.uint8Array({ maxLength: 400 }),
  );
  const hostileLimits = fc.record({
    maxPayload: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.constant(16 * 1024 * 1024)),
    maxFragments: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant(65_536)),
    maxBufferedChunks: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant(DEFAULT_MAX_BUFFERED_CHUNKS)),
  });

  it("never throws, ends only through onError/onClose, and stays within its limits", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(hostileInput, role, hostileLimits, cuts, (bytes, side, limit, chunkCuts) => {
        const bound = (receiver: Receiver) => {
          const inner = receiver as unknown as Internals;
          expect(inner.message.byteLength).toBeLessThanOrEqual(limit.maxPayload);
          expect(inner.framePayload.byteLength).toBeLessThanOrEqual(Math.max(125, limit.maxPayload));
          expect(inner.message.pieceCount).toBeLessThanOrEqual(limit.maxBufferedChunks);
          expect(inner.framePayload.pieceCount).toBeLessThanOrEqual(limit.maxBufferedChunks);
        };
        const events = run(bytes, chunkCuts, { role: side, ...limit }, bound);
        for (const event of events) {
          if (event[0] === "error") expect([1002, 1007, 1008, 1009]).toContain(event[2]);
          if (event[0] === "message") {
            expect(event[2].length / 2).toBeLessThanOrEqual(limit.maxPayload);
            if (!event[1]) expect(isUtf8(Buffer.from(event[2], "hex"))).toBe(true);
          }
          if (event[0] === "ping" || event[0] === "pong") expect(event[1].length / 2).toBeLessThanOrEqual(125);
        }
      }),
      budget(),
    );
  });

  it("reports the same events whatever the chunking", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(hostileInput, role, cuts, fc.integer({ min: 1, max: 300 }), (bytes, side, chunkCuts, maxPayload) => {
        // maxBufferedChunks is left at its default: how many pieces are held does depend on chunking.
        const options = { role: side, maxPayload, maxFragments: 3 };
        expect(run(bytes, chunkCuts, options)).toEqual(run(bytes, [], options));
      }),
      budget(),
    );
  });

  it("rejects declared lengths over maxPayload before any payload arrives", { timeout: TEST_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(hostileHeader, role, fc.integer({ min: 1, max: 1 << 20 }), (header, side, maxPayload) => {
        const events = run(header, [], { role: side, maxPayload });
        const view = new DataView(header.buffer, header.byteOffset);
        const length = view.getBigUint64(2);
        const first = header[0]!;
        const opcode = first & 0x0f;
        const masked = (header[1]! & 0x80) !== 0;
        // A frame the header rules accept, declaring more than maxPayload, fails with 1009 at once;
        // a 64-bit length with the top bit set fails with 1002 (RFC 6455 §5.2).
        const headerOk = (first & 0x70) === 0 && (opcode === 1 || opcode === 2) && masked === (side === "server");
        if (length >= 2n ** 63n) expect(events).toEqual([["error", "WS_ERR_INVALID_PAYLOAD_LENGTH", 1002]]);
        else if (headerOk && length > BigInt(maxPayload)) expect(events).toEqual([["error", "WS_ERR_MESSAGE_TOO_BIG", 1009]]);
        else if (length > 0n) expect(events.filter((event) => event[0] !== "error")).toEqual([]);
      }),
      budget(),
    );
  });
});
