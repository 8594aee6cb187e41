import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { caseGroup, compareCaseIds, findIndexFiles, readCaseReport, readIndexFile, readReports } from "./report.js";

const fixtures = join(import.meta.dirname, "../test/fixtures/wstest");
const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("compareCaseIds", () => {
  it("orders ids component by component, as numbers", () => {
    const ids = ["10.1.1", "2.10", "1.1.10", "2.9", "1.1.2", "9.1.1", "1.2.1"];
    expect(ids.sort(compareCaseIds)).toEqual(["1.1.2", "1.1.10", "1.2.1", "2.9", "2.10", "9.1.1", "10.1.1"]);
  });
});

describe("findIndexFiles", () => {
  it("finds index.json in each subfolder of an outdir", () => {
    expect(findIndexFiles(fixtures)).toEqual([join(fixtures, "clients/index.json"), join(fixtures, "servers/index.json")]);
  });

  it("takes the folder holding index.json, or the file itself", () => {
    expect(findIndexFiles(join(fixtures, "servers"))).toEqual([join(fixtures, "servers/index.json")]);
    expect(findIndexFiles(join(fixtures, "clients/index.json"))).toEqual([join(fixtures, "clients/index.json")]);
  });

  it("says so when there is no report", () => {
    const dir = mkdtempSync(join(tmpdir(), "autobahn-report-"));
    temps.push(dir);
    expect(() => findIndexFiles(dir)).toThrow(/no index.json/);
    expect(() => findIndexFiles(join(dir, "missing"))).toThrow(/no such file/);
  });
});

describe("readIndexFile", () => {
  it("reads every case of the agent, sorted, with the folder of its report file", () => {
    const [report, ...others] = readIndexFile(join(fixtures, "servers/index.json"));
    expect(others).toEqual([]);
    expect(report!.agent).toBe("fixture-server");
    expect(report!.cases.map((c) => c.id)).toEqual(["1.1.1", "2.9", "5.18", "6.4.3", "7.1.6", "10.1.1"]);
    expect(report!.cases[2]).toEqual({
      agent: "fixture-server",
      id: "5.18",
      behavior: "FAILED",
      behaviorClose: "OK",
      duration: 3,
      remoteCloseCode: 1002,
      reportfile: "fixture_server_case_5_18.json",
      dir: join(fixtures, "servers"),
    });
  });

  it("rejects a file that is not an index", () => {
    const dir = mkdtempSync(join(tmpdir(), "autobahn-report-"));
    temps.push(dir);
    writeFileSync(join(dir, "index.json"), "[1, 2]");
    expect(() => readIndexFile(join(dir, "index.json"))).toThrow(/not a wstest index.json/);
    writeFileSync(join(dir, "index.json"), "{ truncated");
    expect(() => readIndexFile(join(dir, "index.json"))).toThrow(/cannot read/);
  });
});

describe("readReports and readCaseReport", () => {
  it("reads both directions of an outdir and a case's own report", () => {
    const reports = readReports(fixtures);
    expect(reports.map((r) => [r.agent, r.cases.length])).toEqual([
      ["fixture-client", 2],
      ["fixture-server", 6],
    ]);
    const case29 = reports[1]!.cases.find((c) => c.id === "2.9")!;
    const detail = readCaseReport(case29);
    expect(detail.id).toBe("2.9");
    expect(detail.expected).toEqual({ OK: [["pong", "ping payload"]] });
    expect(detail.wirelog[0]![0]).toBe("TO");
  });

  it("names the top-level group", () => {
    expect(caseGroup("9.1.3")).toBe("9");
    expect(caseGroup("10.1.1")).toBe("10");
  });
});
