// Inputs the fuzz suites turned up, kept with their exact bytes so they are checked on every run.
// None of them crashed the codec; each was a counterexample to a property, and the test states the
// behaviour that the property was corrected to (with the reason), so that a change to it is noticed.
import { describe, expect, it } from "vitest";
import { PerMessageDeflate } from "../../src/deflate/index.js";
import { Receiver, maxCompressedLength } from "../../src/index.js";
import { EventLog } from "./frame-model.js";

describe("fuzz regressions", () => {
  it("a zero-length frame in the 64-bit length form is a complete (empty) message", () => {
    // receiver.fuzz: hostileHeader, seed 711156563. Masked, all-zero key, length 0 written in 8 bytes.
    const bytes = Uint8Array.from([0x81, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const log = new EventLog();
    new Receiver({ role: "server", maxPayload: 1 }, log.handler).push(bytes);
    expect(log.events).toEqual([["message", false, ""]]);
  });

  it("maxPayload bounds what a compressed message inflates to; its compressed length gets deflate's expansion", async () => {
    // inflate.fuzz: seed -257084025. deflate-raw of [0x00] with windowBits 9 and a sync flush, minus
    // the 00 00 ff ff tail (RFC 7692 §7.2.1), sent in one RSV1 frame against maxPayload 1: three
    // compressed bytes for one inflated byte is within the limit (issue 12, item 4).
    const compressed = Uint8Array.from([0x62, 0x00, 0x00]);
    const frame = Uint8Array.from([0xc2, compressed.length, ...compressed]);
    const params = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 8, clientMaxWindowBits: 8 };
    const pmd = new PerMessageDeflate(params, "client");
    const log = new EventLog();
    new Receiver({ role: "client", compression: pmd, maxPayload: 1 }, log.handler).push(frame);
    // Inflating is asynchronous: wait for the message, bounded.
    for (let i = 0; i < 200 && log.events.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(log.events).toEqual([["message", true, "00"]]);
    // A declared compressed length past maxCompressedLength is refused before any payload is read.
    const pmd2 = new PerMessageDeflate(params, "client");
    const log2 = new EventLog();
    const tooLong = maxCompressedLength(1, 1) + 1;
    new Receiver({ role: "client", compression: pmd2, maxPayload: 1 }, log2.handler).push(Uint8Array.from([0xc2, tooLong]));
    expect(log2.events).toEqual([["error", "WS_ERR_MESSAGE_TOO_BIG", 1009]]);
    pmd.close();
    pmd2.close();
  });
});
