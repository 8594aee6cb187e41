// Progress while the suite runs: cases done / total and time elapsed. In a terminal one line is
// redrawn; elsewhere (CI logs) a line is printed every `interval` ms.

/** What a line of wstest's stdout says, when it says something about progress. */
export type WstestLine =
  | { kind: "total"; cases: number; peers: number }
  | { kind: "case"; id: string; agent: string }
  | { kind: "reports" };

/**
 * Parses wstest's progress lines:
 *
 *     Ok, will run 16 test cases against 1 servers          (fuzzingclient)
 *     Ok, will run 16 test cases for any clients connecting (fuzzingserver)
 *     Running test case ID 5.18 for agent ws-echo from peer tcp4:127.0.0.1:9011
 *     Updating reports, requested by peer tcp4:127.0.0.1:48390
 */
export function parseWstestLine(line: string): WstestLine | undefined {
  let m = /^Ok, will run (\d+) test cases against (\d+) servers/.exec(line);
  if (m !== null) return { kind: "total", cases: Number(m[1]), peers: Number(m[2]) };
  m = /^Ok, will run (\d+) test cases for any clients/.exec(line);
  if (m !== null) return { kind: "total", cases: Number(m[1]), peers: 1 };
  m = /^Running test case ID (\S+) for agent (.+?) from peer /.exec(line);
  if (m !== null) return { kind: "case", id: m[1]!, agent: m[2]! };
  if (/^Updating reports/.test(line)) return { kind: "reports" };
  return undefined;
}

/** "1:05", "12:00:07". */
export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh > 0 ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

export interface ProgressOptions {
  /** Where to write; process.stderr by default. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Minimum ms between lines when not a terminal (default 10 s). */
  interval?: number;
  now?: () => number;
}

export class Progress {
  readonly #label: string;
  readonly #stream: NodeJS.WritableStream & { isTTY?: boolean };
  readonly #interval: number;
  readonly #now: () => number;
  readonly #start: number;
  #total: number | undefined;
  #done = 0;
  #current = "";
  #lastPrint = -Infinity;
  #drawn = false;
  #lastLine = "";
  #completePrinted = false;

  constructor(label: string, options: ProgressOptions = {}) {
    this.#label = label;
    this.#stream = options.stream ?? process.stderr;
    this.#interval = options.interval ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#start = this.#now();
  }

  get done(): number {
    return this.#done;
  }

  get total(): number | undefined {
    return this.#total;
  }

  setTotal(total: number): void {
    this.#total = total;
    this.#print(true);
  }

  /** `done` cases are finished; `current` (a case id) is running, or "" for none, or kept when omitted. */
  update(done: number, current?: string): void {
    this.#done = done;
    if (current !== undefined) this.#current = current;
    this.#print(false);
  }

  /** The line as printed. */
  line(): string {
    const total = this.#total;
    const count = total === undefined ? `${this.#done}` : `${this.#done}/${total}`;
    const percent = total === undefined || total === 0 ? "" : ` ${((100 * this.#done) / total).toFixed(0).padStart(3)}%`;
    const current = this.#current === "" ? "" : `  case ${this.#current}`;
    return `${this.#label}: ${count} cases${percent}  elapsed ${formatElapsed(this.#now() - this.#start)}${current}`;
  }

  /** Prints the final line. */
  finish(): void {
    this.#print(true);
    if (this.#drawn) this.#stream.write("\n");
    this.#drawn = false;
  }

  #print(force: boolean): void {
    const now = this.#now();
    if (this.#stream.isTTY === true) {
      if (!force && now - this.#lastPrint < 100) return;
      this.#stream.write(`\r\x1b[K${this.line()}`);
      this.#drawn = true;
    } else {
      // The line that reaches the total is printed once, even if the elapsed time moved on since.
      const complete = this.#total !== undefined && this.#done >= this.#total;
      if (complete && this.#completePrinted) return;
      const line = this.line();
      if (line === this.#lastLine || (!force && !complete && now - this.#lastPrint < this.#interval)) return;
      this.#stream.write(`${line}\n`);
      this.#lastLine = line;
      this.#completePrinted = complete;
    }
    this.#lastPrint = now;
  }
}
