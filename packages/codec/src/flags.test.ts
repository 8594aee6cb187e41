import { describe, expect, it } from "vitest";
import { defineFlags } from "./flags.js";

class Flagged {
  flags = 0;
  declare first: boolean;
  declare second: boolean;
}
defineFlags(Flagged.prototype, { first: 1 << 0, second: 1 << 3 });

describe("defineFlags", () => {
  it("keeps each boolean as its own bit of flags, leaving the other bits alone", () => {
    const object = new Flagged();
    object.flags = 0b0100;
    expect([object.first, object.second]).toEqual([false, false]);
    object.second = true;
    expect(object.flags).toBe(0b1100);
    object.first = true;
    expect(object.flags).toBe(0b1101);
    expect([object.first, object.second]).toEqual([true, true]);
    object.second = false;
    expect(object.flags).toBe(0b0101);
    expect(object.second).toBe(false);
    expect(Object.keys(object)).toEqual(["flags"]);
  });
});
