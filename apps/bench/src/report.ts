// The results model, the Markdown table, the comparison with the previous run and the README
// section. Pure functions: unit-tested.
import { change, describeTarget, formatChange, formatNumber, formatRatio, ratio, verdict, type Target, type Verdict } from "./stats.js";

/** Table columns after ours, in order. The two "bare" floors answer the 101 and hold the socket. */
export const PEERS = ["ws", "ws+bufferutil", "bun", "node:http bare", "net bare", "node", "one-process"] as const;
export type Peer = (typeof PEERS)[number];

const PEER_LABEL: Record<Peer, string> = {
  ws: "ws",
  "ws+bufferutil": "ws + bufferutil",
  bun: "Bun",
  "node:http bare": "node:http bare upgrade",
  "net bare": "net.Server bare upgrade",
  node: "Node WebSocket",
  // The scale-out rows: ours on one process, against ours on two sharing a topic through Redis.
  "one-process": "ours, one process",
};

export interface Comparison {
  peer: Peer;
  target?: Target;
}

export interface Row {
  section: string;
  name: string;
  unit: string;
  /** true when a smaller figure is better (memory, latency). */
  lowerIsBetter?: boolean;
  ours: number;
  peers: Partial<Record<Peer, number>>;
  /** Raw per-round figures, kept in the JSON for whoever wants the spread. */
  samples?: Partial<Record<"ours" | Peer, number[]>>;
  comparisons: Comparison[];
  note?: string;
}

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  date: string;
  loadGenerator: string;
  quick: boolean;
  rounds: number;
}

export interface Results {
  machine: Machine;
  rows: Row[];
  notes: string[];
}

export function rowKey(row: Pick<Row, "section" | "name">): string {
  return `${row.section} / ${row.name}`;
}

export interface Check {
  key: string;
  peer: Peer;
  value: number;
  target: Target;
  verdict: Verdict;
}

/** Every comparison that has a target, with its ratio and verdict. */
export function checks(results: Results): Check[] {
  const out: Check[] = [];
  for (const row of results.rows) {
    for (const c of row.comparisons) {
      if (!c.target) continue;
      const value = ratio(row.ours, row.peers[c.peer] ?? Number.NaN);
      out.push({ key: rowKey(row), peer: c.peer, value, target: c.target, verdict: verdict(value, c.target) });
    }
  }
  return out;
}

const MARK: Record<Verdict, string> = { met: "✅", missed: "❌", "n/a": "–" };

function comparisonCell(row: Row): string {
  const parts: string[] = [];
  for (const c of row.comparisons) {
    const value = ratio(row.ours, row.peers[c.peer] ?? Number.NaN);
    let text = `${formatRatio(value)} ${PEER_LABEL[c.peer]}`;
    if (c.target) text += ` (${describeTarget(c.target)}) ${MARK[verdict(value, c.target)]}`;
    parts.push(text);
  }
  return parts.join("<br>");
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** The Markdown report: machine line, then one table per section, then notes. */
export function renderMarkdown(results: Results, previous?: Results): string {
  const m = results.machine;
  const lines: string[] = [];
  lines.push(
    `Machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.date}. Load generator: ${m.loadGenerator}. ` +
      `${m.quick ? "QUICK run (short windows, 1 round): indicative only." : `Median of ${m.rounds} interleaved rounds.`}`,
  );
  const previousByKey = new Map((previous?.rows ?? []).map((row) => [rowKey(row), row]));
  const sections = [...new Set(results.rows.map((row) => row.section))];
  for (const section of sections) {
    const rows = results.rows.filter((r) => r.section === section);
    const columns = sectionPeers(rows);
    lines.push("", `**${section}**`, "");
    lines.push(`| workload | unit | ours | ${columns.map((peer) => PEER_LABEL[peer]).join(" | ")} | ours ÷ peer (target) | vs last run |`);
    lines.push(`|---|---|---:|${columns.map(() => "---:|").join("")}---|---:|`);
    for (const row of rows) {
      const before = previousByKey.get(rowKey(row));
      const cells = [
        escapeCell(row.note ? `${row.name} (${row.note})` : row.name),
        row.unit + (row.lowerIsBetter ? " (lower is better)" : ""),
        formatNumber(row.ours),
        ...columns.map((peer) => formatNumber(row.peers[peer] ?? Number.NaN)),
        comparisonCell(row),
        before ? formatChange(change(before.ours, row.ours)) : "",
      ];
      lines.push(`| ${cells.join(" | ")} |`);
    }
  }
  const all = checks(results);
  const met = all.filter((c) => c.verdict === "met").length;
  const missed = all.filter((c) => c.verdict === "missed");
  lines.push("", `Targets met: ${met} of ${all.length}.` + (missed.length ? ` Missed: ${missed.map((c) => `${c.key} vs ${PEER_LABEL[c.peer]} (${formatRatio(c.value)}, ${describeTarget(c.target)})`).join("; ")}.` : ""));
  if (results.notes.length > 0) lines.push("", ...results.notes.map((note) => `- ${note}`));
  return `${lines.join("\n")}\n`;
}

/** The peers a section's table has a column for: those its rows measured or compare with, in PEERS order. */
export function sectionPeers(rows: readonly Row[]): Peer[] {
  const used = new Set<Peer>();
  for (const row of rows) {
    for (const peer of Object.keys(row.peers) as Peer[]) used.add(peer);
    for (const c of row.comparisons) used.add(c.peer);
  }
  return PEERS.filter((peer) => used.has(peer));
}

/** Lines describing how our figures moved since `previous`, for the console. */
export function describeChanges(results: Results, previous: Results | undefined): string[] {
  if (!previous) return [];
  const before = new Map(previous.rows.map((row) => [rowKey(row), row]));
  const out: string[] = [];
  for (const row of results.rows) {
    const old = before.get(rowKey(row));
    if (!old) continue;
    const delta = change(old.ours, row.ours);
    if (!Number.isFinite(delta)) continue;
    out.push(`${rowKey(row)}: ${formatNumber(old.ours)} → ${formatNumber(row.ours)} ${row.unit} (${formatChange(delta)})`);
  }
  return out;
}

export const README_START = "<!-- bench:start -->";
export const README_END = "<!-- bench:end -->";

/**
 * The README with `body` between the bench markers. Without markers, a "## Performance" section
 * holding them is appended once at the end.
 */
export function replaceReadmeSection(readme: string, body: string): string {
  const block = `${README_START}\n${body.trimEnd()}\n${README_END}`;
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start !== -1 && end > start) {
    return readme.slice(0, start) + block + readme.slice(end + README_END.length);
  }
  const base = readme.endsWith("\n") ? readme : `${readme}\n`;
  return `${base}\n## Performance\n\n${block}\n`;
}

/** Whether `value` looks like a Results object written by an earlier run. */
export function isResults(value: unknown): value is Results {
  if (value === null || typeof value !== "object") return false;
  const v = value as Partial<Results>;
  return Array.isArray(v.rows) && v.machine !== undefined && typeof v.machine === "object";
}
