// The verdict as Markdown, for a CI job summary ($GITHUB_STEP_SUMMARY) or a pull request comment.
import { GROUP_TITLES, type CaseReport, type CaseResult } from "./report.js";
import { verdictLine } from "./summary.js";
import type { Verdict } from "./verdict.js";

export interface MarkdownOptions {
  title?: string;
  /** Loads the per-case report of a case not OK, for its description and result. */
  details?: (result: CaseResult) => CaseReport | undefined;
}

/** Escapes text for a Markdown table cell. */
function cell(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/** Renders the verdict as a Markdown document. */
export function formatMarkdown(verdict: Verdict, options: MarkdownOptions = {}): string {
  const out = [`## ${options.title ?? "Autobahn testsuite"}: ${verdict.passed ? "✅ pass" : "❌ fail"}`, "", verdictLine(verdict), ""];
  for (const agent of verdict.agents) {
    out.push(`### ${cell(agent.agent)} (${agent.cases.length} cases)`, "");
    out.push("| behaviour | behavior | behaviorClose |", "|---|--:|--:|");
    for (const name of new Set([...agent.behaviors.keys(), ...agent.closeBehaviors.keys()])) {
      out.push(`| ${name} | ${agent.behaviors.get(name) ?? 0} | ${agent.closeBehaviors.get(name) ?? 0} |`);
    }
    out.push("", "| group | cases | OK | accepted | failed |", "|---|--:|--:|--:|--:|");
    for (const g of agent.groups) {
      out.push(`| ${g.group} ${GROUP_TITLES[g.group] ?? ""} | ${g.total} | ${g.ok} | ${g.accepted} | ${g.failed} |`);
    }
    out.push("");
  }
  if (verdict.notOk.length > 0) {
    out.push("### Cases not OK", "", "| case | agent | behavior | behaviorClose | verdict | result |", "|---|---|---|---|---|---|");
    for (const c of verdict.notOk) {
      const r = c.result;
      const report = options.details?.(r);
      const result = [report?.result, report?.resultClose].filter((x) => x !== undefined).join(" / ");
      const status = c.status === "fail" ? "**fail**" : c.status === "allowed" ? `allowed: ${cell(c.reason ?? "")}` : "accepted";
      out.push(`| ${r.id} | ${cell(r.agent)} | ${r.behavior} | ${r.behaviorClose} | ${status} | ${cell(result)} |`);
    }
    out.push("");
  }
  return out.join("\n");
}
