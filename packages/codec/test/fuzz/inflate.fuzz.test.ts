// The inflater on compressed data that is valid, mutated or random, cut into random fragments, with
// random maxPayload (SECURITY.md row 6). Every call calls back exactly once and asynchronously; a
// failure is a WebSocketError (1007 or 1009); output never exceeds maxPayload, and what zlib inflated
// for a message never exceeds maxPayload plus one zlib chunk; valid data inflates to the original.
// A receiver fed bursts of compressed messages asks to pause reading while input waits behind an
// inflate, always asks to resume, and holds at most the backlog limit plus one read.
import { constants, deflateRawSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PerMessageDeflate, type DeflateParams } from "../../src/deflate/index.js";
import { ErrorCode, INFLATE_BACKLOG_LIMIT, Receiver, WebSocketError } from "../../src/index.js";
import { buildFrame, concatBytes, splitAt } from "../frames.js";
import { cuts } from "./arbitraries.js";
import { TEST_TIMEOUT_MS, budget } from "./budget.js";
import { EventLog, edits, hex, mutate, type Event } from "./frame-model.js";

/** zlib's default output chunk: the most the inflater may produce past the limit before it stops. */
const ZLIB_CHUNK = 16 * 1024;

const params: fc.Arbitrary<DeflateParams> = fc.record({
  serverNoContextTakeover: fc.boolean(),
  clientNoContextTakeover: fc.boolean(),
  serverMaxWindowBits: fc.integer({ min: 8, max: 15 }),
  clientMaxWindowBits: fc.integer({ min: 8, max: 15 }),
});

/** Plaintext: random bytes, text, or long runs that compress to almost nothing (small bombs). */
const plaintext: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 2000 }),
  fc.string({ maxLength: 500 }).map((text) => new TextEncoder().encode(text.repeat(3))),
  fc.tuple(fc.integer({ min: 0, max: 320 * 1024 }), fc.integer({ min: 0, max: 255 })).map(([n, b]) => new Uint8Array(n).fill(b)),
);

/** Compresses one message on its own, as RFC 7692 §7.2.1 frames it, with Node's zlib directly. */
function deflateMessage(data: Uint8Array, windowBits: number, level: number): Uint8Array {
  const out = deflateRawSync(data, { windowBits: Math.max(9, windowBits), level, finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

type Outcome = { error: Error | null; bytes: number; data: Uint8Array };

/** One decompress call; fails the run if the callback is synchronous or comes more than once. */
function decompressOnce(pmd: PerMessageDeflate, data: Uint8Array, fin: boolean, maxPayload: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    let calls = 0;
    let synchronous = true;
    pmd.decompress(data, fin, maxPayload, (error, chunks) => {
      if (synchronous) reject(new Error("decompress called back synchronously"));
      if (++calls > 1) reject(new Error("decompress called back twice"));
      const out = concatBytes(...chunks);
      resolve({ error, bytes: out.length, data: out });
      // A second call would come within the same turn or the next few; catch it before moving on.
    });
    synchronous = false;
  });
}

/** Feeds a message as fragments; returns the inflated bytes or the first error. */
async function inflateMessage(
  pmd: PerMessageDeflate,
  fragments: Uint8Array[],
  maxPayload: number,
): Promise<{ error: Error | null; data: Uint8Array }> {
  const pieces: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < fragments.length; i++) {
    const outcome = await decompressOnce(pmd, fragments[i]!, i === fragments.length - 1, maxPayload);
    total += outcome.bytes;
    expect(total).toBeLessThanOrEqual(maxPayload);
    // What zlib produced for this message, counted inside the codec (private; memory bound only).
    const inflated = (pmd as unknown as { inflater: { inflatedBytes: number } }).inflater.inflatedBytes;
    expect(inflated).toBeLessThanOrEqual(maxPayload + ZLIB_CHUNK);
    if (outcome.error !== null) return { error: outcome.error, data: concatBytes(...pieces) };
    pieces.push(outcome.data);
  }
  return { error: null, data: concatBytes(...pieces) };
}

/** Splits a compressed message into at least one fragment (empty fragments allowed). */
function fragment(data: Uint8Array, points: number[]): Uint8Array[] {
  return splitAt(data, points.map((p) => p % (data.length + 1)));
}

const maxPayload = fc.oneof(fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 1, max: 400 * 1024 }));

function expectOurError(error: Error): void {
  expect(error).toBeInstanceOf(WebSocketError);
  expect([ErrorCode.InflateFailed, ErrorCode.MessageTooBig]).toContain((error as WebSocketError).code);
  expect([1007, 1009]).toContain((error as WebSocketError).closeCode);
}

const messages = fc.array(
  fc.record({ data: plaintext, level: fc.integer({ min: 0, max: 9 }), points: fc.array(fc.nat(), { maxLength: 4 }) }),
  { minLength: 1, maxLength: 4 },
);

describe("PerMessageDeflate.decompress", () => {
  it("inflates valid messages to the original, or fails with 1009 past maxPayload", { timeout: TEST_TIMEOUT_MS }, async () => {
    await fc.assert(
      fc.asyncProperty(params, fc.constantFrom("server" as const, "client" as const), messages, maxPayload, async (p, role, list, limit) => {
        const pmd = new PerMessageDeflate(p, role);
        const windowBits = role === "server" ? p.clientMaxWindowBits : p.serverMaxWindowBits;
        try {
          for (const { data, level, points } of list) {
            const result = await inflateMessage(pmd, fragment(deflateMessage(data, windowBits, level), points), limit);
            if (data.length <= limit) {
              expect(result.error).toBeNull();
              expect(hex(result.data)).toBe(hex(data));
            } else {
              expect(result.error).toBeInstanceOf(WebSocketError);
              expect((result.error as WebSocketError).code).toBe(ErrorCode.MessageTooBig);
              expect((result.error as WebSocketError).closeCode).toBe(1009);
              return;
            }
          }
        } finally {
          pmd.close();
        }
      }),
      budget(),
    );
  });

  it("fails mutated or random data with a WebSocketError and bounded output", { timeout: TEST_TIMEOUT_MS }, async () => {
    const damaged = fc.oneof(
      fc.tuple(plaintext, fc.integer({ min: 0, max: 9 }), edits).map(([data, level, list]) => mutate(deflateMessage(data, 15, level), list)),
      fc.uint8Array({ maxLength: 600 }),
      // Hand-made stored/fixed/dynamic block headers, then noise.
      fc.tuple(fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xff), fc.uint8Array({ maxLength: 40 })).map(([b, tail]) => Uint8Array.of(b, ...tail)),
    );
    await fc.assert(
      fc.asyncProperty(params, fc.constantFrom("server" as const, "client" as const), damaged, fc.array(fc.nat(), { maxLength: 4 }), maxPayload, async (p, role, data, points, limit) => {
        const pmd = new PerMessageDeflate(p, role);
        try {
          // Twice: a stream that survived the first message must handle the second too.
          for (let i = 0; i < 2; i++) {
            const result = await inflateMessage(pmd, fragment(data, points), limit);
            if (result.error !== null) {
              // Once failed, every later call fails with the same error.
              expectOurError(result.error);
              const after = await decompressOnce(pmd, Uint8Array.of(0), true, limit);
              expect(after.error).toBe(result.error);
              return;
            }
            expect(result.data.length).toBeLessThanOrEqual(limit);
          }
        } finally {
          pmd.close();
        }
      }),
      budget(),
    );
  });
});

describe("Receiver with permessage-deflate", () => {
  /** Runs the receiver until it stops or has reported `count` messages, within a bounded wait. */
  async function receive(receiver: Receiver, log: EventLog, chunks: Uint8Array[], count: number): Promise<Event[]> {
    for (const chunk of chunks) receiver.push(chunk);
    for (let i = 0; i < 500; i++) {
      if (receiver.stopped || log.events.filter((e) => e[0] === "message").length >= count) break;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return log.events;
  }

  it("reassembles compressed fragmented messages under any chunking; bad data ends in 1007/1009", { timeout: TEST_TIMEOUT_MS }, async () => {
    await fc.assert(
      fc.asyncProperty(
        params,
        fc.array(fc.record({ data: plaintext, points: fc.array(fc.nat(), { maxLength: 3 }), damage: fc.option(edits, { freq: 4 }) }), { minLength: 1, maxLength: 3 }),
        cuts,
        maxPayload,
        async (p, list, chunkCuts, limit) => {
          const pmd = new PerMessageDeflate(p, "client");
          const log = new EventLog();
          const receiver = new Receiver({ role: "client", compression: pmd, maxPayload: limit }, log.handler);
          const frames: Uint8Array[] = [];
          const expected: Event[] = [];
          let broken = false;
          for (const { data, points, damage } of list) {
            let compressed = deflateMessage(data, p.serverMaxWindowBits, 6);
            if (damage !== null) compressed = mutate(compressed, damage);
            const parts = fragment(compressed, points);
            parts.forEach((part, i) => frames.push(buildFrame({ opcode: i === 0 ? 2 : 0, rsv1: i === 0, fin: i === parts.length - 1, payload: part })));
            // The limit applies to the declared (compressed) frame lengths too, before inflating: a
            // message that deflate made larger than maxPayload fails with 1009 (documented behaviour).
            if (damage !== null || data.length > limit || compressed.length > limit) broken = true;
            if (!broken) expected.push(["message", true, hex(data)]);
          }
          try {
            const events = await receive(receiver, log, splitAt(concatBytes(...frames), chunkCuts), list.length);
            if (!broken) expect(events).toEqual(expected);
            else {
              // Messages before the damage come through intact; anything else ends in 1007 or 1009.
              const last = events.at(-1);
              if (last?.[0] === "error") expect([1007, 1009]).toContain(last[2]);
              for (const event of events) if (event[0] === "message") expect(event[2].length / 2).toBeLessThanOrEqual(limit);
              expect(receiver.stopped || events.length <= list.length).toBe(true);
            }
          } finally {
            receiver.stop();
            pmd.close();
          }
        },
      ),
      budget(),
    );
  });

  it("asks to pause reading only while input waits behind an inflate, and always to resume", { timeout: TEST_TIMEOUT_MS }, async () => {
    // Bursts of small compressed messages, pushed in random reads while inflates run on the pool.
    await fc.assert(
      fc.asyncProperty(
        params,
        // Enough messages to hold more than INFLATE_BACKLOG_LIMIT behind the first inflate.
        fc.array(fc.string({ minLength: 20, maxLength: 80 }), { minLength: 400, maxLength: 1200 }),
        fc.oneof(fc.integer({ min: 16, max: 1024 }), fc.integer({ min: 4096, max: 64 * 1024 })),
        async (p, texts, readSize) => {
          const pmd = new PerMessageDeflate(p, "client");
          const log = new EventLog();
          const backlog: boolean[] = [];
          let held = 0;
          let delivered = 0;
          let waits = 0;
          const receiver = new Receiver(
            { role: "client", compression: pmd },
            { ...log.handler, onReceiveBacklog: (backlogged: boolean) => backlog.push(backlogged) },
          );
          const frames = texts.map((text) => buildFrame({ opcode: 1, rsv1: true, payload: deflateMessage(new TextEncoder().encode(text), p.serverMaxWindowBits, 6) }));
          const wire = concatBytes(...frames);
          try {
            // A well-behaved shell: it reads on only while not asked to pause.
            for (let at = 0; at < wire.length || delivered < texts.length; ) {
              const paused = backlog.at(-1) === true;
              if (!paused && at < wire.length) {
                receiver.push(wire.subarray(at, at + readSize));
                at += readSize;
              } else {
                waits++;
                await new Promise((resolve) => setImmediate(resolve));
              }
              delivered = log.events.length;
              held = Math.max(held, Math.min(at, wire.length) - frames.slice(0, delivered).reduce((n, f) => n + f.length, 0));
              expect(receiver.stopped).toBe(false);
              expect(waits).toBeLessThan(100_000); // a pause that is never lifted would hang here
            }
            expect(log.events).toEqual(texts.map((text) => ["message", false, hex(new TextEncoder().encode(text))]));
            // Alternating, starting with a pause, ending with reading allowed again.
            backlog.forEach((value, i) => expect(value).toBe(i % 2 === 0));
            expect(backlog.length % 2).toBe(0);
            // Held input never passes the limit by more than the read that crossed it (and the frame
            // being inflated).
            expect(held).toBeLessThanOrEqual(INFLATE_BACKLOG_LIMIT + readSize + 64);
          } finally {
            receiver.stop();
            pmd.close();
          }
        },
      ),
      // One run is a few hundred thread-pool round trips: give CI room for at least one.
      budget({}, 3_000),
    );
  });
});
