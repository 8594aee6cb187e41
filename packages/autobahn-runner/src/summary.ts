// The verdict as text for a terminal: counts per behaviour and per group, then every case not OK.
import { relative } from "node:path";
import { GROUP_TITLES, readCaseReport, type CaseReport, type CaseResult } from "./report.js";
import type { CaseVerdict, Verdict } from "./verdict.js";

/** Reads a case's per-case report, or undefined when it is missing or unreadable. */
export function tryReadCaseReport(result: CaseResult): CaseReport | undefined {
  try {
    return readCaseReport(result);
  } catch {
    return undefined;
  }
}

export interface SummaryOptions {
  /** Paths are printed relative to this directory (default: the current one). */
  cwd?: string;
  /** Loads the per-case report of a case not OK, for its description and result. */
  details?: (result: CaseResult) => CaseReport | undefined;
}

function pad(text: string | number, width: number): string {
  return String(text).padEnd(width);
}

function padStart(text: string | number, width: number): string {
  return String(text).padStart(width);
}

/** "OK / OK" or "NON-STRICT / OK": behavior then behaviorClose. */
export function behaviorPair(result: CaseResult): string {
  return `${result.behavior} / ${result.behaviorClose}`;
}

function statusLabel(verdict: CaseVerdict): string {
  if (verdict.status === "fail") return "FAIL";
  if (verdict.status === "allowed") return "allowed";
  return "accepted";
}

/** One line per count, verdict last. */
export function verdictLine(verdict: Verdict): string {
  const cases = verdict.agents.reduce((n, a) => n + a.cases.length, 0);
  const ok = cases - verdict.notOk.length;
  const allowed = verdict.notOk.filter((c) => c.status === "allowed").length;
  const accepted = verdict.notOk.length - verdict.failed.length - allowed;
  const word = verdict.passed ? "PASS" : "FAIL";
  if (cases === 0) return `Verdict: ${word}: the report holds no cases`;
  return (
    `Verdict: ${word}: ${cases} cases, ${ok} OK, ${accepted} accepted (${verdict.accepted.join(", ")}), ` +
    `${allowed} allowed by the allow-list, ${verdict.failed.length} failed`
  );
}

/** Renders the whole summary. */
export function formatSummary(verdict: Verdict, options: SummaryOptions = {}): string {
  const cwd = options.cwd ?? process.cwd();
  const lines: string[] = [];
  for (const agent of verdict.agents) {
    const rel = relative(cwd, agent.indexFile);
    const where = rel === "" || rel.startsWith("..") ? agent.indexFile : rel;
    lines.push(`${agent.agent}: ${agent.cases.length} cases (${where})`, "");
    const names = [...new Set([...agent.behaviors.keys(), ...agent.closeBehaviors.keys()])];
    lines.push(`  ${pad("behaviour", 18)}${padStart("behavior", 9)}${padStart("behaviorClose", 15)}`);
    for (const name of names) {
      lines.push(
        `  ${pad(name, 18)}${padStart(agent.behaviors.get(name) ?? 0, 9)}${padStart(agent.closeBehaviors.get(name) ?? 0, 15)}`,
      );
    }
    lines.push("", `  ${pad("group", 52)}${padStart("cases", 6)}${padStart("OK", 6)}${padStart("accepted", 10)}${padStart("failed", 8)}`);
    for (const g of agent.groups) {
      const title = `${g.group} ${GROUP_TITLES[g.group] ?? ""}`.trimEnd();
      lines.push(
        `  ${pad(title, 52)}${padStart(g.total, 6)}${padStart(g.ok, 6)}${padStart(g.accepted, 10)}${padStart(g.failed, 8)}`,
      );
    }
    lines.push("");
  }

  if (verdict.notOk.length > 0) {
    lines.push(`Not OK (${verdict.notOk.length}):`);
    const several = verdict.agents.length > 1;
    for (const c of verdict.notOk) {
      const r = c.result;
      const where = several ? `${r.agent} ` : "";
      lines.push(
        `  ${pad(statusLabel(c), 9)}${where}${pad(r.id, 9)}${pad(behaviorPair(r), 32)}close code ${r.remoteCloseCode ?? "-"}, ${r.duration} ms`,
      );
      if (c.reason !== undefined) lines.push(`           allowed: ${c.reason}`);
      const report = options.details?.(r);
      if (report !== undefined) {
        lines.push(`           ${report.description}`);
        if (r.behavior !== "OK") lines.push(`           -> ${report.result}`);
        if (r.behaviorClose !== "OK") lines.push(`           -> ${report.resultClose}`);
      }
    }
    lines.push("");
  }
  if (verdict.unusedAllowances.length > 0) {
    lines.push(`Allow-list entries that matched no failing case: ${verdict.unusedAllowances.join(", ")}`, "");
  }
  lines.push(verdictLine(verdict));
  return lines.join("\n") + "\n";
}
