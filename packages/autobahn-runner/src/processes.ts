// The processes a run starts (the echo server, wstest, docker) and their clean-up: every one is
// tracked, and `stopAll()` ends them (SIGTERM, then SIGKILL after a grace period), on success,
// failure, timeout and SIGINT alike.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { createServer } from "node:net";
import { createInterface } from "node:readline";

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  /** Resolves when the process has exited (never rejects; a spawn error counts as exit code null). */
  exited: Promise<Exit>;
  /** Whether it has exited. */
  readonly done: boolean;
  /** Calls `listener` with every line of stdout and stderr. */
  onLine(listener: (line: string, stream: "stdout" | "stderr") => void): void;
  /** The last lines of output, for error messages. */
  tail(lines?: number): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<Exit>;
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Every line of output is appended here too. */
  logFile?: string;
  /** Runs after the process is stopped (a docker container outlives its CLI: `docker rm -f`). */
  afterStop?: () => void;
}

/** The processes of one run. */
export class ProcessGroup {
  readonly #processes: ManagedProcess[] = [];

  /** Starts a process; it is stopped by {@link stopAll}. */
  spawn(name: string, command: string, args: readonly string[], options: SpawnOptions = {}): ManagedProcess {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log: WriteStream | undefined = options.logFile === undefined ? undefined : createWriteStream(options.logFile, { flags: "a" });
    const listeners: Array<(line: string, stream: "stdout" | "stderr") => void> = [];
    const recent: string[] = [];
    let done = false;
    const exited = new Promise<Exit>((resolve) => {
      child.on("error", (error) => {
        recent.push(`${name}: ${error.message}`);
        log?.write(`${name}: ${error.message}\n`);
        done = true;
        resolve({ code: null, signal: null });
      });
      child.on("exit", (code, signal) => {
        done = true;
        resolve({ code, signal });
      });
    }).then((exit) => {
      log?.end();
      return exit;
    });
    for (const stream of ["stdout", "stderr"] as const) {
      createInterface({ input: child[stream], crlfDelay: Infinity }).on("line", (line) => {
        log?.write(`${line}\n`);
        recent.push(line);
        if (recent.length > 200) recent.shift();
        for (const listener of listeners) listener(line, stream);
      });
    }
    let stopping: Promise<Exit> | undefined;
    const managed: ManagedProcess = {
      name,
      child,
      exited,
      get done() {
        return done;
      },
      onLine: (listener) => void listeners.push(listener),
      tail: (lines = 20) => recent.slice(-lines).join("\n"),
      stop: (graceMs = 5000) => {
        stopping ??= (async () => {
          if (!done) {
            child.kill("SIGTERM");
            const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
            await exited;
            clearTimeout(timer);
          }
          options.afterStop?.();
          return exited;
        })();
        return stopping;
      },
    };
    this.#processes.push(managed);
    return managed;
  }

  /** Stops every process still running, the last started first. */
  async stopAll(graceMs?: number): Promise<void> {
    for (const p of [...this.#processes].reverse()) await p.stop(graceMs);
  }
}

/** `docker rm -f NAME`, quietly: the container may be gone already (it runs with --rm). */
export function removeContainer(name: string, docker = "docker"): void {
  spawnSync(docker, ["rm", "-f", name], { stdio: "ignore", timeout: 15_000 });
}

/** Resolves with the first line matching `pattern`, or rejects on exit or after `timeoutMs`. */
export function waitForLine(proc: ManagedProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${proc.name} printed no line matching ${pattern} within ${timeoutMs} ms\n${proc.tail()}`));
    }, timeoutMs);
    proc.onLine((line) => {
      const match = pattern.exec(line);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    void proc.exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`${proc.name} exited (code ${exit.code}, signal ${exit.signal}) before it was ready\n${proc.tail()}`));
    });
  });
}

/** A TCP port free on `host` right now (the OS picks it). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Starts the echo server (`node SCRIPT --port 0 --host HOST`) and resolves with the URL it prints. */
export async function startEchoServer(
  group: ProcessGroup,
  options: { script: string; host?: string; port?: number; logFile?: string; timeoutMs?: number },
): Promise<{ url: string; process: ManagedProcess }> {
  const args = [options.script, "--port", String(options.port ?? 0), "--host", options.host ?? "127.0.0.1"];
  const proc = group.spawn("echo server", process.execPath, args, { logFile: options.logFile });
  const match = await waitForLine(proc, /^(wss?:\/\/\S+)/, options.timeoutMs ?? 15_000);
  return { url: match[1]!, process: proc };
}
