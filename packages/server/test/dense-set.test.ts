// DenseSet: the set behind `server.clients`, the sockets reading a head and each topic's members.
import { describe, expect, it } from "vitest";
import { DenseSet } from "../src/dense-set.js";

function member(name: string) {
  return { name, denseIndex: -1 };
}

describe("DenseSet", () => {
  it("adds, finds and removes members, moving the last one into a hole", () => {
    const set = new DenseSet<ReturnType<typeof member>>();
    const [a, b, c] = [member("a"), member("b"), member("c")];
    for (const m of [a, b, c]) set.add(m);
    expect(set.size).toBe(3);
    expect(set.has(b)).toBe(true);
    expect(set.delete(a)).toBe(true);
    expect(set.delete(a)).toBe(false);
    expect(set.has(a)).toBe(false);
    expect(a.denseIndex).toBe(-1);
    // c took a's place.
    expect(set.members).toEqual([c, b]);
    expect(c.denseIndex).toBe(0);
    expect(set.delete(b)).toBe(true);
    expect(set.delete(c)).toBe(true);
    expect(set.size).toBe(0);
  });

  it("answers has() for values that are in another set or no member at all", () => {
    const one = new DenseSet<ReturnType<typeof member>>();
    const other = new DenseSet<ReturnType<typeof member>>();
    const a = member("a");
    const b = member("b");
    one.add(a);
    other.add(b);
    // b's index (0) is a's index in `one`: the slot must hold b itself.
    expect(one.has(b)).toBe(false);
    expect(one.delete(b)).toBe(false);
    expect(other.members).toEqual([b]);
    for (const value of [undefined, null, {}, { denseIndex: 0 }, 42, "x"]) expect(one.has(value as never)).toBe(false);
  });

  it("iterates the members present when iteration starts", () => {
    const set = new DenseSet<ReturnType<typeof member>>();
    const [a, b, c, d] = [member("a"), member("b"), member("c"), member("d")];
    for (const m of [a, b, c]) set.add(m);
    const seen: string[] = [];
    for (const m of set) {
      seen.push(m.name);
      // Removing the others and adding one while iterating changes nothing of this iteration.
      set.delete(a);
      set.delete(c);
      if (!set.has(d)) set.add(d);
    }
    expect(seen.sort()).toEqual(["a", "b", "c"]);
    expect([...set].map((m) => m.name).sort()).toEqual(["b", "d"]);
    const viaForEach: string[] = [];
    set.forEach((value, key, self) => {
      expect(key).toBe(value);
      expect(self).toBe(set);
      viaForEach.push(value.name);
      set.delete(value);
    });
    expect(viaForEach.sort()).toEqual(["b", "d"]);
    expect(set.size).toBe(0);
  });

  it("has the iterators of a Set", () => {
    const set = new DenseSet<ReturnType<typeof member>>();
    const [a, b] = [member("a"), member("b")];
    set.add(a);
    set.add(b);
    expect([...set.keys()]).toEqual([...set.values()]);
    expect([...set.entries()]).toEqual([
      [a, a],
      [b, b],
    ]);
    expect(Object.prototype.toString.call(set)).toBe("[object DenseSet]");
  });
});
