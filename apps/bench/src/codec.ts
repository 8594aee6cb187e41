// Codec micro-benchmarks (tinybench), run in the orchestrator's own process: masking, UTF-8
// validation and frame parsing, ours against ws's JavaScript paths and bufferutil's native code.
import { isUtf8 } from "node:buffer";
import { randomFillSync } from "node:crypto";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Receiver, Utf8Validator, isValidUtf8, unmask } from "@ws/codec";
import { Bench } from "tinybench";
import type { Row } from "./report.js";

const require = createRequire(import.meta.url);

type UnmaskFn = (data: Buffer, mask: Buffer) => void;

interface WsModules {
  /** ws's exported unmask: its JS byte loop without bufferutil, native from 32 bytes with it. */
  unmask: UnmaskFn;
  Receiver: new (options: Record<string, unknown>) => NodeJS.WritableStream & {
    on(event: "message", listener: (data: unknown, isBinary: boolean) => void): unknown;
    on(event: "error", listener: (error: Error) => void): unknown;
  };
}

/**
 * ws's internal modules, loaded by file path (its exports map hides them). ws decides once, at
 * load time, whether to use bufferutil, so the pure-JS copy is loaded with WS_NO_BUFFER_UTIL set
 * and then evicted from the require cache before the bufferutil copy is loaded.
 */
function loadWs(withBufferutil: boolean): WsModules {
  const libDir = join(dirname(require.resolve("ws/package.json")), "lib");
  for (const key of Object.keys(require.cache)) if (key.startsWith(libDir)) delete require.cache[key];
  const saved = process.env.WS_NO_BUFFER_UTIL;
  if (withBufferutil) delete process.env.WS_NO_BUFFER_UTIL;
  else process.env.WS_NO_BUFFER_UTIL = "1";
  try {
    const bufferUtil = require(join(libDir, "buffer-util.js")) as { unmask: UnmaskFn };
    const ReceiverClass = require(join(libDir, "receiver.js")) as WsModules["Receiver"];
    return { unmask: bufferUtil.unmask, Receiver: ReceiverClass };
  } finally {
    for (const key of Object.keys(require.cache)) if (key.startsWith(libDir)) delete require.cache[key];
    if (saved === undefined) delete process.env.WS_NO_BUFFER_UTIL;
    else process.env.WS_NO_BUFFER_UTIL = saved;
  }
}

function loadBufferutil(): { unmask: UnmaskFn; native: boolean } {
  const mod = require("bufferutil") as { unmask: UnmaskFn };
  const native = !Object.keys(require.cache).some((key) => key.includes("bufferutil") && key.endsWith("fallback.js"));
  return { unmask: mod.unmask, native };
}

export interface CodecOptions {
  quick: boolean;
  log: (line: string) => void;
}

/** Ops per second of one call of `fn`, which tinybench runs as batches of `batch` calls. */
async function opsPerSec(tasks: Record<string, () => void>, batch: number, options: CodecOptions): Promise<Record<string, number>> {
  const bench = new Bench({ time: options.quick ? 60 : 600, warmupTime: options.quick ? 20 : 150, throws: true });
  for (const [name, fn] of Object.entries(tasks)) {
    bench.add(name, () => {
      for (let i = 0; i < batch; i++) fn();
    });
  }
  await bench.run();
  const out: Record<string, number> = {};
  for (const task of bench.tasks) {
    const result = task.result;
    out[task.name] = result.state === "completed" ? (batch * 1000) / result.latency.p50 : Number.NaN;
  }
  return out;
}

const SIZES: [string, number][] = [
  ["16 B", 16],
  ["125 B", 125],
  ["1 KiB", 1024],
  ["64 KiB", 65536],
  ["1 MiB", 1048576],
];

/** Valid UTF-8 text of `size` bytes: mostly ASCII with 2-, 3- and 4-byte sequences mixed in. */
export function utf8Text(size: number): Buffer {
  const pattern = Buffer.from("The quick brown fox — naïve café, 日本語テキスト, emoji 🚀 and more ASCII text. ", "utf8");
  const out = Buffer.alloc(size, 0x20);
  let at = 0;
  while (at + pattern.length <= size) at += pattern.copy(out, at);
  return out;
}

/** A byte stream of `count` masked binary client frames with `size`-byte payloads. */
export function maskedFrames(count: number, size: number): Buffer {
  const headerLength = (size < 126 ? 2 : size < 65536 ? 4 : 10) + 4;
  const frame = Buffer.alloc(headerLength + size);
  frame[0] = 0x82;
  if (size < 126) frame[1] = 0x80 | size;
  else if (size < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(size, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(size), 2);
  }
  randomFillSync(frame, headerLength - 4);
  return Buffer.concat(Array.from({ length: count }, () => frame));
}

/** `stream` cut into reads of `chunk` bytes, as a socket would deliver it (frames cross reads). */
export function split(stream: Buffer, chunk: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < stream.length; at += chunk) out.push(stream.subarray(at, Math.min(stream.length, at + chunk)));
  return out;
}

export async function runCodec(options: CodecOptions): Promise<{ rows: Row[]; notes: string[] }> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const wsJs = loadWs(false);
  const wsNative = loadWs(true);
  const bufferutil = loadBufferutil();
  if (!bufferutil.native) notes.push("bufferutil fell back to its JavaScript code: its figures are not native.");
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);

  for (const [label, size] of SIZES) {
    const data = Buffer.alloc(size);
    randomFillSync(data);
    const batch = Math.max(1, Math.floor(65536 / size));
    const r = await opsPerSec(
      {
        ours: () => unmask(data, mask),
        ws: () => wsJs.unmask(data, mask),
        native: () => bufferutil.unmask(data, mask),
      },
      batch,
      options,
    );
    rows.push({
      section: "Codec micro-benchmarks",
      name: `unmask ${label}`,
      unit: "ops/s",
      ours: r.ours!,
      peers: { ws: r.ws!, "ws+bufferutil": r.native! },
      comparisons: [
        { peer: "ws", target: { direction: "higher", bound: 1 } },
        { peer: "ws+bufferutil", target: { direction: "higher", bound: 1 / 1.5 } },
      ],
    });
    options.log(`  unmask ${label}: ours ${Math.round(r.ours!)} ws ${Math.round(r.ws!)} bufferutil ${Math.round(r.native!)} ops/s`);
  }

  for (const [label, size] of [SIZES[2]!, SIZES[3]!]) {
    const text = utf8Text(size);
    if (!isUtf8(text) || !isValidUtf8(text)) throw new Error("utf8Text produced invalid UTF-8");
    const validator = new Utf8Validator(isUtf8);
    const batch = Math.max(1, Math.floor(65536 / size));
    const r = await opsPerSec(
      {
        js: () => {
          if (!isValidUtf8(text)) throw new Error("invalid");
        },
        validator: () => {
          if (!validator.write(text) || !validator.end()) throw new Error("invalid");
          validator.reset();
        },
        native: () => {
          if (!isUtf8(text)) throw new Error("invalid");
        },
      },
      batch,
      options,
    );
    for (const [name, value] of [
      ["isValidUtf8 (JS)", r.js!],
      ["Utf8Validator + buffer.isUtf8", r.validator!],
    ] as const) {
      rows.push({
        section: "Codec micro-benchmarks",
        name: `UTF-8 ${name} ${label}`,
        unit: "ops/s",
        ours: value,
        // ws validates with buffer.isUtf8 from 24 bytes up on Node 20, with or without bufferutil.
        peers: { ws: r.native! },
        // The pure-JS validator has no JS counterpart in ws on Node 20: informational only.
        comparisons: [name.startsWith("Utf8Validator") ? { peer: "ws", target: { direction: "higher", bound: 1 / 1.5 } } : { peer: "ws" }],
      });
    }
    options.log(`  utf8 ${label}: ours JS ${Math.round(r.js!)} validator ${Math.round(r.validator!)} isUtf8 ${Math.round(r.native!)} ops/s`);
  }

  const MiB = 1024 * 1024;
  for (const [label, size, count] of [
    ["32 B frames", 32, 4096],
    ["64 KiB frames", 65536, 16],
  ] as const) {
    const chunks = split(maskedFrames(count, size), 65536);
    let received = 0;
    const ours = new Receiver(
      { role: "server", maxPayload: 64 * MiB, maxFragments: 1_048_576, maxBufferedChunks: 1_048_576, fastUtf8: isUtf8 },
      {
        onMessage: () => {
          received++;
        },
        onPing: () => {},
        onPong: () => {},
        onClose: () => {},
        onError: (error) => {
          throw error;
        },
      },
    );
    const make = (mods: WsModules): NodeJS.WritableStream => {
      const receiver = new mods.Receiver({ isServer: true, maxPayload: 64 * MiB, allowSynchronousEvents: true });
      receiver.on("message", () => {
        received++;
      });
      receiver.on("error", (error) => {
        throw error;
      });
      return receiver;
    };
    const wsJsReceiver = make(wsJs);
    const wsNativeReceiver = make(wsNative);
    const tasks = {
      ours: () => {
        for (const chunk of chunks) ours.push(chunk);
      },
      ws: () => {
        for (const chunk of chunks) wsJsReceiver.write(chunk);
      },
      native: () => {
        for (const chunk of chunks) wsNativeReceiver.write(chunk);
      },
    };
    for (const [name, fn] of Object.entries(tasks)) {
      received = 0;
      fn();
      if (received !== count) throw new Error(`${name} receiver parsed ${received} of ${count} ${label}`);
    }
    const r = await opsPerSec(tasks, 1, options);
    rows.push({
      section: "Codec micro-benchmarks",
      name: `parse ${label} (64 KiB reads)`,
      unit: "msg/s",
      ours: r.ours! * count,
      peers: { ws: r.ws! * count, "ws+bufferutil": r.native! * count },
      comparisons: [
        { peer: "ws", target: { direction: "higher", bound: 1 } },
        { peer: "ws+bufferutil", target: { direction: "higher", bound: 1 / 1.5 } },
      ],
    });
    options.log(`  parse ${label}: ours ${Math.round(r.ours! * count)} ws ${Math.round(r.ws! * count)} ws+bufferutil ${Math.round(r.native! * count)} msg/s`);
  }
  return { rows, notes };
}
