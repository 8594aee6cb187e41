// A reference model of the receive side for the fuzz suites: message sequences as the peer sends
// them, encoded with the independent test encoder (../frames.ts), and the events RFC 6455 says a
// receiver reports for them under given limits.
import fc from "fast-check";
import { WebSocketError } from "../../src/index.js";
import { buildFrame, concatBytes, type TestFrame } from "../frames.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What a receiver reports, as comparable values (payloads as hex). */
export type Event =
  | ["message", boolean, string]
  | ["ping", string]
  | ["pong", string]
  | ["close", number, string]
  | ["error", string, number];

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex");

/** One thing the peer sends: a (possibly fragmented) data message, or a control frame. */
export type Item =
  | { kind: "message"; binary: boolean; payload: Uint8Array; cuts: number[]; controls: Item[] }
  | { kind: "ping"; payload: Uint8Array }
  | { kind: "pong"; payload: Uint8Array }
  | { kind: "close"; code: number | undefined; reason: string };

const controlPayload = fc.uint8Array({ maxLength: 125 });

const control: fc.Arbitrary<Item> = fc.oneof(
  controlPayload.map((payload) => ({ kind: "ping" as const, payload })),
  controlPayload.map((payload) => ({ kind: "pong" as const, payload })),
);

const messagePayload = (binary: boolean): fc.Arbitrary<Uint8Array> =>
  binary
    ? fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 70_000 }).map((n) => new Uint8Array(n).fill(0x5a)))
    : fc.oneof(
        fc.string({ unit: "binary", maxLength: 200 }).map((text) => encoder.encode(text)),
        fc.integer({ min: 1000, max: 70_000 }).map((n) => encoder.encode("é".repeat(n >> 1))),
      );

export const message: fc.Arbitrary<Item> = fc.boolean().chain((binary) =>
  fc.record({
    kind: fc.constant("message" as const),
    binary: fc.constant(binary),
    payload: messagePayload(binary),
    // Fragment boundaries (any byte position, empty fragments included) and controls between them.
    cuts: fc.array(fc.nat({ max: 70_000 }), { maxLength: 5 }),
    controls: fc.array(control, { maxLength: 3 }),
  }),
);

const close: fc.Arbitrary<Item> = fc.oneof(
  fc.constant({ kind: "close" as const, code: undefined, reason: "" }),
  fc.record({
    kind: fc.constant("close" as const),
    code: fc.constantFrom(1000, 1001, 1003, 1011, 3000, 4999),
    reason: fc.string({ maxLength: 30 }).filter((reason) => encoder.encode(reason).length <= 123 && !/[\ud800-\udfff]/.test(reason)),
  }),
);

/** A sequence of items, sometimes ending with a close frame. */
export const conversation: fc.Arbitrary<Item[]> = fc
  .tuple(fc.array(fc.oneof({ weight: 3, arbitrary: message }, control), { maxLength: 6 }), fc.option(close))
  .map(([items, end]) => (end === null ? items : [...items, end]));

/** The frames that carry one item, in wire order (controls interleaved with fragments). */
function framesOf(item: Item): TestFrame[] {
  if (item.kind === "ping" || item.kind === "pong") return [{ opcode: item.kind === "ping" ? 0x9 : 0xa, payload: item.payload }];
  if (item.kind === "close") {
    if (item.code === undefined) return [{ opcode: 0x8 }];
    const reason = encoder.encode(item.reason);
    const payload = new Uint8Array(2 + reason.length);
    payload[0] = item.code >> 8;
    payload[1] = item.code & 0xff;
    payload.set(reason, 2);
    return [{ opcode: 0x8, payload }];
  }
  const points = [...new Set(item.cuts.map((cut) => cut % (item.payload.length + 1)))].sort((a, b) => a - b);
  const bounds = [0, ...points, item.payload.length];
  const frames: TestFrame[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    if (i > 0 && item.controls[i - 1]) frames.push(...framesOf(item.controls[i - 1]!));
    frames.push({
      opcode: i === 0 ? (item.binary ? 0x2 : 0x1) : 0x0,
      fin: i + 2 === bounds.length,
      payload: item.payload.subarray(bounds[i], bounds[i + 1]),
    });
  }
  return frames;
}

export interface Limits {
  maxPayload: number;
  maxFragments: number;
}

/**
 * Encodes the items as one byte stream (masked with per-frame keys for a server) and returns the
 * events a correct receiver with these limits reports: the limits are checked on declared lengths,
 * before payload, so a breach is reported at the frame that crosses it.
 */
export function encodeConversation(
  items: Item[],
  role: "server" | "client",
  limits: Limits,
  lengthForms: Array<7 | 16 | 64 | undefined> = [],
): { bytes: Uint8Array; events: Event[] } {
  const frames: Uint8Array[] = [];
  const events: Event[] = [];
  let n = 0;
  let done = false;
  for (const item of items) {
    let fragments = 0;
    let length = 0;
    for (const frame of framesOf(item)) {
      const form = lengthForms[n % Math.max(1, lengthForms.length)];
      const size = (frame.payload as Uint8Array | undefined)?.length ?? 0;
      const fits = form === 7 ? size < 126 : form === 16 ? size < 65536 : true;
      const mask = role === "server" ? Uint8Array.of(n * 7, n * 13 + 1, 0xa5, n) : false;
      frames.push(buildFrame({ ...frame, mask, lengthForm: fits ? form : undefined }));
      n++;
      if (done) continue;
      const payload = (frame.payload as Uint8Array | undefined) ?? new Uint8Array(0);
      if (frame.opcode === 0x9) events.push(["ping", hex(payload)]);
      else if (frame.opcode === 0xa) events.push(["pong", hex(payload)]);
      else if (frame.opcode === 0x8) {
        const code = payload.length === 0 ? 1005 : (payload[0]! << 8) | payload[1]!;
        events.push(["close", code, decoder.decode(payload.subarray(2))]);
        done = true;
      } else if (++fragments > limits.maxFragments) {
        events.push(["error", "WS_ERR_TOO_MANY_FRAGMENTS", 1008]);
        done = true;
      } else if ((length += payload.length) > limits.maxPayload) {
        events.push(["error", "WS_ERR_MESSAGE_TOO_BIG", 1009]);
        done = true;
      }
    }
    if (!done && item.kind === "message") events.push(["message", item.binary, hex(item.payload)]);
  }
  return { bytes: concatBytes(...frames), events };
}

/** Records receiver events; throws if anything is reported after the receiver stopped. */
export class EventLog {
  readonly events: Event[] = [];
  private ended = false;

  private add(event: Event): void {
    if (this.ended) throw new Error(`event after the end: ${JSON.stringify(event)}`);
    this.events.push(event);
  }

  readonly handler = {
    onMessage: (data: Uint8Array, isBinary: boolean) => this.add(["message", isBinary, hex(data)]),
    onPing: (payload: Uint8Array) => this.add(["ping", hex(payload)]),
    onPong: (payload: Uint8Array) => this.add(["pong", hex(payload)]),
    onClose: (code: number, reason: string) => {
      this.add(["close", code, reason]);
      this.ended = true;
    },
    onError: (error: WebSocketError) => {
      if (!(error instanceof WebSocketError)) throw new Error(`onError got a foreign error: ${String(error)}`);
      this.add(["error", error.code, error.closeCode]);
      this.ended = true;
    },
  };
}

/** Arbitrary frames, valid or not: every header field at random, payloads short. */
export const frameSoup: fc.Arbitrary<Uint8Array> = fc
  .array(
    fc.record({
      fin: fc.boolean(),
      rsv1: fc.boolean(),
      rsv2: fc.boolean(),
      rsv3: fc.boolean(),
      opcode: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(0, 1, 2, 8, 9, 10) }, fc.integer({ min: 0, max: 15 })),
      payload: fc.oneof(
        fc.uint8Array({ maxLength: 140 }),
        fc.string({ unit: "binary", maxLength: 60 }).map((text) => encoder.encode(text)),
        fc.constantFrom(Uint8Array.of(0x03), Uint8Array.of(0x03, 0xe8, 0xff), Uint8Array.of(0x03, 0xed), Uint8Array.of(0xff, 0xff)),
      ),
      mask: fc.oneof(fc.boolean(), fc.uint8Array({ minLength: 4, maxLength: 4 })),
      lengthForm: fc.constantFrom(undefined, 7 as const, 16 as const, 64 as const),
    }),
    { maxLength: 8 },
  )
  .map((frames) =>
    concatBytes(
      ...frames.map((frame) => {
        const size = frame.payload.length;
        const fits = frame.lengthForm === 7 ? size < 126 : true;
        return buildFrame({ ...frame, lengthForm: fits ? frame.lengthForm : undefined });
      }),
    ),
  );

/** Raw headers with extreme declared lengths (64-bit with the top bit, 2^53, just over limits). */
export const hostileHeader: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.integer({ min: 0, max: 255 }), fc.boolean(), fc.constantFrom(...[0n, 125n, 126n, 65535n, 65536n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n]))
  .map(([first, masked, length]) => {
    const header = new Uint8Array(14);
    header[0] = first;
    header[1] = (masked ? 0x80 : 0) | 127;
    new DataView(header.buffer).setBigUint64(2, length);
    return header.subarray(0, masked ? 14 : 10);
  });

/** Mutates a byte stream: flips, inserts and truncations at random places. */
export function mutate(bytes: Uint8Array, edits: Array<[number, number, number]>): Uint8Array {
  const out = [...bytes];
  for (const [at, value, kind] of edits) {
    const i = out.length === 0 ? 0 : at % out.length;
    if (kind === 0 && out.length > 0) out[i] = value;
    else if (kind === 1 && out.length > 0) out[i] = out[i]! ^ (1 << (value & 7));
    else if (kind === 2) out.splice(i, 0, value);
    else out.length = i;
  }
  return Uint8Array.from(out);
}

export const edits: fc.Arbitrary<Array<[number, number, number]>> = fc.array(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 3 })),
  { minLength: 1, maxLength: 4 },
);
