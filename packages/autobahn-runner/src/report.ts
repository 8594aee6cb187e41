// Reading what wstest writes: `index.json` (agent -> case id -> outcome) and one JSON file per case.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** One case's entry in `index.json`. */
export interface IndexEntry {
  behavior: string;
  behaviorClose: string;
  duration: number;
  remoteCloseCode: number | null;
  reportfile: string;
}

/** `index.json`: agent name -> case id -> outcome. */
export type IndexJson = Record<string, Record<string, IndexEntry>>;

/** One wirelog entry: a tag ("RO", "TO", "RF", "TF", "KL", ...) and the tag's fields. */
export type WirelogEntry = [string, ...unknown[]];

/** The per-case report file wstest writes next to `index.json` (fields this package reads). */
export interface CaseReport {
  agent: string;
  id: string;
  description: string;
  expectation: string;
  behavior: string;
  behaviorClose: string;
  result: string;
  resultClose: string;
  duration: number;
  started?: string;
  isServer: boolean;
  expected: Record<string, unknown[]>;
  received: unknown[];
  expectedClose: { closeCode: number[]; closedByMe: boolean; requireClean: boolean };
  closedByMe: boolean;
  failedByMe: boolean;
  droppedByMe: boolean;
  wasClean: boolean;
  wasNotCleanReason: string | null;
  wasServerConnectionDropTimeout: boolean;
  wasOpenHandshakeTimeout: boolean;
  wasCloseHandshakeTimeout: boolean;
  localCloseCode: number | null;
  localCloseReason: string | null;
  remoteCloseCode: number | null;
  remoteCloseReason: string | null;
  httpRequest: string;
  httpResponse: string;
  trafficStats: Record<string, unknown> | null;
  rxFrameStats: Record<string, number>;
  txFrameStats: Record<string, number>;
  rxOctetStats: Record<string, number>;
  txOctetStats: Record<string, number>;
  wirelog: WirelogEntry[];
}

/** One case of one agent, from `index.json`. */
export interface CaseResult extends IndexEntry {
  agent: string;
  id: string;
  /** The directory holding `index.json` and the per-case files. */
  dir: string;
}

/** One agent's cases from one `index.json`, sorted by case id. */
export interface AgentReport {
  agent: string;
  /** The `index.json` the cases come from. */
  indexFile: string;
  cases: CaseResult[];
}

/** Compares case ids component by component as numbers: 1.2.10 after 1.2.9. */
export function compareCaseIds(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Finds the `index.json` files under `path`: the file itself, `path/index.json`, or the ones in
 * its subdirectories (an outdir holds `servers/` and `clients/`), searched three levels deep.
 */
export function findIndexFiles(path: string): string[] {
  const full = resolve(path);
  if (!existsSync(full)) throw new Error(`no such file or directory: ${path}`);
  if (statSync(full).isFile()) return [full];
  const found: string[] = [];
  const walk = (dir: string, depth: number): void => {
    const own = join(dir, "index.json");
    if (existsSync(own)) {
      found.push(own);
      return;
    }
    if (depth === 0) return;
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((x, y) => x.name.localeCompare(y.name))) {
      if (entry.isDirectory() && entry.name !== "node_modules") walk(join(dir, entry.name), depth - 1);
    }
  };
  walk(full, 3);
  if (found.length === 0) throw new Error(`no index.json in ${path} (is it a wstest reports folder?)`);
  return found;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
}

/** Reads one `index.json` into one report per agent. */
export function readIndexFile(file: string): AgentReport[] {
  const json = readJson(file);
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new Error(`${file} is not a wstest index.json (expected an object of agents)`);
  }
  const dir = dirname(file);
  return Object.entries(json as IndexJson).map(([agent, cases]) => ({
    agent,
    indexFile: file,
    cases: Object.entries(cases)
      .map(([id, entry]) => ({ ...entry, agent, id, dir }))
      .sort((a, b) => compareCaseIds(a.id, b.id)),
  }));
}

/** Reads every agent of every `index.json` under `path` (see {@link findIndexFiles}). */
export function readReports(path: string): AgentReport[] {
  return findIndexFiles(path).flatMap(readIndexFile);
}

/** Reads the per-case JSON report of one case. */
export function readCaseReport(result: CaseResult): CaseReport {
  return readJson(join(result.dir, result.reportfile)) as CaseReport;
}

/** The top-level group of a case id: "9" for "9.1.3". */
export function caseGroup(id: string): string {
  return id.split(".")[0] ?? id;
}

/** The section titles of the Autobahn testsuite, by top-level group. */
export const GROUP_TITLES: Readonly<Record<string, string>> = {
  "1": "Framing",
  "2": "Pings/Pongs",
  "3": "Reserved Bits",
  "4": "Opcodes",
  "5": "Fragmentation",
  "6": "UTF-8 Handling",
  "7": "Close Handling",
  "9": "Limits/Performance",
  "10": "Misc",
  "12": "WebSocket Compression (different payloads)",
  "13": "WebSocket Compression (different parameters)",
};
