// The processes a run starts (the server under test, wstest, docker) and their clean-up: every one is
// tracked, and `stopAll()` ends them (SIGTERM, then SIGKILL after a grace period), on success,
// failure, timeout and SIGINT alike.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { connect, createServer } from "node:net";
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

/** The shell line that runs `command` in place of the shell, so stopping it stops the command. */
export function shellInvocation(command: string, platform = process.platform): { command: string; args: string[] } {
  return platform === "win32" ? { command: "cmd.exe", args: ["/d", "/s", "/c", command] } : { command: "/bin/sh", args: ["-c", `exec ${command}`] };
}

/** `{port}` in a server command becomes the port it is to listen on. */
export function expandCommand(command: string, port: number): string {
  return command.replaceAll("{port}", String(port));
}

/** Resolves once `host:port` accepts a TCP connection; rejects if `proc` exits first or after `timeoutMs`. */
export async function waitForPort(proc: ManagedProcess, host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.done) throw new Error(`${proc.name} exited before it accepted connections on ${host}:${port}\n${proc.tail()}`);
    if (await accepts(host, port)) return;
    if (Date.now() > deadline) throw new Error(`${proc.name} did not accept connections on ${host}:${port} within ${timeoutMs} ms\n${proc.tail()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Starts the server under test from a shell command (`--command`): `{port}` in it, and `PORT` in its
 * environment, are a free port; it is ready once that port (or the one of `url`) accepts TCP.
 */
export async function startServerCommand(
  group: ProcessGroup,
  options: { command: string; url?: string; logFile?: string; timeoutMs?: number },
): Promise<{ url: string; process: ManagedProcess }> {
  const port = await freePort();
  const url = new URL(options.url ?? `ws://127.0.0.1:${port}/`);
  const shell = shellInvocation(expandCommand(options.command, port));
  const proc = group.spawn("server command", shell.command, shell.args, { env: { PORT: String(port) }, logFile: options.logFile });
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const urlPort = url.port === "" ? (url.protocol === "wss:" ? 443 : 80) : Number(url.port);
  await waitForPort(proc, host, urlPort, options.timeoutMs ?? 30_000);
  return { url: url.href, process: proc };
}
