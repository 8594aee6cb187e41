// A real npm registry for the release test: Verdaccio in a child process, on 127.0.0.1 and a port
// the system picked, with its storage and users in a folder of the caller's. No uplinks: it serves
// only what was published to it, so an install that finds a @ws package found the one we published.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const child = fileURLToPath(new URL("./registry-child.mjs", import.meta.url));

function config(dir) {
  return `storage: ${JSON.stringify(join(dir, "storage"))}
auth:
  htpasswd:
    file: ${JSON.stringify(join(dir, "htpasswd"))}
    max_users: 10
uplinks: {}
packages:
  "**":
    access: $all
    publish: $authenticated
    unpublish: $authenticated
log: { type: stdout, format: pretty, level: warn }
`;
}

/**
 * Starts the registry; resolves with its URL (ending in "/"), a publish token for a new user, and
 * `stop()`, which resolves once the process has exited.
 */
export async function startRegistry(dir) {
  const configFile = join(dir, "verdaccio.yaml");
  writeFileSync(configFile, config(dir));
  const proc = spawn(process.execPath, [child, configFile], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  proc.stderr.on("data", (chunk) => (output += chunk));
  const exited = once(proc, "exit");
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      // A client's keep-alive socket can hold server.close() open; the registry has nothing to save.
      const kill = setTimeout(() => proc.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(kill);
    }
    await exited;
  };
  try {
    const port = await new Promise((resolve, reject) => {
      proc.stdout.on("data", (chunk) => {
        output += chunk;
        const match = /^listening (\d+)$/m.exec(output);
        if (match) resolve(Number(match[1]));
      });
      exited.then(() => reject(new Error(`Verdaccio exited before listening:\n${output}`)));
    });
    const url = `http://127.0.0.1:${port}/`;
    return { url, token: await addUser(url, "release-test"), stop, output: () => output };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Creates a user the way `npm adduser` does and returns its token. */
async function addUser(url, name) {
  const response = await fetch(new URL(`-/user/org.couchdb.user:${name}`, url), {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, password: `${name}-password`, type: "user" }),
  });
  const body = await response.json();
  if (!response.ok || typeof body.token !== "string") throw new Error(`adduser failed: ${response.status} ${JSON.stringify(body)}`);
  return body.token;
}
