// One case's per-case report as a page of text, with the sections Autobahn's HTML case pages have:
// description, expectation, outcome (expected vs observed events), closing behaviour, the opening
// handshake, wire statistics and the wire log.
import type { CaseReport, WirelogEntry } from "./report.js";

/** RFC 6455 §11.8 opcode names. */
const OPCODES: Readonly<Record<number, string>> = {
  0: "continuation",
  1: "text",
  2: "binary",
  8: "close",
  9: "ping",
  10: "pong",
};

function opcodeName(opcode: unknown): string {
  return typeof opcode === "number" ? `${opcode} (${OPCODES[opcode] ?? "reserved"})` : String(opcode);
}

/** Python-ish scalars as wstest's own pages print them: None, True, False. */
function show(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** One event of `expected` / `received`: ["message", payload, binary], ["ping", payload], ... */
export function formatEvent(event: unknown): string {
  if (!Array.isArray(event) || typeof event[0] !== "string") return JSON.stringify(event);
  const [kind, ...rest] = event as [string, ...unknown[]];
  if (kind === "message") {
    const [payload, binary] = rest;
    return `message (${binary === true ? "binary" : "text"}): ${JSON.stringify(payload)}`;
  }
  if (kind === "ping" || kind === "pong") return `${kind}: ${JSON.stringify(rest[0])}`;
  return rest.length === 0 ? kind : `${kind}: ${rest.map((x) => JSON.stringify(x)).join(", ")}`;
}

/** [length, data] as wstest logs payloads and octets (data truncated by wstest, ending " ..."). */
function sized(value: unknown): string {
  if (Array.isArray(value) && value.length === 2) return `(${show(value[0])}) ${show(value[1])}`;
  return show(value);
}

/** One wire log line. Tags: RO/TO received/transmitted octets, RF/TF frames, KL a kill timer. */
export function formatWirelogEntry(entry: WirelogEntry): string {
  const [tag, ...f] = entry;
  switch (tag) {
    case "RO":
      return `RX OCTETS ${sized(f[0])}`;
    case "TO":
      return `TX OCTETS ${sized(f[0])}${f[1] === true ? "  [SYNC]" : ""}`;
    case "RF":
      // ["RF", [len, payload], opcode, fin, rsv, masked, mask]
      return (
        `RX FRAME  OPCODE=${opcodeName(f[1])}, FIN=${show(f[2])}, RSV=${show(f[3])}, MASKED=${show(f[4])}, ` +
        `MASK=${show(f[5])}, PAYLOAD-LEN ${sized(f[0])}`
      );
    case "TF":
      // ["TF", [len, payload], opcode, fin, rsv, mask, payloadRepeatLen, chopsize, sync]
      return (
        `TX FRAME  OPCODE=${opcodeName(f[1])}, FIN=${show(f[2])}, RSV=${show(f[3])}, MASK=${show(f[4])}, ` +
        `PAYLOAD-REPEAT-LEN=${show(f[5])}, CHOPSIZE=${show(f[6])}, SYNC=${show(f[7])}, PAYLOAD-LEN ${sized(f[0])}`
      );
    case "KL":
      return `KILL CONNECTION AFTER ${show(f[0])} sec`;
    default:
      return `${tag} ${f.map((x) => JSON.stringify(x)).join(" ")}`.trimEnd();
  }
}

// The meanings say what each key asks, so they read right beside True and False alike.
const CLOSE_FIELDS: ReadonlyArray<[keyof CaseReport, string]> = [
  ["isServer", "whether wstest was the server (True: it tested a client)"],
  ["closedByMe", "whether wstest sent the first close frame"],
  ["failedByMe", "whether wstest failed the connection (protocol error seen)"],
  ["droppedByMe", "whether wstest dropped the TCP connection"],
  ["wasClean", "whether close frames went both ways and the server dropped TCP"],
  ["wasNotCleanReason", "why the close was not clean (None: it was)"],
  ["wasServerConnectionDropTimeout", "whether the server failed to drop TCP in time"],
  ["wasOpenHandshakeTimeout", "whether the opening handshake timed out"],
  ["wasCloseHandshakeTimeout", "whether the peer failed to answer wstest's close frame in time"],
  ["localCloseCode", "close code wstest sent"],
  ["localCloseReason", "close reason wstest sent"],
  ["remoteCloseCode", "close code the peer sent"],
  ["remoteCloseReason", "close reason the peer sent"],
];

function indent(text: string, prefix = "  "): string {
  return text
    .split("\n")
    .map((line) => (line === "" ? line : prefix + line))
    .join("\n");
}

function statsTable(title: string, key: string, stats: Record<string, number> | undefined, names?: (k: string) => string): string[] {
  const entries = Object.entries(stats ?? {}).sort(([a], [b]) => Number(a) - Number(b));
  if (entries.length === 0) return [];
  const total = entries.reduce((n, [, count]) => n + count, 0);
  const lines = [`  ${title}`, `    ${key.padEnd(20)}${"count".padStart(8)}`];
  for (const [k, count] of entries) lines.push(`    ${(names?.(k) ?? k).padEnd(20)}${String(count).padStart(8)}`);
  lines.push(`    ${"total".padEnd(20)}${String(total).padStart(8)}`, "");
  return lines;
}

/** Renders one case report as a readable page. */
export function formatCasePage(report: CaseReport): string {
  const out: string[] = [];
  const title = `Case ${report.id}: ${report.agent}`;
  out.push(title, "=".repeat(title.length), "");
  out.push(`behavior: ${report.behavior}    behaviorClose: ${report.behaviorClose}    duration: ${report.duration} ms${report.started ? `    started: ${report.started}` : ""}`, "");

  out.push("Description", indent(report.description), "", "Expectation", indent(report.expectation), "");

  out.push("Outcome", indent(report.result), "", "  Expected events (by behaviour):");
  for (const [behavior, events] of Object.entries(report.expected ?? {})) {
    out.push(`    ${behavior}:`);
    if (events.length === 0) out.push("      (no events)");
    for (const event of events) out.push(`      ${formatEvent(event)}`);
  }
  out.push("  Observed events:");
  if ((report.received ?? []).length === 0) out.push("    (no events)");
  for (const event of report.received ?? []) out.push(`    ${formatEvent(event)}`);
  out.push("");

  out.push("Closing behaviour", indent(report.resultClose), "");
  const close = report.expectedClose;
  if (close !== undefined) {
    out.push(
      `  expected: close code ${close.closeCode.join(" or ")}, closed by ${close.closedByMe ? "wstest" : "the peer"}, ` +
        `clean close ${close.requireClean ? "required" : "not required"}`,
      "",
    );
  }
  out.push(`  ${"key".padEnd(32)}${"value".padEnd(22)}meaning`);
  for (const [key, meaning] of CLOSE_FIELDS) {
    out.push(`  ${key.padEnd(32)}${show(report[key]).padEnd(22)}${meaning}`);
  }
  out.push("");

  const head = (text: string | undefined): string => indent(text?.replace(/(\r\n)+$/, "").replace(/\r\n/g, "\n") || "(none)");
  out.push("Opening handshake", "", head(report.httpRequest), "", head(report.httpResponse), "");

  out.push("Wire statistics", "");
  if (report.trafficStats !== null && report.trafficStats !== undefined) {
    out.push("  Traffic (compression)");
    for (const [k, v] of Object.entries(report.trafficStats)) out.push(`    ${k.padEnd(40)}${show(v)}`);
    out.push("");
  }
  out.push(...statsTable("Octets received by chop size", "chop size", report.rxOctetStats));
  out.push(...statsTable("Frames received by opcode", "opcode", report.rxFrameStats, (k) => opcodeName(Number(k))));
  out.push(...statsTable("Octets transmitted by chop size", "chop size", report.txOctetStats));
  out.push(...statsTable("Frames transmitted by opcode", "opcode", report.txFrameStats, (k) => opcodeName(Number(k))));

  out.push("Wire log", "");
  const log = report.wirelog ?? [];
  if (log.length === 0) out.push("  (wire log not recorded)");
  const width = String(Math.max(log.length - 1, 0)).length;
  log.forEach((entry, i) => out.push(`  ${String(i).padStart(Math.max(width, 3), "0")} ${formatWirelogEntry(entry)}`));
  return out.join("\n") + "\n";
}
