// Turning wstest's per-case behaviours into one pass/fail verdict.
import { caseGroup, type AgentReport, type CaseResult } from "./report.js";

/**
 * The behaviours wstest reports, in `behavior` and `behaviorClose`. "WRONG CODE" and
 * "FAILED BY CLIENT" appear in `behaviorClose` only.
 */
export const Behavior = {
  OK: "OK",
  NonStrict: "NON-STRICT",
  Informational: "INFORMATIONAL",
  Unimplemented: "UNIMPLEMENTED",
  Failed: "FAILED",
  WrongCode: "WRONG CODE",
  FailedByClient: "FAILED BY CLIENT",
} as const;

/** Accepted unless told otherwise: INFORMATIONAL cases test nothing the RFC requires. */
export const DEFAULT_ACCEPTED: readonly string[] = [Behavior.OK, Behavior.Informational];

/** Case id pattern (as in the spec's `cases`: `*` any characters, `?` one) -> why it is allowed. */
export type AllowList = Map<string, string>;

/** pass: accepted behaviours; allowed: not accepted, but on the allow-list; fail: neither. */
export type CaseStatus = "pass" | "allowed" | "fail";

export interface CaseVerdict {
  result: CaseResult;
  status: CaseStatus;
  /** The allow-list's reason, for allowed cases. */
  reason?: string;
}

export interface GroupCount {
  group: string;
  total: number;
  ok: number;
  /** Not OK in `behavior` or `behaviorClose`, but accepted or allowed. */
  accepted: number;
  failed: number;
}

export interface AgentVerdict {
  agent: string;
  indexFile: string;
  cases: CaseVerdict[];
  /** Cases per `behavior` value. */
  behaviors: Map<string, number>;
  /** Cases per `behaviorClose` value. */
  closeBehaviors: Map<string, number>;
  groups: GroupCount[];
}

export interface Verdict {
  passed: boolean;
  accepted: readonly string[];
  agents: AgentVerdict[];
  /** Every case whose `behavior` or `behaviorClose` is not OK, in order. */
  notOk: CaseVerdict[];
  failed: CaseVerdict[];
  /** Allow-list patterns that matched no non-accepted case (candidates for removal). */
  unusedAllowances: string[];
}

export interface VerdictOptions {
  /** Accepted behaviours; {@link DEFAULT_ACCEPTED} when omitted. */
  accepted?: Iterable<string>;
  allowList?: AllowList;
}

/** Compiles a case id pattern (`*` any characters, `?` one) into an anchored RegExp. */
export function casePattern(pattern: string): RegExp {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${source}$`);
}

/**
 * Parses an allow-list file: one case id or pattern a line, then the reason; `# ` starts a comment.
 *
 *     6.4.3   we fail fast per frame, not per byte   # RFC 6455 §8.1 allows either
 */
export function parseAllowList(text: string): AllowList {
  const list: AllowList = new Map();
  for (const [n, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/(^|\s)#(\s.*)?$/, "").trim();
    if (line === "") continue;
    const match = /^(\S+)\s*(.*)$/.exec(line)!;
    const [, id, reason] = match as unknown as [string, string, string];
    if (!/^[\d.*?]+$/.test(id)) throw new Error(`allow-list line ${n + 1}: "${id}" is not a case id or pattern`);
    list.set(id, reason === "" ? "(no reason given)" : reason);
  }
  return list;
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Judges every case of every agent. */
export function judge(reports: readonly AgentReport[], options: VerdictOptions = {}): Verdict {
  const accepted = [...new Set(options.accepted ?? DEFAULT_ACCEPTED)];
  const acceptedSet = new Set(accepted);
  const allowances = [...(options.allowList ?? new Map<string, string>())].map(
    ([pattern, reason]) => ({ pattern, reason, regexp: casePattern(pattern), used: false }),
  );

  const agents = reports.map((report): AgentVerdict => {
    const behaviors = new Map<string, number>();
    const closeBehaviors = new Map<string, number>();
    const groups = new Map<string, GroupCount>();
    const cases = report.cases.map((result): CaseVerdict => {
      bump(behaviors, result.behavior);
      bump(closeBehaviors, result.behaviorClose);
      const group = caseGroup(result.id);
      let count = groups.get(group);
      if (count === undefined) {
        count = { group, total: 0, ok: 0, accepted: 0, failed: 0 };
        groups.set(group, count);
      }
      count.total++;
      if (result.behavior === Behavior.OK && result.behaviorClose === Behavior.OK) {
        count.ok++;
        return { result, status: "pass" };
      }
      if (acceptedSet.has(result.behavior) && acceptedSet.has(result.behaviorClose)) {
        count.accepted++;
        return { result, status: "pass" };
      }
      const allowance = allowances.find((a) => a.regexp.test(result.id));
      if (allowance !== undefined) {
        allowance.used = true;
        count.accepted++;
        return { result, status: "allowed", reason: allowance.reason };
      }
      count.failed++;
      return { result, status: "fail" };
    });
    return { agent: report.agent, indexFile: report.indexFile, cases, behaviors, closeBehaviors, groups: [...groups.values()] };
  });

  const all = agents.flatMap((a) => a.cases);
  const notOk = all.filter((c) => c.result.behavior !== Behavior.OK || c.result.behaviorClose !== Behavior.OK);
  const failed = all.filter((c) => c.status === "fail");
  return {
    passed: failed.length === 0 && all.length > 0,
    accepted,
    agents,
    notOk,
    failed,
    unusedAllowances: allowances.filter((a) => !a.used).map((a) => a.pattern),
  };
}
