// The CLI's commands: server, client, drive-client, summary, case. cli.ts only calls `main`.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatCasePage } from "./case-page.js";
import { driveClient, type DriveOptions, type DriveResult } from "./driver.js";
import { containerUrl, reportsSubdir, specFileName, wstestInvocation, wstestPaths, type Engine, type WstestDirs, type WstestMode } from "./engine.js";
import { formatJUnit } from "./junit.js";
import { formatMarkdown } from "./markdown.js";
import { freePort, ProcessGroup, removeContainer, startServerCommand, waitForLine, type ManagedProcess } from "./processes.js";
import { Progress, parseWstestLine } from "./progress.js";
import { readCaseReport, readReports } from "./report.js";
import { fuzzingClientSpec, fuzzingServerSpec, parseCaseList } from "./spec.js";
import { formatSummary, tryReadCaseReport } from "./summary.js";
import { DEFAULT_ACCEPTED, judge, parseAllowList, type AllowList } from "./verdict.js";

/** Exit codes: the verdict passed, it failed, the command line was wrong, the suite did not run. */
export const ExitCode = { Pass: 0, Fail: 1, Usage: 2, RunError: 3, Interrupted: 130 } as const;

export class UsageError extends Error {}

export const USAGE = `usage: ws-autobahn <command> [options]

commands:
  server        run wstest's fuzzingclient against a server (--url or --command), print the verdict
  client        run wstest's fuzzingserver and drive @ws/client through it, print the verdict
  drive-client  --url ws://HOST:PORT --agent NAME: only drive the client through a fuzzingserver
  summary DIR   the verdict of a reports folder (exits 1 when a case is not accepted)
  case DIR ID   one case as a readable page

run options (server, client):
  --engine docker|local   docker (default): the pinned crossbario/autobahn-testsuite image
  --wstest PATH           the wstest binary, for --engine local
  --cases LIST            case ids or patterns, e.g. "1.*,2.*,9.1.*" (default: all)
  --exclude LIST          cases to leave out
  --out DIR               reports folder (default: reports); results in DIR/servers or DIR/clients
  --timeout SECONDS       stop everything and fail after this long (default 3600)
  --agent NAME            the agent name in the reports (ws-server / ws-client)
  --url URL               server: the server to test (already running, or started by --command)
  --command CMD           server: start the server to test with this shell command, stopped at the
                          end; {port} in CMD and $PORT are a free port, tested at ws://127.0.0.1:PORT/
                          unless --url says otherwise
  --port N                client: the fuzzingserver's port (default: a free one)
  --image REF             docker: another image (default: pinned by digest)
  --case-timeout SECONDS  client, drive-client: terminate a case still open after this long (300)

verdict options (server, client, summary):
  --allow BEHAVIOR        also accept this behaviour (repeatable), e.g. NON-STRICT
  --allow-list FILE       case ids or patterns that may fail, one a line with the reason
  --junit FILE            JUnit XML (default: junit.xml in the reports folder)
  --markdown FILE         Markdown summary (default: summary.md in the reports folder)

case options:
  --agent NAME            when the folder holds several agents with that case

exit codes: 0 pass, 1 a case not accepted, 2 bad command line, 3 the suite could not run, 130 interrupted
`;

const OPTIONS = {
  engine: { type: "string" },
  wstest: { type: "string" },
  cases: { type: "string", multiple: true },
  exclude: { type: "string", multiple: true },
  out: { type: "string" },
  timeout: { type: "string" },
  agent: { type: "string" },
  url: { type: "string" },
  command: { type: "string" },
  port: { type: "string" },
  image: { type: "string" },
  allow: { type: "string", multiple: true },
  "allow-list": { type: "string" },
  junit: { type: "string" },
  markdown: { type: "string" },
  "case-timeout": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export interface CliArgs {
  command: string;
  positionals: string[];
  engine: Engine;
  wstest?: string;
  cases: string[];
  exclude: string[];
  out: string;
  timeoutMs: number;
  agent?: string;
  url?: string;
  serverCommand?: string;
  port?: number;
  image?: string;
  allow: string[];
  allowList?: string;
  junit?: string;
  markdown?: string;
  caseTimeoutMs?: number;
  help: boolean;
}

function seconds(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} wants a number of seconds, got "${value}"`);
  return Math.round(n * 1000);
}

/** Parses the command line (without node and the script). */
export function parseCli(argv: readonly string[]): CliArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command = "help", ...rest] = positionals;
  const engine = values.engine ?? "docker";
  if (engine !== "docker" && engine !== "local") throw new UsageError(`--engine is docker or local, not "${engine}"`);
  const list = (items: string[] | undefined): string[] => {
    try {
      return (items ?? []).flatMap(parseCaseList);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  };
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new UsageError(`invalid --port: ${values.port}`);
  }
  return {
    command,
    positionals: rest,
    engine,
    wstest: values.wstest,
    cases: list(values.cases),
    exclude: list(values.exclude),
    out: values.out ?? "reports",
    timeoutMs: seconds("timeout", values.timeout) ?? 3_600_000,
    agent: values.agent,
    url: values.url,
    serverCommand: values.command,
    port,
    image: values.image,
    allow: (values.allow ?? []).flatMap((a) => a.split(",")).map((a) => a.trim().toUpperCase()).filter((a) => a !== ""),
    allowList: values["allow-list"],
    junit: values.junit,
    markdown: values.markdown,
    caseTimeoutMs: seconds("case-timeout", values["case-timeout"]),
    help: values.help ?? false,
  };
}

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

const stdio: Io = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/** Reads the reports under `dir`, prints the summary, writes JUnit and Markdown; returns the exit code. */
export function reportVerdict(dir: string, args: Pick<CliArgs, "allow" | "allowList" | "junit" | "markdown">, io: Io = stdio): number {
  let allowList: AllowList | undefined;
  if (args.allowList !== undefined) {
    try {
      allowList = parseAllowList(readFileSync(args.allowList, "utf8"));
    } catch (error) {
      throw new UsageError(`--allow-list: ${(error as Error).message}`);
    }
  }
  const reports = readReports(dir);
  const verdict = judge(reports, { accepted: [...DEFAULT_ACCEPTED, ...args.allow], allowList });
  const details = tryReadCaseReport;
  io.out(formatSummary(verdict, { details }));
  const folder = existsSync(join(dir, "index.json")) || !dir.endsWith(".json") ? dir : dirname(dir);
  const junit = args.junit ?? join(folder, "junit.xml");
  const markdown = args.markdown ?? join(folder, "summary.md");
  writeFileSync(junit, formatJUnit(verdict, { details }));
  writeFileSync(markdown, formatMarkdown(verdict, { details }));
  io.out(`JUnit: ${junit}\nMarkdown: ${markdown}\n`);
  return verdict.passed ? ExitCode.Pass : ExitCode.Fail;
}

function caseCommand(args: CliArgs, io: Io): number {
  const [dir, id] = args.positionals;
  if (dir === undefined || id === undefined) throw new UsageError("usage: ws-autobahn case DIR CASE-ID [--agent NAME]");
  const matches = readReports(dir)
    .filter((r) => args.agent === undefined || r.agent === args.agent)
    .flatMap((r) => r.cases.filter((c) => c.id === id));
  if (matches.length === 0) {
    io.err(`no case ${id}${args.agent === undefined ? "" : ` for agent ${args.agent}`} in ${dir}\n`);
    return ExitCode.Fail;
  }
  io.out(matches.map((m) => formatCasePage(readCaseReport(m))).join("\n\n"));
  return ExitCode.Pass;
}

/** Everything a run started, and how it ends: timeout and SIGINT stop every process. */
class Run {
  readonly group = new ProcessGroup();
  readonly controller = new AbortController();
  #reason: "timeout" | "interrupted" | undefined;
  readonly #timer: NodeJS.Timeout;
  readonly #onSignal = (): void => this.#abort("interrupted");

  constructor(timeoutMs: number) {
    this.#timer = setTimeout(() => this.#abort("timeout"), timeoutMs);
    process.on("SIGINT", this.#onSignal);
    process.on("SIGTERM", this.#onSignal);
  }

  get reason(): "timeout" | "interrupted" | undefined {
    return this.#reason;
  }

  /** Resolves when the run is aborted (never rejects). */
  readonly aborted = new Promise<void>((resolve) => this.controller.signal.addEventListener("abort", () => resolve(), { once: true }));

  #abort(reason: "timeout" | "interrupted"): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.controller.abort();
  }

  async end(): Promise<void> {
    clearTimeout(this.#timer);
    await this.group.stopAll();
    process.off("SIGINT", this.#onSignal);
    process.off("SIGTERM", this.#onSignal);
  }
}

class RunAborted extends Error {}

/** Races `promise` against the run being aborted. */
async function unlessAborted<T>(run: Run, promise: Promise<T>): Promise<T> {
  const aborted = run.aborted.then(() => {
    throw new RunAborted(run.reason);
  });
  return Promise.race([promise, aborted]);
}

type RunDirs = WstestDirs & { results: string };

function prepareDirs(out: string, mode: WstestMode): RunDirs {
  const reportsDir = resolve(out);
  const specDir = join(reportsDir, "spec");
  const results = join(reportsDir, reportsSubdir(mode));
  mkdirSync(specDir, { recursive: true });
  mkdirSync(results, { recursive: true });
  // A stale index.json would give a verdict on an old run if wstest failed to write a new one.
  rmSync(join(results, "index.json"), { force: true });
  return { reportsDir, specDir, results };
}

function startWstest(run: Run, args: CliArgs, mode: WstestMode, dirs: WstestDirs, port?: number): ManagedProcess {
  if (args.engine === "local") {
    if (args.wstest === undefined) throw new UsageError("--engine local needs --wstest PATH");
    if (!existsSync(args.wstest)) throw new UsageError(`--wstest: no such file: ${args.wstest}`);
  }
  const invocation = wstestInvocation({
    engine: args.engine,
    mode,
    dirs,
    wstest: args.wstest === undefined ? undefined : resolve(args.wstest),
    image: args.image,
    port,
    user: typeof process.getuid === "function" ? { uid: process.getuid(), gid: process.getgid!() } : undefined,
  });
  const { containerName } = invocation;
  return run.group.spawn("wstest", invocation.command, invocation.args, {
    cwd: invocation.cwd,
    env: invocation.env,
    logFile: join(dirs.reportsDir, `wstest-${mode}.log`),
    afterStop: containerName === undefined ? undefined : () => removeContainer(containerName),
  });
}

function describeExit(proc: ManagedProcess, code: number | null, signal: string | null): string {
  return `${proc.name} failed (exit code ${code}, signal ${signal}); its last output:\n${proc.tail()}\n`;
}

/**
 * The frame of a conformance run: its directories and time limit, the verdict from the reports
 * once `body` finishes (unless it returns an exit code of its own), and every process stopped
 * whatever happens.
 */
async function conformanceRun(
  args: CliArgs,
  mode: WstestMode,
  io: Io,
  body: (run: Run, dirs: RunDirs) => Promise<number | undefined>,
): Promise<number> {
  const dirs = prepareDirs(args.out, mode);
  const run = new Run(args.timeoutMs);
  try {
    const failed = await body(run, dirs);
    if (failed !== undefined) return failed;
    await run.end();
    return reportVerdict(dirs.results, args, io);
  } catch (error) {
    return failRun(run, error, io);
  } finally {
    await run.end();
  }
}

function writeSpec(dirs: RunDirs, mode: WstestMode, spec: unknown): void {
  writeFileSync(join(dirs.specDir, specFileName(mode)), JSON.stringify(spec, null, 2) + "\n");
}

function serverCommand(args: CliArgs, io: Io): Promise<number> {
  // The runner ships alone, so there is no echo server of ours to fall back on.
  if (args.url === undefined && args.serverCommand === undefined) {
    throw new UsageError("server needs --url URL (a running server) or --command CMD (one to start)");
  }
  const mode: WstestMode = "fuzzingclient";
  return conformanceRun(args, mode, io, async (run, dirs) => {
    let url = args.url;
    if (args.serverCommand !== undefined) {
      const started = await unlessAborted(
        run,
        startServerCommand(run.group, { command: args.serverCommand, url, logFile: join(dirs.reportsDir, "server.log") }),
      );
      url = started.url;
      io.err(`server command listening on ${url}\n`);
    }
    if (url === undefined) throw new Error("unreachable: checked before the run");
    const agent = args.agent ?? "ws-server";
    const { outdir } = wstestPaths(args.engine, mode, dirs);
    const spec = fuzzingClientSpec({
      agent,
      url: args.engine === "docker" ? containerUrl(url) : url,
      outdir,
      cases: args.cases,
      exclude: args.exclude,
    });
    writeSpec(dirs, mode, spec);

    const progress = new Progress(`wstest fuzzingclient -> ${agent}`);
    const wstest = startWstest(run, args, mode, dirs);
    let started = 0;
    wstest.onLine((line) => {
      const event = parseWstestLine(line);
      if (event?.kind === "total") progress.setTotal(event.cases * event.peers);
      else if (event?.kind === "case") progress.update(started++, event.id);
    });
    const exit = await unlessAborted(run, wstest.exited);
    if (exit.code !== 0) {
      progress.finish();
      io.err(describeExit(wstest, exit.code, exit.signal));
      return ExitCode.RunError;
    }
    progress.update(progress.total ?? started, "");
    progress.finish();
    return undefined;
  });
}

function clientCommand(args: CliArgs, io: Io): Promise<number> {
  const mode: WstestMode = "fuzzingserver";
  return conformanceRun(args, mode, io, async (run, dirs) => {
    const port = args.port ?? (await freePort());
    const url = `ws://127.0.0.1:${port}`;
    const agent = args.agent ?? "ws-client";
    const { outdir } = wstestPaths(args.engine, mode, dirs);
    const spec = fuzzingServerSpec({ url, outdir, cases: args.cases, exclude: args.exclude });
    writeSpec(dirs, mode, spec);

    const wstest = startWstest(run, args, mode, dirs, port);
    const reportsWritten = waitForLine(wstest, /^Report generation complete/, args.timeoutMs);
    reportsWritten.catch(() => undefined);
    // A first `docker run` may pull the image, so only the run's own time limit bounds it there.
    await unlessAborted(run, waitForLine(wstest, /will run \d+ test cases/, args.engine === "local" ? 60_000 : args.timeoutMs));
    io.err(`wstest fuzzingserver listening on ${url}\n`);

    // The driver knows cases by number; wstest logs the id of the case it starts, as in server mode.
    const progress = new Progress(`@ws/client (${agent}) <- wstest fuzzingserver`);
    wstest.onLine((line) => {
      const event = parseWstestLine(line);
      if (event?.kind === "case") progress.update(progress.done, event.id);
    });
    const result = await driveWithProgress(
      run,
      progress,
      { url, agent, connectRetryMs: 10_000, caseTimeoutMs: args.caseTimeoutMs },
      () => undefined,
    );
    const timedOut = result.runs.filter((r) => r.timedOut).map((r) => r.case);
    if (timedOut.length > 0) io.err(`cases terminated after the case time limit (by number): ${timedOut.join(", ")}\n`);
    await unlessAborted(run, reportsWritten);
    return undefined;
  });
}

/**
 * Drives our client through every fuzzingserver case, with a progress line, until done or aborted.
 * `caseName` labels case `index` (1-based) on that line; undefined keeps what the line shows.
 */
async function driveWithProgress(
  run: Run,
  progress: Progress,
  options: Omit<DriveOptions, "signal" | "onProgress">,
  caseName: (index: number) => string | undefined,
): Promise<DriveResult> {
  const result = await unlessAborted(
    run,
    driveClient({
      ...options,
      signal: run.controller.signal,
      onProgress: (done, total, index) => {
        if (progress.total === undefined) progress.setTotal(total);
        progress.update(done, done === total ? "" : caseName(index));
      },
    }),
  );
  progress.finish();
  return result;
}

async function driveClientCommand(args: CliArgs, io: Io): Promise<number> {
  if (args.url === undefined || args.agent === undefined) {
    throw new UsageError("usage: ws-autobahn drive-client --url ws://HOST:PORT --agent NAME");
  }
  const run = new Run(args.timeoutMs);
  try {
    // Without wstest's output only the case number is known here.
    const result = await driveWithProgress(
      run,
      new Progress(`@ws/client (${args.agent})`),
      {
        url: args.url,
        agent: args.agent,
        // The fuzzingserver may still be starting (a container that was just started).
        connectRetryMs: 30_000,
        caseTimeoutMs: args.caseTimeoutMs,
      },
      (index) => `#${index}`,
    );
    io.out(`drove ${result.total} cases for agent ${args.agent}; the fuzzingserver has written its reports\n`);
    return ExitCode.Pass;
  } catch (error) {
    return failRun(run, error, io);
  } finally {
    await run.end();
  }
}

async function failRun(run: Run, error: unknown, io: Io): Promise<number> {
  await run.end();
  if (error instanceof UsageError) throw error;
  if (run.reason === "interrupted") {
    io.err("\ninterrupted; every process this run started is stopped\n");
    return ExitCode.Interrupted;
  }
  if (run.reason === "timeout") {
    io.err("\nthe run hit its time limit (--timeout); every process it started is stopped\n");
    return ExitCode.RunError;
  }
  io.err(`\n${(error as Error).message}\n`);
  return ExitCode.RunError;
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: readonly string[], io: Io = stdio): Promise<number> {
  try {
    const args = parseCli(argv);
    if (args.help || args.command === "help") {
      io.out(USAGE);
      return ExitCode.Pass;
    }
    switch (args.command) {
      case "server":
        return await serverCommand(args, io);
      case "client":
        return await clientCommand(args, io);
      case "drive-client":
        return await driveClientCommand(args, io);
      case "summary": {
        const [dir] = args.positionals;
        if (dir === undefined) throw new UsageError("usage: ws-autobahn summary DIR [--allow B] [--allow-list FILE]");
        return reportVerdict(dir, args, io);
      }
      case "case":
        return caseCommand(args, io);
      default:
        throw new UsageError(`unknown command "${args.command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n\n${USAGE}`);
      return ExitCode.Usage;
    }
    io.err(`${(error as Error).message}\n`);
    return ExitCode.RunError;
  }
}
