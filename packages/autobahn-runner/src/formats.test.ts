// The verdict rendered three ways: terminal summary, JUnit XML, Markdown.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { escapeXml, formatJUnit } from "./junit.js";
import { formatMarkdown } from "./markdown.js";
import { readReports } from "./report.js";
import { formatSummary, tryReadCaseReport } from "./summary.js";
import { judge, parseAllowList } from "./verdict.js";

const fixtures = join(import.meta.dirname, "../test/fixtures/wstest");
const verdict = judge(readReports(fixtures), { allowList: parseAllowList("6.4.3 fails per frame") });
const details = tryReadCaseReport;

describe("formatSummary", () => {
  const text = formatSummary(verdict, { details, cwd: fixtures });

  it("prints counts per behaviour and group for each agent", () => {
    expect(text).toContain("fixture-server: 6 cases (servers/index.json)");
    expect(text).toMatch(/^ {2}FAILED +1 +0$/m);
    expect(text).toMatch(/^ {2}5 Fragmentation +1 +0 +0 +1$/m);
    expect(text).toMatch(/^ {2}7 Close Handling +1 +0 +1 +0$/m);
  });

  it("lists every case not OK with what wstest said about it", () => {
    expect(text).toContain("Not OK (4):");
    expect(text).toMatch(/FAIL {5}fixture-client 7\.3\.1 +OK \/ WRONG CODE/);
    expect(text).toContain("-> The close code should have been 1000 or empty");
    expect(text).toMatch(/FAIL {5}fixture-server 5\.18 +FAILED \/ OK/);
    expect(text).toContain("-> Actual events differ from any expected.");
    expect(text).toMatch(/allowed {2}fixture-server 6\.4\.3/);
    expect(text).toContain("allowed: fails per frame");
    expect(text).toMatch(/accepted fixture-server 7\.1\.6 +INFORMATIONAL \/ INFORMATIONAL/);
  });

  it("ends with the verdict", () => {
    expect(text.trimEnd().split("\n").at(-1)).toBe(
      "Verdict: FAIL: 8 cases, 4 OK, 1 accepted (OK, INFORMATIONAL), 1 allowed by the allow-list, 2 failed",
    );
  });
});

describe("formatJUnit", () => {
  const xml = formatJUnit(verdict, { details });

  it("has one suite per agent and one test case per case", () => {
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="autobahn" tests="8" failures="2"/);
    expect(xml).toContain('<testsuite name="autobahn fixture-server" tests="6" failures="1"');
    expect(xml.match(/<testcase /g)).toHaveLength(8);
    expect(xml).toContain('<testcase classname="autobahn.fixture-server.1 Framing" name="1.1.1" time="0.008"/>');
  });

  it("gives failures the case's description and result, escaped", () => {
    expect(xml).toMatch(/<testcase classname="autobahn.fixture-server.5 Fragmentation" name="5.18" time="0.003">\n {6}<failure message="FAILED \/ OK" type="FAILED">behavior FAILED/);
    expect(xml).toContain("result: Actual events differ from any expected.");
    expect(xml).toContain("expectation: The connection is failed immediately, since all data frames after the initial data frame must have opcode 0.");
    expect(xml).toContain("<system-out>allowed: fails per frame");
  });

  it("escapes what XML cannot hold", () => {
    expect(escapeXml(`a<b>&"c"\u0001`)).toBe("a&lt;b&gt;&amp;&quot;c&quot;\uFFFD");
  });
});

describe("formatMarkdown", () => {
  const md = formatMarkdown(verdict, { details });

  it("has a verdict heading and tables", () => {
    expect(md.split("\n")[0]).toBe("## Autobahn testsuite: ❌ fail");
    expect(md).toContain("| 5 Fragmentation | 1 | 0 | 0 | 1 |");
    expect(md).toContain("| 5.18 | fixture-server | FAILED | OK | **fail** | Actual events differ from any expected. / Connection was properly closed |");
    expect(md).toContain("| 6.4.3 | fixture-server | NON-STRICT | OK | allowed: fails per frame |");
  });
});
