import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readReports, type AgentReport, type CaseResult } from "./report.js";
import { casePattern, judge, parseAllowList } from "./verdict.js";

const fixtures = join(import.meta.dirname, "../test/fixtures/wstest");
const servers = (): AgentReport[] => readReports(join(fixtures, "servers"));

function fake(id: string, behavior: string, behaviorClose = "OK"): CaseResult {
  return { agent: "a", id, behavior, behaviorClose, duration: 1, remoteCloseCode: 1000, reportfile: "", dir: "" };
}

describe("judge", () => {
  it("accepts OK and INFORMATIONAL by default and fails the rest", () => {
    const verdict = judge(servers());
    expect(verdict.passed).toBe(false);
    expect(verdict.accepted).toEqual(["OK", "INFORMATIONAL"]);
    expect(verdict.notOk.map((c) => [c.result.id, c.status])).toEqual([
      ["5.18", "fail"],
      ["6.4.3", "fail"],
      ["7.1.6", "pass"],
    ]);
    expect(verdict.failed.map((c) => c.result.id)).toEqual(["5.18", "6.4.3"]);
  });

  it("counts cases per behaviour and per group", () => {
    const [agent] = judge(servers()).agents;
    expect(Object.fromEntries(agent!.behaviors)).toEqual({ OK: 3, FAILED: 1, "NON-STRICT": 1, INFORMATIONAL: 1 });
    expect(Object.fromEntries(agent!.closeBehaviors)).toEqual({ OK: 5, INFORMATIONAL: 1 });
    expect(agent!.groups).toEqual([
      { group: "1", total: 1, ok: 1, accepted: 0, failed: 0 },
      { group: "2", total: 1, ok: 1, accepted: 0, failed: 0 },
      { group: "5", total: 1, ok: 0, accepted: 0, failed: 1 },
      { group: "6", total: 1, ok: 0, accepted: 0, failed: 1 },
      { group: "7", total: 1, ok: 0, accepted: 1, failed: 0 },
      { group: "10", total: 1, ok: 1, accepted: 0, failed: 0 },
    ]);
  });

  it("accepts more behaviours when told", () => {
    const verdict = judge(servers(), { accepted: ["OK", "INFORMATIONAL", "NON-STRICT"] });
    expect(verdict.failed.map((c) => c.result.id)).toEqual(["5.18"]);
  });

  it("passes cases on the allow-list, with their reason, and reports unused entries", () => {
    const allowList = parseAllowList("5.18 known, issue #12\n6.4.* fails per frame, not per byte\n3.* stale\n");
    const verdict = judge(servers(), { allowList });
    expect(verdict.passed).toBe(true);
    expect(verdict.notOk.filter((c) => c.status === "allowed").map((c) => [c.result.id, c.reason])).toEqual([
      ["5.18", "known, issue #12"],
      ["6.4.3", "fails per frame, not per byte"],
    ]);
    expect(verdict.unusedAllowances).toEqual(["3.*"]);
  });

  it("judges behaviorClose as strictly as behavior", () => {
    const report: AgentReport = { agent: "a", indexFile: "x", cases: [fake("7.3.1", "OK", "WRONG CODE")] };
    expect(judge([report]).failed).toHaveLength(1);
    expect(judge([report], { accepted: ["OK", "WRONG CODE"] }).passed).toBe(true);
    const unimplemented: AgentReport = { agent: "a", indexFile: "x", cases: [fake("12.1.1", "UNIMPLEMENTED", "UNIMPLEMENTED")] };
    expect(judge([unimplemented]).passed).toBe(false);
  });

  it("fails an empty report: a run that ran nothing proves nothing", () => {
    expect(judge([]).passed).toBe(false);
    expect(judge([{ agent: "a", indexFile: "x", cases: [] }]).passed).toBe(false);
  });
});

describe("parseAllowList", () => {
  it("reads ids or patterns and reasons, skipping comments and blank lines", () => {
    const list = parseAllowList("# why these\n\n6.4.3   too strict   # RFC 6455 §8.1\n7.1.*\n");
    expect([...list]).toEqual([
      ["6.4.3", "too strict"],
      ["7.1.*", "(no reason given)"],
    ]);
  });

  it("rejects a line that does not start with a case id", () => {
    expect(() => parseAllowList("6.4.3 ok\nall of them\n")).toThrow(/line 2: "all" is not a case id/);
  });
});

describe("casePattern", () => {
  it("matches like wstest: * any characters, ? one, the rest literally", () => {
    expect(casePattern("9.*").test("9.1.3")).toBe(true);
    expect(casePattern("9.*").test("19.1")).toBe(false);
    expect(casePattern("1.1.?").test("1.1.8")).toBe(true);
    expect(casePattern("1.1.?").test("1.1.10")).toBe(false);
    expect(casePattern("6.4").test("6.4.3")).toBe(false);
    expect(casePattern("2.9").test("209")).toBe(false);
  });
});
