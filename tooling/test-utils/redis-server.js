// A real redis-server for tests (Debian's package; `.ci/run` installs it): its own process on
// 127.0.0.1 and a free port, no persistence. No mock Redis anywhere.
import { spawn } from "node:child_process";
import { createServer } from "node:net";

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

export class RedisServer {
  #child = null;

  constructor(port) {
    this.port = port;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts one on a free port (a few tries, in case another test took the port meanwhile). */
  static async start() {
    let lastError;
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new RedisServer(await freePort());
      try {
        await server.restart();
        return server;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  /** Starts it (again) on its port; resolves once it accepts connections. */
  restart() {
    const child = spawn(
      "redis-server",
      ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.#child = child;
    return new Promise((resolve, reject) => {
      let output = "";
      const fail = (error) => {
        clearTimeout(timer);
        child.kill("SIGKILL");
        reject(error);
      };
      const timer = setTimeout(() => fail(new Error(`redis-server did not start in time:\n${output}`)), 10_000);
      const onExit = (code) => fail(new Error(`redis-server exited with ${code}:\n${output}`));
      child.on("error", (error) => fail(new Error(`cannot run redis-server (apt-get install -y redis-server): ${error.message}`)));
      child.on("exit", onExit);
      const onData = (chunk) => {
        output += chunk.toString();
        if (output.includes("Ready to accept connections")) {
          clearTimeout(timer);
          // Only this listener: kill() waits for "exit" with its own, whatever Redis prints meanwhile.
          child.off("exit", onExit);
          child.stdout.off("data", onData);
          child.stdout.resume();
          resolve();
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", (chunk) => (output += chunk.toString()));
    });
  }

  /** Stops it (SIGSTOP): connections stay open and commands sent meanwhile go unanswered. */
  freeze() {
    this.#child?.kill("SIGSTOP");
  }

  /** Kills it at once (SIGKILL: no goodbye to its clients) and waits for it to be gone. */
  async kill() {
    const child = this.#child;
    this.#child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
}
