import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatCasePage, formatEvent, formatWirelogEntry } from "./case-page.js";
import { readCaseReport, readReports } from "./report.js";

const fixtures = join(import.meta.dirname, "../test/fixtures/wstest");

function page(id: string): string {
  const result = readReports(fixtures).flatMap((r) => r.cases).find((c) => c.id === id)!;
  return formatCasePage(readCaseReport(result));
}

describe("formatCasePage", () => {
  const text = page("2.9");

  it("has the sections of Autobahn's case pages, in order", () => {
    const sections = ["Description", "Expectation", "Outcome", "Closing behaviour", "Opening handshake", "Wire statistics", "Wire log"];
    const at = sections.map((s) => text.indexOf(`\n${s}\n`));
    expect(at.every((i) => i > 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(text.startsWith("Case 2.9: fixture-server\n========================\n")).toBe(true);
  });

  it("shows expected and observed events and the closing behaviour", () => {
    expect(text).toContain("  Expected events (by behaviour):\n    OK:\n      pong: \"ping payload\"\n  Observed events:\n    pong: \"ping payload\"");
    expect(text).toContain("expected: close code 1000, closed by wstest, clean close required");
    expect(text).toMatch(/^ {2}wasClean +True +whether close frames went both ways/m);
    // The meaning asks the question, so it is right beside False too (wstest tested a server here).
    expect(text).toMatch(/^ {2}isServer +False +whether wstest was the server /m);
    expect(text).toMatch(/^ {2}remoteCloseReason +None /m);
  });

  it("prints the handshake and the wire log", () => {
    expect(text).toContain("\n  GET / HTTP/1.1\n  User-Agent: AutobahnTestSuite/25.10.1-0.10.9\n");
    expect(text).toContain("\n  HTTP/1.1 101 Switching Protocols\n");
    expect(text).toContain("  002 TX FRAME  OPCODE=10 (pong), FIN=True, RSV=0, MASK=b2e1a3f0, PAYLOAD-REPEAT-LEN=None, CHOPSIZE=None, SYNC=False, PAYLOAD-LEN (18) unsolicited pong payload");
    expect(text).toContain("  006 KILL CONNECTION AFTER 1 sec");
    expect(text).toContain("  008 RX FRAME  OPCODE=10 (pong), FIN=True, RSV=0, MASKED=False, MASK=None, PAYLOAD-LEN (12) ping payload");
    expect(text).toMatch(/Frames transmitted by opcode\n.*\n {4}8 \(close\) +1\n {4}9 \(ping\) +1\n {4}10 \(pong\) +1\n {4}total +3/);
  });

  it("says when a case has no events or no wire log", () => {
    const failed = page("6.4.3");
    expect(failed).toContain("    NON-STRICT:\n      (no events)\n    OK:\n      (no events)\n  Observed events:\n    (no events)");
    expect(failed).toContain("(wire log not recorded)");
  });
});

describe("formatEvent and formatWirelogEntry", () => {
  it("renders messages with their kind", () => {
    expect(formatEvent(["message", "Hello", false])).toBe('message (text): "Hello"');
    expect(formatEvent(["message", "0x0102", true])).toBe('message (binary): "0x0102"');
    expect(formatEvent(["timeout", 1000])).toBe("timeout: 1000");
  });

  it("keeps octet logs and shows unknown tags raw", () => {
    expect(formatWirelogEntry(["TO", [8, "888248c3c6114b2b"], true])).toBe("TX OCTETS (8) 888248c3c6114b2b  [SYNC]");
    expect(formatWirelogEntry(["RO", [4, "880203e8"]])).toBe("RX OCTETS (4) 880203e8");
    expect(formatWirelogEntry(["XX", 1, "a"])).toBe('XX 1 "a"');
  });
});
