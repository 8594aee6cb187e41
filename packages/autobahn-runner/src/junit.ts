// The verdict as JUnit XML, the format CI systems (GitHub Actions reporters, GitLab, Jenkins) read:
// one <testsuite> per agent, one <testcase> per case, a <failure> for each case that fails the verdict.
import { caseGroup, GROUP_TITLES, type CaseReport, type CaseResult } from "./report.js";
import { behaviorPair } from "./summary.js";
import type { Verdict } from "./verdict.js";

/** Escapes text for XML content and attribute values; drops characters XML 1.0 cannot hold. */
export function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

export interface JUnitOptions {
  /** Loads the per-case report of a case not OK, for the failure's text. */
  details?: (result: CaseResult) => CaseReport | undefined;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function detailText(result: CaseResult, report: CaseReport | undefined): string {
  const lines = [`behavior ${result.behavior}, behaviorClose ${result.behaviorClose}, remote close code ${result.remoteCloseCode ?? "none"}`];
  if (report !== undefined) {
    lines.push(`description: ${report.description}`, `expectation: ${report.expectation}`);
    lines.push(`result: ${report.result}`, `resultClose: ${report.resultClose}`);
  }
  lines.push(`report: ${result.reportfile}`);
  return lines.join("\n");
}

/** Renders the verdict as a JUnit XML document. */
export function formatJUnit(verdict: Verdict, options: JUnitOptions = {}): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const total = verdict.agents.reduce((n, a) => n + a.cases.length, 0);
  const totalTime = verdict.agents.reduce((t, a) => t + a.cases.reduce((s, c) => s + c.result.duration, 0), 0);
  out.push(`<testsuites name="autobahn" tests="${total}" failures="${verdict.failed.length}" time="${seconds(totalTime)}">`);
  for (const agent of verdict.agents) {
    const failures = agent.cases.filter((c) => c.status === "fail").length;
    const time = agent.cases.reduce((s, c) => s + c.result.duration, 0);
    out.push(
      `  <testsuite name="autobahn ${escapeXml(agent.agent)}" tests="${agent.cases.length}" failures="${failures}" errors="0" skipped="0" time="${seconds(time)}">`,
    );
    for (const c of agent.cases) {
      const r = c.result;
      const group = caseGroup(r.id);
      const classname = `autobahn.${agent.agent}.${group} ${GROUP_TITLES[group] ?? ""}`.trimEnd();
      const open = `    <testcase classname="${escapeXml(classname)}" name="${escapeXml(r.id)}" time="${seconds(r.duration)}"`;
      if (r.behavior === "OK" && r.behaviorClose === "OK") {
        out.push(`${open}/>`);
        continue;
      }
      out.push(`${open}>`);
      const text = detailText(r, options.details?.(r));
      if (c.status === "fail") {
        out.push(`      <failure message="${escapeXml(behaviorPair(r))}" type="${escapeXml(r.behavior === "OK" ? r.behaviorClose : r.behavior)}">${escapeXml(text)}</failure>`);
      } else {
        const why = c.status === "allowed" ? `allowed: ${c.reason ?? ""}` : `accepted: ${behaviorPair(r)}`;
        out.push(`      <system-out>${escapeXml(`${why}\n${text}`)}</system-out>`);
      }
      out.push("    </testcase>");
    }
    out.push("  </testsuite>");
  }
  out.push("</testsuites>");
  return out.join("\n") + "\n";
}
