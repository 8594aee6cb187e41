// Drives @ws/client through a fuzzingserver's cases, the standard Autobahn client protocol:
//   /getCaseCount                  -> one text message with the number of cases N
//   /runCase?case=I&agent=NAME     (I = 1..N) echo every message back, text as text, binary as binary
//   /updateReports?agent=NAME      -> wstest writes the reports, then closes
import { connect, type ClientOptions, type Connection } from "@ws/client";

const MiB = 1024 * 1024;

/**
 * The client options the driver uses: permessage-deflate offered (cases 12 and 13), and limits high
 * enough for case 9 (messages up to 16 MiB, in fragments down to 64 bytes: 262,144 of them).
 */
export const DRIVER_CLIENT_OPTIONS: Readonly<ClientOptions> = {
  perMessageDeflate: true,
  maxPayload: 64 * MiB,
  maxFragments: 1_048_576,
  maxBufferedChunks: 1_048_576,
  maxBufferedAmount: 256 * MiB,
};

/** How one case ended, as our client saw it. */
export interface CaseRun {
  case: number;
  messages: number;
  code: number;
  wasClean: boolean;
  error?: string;
  /** The case outlived `caseTimeoutMs` and was terminated. */
  timedOut: boolean;
}

export interface DriveOptions {
  /** The fuzzingserver, `ws://host:port`. */
  url: string;
  agent: string;
  /** Called before case `index` (1-based) starts and once more with `index === total` at the end. */
  onProgress?: (done: number, total: number, index: number) => void;
  /** Stops between cases (the running case is terminated). */
  signal?: AbortSignal;
  /** A case still open after this long is terminated (default 5 minutes). */
  caseTimeoutMs?: number;
  /** How long to retry the first connection while the fuzzingserver starts (default 0: no retry). */
  connectRetryMs?: number;
  /** Overrides of {@link DRIVER_CLIENT_OPTIONS}. */
  clientOptions?: ClientOptions;
}

export interface DriveResult {
  total: number;
  runs: CaseRun[];
}

function endpoint(base: string, path: string, query: Record<string, string | number> = {}): string {
  const url = new URL(base);
  url.pathname = url.pathname.replace(/\/+$/, "") + path;
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
  return url.toString();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Echoes every message back in the order received: text as text, binary as binary. */
function echo(conn: Connection): () => number {
  let messages = 0;
  conn.on("message", (data, isBinary) => {
    messages++;
    conn.send(data, { binary: isBinary });
  });
  return () => messages;
}

/** Asks the fuzzingserver how many cases it will run. Retries refused connections for `retryMs`. */
export async function getCaseCount(url: string, options: { retryMs?: number; clientOptions?: ClientOptions } = {}): Promise<number> {
  const deadline = Date.now() + (options.retryMs ?? 0);
  for (;;) {
    let conn: Connection;
    try {
      conn = await connect(endpoint(url, "/getCaseCount"), { ...DRIVER_CLIENT_OPTIONS, ...options.clientOptions });
    } catch (error) {
      if (Date.now() >= deadline) throw new Error(`cannot reach the fuzzingserver at ${url}: ${(error as Error).message}`);
      await sleep(250);
      continue;
    }
    const first = new Promise<string>((resolve, reject) => {
      conn.once("message", (data) => resolve(data.toString()));
      void conn.closed.then((info) => reject(new Error(`getCaseCount closed (${info.code}) without an answer`)));
    });
    const text = await first;
    await conn.close();
    const count = Number(text);
    if (!Number.isInteger(count) || count < 0) throw new Error(`getCaseCount answered "${text}", not a case count`);
    return count;
  }
}

/** Runs case `index` (1-based): echoes until the fuzzingserver closes. */
export async function runCase(
  url: string,
  index: number,
  agent: string,
  options: { caseTimeoutMs?: number; clientOptions?: ClientOptions; signal?: AbortSignal } = {},
): Promise<CaseRun> {
  let conn: Connection;
  try {
    conn = await connect(endpoint(url, "/runCase", { case: index, agent }), {
      ...DRIVER_CLIENT_OPTIONS,
      ...options.clientOptions,
    });
  } catch (error) {
    // Some cases refuse or break the handshake on purpose; wstest's report says whether that is right.
    return { case: index, messages: 0, code: 1006, wasClean: false, error: (error as Error).message, timedOut: false };
  }
  const messages = echo(conn);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.terminate();
  }, options.caseTimeoutMs ?? 300_000);
  const abort = (): void => conn.terminate();
  options.signal?.addEventListener("abort", abort, { once: true });
  const info = await conn.closed;
  clearTimeout(timer);
  options.signal?.removeEventListener("abort", abort);
  const run: CaseRun = { case: index, messages: messages(), code: info.code, wasClean: info.wasClean, timedOut };
  if (info.error !== undefined) run.error = info.error.message;
  return run;
}

/** Asks the fuzzingserver to write the reports for `agent`; resolves once it closed. */
export async function updateReports(url: string, agent: string, clientOptions?: ClientOptions): Promise<void> {
  const conn = await connect(endpoint(url, "/updateReports", { agent }), { ...DRIVER_CLIENT_OPTIONS, ...clientOptions });
  await conn.closed;
}

/** getCaseCount, every case in order, then updateReports. */
export async function driveClient(options: DriveOptions): Promise<DriveResult> {
  const total = await getCaseCount(options.url, { retryMs: options.connectRetryMs, clientOptions: options.clientOptions });
  const runs: CaseRun[] = [];
  for (let index = 1; index <= total; index++) {
    if (options.signal?.aborted === true) throw new Error("aborted");
    options.onProgress?.(index - 1, total, index);
    runs.push(await runCase(options.url, index, options.agent, options));
  }
  options.onProgress?.(total, total, total);
  if (options.signal?.aborted === true) throw new Error("aborted");
  await updateReports(options.url, options.agent, options.clientOptions);
  return { total, runs };
}
