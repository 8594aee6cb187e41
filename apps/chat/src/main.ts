// `chat [--port P] [--host H] [--redis URL] [--cluster N]`: the chat server, in one process or in N
// worker processes (Node's cluster module: they share the one port, the primary hands each new
// connection to the next worker) whose rooms are shared through Redis.
import cluster, { type Worker } from "node:cluster";
import { parseArgs } from "node:util";
import { startChat } from "./chat.js";

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: chat [--port P] [--host H] [--redis URL] [--cluster N]\n`);
  process.exit(2);
}

let values: { port?: string; host?: string; redis?: string; cluster?: string; help?: boolean };
try {
  // `pnpm chat -- --cluster 4` passes the "--" through; after it parseArgs would read no flags.
  const args = process.argv.slice(2);
  if (args[0] === "--") args.shift();
  ({ values } = parseArgs({
    args,
    options: {
      port: { type: "string", short: "p" },
      host: { type: "string", short: "h" },
      redis: { type: "string" },
      cluster: { type: "string" },
      help: { type: "boolean" },
    },
  }));
} catch (error) {
  usage((error as Error).message);
}
if (values.help) usage("A chat server: rooms are topics, shared across processes through Redis.");

const port = Number(values.port ?? 8080);
if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`invalid port: ${values.port}`);
const host = values.host ?? "127.0.0.1";
const workers = Number(values.cluster ?? 1);
if (!Number.isInteger(workers) || workers < 1 || workers > 256) usage(`invalid --cluster: ${values.cluster}`);
// Without Redis each process would have rooms of its own: clients on different workers would not hear each other.
if (workers > 1 && values.redis === undefined) usage("--cluster N needs --redis URL to share rooms between the processes");
const redis = values.redis;

if (workers > 1 && cluster.isPrimary) {
  runPrimary(workers);
} else {
  await runWorker();
}

function runPrimary(count: number): void {
  let stopping = false;
  let listening = 0;
  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on("message", (message: { listening?: string }) => {
      // Printed once every worker listens: from then on any connection is served.
      if (message.listening !== undefined && ++listening === count) {
        process.stdout.write(`${message.listening}\n`);
        process.stderr.write(`chat: ${count} workers, rooms shared through ${redis}\n`);
      }
    });
    return worker;
  };
  for (let i = 0; i < count; i++) fork();
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    // A worker that dies is replaced; its clients reconnect and land on another one.
    process.stderr.write(`chat: worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`);
    fork();
  });
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
    let left = alive.length;
    if (left === 0) process.exit(0);
    for (const worker of alive) {
      worker.once("exit", () => {
        if (--left === 0) process.exit(0);
      });
      worker.process.kill("SIGTERM");
    }
    // A worker stuck in shutdown does not keep the primary up.
    setTimeout(() => {
      for (const worker of alive) if (!worker.isDead()) worker.process.kill("SIGKILL");
      process.exit(1);
    }, 5000).unref();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

async function runWorker(): Promise<void> {
  const chat = await startChat({ port, host, ...(redis !== undefined ? { redis } : {}) }).catch((error: Error) =>
    usage(`cannot start on ${host}:${port}${redis ? ` with ${redis}` : ""}: ${error.message}`),
  );
  const address = chat.http.address();
  const url = `http://${host}:${typeof address === "object" && address !== null ? address.port : port}/`;
  if (cluster.isWorker) process.send!({ listening: url });
  else process.stdout.write(`${url}\n`);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    chat.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  // The primary is gone (killed without passing SIGTERM on): do not stay behind on the port.
  if (cluster.isWorker) cluster.worker!.on("disconnect", stop);
}
